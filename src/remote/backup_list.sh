# shellcheck shell=sh
# Lists one member's saved snapshots: "SIZE MTIME CHECK PATH" per line,
# newest first (names sort by time); nothing when there are none. The
# directory is the etcd user's, so a name in it may be anything that user
# put there: CHECK is `ok` only for a regular file (never a link) of the
# etcd user's that starts like an etcd database (bbolt's magic number in its
# first meta page); otherwise `link`, `not-a-file`, `not-etcds`, `too-small`
# or `no-database-header`. The whole file is checked (etcd's own SHA256 at
# its end) when it is fetched.
# Arguments: DIR PREFIX
set -eu
dir=$1 prefix=$2
shift 2
etcd_uid=$(id -u etcd 2>/dev/null || echo none)
for f in "$dir/$prefix"-*-rev*.db; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -L "$f" ]; then
    echo "0 0 link $f"
    continue
  fi
  if [ ! -f "$f" ]; then
    echo "0 0 not-a-file $f"
    continue
  fi
  # (The job prunes while this runs: a file gone meanwhile is skipped.)
  st=$(stat -c '%s %Y %u' "$f" 2>/dev/null) || continue
  # shellcheck disable=SC2086 # three numbers
  set -- $st
  if [ "$3" != "$etcd_uid" ]; then
    check=not-etcds
  elif [ "$1" -lt 8224 ]; then
    check=too-small
  elif magic=$(od -An -tx1 -j16 -N4 "$f" 2>/dev/null); then
    if [ "$(printf '%s' "$magic" | tr -d ' \n')" = edda0ced ]; then check=ok; else check=no-database-header; fi
  elif [ -e "$f" ]; then
    check=no-database-header
  else
    continue
  fi
  echo "$1 $2 $check $f"
done | sort -k4 -r
true
