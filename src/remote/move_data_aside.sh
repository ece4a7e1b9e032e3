# shellcheck shell=sh
# Moves a data directory from an earlier life aside (never deletes it) and
# makes a fresh one (checked against the path rule first).
# Arguments: DATA_DIR
set -eu
d=$(checked data_dir "$1" data) || exit 3
shift
if [ -d "$d/member" ]; then mv "$d" "$d.stale-$(date +%Y%m%d%H%M%S)"; fi
install -d -m 0700 -o etcd -g etcd "$d"
