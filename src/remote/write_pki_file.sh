# shellcheck shell=sh
# Writes one TLS file (stdin) into a member's PKI directory, owned by the
# etcd user so that only it (and root) can read the keys.
# Arguments: DIR NAME MODE
set -eu
dir=$1 name=$2 mode=$3
shift 3
install -d -m 0700 -o etcd -g etcd "$dir"
cat >"$dir/$name.tmp"
chown etcd:etcd "$dir/$name.tmp"
chmod "$mode" "$dir/$name.tmp"
mv "$dir/$name.tmp" "$dir/$name"
