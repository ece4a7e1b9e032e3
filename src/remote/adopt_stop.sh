# shellcheck shell=sh
# `adopt`, on a member's host: stops and disables what runs its etcd now
# (KIND unit: a systemd service; container: a Docker container, restart
# policy set to `no`; none: stopped already), both left on disk, then gives
# its data to the etcd user etcd-deploy runs etcd as. Prints what it found
# (`was=`, `owner=`, `mode=`) for the way back (`adopt_back.sh`).
# The directories are checked against the path rule first (the data and a
# separate WAL may lie where the hand-made cluster keeps them).
# Arguments: KIND WHO DATA_DIR WAL_DIR (WAL_DIR empty: inside DATA_DIR)
set -eu
kind=$1 who=$2
data=$(checked data_dir "$3" data) || exit 3
wal=$4
[ -z "$wal" ] || wal=$(checked wal-dir "$wal" dedicated) || exit 3
shift 4
case $kind in
  unit)
    echo "was=$(systemctl is-enabled "$who" 2>/dev/null || true)"
    # A unit systemd generated or keeps in /run cannot be disabled; stopped, it stays down.
    systemctl disable --quiet "$who" 2>/dev/null || true
    systemctl stop "$who"
    ;;
  container)
    echo "was=$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$who")"
    docker update --restart=no "$who" >/dev/null
    docker stop -t 30 "$who" >/dev/null
    ;;
esac
[ -d "$data/member" ] || { echo "no member data in $data" >&2; exit 1; }
echo "owner=$(stat -c %u:%g "$data")"
echo "mode=$(stat -c %a "$data")"
chown -R etcd:etcd "$data"
chmod 0700 "$data"
# The etcd user must reach it: a directory above it that others cannot
# enter (etcd makes the parents it creates 0700) gets o+x (enter, not list).
d=${data%/*}
while [ -n "$d" ]; do
  case $(stat -c %A "$d") in
    ?????????[xt]) ;;
    *) chmod o+x "$d" && echo "opened=$d" ;;
  esac
  d=${d%/*}
done
[ -z "$wal" ] || chown -R etcd:etcd "$wal"
