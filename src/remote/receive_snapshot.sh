# shellcheck shell=sh
# Part of a restore: receives a snapshot on stdin into $f, checks it, and
# moves the data directory $d aside (never deleting it; checked against the
# path rule first: $d is the resolved path). The runtime's part
# that follows restores $f into $d.
# Arguments: SHA256 DATA_DIR STAMP
set -eu
sha=$1 stamp=$3
d=$(checked data_dir "$2" data) || exit 3
shift 3
f=$(mktemp /tmp/etcd-deploy-snapshot.XXXXXX)
trap 'rm -f "$f"' EXIT
cat >"$f"
[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] || { echo 'the snapshot arrived corrupted' >&2; exit 1; }
if [ -e "$d" ]; then mv "$d" "$d.pre-restore-$stamp"; fi
