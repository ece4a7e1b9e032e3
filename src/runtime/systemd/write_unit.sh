# shellcheck shell=sh
# Writes the template unit (stdin) and the member's drop-in (what it may
# write) atomically, makes the writable directories that are missing
# (etcd's, 0700: under ProtectSystem=strict it could not make them itself),
# and reloads systemd.
# The data directory (first DIR) and a separate WAL's parent (the others)
# are checked against the path rule first.
# Arguments: UNIT_PATH DROP_IN_PATH DROP_IN_TEXT DIR... (the data directory first)
set -eu
path=$1 drop_in=$2 text=$3 kind=data
shift 3
for d in "$@"; do
  d=$(checked "etcd's directory" "$d" "$kind") || exit 3
  kind=dedicated
  [ -d "$d" ] || install -d -m 0700 -o etcd -g etcd "$d"
done
cat >"$path.tmp"
chmod 0644 "$path.tmp"
mv "$path.tmp" "$path"
install -d -m 0755 "${drop_in%/*}"
printf '%s' "$text" >"$drop_in.tmp"
chmod 0644 "$drop_in.tmp"
mv "$drop_in.tmp" "$drop_in"
systemctl daemon-reload
