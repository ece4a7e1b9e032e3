# shellcheck shell=sh
# Stops a member's container; a missing container is stopped already.
# Arguments: CONTAINER
c=$1
docker stop -t 30 "$c" >/dev/null 2>&1 || ! docker inspect "$c" >/dev/null 2>&1
