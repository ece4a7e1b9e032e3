# shellcheck shell=sh
# Part of a restore (after receive_snapshot.sh): restores $f into $d with
# the release's etcdutl (etcdctl before 3.5).
# Arguments: CURRENT NAME INITIAL_CLUSTER TOKEN PEER_URL
# shellcheck disable=SC2154 # $f and $d are set by receive_snapshot.sh
set -eu
c=$1 name=$2 initial=$3 token=$4 peer=$5
shift 5
if [ -x "$c/etcdutl" ]; then
  tool="$c/etcdutl"
else
  tool="$c/etcdctl"
  export ETCDCTL_API=3
fi
"$tool" snapshot restore "$f" --data-dir "$d" --name "$name" --initial-cluster "$initial" \
  --initial-cluster-token "$token" --initial-advertise-peer-urls "$peer" >/dev/null
