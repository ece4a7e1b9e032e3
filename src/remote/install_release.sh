# shellcheck shell=sh
# Receives (SOURCE "-": on stdin) or downloads (SOURCE a URL) a release
# tarball, checks its SHA256 and unpacks it into DEST. On a mismatch
# nothing is installed. Members sharing a host prepare it together: the
# first one installs, the others find it in place and drain their copy.
# Arguments: DEST SHA256 VERSION SOURCE
set -eu
dest=$1 sha=$2 version=$3 source=$4
shift 4
if [ -x "$dest/etcd" ] && [ "$(cat "$dest/.sha256" 2>/dev/null)" = "$sha" ]; then
  if [ "$source" = - ]; then cat >/dev/null; fi
  exit 0
fi
f=$(mktemp /tmp/etcd-deploy-release.XXXXXX)
trap 'rm -f "$f"' EXIT
if [ "$source" = - ]; then
  cat >"$f"
elif command -v curl >/dev/null; then
  curl -fsSL --retry 2 -o "$f" -- "$source"
else
  wget -q -O "$f" -- "$source"
fi
actual=$(sha256sum "$f" | cut -d' ' -f1)
if [ "$actual" != "$sha" ]; then
  echo "checksum mismatch for etcd $version: expected $sha, got $actual; nothing was installed" >&2
  exit 1
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xzf "$f" -C "$dest.tmp" --strip-components=1 --no-same-owner
[ -x "$dest.tmp/etcd" ] || { echo "the tarball has no etcd binary" >&2; rm -rf "$dest.tmp"; exit 1; }
chmod -R go-w "$dest.tmp"
# Written by us, never through whatever the tarball put under that name.
rm -rf "$dest.tmp/.sha256"
echo "$sha" >"$dest.tmp/.sha256"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
