# shellcheck shell=sh
# Backs up a member's data directory before `recover`: `copy` keeps it in
# place and copies it to DATA_DIR.SUFFIX (the seed, which goes on with its
# data); `move` moves it there and leaves a fresh, empty one (a member that
# joins again). Never deletes anything of etcd's; refuses if the backup
# exists. A copy that does not fit is refused before it starts; one that
# fails half-way is removed (it is only ever this script's own `.tmp`), and
# so are those an earlier, killed run left beside the data directory.
# DATA_DIR is checked against the path rule first.
# Arguments: DATA_DIR SUFFIX copy|move
set -eu
d=$(checked data_dir "$1" data) || exit 3
suffix=$2 how=$3
shift 3
[ -d "$d/member" ] || exit 0
b="$d.$suffix"
if [ -e "$b" ]; then echo "backup $b exists already" >&2; exit 1; fi
case "$how" in
  copy)
    for t in "$d".pre-recover-*.tmp; do
      [ -d "$t" ] && [ ! -L "$t" ] && rm -rf -- "$t"
    done
    need=$(du -sk "$d" | cut -f1)
    free=$(df -Pk "${d%/*}/" | awk 'NR == 2 { print $4 }')
    if [ "$free" -lt "$need" ]; then
      echo "not enough space to copy $d aside: it holds $need kB, ${d%/*} has $free kB free; nothing was copied" >&2
      exit 1
    fi
    if ! cp -a "$d" "$b.tmp"; then
      rm -rf -- "$b.tmp"
      echo "copying $d to $b failed (see above); the partial copy was removed" >&2
      exit 1
    fi
    mv "$b.tmp" "$b"
    ;;
  move) mv "$d" "$b" && install -d -m 0700 -o etcd -g etcd "$d" ;;
  *) echo "backup_data: unknown mode $how" >&2; exit 2 ;;
esac
