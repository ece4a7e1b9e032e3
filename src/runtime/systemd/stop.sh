# shellcheck shell=sh
# Stops a member's unit instance.
# Arguments: UNIT
set -eu
systemctl stop "$1"
