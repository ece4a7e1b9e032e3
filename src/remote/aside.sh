# shellcheck shell=sh
# The data directories that restore, recover and rejoining members set
# aside beside DATA_DIR (DATA_DIR.pre-restore-*, .pre-recover-*, .stale-*),
# each with the note of the restore that made its data if it has one
# (`made=STAMP SHA256`): parsed by set_aside.rs. With CLEAR = yes, first
# removes DATA_DIR's own note (its restore has finished everywhere).
# DATA_DIR is checked against the path rule first.
# Arguments: DATA_DIR CLEAR
set -eu
d=$(checked data_dir "$1" data) || exit 3
clear=$2
shift 2
[ "$clear" = yes ] && rm -f -- "$d/etcd-deploy-restore"
for e in "$d".pre-restore-* "$d".pre-recover-* "$d".stale-*; do
  if [ ! -d "$e" ] || [ -L "$e" ]; then continue; fi
  echo "aside=${e#"$d".}"
  n="$e/etcd-deploy-restore"
  # (The etcd user's directory: read without following a link.)
  if [ -f "$n" ] && [ ! -L "$n" ]; then
    echo "made=$(dd if="$n" iflag=nofollow,nonblock bs=100 count=1 status=none 2>/dev/null | head -n 1)"
  fi
done
true
