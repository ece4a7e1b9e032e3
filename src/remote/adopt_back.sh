# shellcheck shell=sh
# `adopt`, when etcd-deploy's etcd did not come up on the data it took
# over (after its own unit or container is removed): the data back to its
# previous OWNER and MODE, and what ran it before started again (KIND and WHO
# as in adopt_stop.sh; WAS: the unit's enablement, the container's restart
# policy).
# Arguments: KIND WHO WAS OWNER MODE DATA_DIR WAL_DIR
set -eu
kind=$1 who=$2 was=$3 owner=$4 mode=$5
data=$(checked data_dir "$6" data) || exit 3
wal=$7
[ -z "$wal" ] || wal=$(checked wal-dir "$wal" dedicated) || exit 3
shift 7
chown -R "$owner" "$data"
chmod "$mode" "$data"
[ -z "$wal" ] || chown -R "$owner" "$wal"
case $kind in
  unit)
    [ "$was" != enabled ] || systemctl enable --quiet "$who"
    systemctl start "$who"
    ;;
  container)
    docker update --restart="$was" "$who" >/dev/null
    docker start "$who" >/dev/null
    ;;
esac
