# shellcheck shell=sh
# Writes one TLS file (stdin) into a member's PKI directory: the file is
# the etcd user's (only it and root read the keys); the directory is root's
# with the etcd group (0750: etcd reads in it, only root writes), so no name
# in it can be a link the etcd user put there for root to write through (an
# older etcd-deploy gave the directory to etcd: taken back first).
# Arguments: DIR NAME MODE
set -eu
dir=$1 name=$2 mode=$3
shift 3
install -d -m 0750 -o root -g etcd "$dir"
chown root:etcd "$dir"
chmod 0750 "$dir"
rm -f "$dir/$name.tmp"
(set -C && cat >"$dir/$name.tmp")
chown etcd:etcd "$dir/$name.tmp"
chmod "$mode" "$dir/$name.tmp"
mv "$dir/$name.tmp" "$dir/$name"
