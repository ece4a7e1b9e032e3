# shellcheck shell=sh
# The container log's last lines, for error messages.
# Arguments: CONTAINER
docker logs --tail 200 "$1" 2>&1 || true
