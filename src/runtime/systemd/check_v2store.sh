# shellcheck shell=sh
# Runs etcd 3.5's offline check of a stopped member's v2 store (`etcdutl
# check v2store`: the v2 snapshot and the WAL records after it), which etcd
# 3.6 refuses to start on when it holds custom (non-membership) content.
# Prints `verdict=clean`, `verdict=custom` or `verdict=unknown` (the check
# could not run), then `said=` etcdutl's own words. Reads only, as the
# data's owner.
# Arguments: CURRENT DATA_DIR WAL_DIR (WAL_DIR empty: the data directory's own)
set -u
c=$1 d=$2 w=$3
shift 3
tool="$c/etcdutl"
if [ ! -x "$tool" ] || ! "$tool" check v2store --help >/dev/null 2>&1; then
  echo "verdict=unknown"
  echo "said=the etcdutl of the running release ($tool) has no \`check v2store\` (etcd 3.5.18 and later have it)"
  exit 0
fi
as_owner() {
  if [ "$(stat -c %U "$d")" = etcd ]; then runuser -u etcd -- "$@"; else "$@"; fi
}
if [ -n "$w" ]; then
  out=$(as_owner "$tool" check v2store --data-dir "$d" --wal-dir "$w" 2>&1) && rc=0 || rc=$?
else
  out=$(as_owner "$tool" check v2store --data-dir "$d" 2>&1) && rc=0 || rc=$?
fi
said=$(printf '%s\n' "$out" | tr -cd '[:print:]\n' | grep -v '^{' | tail -n 1)
if [ "$rc" = 0 ]; then
  echo "verdict=clean"
elif printf '%s' "$out" | grep -q 'detected custom'; then
  echo "verdict=custom"
else
  echo "verdict=unknown"
fi
echo "said=$said"
