# shellcheck shell=sh
# Prints a file that a member's process names (its TLS files: `init
# --from-cluster`), read as the user that process runs as: root reads for
# root's services only, so a path a process chose never makes root read
# what its user could not. At most 64 KiB (certificates and keys are
# small); nothing when it is no regular file.
# Arguments: USER PATH
user=$1 path=$2
shift 2
if [ "$user" = root ]; then
  [ -f "$path" ] && head -c 65536 -- "$path"
else
  # shellcheck disable=SC2016 # expanded by the user's shell
  runuser -u "$user" -- sh -c '[ -f "$1" ] && head -c 65536 -- "$1"' etcd-deploy-read-as "$path"
fi
true
