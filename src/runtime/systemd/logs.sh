# shellcheck shell=sh
# The journal's last lines of a member's unit, for error messages.
# Arguments: UNIT
journalctl -u "$1" -n 15 --no-pager -o cat 2>/dev/null || true
