# shellcheck shell=sh
# Prints the unit's active state, sub-state and automatic restart count.
# Arguments: UNIT
systemctl show -p ActiveState -p SubState -p NRestarts --value "$1" 2>/dev/null | tr '\n' ' '
true
