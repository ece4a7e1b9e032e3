# shellcheck shell=sh
# Creates and starts a member's container (after dc.sh), or with RECREATE=yes
# replaces it: the compose file may have changed, and the config is read at
# start. Acts on this one service only; the host's other members stay.
# Arguments: SERVICE RECREATE
set -eu
service=$1 recreate=$2
shift 2
if [ "$recreate" = yes ]; then
  dc up -d --no-deps --force-recreate "$service"
else
  dc up -d --no-deps "$service"
fi
