# shellcheck shell=sh
# Part of a restore (after receive_snapshot.sh): restores $f into $d in a
# throwaway container of the member's image (the host may have no etcd
# binaries), without network. Peers known by container name resolve only on
# the bridge while they run, so each HOST given maps to 127.0.0.1 (the
# restore only checks that every peer URL's host resolves).
# Arguments: IMAGE TOOL NAME INITIAL_CLUSTER TOKEN PEER_URL HOST...
# shellcheck disable=SC2154 # $f and $d are set by receive_snapshot.sh
set -eu
img=$1 tool=$2 name=$3 initial=$4 token=$5 peer=$6
shift 6
parent=$(dirname "$d")
for h in "$@"; do set -- "$@" --add-host "$h:127.0.0.1"; shift; done
docker run --rm --network none -e ETCDCTL_API=3 "$@" -v "$f:/snapshot.db:ro" -v "$parent:$parent" \
  --entrypoint "$tool" "$img" snapshot restore /snapshot.db --data-dir "$d" --name "$name" \
  --initial-cluster "$initial" --initial-cluster-token "$token" \
  --initial-advertise-peer-urls "$peer" >/dev/null
