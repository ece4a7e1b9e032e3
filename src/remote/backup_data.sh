# shellcheck shell=sh
# Backs up a member's data directory before `recover`: `copy` keeps it in
# place and copies it to DATA_DIR.SUFFIX (the seed, which goes on with its
# data); `move` moves it there and leaves a fresh, empty one (a member that
# joins again). Never deletes anything; refuses if the backup exists.
# Arguments: DATA_DIR SUFFIX copy|move
set -eu
d=$1 suffix=$2 how=$3
shift 3
[ -d "$d/member" ] || exit 0
b="$d.$suffix"
if [ -e "$b" ]; then echo "backup $b exists already" >&2; exit 1; fi
case "$how" in
  copy) cp -a "$d" "$b.tmp" && mv "$b.tmp" "$b" ;;
  move) mv "$d" "$b" && install -d -m 0700 -o etcd -g etcd "$d" ;;
  *) echo "backup_data: unknown mode $how" >&2; exit 2 ;;
esac
