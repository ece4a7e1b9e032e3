# shellcheck shell=sh
# Stops and disables a removed member's etcd whichever way it ran (the
# inventory no longer says): its container if Docker has one, its unit
# instance if systemd has one. With WIPE=yes its data goes too (etcd's
# `member` directory, and the data directory if nothing else is in it), as
# its own config names it (the inventory no longer says where it was),
# checked against the path rule first.
# Arguments: UNIT DROP_IN CONTAINER CONFIG WIPE
set -eu
unit=$1 drop_in=$2 container=$3 config=$4 wipe=$5
shift 5
if command -v docker >/dev/null 2>&1; then docker rm -f "$container" >/dev/null 2>&1 || true; fi
if systemctl cat "$unit" >/dev/null 2>&1; then
  systemctl disable --now --quiet "$unit" 2>/dev/null || systemctl stop "$unit"
  systemctl reset-failed "$unit" 2>/dev/null || true
fi
rm -f "$drop_in"
rmdir "${drop_in%/*}" 2>/dev/null || true
if [ "$wipe" = yes ]; then
  d=$(sed -n 's/^data-dir: "\(.*\)"$/\1/p' "$config" 2>/dev/null)
  if [ -n "$d" ]; then
    d=$(checked data_dir "$d" data) || exit 3
    rm -rf "$d/member"
    if [ "$(rule_verdict "$d")" = dedicated ]; then rmdir "$d" 2>/dev/null || true; fi
  fi
  rm -f "$config"
fi
