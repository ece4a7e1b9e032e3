# shellcheck shell=sh
# Part: what a systemd-mode member's host says (key=value lines, parsed by
# facts.rs): releases unpacked, the `current` link, the template unit's
# digest (with the member's drop-in after it) and first line (etcd-deploy's
# marker naming the cluster), the member's unit instance, and whether a
# container runs it too. Sets member_pid for the common part.
# Arguments: INSTALL_DIR CURRENT UNIT_PATH DROP_IN UNIT CONTAINER
install=$1 current=$2 unit_path=$3 drop_in=$4 unit=$5 container=$6
shift 6
for d in "$install"/etcd-v*; do [ -x "$d/etcd" ] && echo "installed=${d##*/etcd-v}"; done
[ -L "$current" ] && echo "current=$(readlink "$current")"
if [ -f "$unit_path" ]; then
  echo "host_file_digest=$(cat "$unit_path" "$drop_in" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  echo "unit_line1=$(sed -n 1p "$unit_path")"
fi
echo "active=$(systemctl is-active "$unit" 2>/dev/null)"
echo "sub=$(systemctl show -p SubState --value "$unit" 2>/dev/null)"
echo "restarts=$(systemctl show -p NRestarts --value "$unit" 2>/dev/null)"
echo "enabled=$(systemctl is-enabled "$unit" 2>/dev/null)"
member_pid=$(systemctl show -p MainPID --value "$unit" 2>/dev/null)
echo "pid=$member_pid"
[ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" = true ] && echo other_runtime=active
true
