# shellcheck shell=sh
# Points the `current` link at a version's directory (atomically) and links
# the binaries into the operators' PATH.
# Arguments: CURRENT TARGET BIN_DIR BINARY...
set -eu
current=$(checked install_dir "${1%/*}" dedicated)/${1##*/} || exit 3
target=$2 bin=$3
shift 3
ln -sfn "$target" "$current.tmp"
mv -T "$current.tmp" "$current"
for b in "$@"; do
  if [ -e "$current/$b" ]; then ln -sfn "$current/$b" "$bin/$b"; else rm -f "$bin/$b"; fi
done
