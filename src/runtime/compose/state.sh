# shellcheck shell=sh
# Prints the container's state and restart count (nothing if it is missing).
# Arguments: CONTAINER
docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$1" 2>/dev/null || true
