# shellcheck shell=sh
# shellcheck disable=SC2154 # w_* are set by etcd_where (etcd_process.sh)
# shellcheck disable=SC2034 # etcd_in_unit, etcd_outside_unit: read by the runtime's part
# Part: every etcd process on the host whose member name is NAME and that
# etcd-deploy did not start (not in its unit UNIT, not in its container
# CONTAINER), as `named_etcd=PID` lines (after the etcd_process.sh part):
# someone else's etcd serving this member. For the first one, what `adopt`
# needs: what runs it (`foreign_unit`, `foreign_container`), its data
# directory on the host, and the settings KEY... it runs with
# (`foreign_setting`; the keys come from inventory::etcd_settings).
# Only an etcd that `etcd_trusted` takes for the member counts (a system
# service's or a container's, listening on the member's PEER_PORT or
# CLIENT_PORT); any other process calling itself so is reported as
# `untrusted_etcd=PID WHY` (whatever it calls itself) and never read
# further.
# Arguments: NAME UNIT CONTAINER PEER_PORT CLIENT_PORT KEY... --
named=$1 unit=$2 container=$3 peer_port=$4 client_port=$5
shift 5
keys=
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  keys="$keys $1"
  shift
done
[ "$#" -gt 0 ] && shift
ours_id=
first=yes
# For the runtime's part after this one: whether an etcd runs in the unit
# (compose mode asks systemd about it only then) and whether one runs
# outside it (systemd mode asks Docker about the container only then).
etcd_in_unit='' etcd_outside_unit=''
for pid in $(pgrep -x etcd 2>/dev/null); do
  # (The shell's own `read`: no process started per etcd.)
  cg=
  while IFS= read -r l; do cg="$cg $l"; done 2>/dev/null <"/proc/$pid/cgroup"
  case $cg in *"/$unit"*) etcd_in_unit=yes; continue ;; esac
  etcd_outside_unit=yes
  if [ -z "$ours_id" ]; then
    # No Docker, or no such container: an ID no cgroup path holds.
    ours_id=$(docker inspect -f '{{.Id}}' "$container" 2>/dev/null) || ours_id=
    [ -n "$ours_id" ] || ours_id=:no-container:
  fi
  case $cg in *"$ours_id"*) continue ;; esac
  # Trusted first: an untrusted process's config file is never read.
  if ! why=$(etcd_trusted "$pid" "$peer_port" "$client_port"); then
    echo "untrusted_etcd=$pid $why"
    continue
  fi
  [ "$(etcd_name "$pid")" = "$named" ] || continue
  echo "named_etcd=$pid"
  [ "$first" = yes ] || continue
  first=no
  # (etcd_name ran in a subshell: its settings are read again here.)
  etcd_proc "$pid" || continue
  etcd_where "$pid" "$named"
  [ -n "$w_unit" ] && echo "foreign_unit=$w_unit"
  [ -n "$w_container" ] && echo "foreign_container=$w_container"
  if [ -n "$w_data" ]; then
    echo "foreign_data_dir=$w_data"
    [ -d "$w_data/member" ] && echo "foreign_has_data=yes"
  fi
  # (Config keys: lowercase words joined by '-', split on spaces here.)
  for k in $keys; do
    v=$(etcd_setting "$k" "ETCD_$(echo "$k" | tr 'a-z-' 'A-Z_')")
    [ -n "$v" ] && echo "foreign_setting=$k=$v"
  done
done
