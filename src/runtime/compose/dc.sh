# shellcheck shell=sh
# Part: the `dc` function: compose, whichever flavour the host has
# (`docker compose` where present, else `docker-compose`), with the project
# and file named explicitly.
# Arguments: PROJECT FILE NO_COMPOSE_MESSAGE
dc_project=$1 dc_file=$2 dc_missing=$3
shift 3
dc() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -p "$dc_project" -f "$dc_file" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -p "$dc_project" -f "$dc_file" "$@"
  else
    echo "$dc_missing" >&2
    return 127
  fi
}
