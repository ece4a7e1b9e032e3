# shellcheck shell=sh
# Prints the unit's active state, sub-state, automatic restart count and the
# main process's last exit status, as KEY=VALUE words.
# Arguments: UNIT
systemctl show -p ActiveState -p SubState -p NRestarts -p ExecMainStatus "$1" 2>/dev/null | tr '\n' ' '
true
