# shellcheck shell=sh
# Part: every etcd process on the host whose member name is NAME, whoever
# started it, as `named_etcd=PID` lines (after the etcd_process.sh part).
# When etcd-deploy's own member is not running, one of these is someone
# else's etcd serving this member.
# Arguments: NAME
named=$1
shift
for pid in $(pgrep -x etcd 2>/dev/null); do
  [ "$(etcd_name "$pid")" = "$named" ] && echo "named_etcd=$pid"
done
