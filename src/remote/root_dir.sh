# shellcheck shell=sh
# Part: `root_dir DIR WHAT` makes DIR (0700) if missing, and refuses (exit 3)
# anything else found in its place (a link, a file, another owner's
# directory), never following it: where etcd-deploy keeps its own state.
root_dir() {
  if [ -L "$1" ] || { [ -e "$1" ] && [ ! -d "$1" ]; }; then
    echo "$1 is not a directory; etcd-deploy keeps $2 there" >&2
    exit 3
  fi
  if [ -d "$1" ] && [ "$(stat -c %u "$1")" != 0 ]; then
    echo "$1 is not root's; etcd-deploy keeps $2 there" >&2
    exit 3
  fi
  [ -d "$1" ] || mkdir -m 0700 "$1"
  chmod 0700 "$1"
}
