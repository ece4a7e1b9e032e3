# shellcheck shell=sh
# shellcheck disable=SC2034 # member_pid is read by the common part
# Part: what a systemd-mode member's host says (key=value lines, parsed by
# facts.rs): releases unpacked, the `current` link, the template unit's
# digest (with the member's drop-in after it) and first line (etcd-deploy's
# marker naming the cluster), the member's unit instance, and whether a
# container runs it too. Sets member_pid for the common part.
# Runs on every plan and status: one `systemctl show` for the unit's state,
# lines read with the shell's own `read`, and Docker asked only when an
# etcd process runs outside the unit (`etcd_outside_unit`, from named_etcd.sh).
# Arguments: INSTALL_DIR CURRENT UNIT_PATH DROP_IN UNIT CONTAINER
install=$1 current=$2 unit_path=$3 drop_in=$4 unit=$5 container=$6
shift 6
for d in "$install"/etcd-v*; do [ -x "$d/etcd" ] && echo "installed=${d##*/etcd-v}"; done
[ -L "$current" ] && echo "current=$(readlink "$current")"
if [ -f "$unit_path" ]; then
  d=$(cat "$unit_path" "$drop_in" 2>/dev/null | sha256sum)
  echo "host_file_digest=${d%% *}"
  l=
  IFS= read -r l <"$unit_path" || true
  echo "unit_line1=$l"
fi
member_pid=0
state=$(systemctl show -p ActiveState,SubState,NRestarts,UnitFileState,MainPID "$unit" 2>/dev/null)
while IFS='=' read -r k v; do
  case $k in
    ActiveState) echo "active=$v" ;;
    SubState) echo "sub=$v" ;;
    NRestarts) echo "restarts=$v" ;;
    UnitFileState) echo "enabled=$v" ;;
    MainPID) case $v in '' | *[!0-9]*) ;; *) member_pid=$v; echo "pid=$v" ;; esac ;;
  esac
done <<EOF
$state
EOF
# shellcheck disable=SC2154 # set by named_etcd.sh
if [ -n "$etcd_outside_unit" ] && [ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" = true ]; then
  echo other_runtime=active
fi
true
