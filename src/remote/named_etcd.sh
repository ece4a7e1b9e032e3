# shellcheck shell=sh
# Part: every etcd process on the host whose member name is NAME and that
# etcd-deploy did not start (not in its unit UNIT, not in its container
# CONTAINER), as `named_etcd=PID` lines (after the etcd_process.sh part):
# someone else's etcd serving this member.
# Arguments: NAME UNIT CONTAINER
named=$1 unit=$2 container=$3
shift 3
ours_id=
for pid in $(pgrep -x etcd 2>/dev/null); do
  [ "$(etcd_name "$pid")" = "$named" ] || continue
  cg=$(cat "/proc/$pid/cgroup" 2>/dev/null)
  case $cg in *"/$unit"*) continue ;; esac
  if [ -z "$ours_id" ]; then
    # No Docker, or no such container: an ID no cgroup path holds.
    ours_id=$(docker inspect -f '{{.Id}}' "$container" 2>/dev/null) || ours_id=
    [ -n "$ours_id" ] || ours_id=:no-container:
  fi
  case $cg in *"$ours_id"*) continue ;; esac
  echo "named_etcd=$pid"
done
