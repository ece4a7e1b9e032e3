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
# Nothing half-done stays: the download, and an unpack that did not finish.
trap 'rm -f "$f"; rm -rf "$dest.tmp"' EXIT
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
# A tarball that matches its checksum is still only unpacked when it holds
# regular files and directories, all inside its own top directory.
types=$(tar -tvzf "$f" | cut -c1 | sort -u | tr -d '\n')
case $types in
  "" | *[!d-]*)
    echo "the etcd $version tarball holds entries other than files and directories (types: $types); nothing was installed" >&2
    exit 1
    ;;
esac
if tar -tzf "$f" | grep -Eq '^/|(^|/)\.\.(/|$)'; then
  echo "the etcd $version tarball has paths outside its directory; nothing was installed" >&2
  exit 1
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xzf "$f" -C "$dest.tmp" --strip-components=1 --no-same-owner
[ -x "$dest.tmp/etcd" ] || { echo "the tarball has no etcd binary" >&2; exit 1; }
chmod -R go-w "$dest.tmp"
# Written by us, never through whatever the tarball put under that name.
rm -rf "$dest.tmp/.sha256"
echo "$sha" >"$dest.tmp/.sha256"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
