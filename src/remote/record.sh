# shellcheck shell=sh
# etcd-deploy's records of a cluster's members on this host
# (facts/records.rs): `write` puts the input (one line of JSON) at PATH,
# root's alone (0600), in a directory root_dir.sh checks; `remove` takes
# it away (destroy --wipe-data).
# Arguments: write|remove PATH
set -eu
what=$1 path=$2
dir=${path%/*}
case $what in
  write)
    root_dir "$dir" "its records"
    tmp=$path.tmp
    rm -f "$tmp"
    (umask 077 && cat >"$tmp")
    sync "$tmp" 2>/dev/null || true
    mv -f "$tmp" "$path"
    ;;
  remove)
    [ -L "$dir" ] && exit 0
    rm -f "$path" "$path.tmp"
    rmdir "$dir" 2>/dev/null || true
    ;;
esac
