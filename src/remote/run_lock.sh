# shellcheck shell=sh
# The cluster's run lock on a host (host_lock.rs), beside the one in etcd:
# it is all a run has when no member answers (a first apply, a lost quorum,
# restore, destroy). Held while this script runs: it runs while the
# controller keeps its connection open and writes a line at least every TTL
# seconds; a controller that dies (its end of stdin closes) or goes silent
# loses it at once or within TTL seconds. Prints `held`, or `busy HOLDER`
# (the holder's own line) when another run holds it.
# Arguments: LOCK HOLDER TTL
set -eu
lock=$1 holder=$2 ttl=$3
root_dir "${lock%/*}" "its run lock"
exec 8>>"$lock"
if ! flock -n 8; then
  printf 'busy %s\n' "$(head -c 2048 "$lock.holder" 2>/dev/null | head -n 1)"
  exit 0
fi
printf '%s\n' "$holder" >"$lock.holder"
echo held
while beat=$(timeout "$ttl" head -n 1 8>&-) && [ -n "$beat" ]; do :; done
rm -f "$lock.holder"
