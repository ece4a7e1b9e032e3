# shellcheck shell=sh
# Writes stdin to PATH atomically (temporary name, then rename) with MODE.
# Arguments: PATH MODE
set -eu
path=$1 mode=$2
shift 2
mkdir -p "$(dirname "$path")"
cat >"$path.tmp"
chmod "$mode" "$path.tmp"
mv "$path.tmp" "$path"
