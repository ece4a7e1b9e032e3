# shellcheck shell=sh
# Points the `current` link at a version's directory (atomically) and links
# the binaries into the operators' PATH. A name there that is not
# etcd-deploy's own link (a binary installed by hand or by a package, a link
# of someone else's) is left as it is.
# Arguments: CURRENT TARGET BIN_DIR BINARY...
set -eu
current=$(checked install_dir "${1%/*}" dedicated)/${1##*/} || exit 3
target=$2 bin=$3
shift 3
ln -sfn "$target" "$current.tmp"
mv -T "$current.tmp" "$current"
for b in "$@"; do
  l="$bin/$b"
  if { [ -e "$l" ] || [ -L "$l" ]; } && [ "$(readlink "$l")" != "$current/$b" ]; then continue; fi
  if [ -e "$current/$b" ]; then ln -sfn "$current/$b" "$l"; else rm -f "$l"; fi
done
