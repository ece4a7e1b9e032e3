# shellcheck shell=sh
# Stops and removes one member's scheduled snapshots; the shared script and
# units go with the host's last member that had them. The snapshots saved
# stay where they are.
# Arguments: SCRIPT SERVICE TIMER ENV UNIT
set -eu
script=$1 service=$2 timer=$3 env=$4 unit=$5
shift 5
systemctl disable --now "$unit" >/dev/null 2>&1 || true
rm -f "$env"
for e in "${env%/*}"/*.env; do
  [ -e "$e" ] && exit 0
done
rm -f "$script" "$service" "$timer"
rmdir "${env%/*}" 2>/dev/null || true
systemctl daemon-reload
