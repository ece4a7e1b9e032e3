# shellcheck shell=sh
# Writes the host's compose file (stdin) and the `.env` holding the etcd
# user's IDs the file refers to.
# Arguments: DIR FILE
set -eu
dir=$1 file=$2
shift 2
install -d -m 0755 "$dir"
printf 'ETCD_UID=%s\nETCD_GID=%s\n' "$(id -u etcd)" "$(id -g etcd)" >"$dir/.env.tmp"
mv "$dir/.env.tmp" "$dir/.env"
cat >"$file.tmp"
chmod 0644 "$file.tmp"
mv "$file.tmp" "$file"
