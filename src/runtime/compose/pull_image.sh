# shellcheck shell=sh
# Pulls an image from its registry unless the host has it.
# Arguments: IMAGE
set -eu
img=$1
shift
docker image inspect "$img" >/dev/null 2>&1 || docker pull -q "$img" >/dev/null
