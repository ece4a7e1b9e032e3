# shellcheck shell=sh
# Part: what a compose-mode member's host says (key=value lines, parsed by
# facts.rs): compose and the engine, the images matching the member's image
# pattern (PREFIX{version}SUFFIX), the compose file's digest, the member's
# container (running, PID, version and service digest from its labels), and
# whether a systemd unit runs it too. Sets member_pid for the common part.
# The compose v2 plugin is found where the docker CLI looks for it: running
# it only to learn it exists would cost a 60 MB binary's start-up per host.
# Arguments: PREFIX SUFFIX COMPOSE_FILE CONTAINER UNIT
p=$1 s=$2 file=$3 container=$4 unit=$5
shift 5
for d in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" /usr/local/lib/docker/cli-plugins \
  /usr/local/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins /usr/libexec/docker/cli-plugins; do
  [ -x "$d/docker-compose" ] && { echo "compose=docker compose"; break; }
done
command -v docker-compose >/dev/null 2>&1 && echo "compose=docker-compose"
command -v docker >/dev/null 2>&1 && echo "engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
docker image ls --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | while read -r i; do
  case "$i" in "$p"*"$s") v=${i#"$p"}; echo "installed=${v%"$s"}";; esac
done
if [ -f "$file" ]; then
  d=$(sha256sum <"$file")
  echo "host_file_digest=${d%% *}"
fi
if state=$(docker inspect -f 'container={{.State.Running}} {{.State.Pid}} {{index .Config.Labels "io.etcd-deploy.version"}} {{index .Config.Labels "io.etcd-deploy.digest"}}
restarting={{.State.Restarting}}' "$container" 2>/dev/null); then
  echo "$state"
  # The PID, the line's second word (cut out by the shell, digits only).
  p=${state#container=* }
  p=${p%% *}
  # shellcheck disable=SC2034 # read by the common part
  case $p in '' | *[!0-9]*) ;; *) member_pid=$p ;; esac
fi
# (Asked of systemd only when an etcd runs in the unit: named_etcd.sh.)
# shellcheck disable=SC2154
if [ -n "$etcd_in_unit" ] && systemctl is-active --quiet "$unit" 2>/dev/null; then
  echo other_runtime=active
fi
true
