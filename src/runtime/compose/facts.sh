# shellcheck shell=sh
# Part: what a compose-mode member's host says (key=value lines, parsed by
# facts.rs): compose and the engine, the images matching the member's image
# pattern (PREFIX{version}SUFFIX), the compose file's digest, the member's
# container (running, PID, version and service digest from its labels), and
# whether a systemd unit runs it too. Sets member_pid for the common part. The compose v2 plugin is found where
# the docker CLI looks for it: running it only to learn it exists would cost
# a 60 MB binary's start-up per host.
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
[ -f "$file" ] && echo "host_file_digest=$(sha256sum <"$file" | cut -d' ' -f1)"
if state=$(docker inspect -f 'container={{.State.Running}} {{.State.Pid}} {{index .Config.Labels "io.etcd-deploy.version"}} {{index .Config.Labels "io.etcd-deploy.digest"}}
restarting={{.State.Restarting}}' "$container" 2>/dev/null); then
  echo "$state"
  # shellcheck disable=SC2034 # read by the common part
  member_pid=$(echo "$state" | sed -n 's/^container=[a-z]* \([0-9]*\) .*/\1/p')
fi
systemctl is-active --quiet "$unit" 2>/dev/null && echo other_runtime=active
true
