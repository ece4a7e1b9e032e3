# shellcheck shell=sh
# Receives (SOURCE "-": on stdin) or downloads (SOURCE a URL) a release
# tarball, checks its SHA256 and unpacks it into DEST. On a mismatch
# nothing is installed. Members sharing a host prepare it together: the
# first one installs, the others find it in place and drain their copy.
# CHECKED=yes: the controller has already checked the tarball's entries
# (it pushes the very bytes it checked, verified again by SHA256 here).
# DEST's directory (install_dir) is checked against the path rule first.
# Arguments: DEST SHA256 VERSION SOURCE CHECKED
set -eu
dest=$(checked install_dir "${1%/*}" dedicated)/${1##*/} || exit 3
sha=$2 version=$3 source=$4 prechecked=$5
shift 5
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
# regular files and directories without setuid, setgid or sticky bits, all
# inside its own top directory.
if [ "$prechecked" != yes ]; then
  list=$(mktemp /tmp/etcd-deploy-release-list.XXXXXX)
  tar -tvzf "$f" >"$list" || { rm -f "$list"; exit 1; }
  types=$(cut -c1 "$list" | sort -u | tr -d '\n')
  if cut -c1-10 "$list" | grep -q '^.\{3\}[sStT]\|^.\{6\}[sStT]\|^.\{9\}[sStT]'; then
    rm -f "$list"
    echo "the etcd $version tarball holds an entry with the setuid, setgid or sticky bit; nothing was installed" >&2
    exit 1
  fi
  case $types in
    "" | *[!d-]*)
      rm -f "$list"
      echo "the etcd $version tarball holds entries other than files and directories (types: $types); nothing was installed" >&2
      exit 1
      ;;
  esac
  if awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }' "$list" | grep -Eq '^/|(^|/)\.\.(/|$)'; then
    rm -f "$list"
    echo "the etcd $version tarball has paths outside its directory; nothing was installed" >&2
    exit 1
  fi
  rm -f "$list"
fi
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xzf "$f" -C "$dest.tmp" --strip-components=1 --no-same-owner --no-same-permissions
[ -x "$dest.tmp/etcd" ] || { echo "the tarball has no etcd binary" >&2; exit 1; }
# Modes normalised whatever the tarball said: root's, no setuid, setgid or
# sticky bit, writable by root alone; then checked.
chown -R root:root "$dest.tmp"
chmod -R u+rwX,go+rX,go-w,ug-s,o-t "$dest.tmp"
odd=$(find "$dest.tmp" \( ! -type f ! -type d \) -o -perm /7022 | head -n 1)
if [ -n "$odd" ]; then
  echo "the etcd $version release holds ${odd#"$dest.tmp"/}, which is no plain file or directory of root's; nothing was installed" >&2
  exit 1
fi
# Written by us, never through whatever the tarball put under that name.
rm -rf "$dest.tmp/.sha256"
echo "$sha" >"$dest.tmp/.sha256"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
