# shellcheck shell=sh
# Part of `destroy`: the member's unit instance stopped, disabled, forgotten.
# Arguments: UNIT DROP_IN
set -eu
unit=$1 drop_in=$2
shift 2
systemctl disable --now --quiet "$unit" 2>/dev/null || true
systemctl reset-failed "$unit" 2>/dev/null || true
rm -f "$drop_in"
rmdir "${drop_in%/*}" 2>/dev/null || true
