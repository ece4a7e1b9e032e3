# shellcheck shell=sh
# Part of `destroy`: the member's unit instance stopped, disabled, forgotten.
# Arguments: UNIT
set -eu
unit=$1
shift
systemctl disable --now --quiet "$unit" 2>/dev/null || true
systemctl reset-failed "$unit" 2>/dev/null || true
