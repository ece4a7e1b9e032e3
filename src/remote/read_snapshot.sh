# shellcheck shell=sh
# Prints one saved snapshot to stdout. It lies in the etcd user's
# directory: opened without following a link (dd's nofollow), only when it
# is a regular file of the etcd user's, without blocking on a FIFO put in
# its place.
# Arguments: PATH
set -eu
f=$1
shift
if [ -L "$f" ] || [ ! -f "$f" ] || [ "$(stat -c %u "$f")" != "$(id -u etcd)" ]; then
  echo "$f is not a regular file of the etcd user's; not read" >&2
  exit 1
fi
dd if="$f" iflag=nofollow,nonblock bs=1M status=none
