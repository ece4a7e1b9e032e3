# shellcheck shell=sh
# Enables and starts (VERB start) or restarts (VERB restart: stop, then
# start) a member's unit instance. The start is queued, not waited for:
# the controller waits for the member's health itself, reading etcd's own
# log meanwhile, instead of hanging on systemd's start timeout while a
# member that cannot reach its peers never says it is ready.
# Arguments: UNIT VERB
set -eu
unit=$1 verb=$2
shift 2
systemctl enable --quiet "$unit"
[ "$verb" = restart ] && systemctl stop "$unit"
systemctl reset-failed "$unit" 2>/dev/null || true
systemctl --no-block start "$unit"
