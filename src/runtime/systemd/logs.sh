# shellcheck shell=sh
# The journal's last 200 lines of a member's unit: error messages quote the
# cause found in them (etcd_log::log_cause) and the last few lines.
# Arguments: UNIT
journalctl -u "$1" -n 200 --no-pager -o cat 2>/dev/null || true
