# shellcheck shell=sh
# Part of `destroy`: the member's container removed, if there is one; then,
# once the host has no container of this cluster left, the compose
# directory, the bridge and the images etcd-deploy built.
# Arguments: CONTAINER CLUSTER NETWORK COMPOSE_DIR COMPOSE_PARENT
set -eu
container=$1 cluster=$2 net=$3 dir=$4 parent=$5
shift 5
if ! command -v docker >/dev/null 2>&1; then exit 0; fi
docker rm -f "$container" >/dev/null 2>&1 || true
if docker ps -aq --filter "label=io.etcd-deploy.cluster=$cluster" | grep -q .; then exit 0; fi
docker network rm "$net" >/dev/null 2>&1 || true
rm -rf "$dir"
rmdir "$parent" 2>/dev/null || true
docker image ls --format '{{.Repository}}:{{.Tag}}' | grep '^etcd-deploy/etcd:' | xargs -r docker rmi >/dev/null 2>&1 || true
