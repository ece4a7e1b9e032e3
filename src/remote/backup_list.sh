# shellcheck shell=sh
# Lists one member's saved snapshots: "SIZE MTIME PATH" per line, newest
# first (names sort by time). Nothing when there are none.
# Arguments: DIR PREFIX
set -eu
dir=$1 prefix=$2
shift 2
for f in "$dir/$prefix"-*-rev*.db; do
  [ -f "$f" ] && echo "$(stat -c '%s %Y' "$f") $f"
done | sort -k3 -r
true
