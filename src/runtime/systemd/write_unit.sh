# shellcheck shell=sh
# Writes the template unit (stdin) atomically and reloads systemd.
# Arguments: UNIT_PATH
set -eu
path=$1
shift
cat >"$path.tmp"
chmod 0644 "$path.tmp"
mv "$path.tmp" "$path"
systemctl daemon-reload
