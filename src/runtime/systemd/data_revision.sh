# shellcheck shell=sh
# Prints `etcdutl snapshot status` (etcdctl before 3.5) of a stopped
# member's database as JSON (its revision says how much data it has);
# nothing when there is no database. Opens the file read-only.
# Arguments: CURRENT DATA_DIR
set -eu
c=$1 d=$2
shift 2
db="$d/member/snap/db"
[ -f "$db" ] || exit 0
# The data is the etcd user's: read as that user (a name in it may be a link
# to a file root alone can read).
as_owner() {
  if [ "$(stat -c %U "$db")" = etcd ]; then runuser -u etcd -- "$@"; else "$@"; fi
}
if [ -x "$c/etcdutl" ]; then
  as_owner "$c/etcdutl" snapshot status "$db" -w json
else
  as_owner env ETCDCTL_API=3 "$c/etcdctl" snapshot status "$db" -w json
fi
