# shellcheck shell=sh
# Enables and starts (VERB start) or restarts (VERB restart) a member's unit
# instance; systemd waits for etcd's READY notification, i.e. until it
# serves clients.
# Arguments: UNIT VERB
set -eu
unit=$1 verb=$2
shift 2
systemctl enable --quiet "$unit"
systemctl "$verb" "$unit"
