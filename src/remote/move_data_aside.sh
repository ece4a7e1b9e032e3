# shellcheck shell=sh
# Moves a data directory from an earlier life aside (never deletes it) and
# makes a fresh one.
# Arguments: DATA_DIR
set -eu
d=$1
shift
if [ -d "$d/member" ]; then mv "$d" "$d.stale-$(date +%Y%m%d%H%M%S)"; fi
install -d -m 0700 -o etcd -g etcd "$d"
