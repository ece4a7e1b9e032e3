# shellcheck shell=sh
# Finds the etcd process serving member NAME on this host (made by hand,
# by another tool, or by etcd-deploy) and prints how it runs, as key=value
# lines: its PID, binary, systemd unit, where its settings come from and its
# data directory (flag, environment, config file, or etcd's default
# NAME.etcd in its working directory). Nothing when no etcd there is NAME.
# Arguments: NAME
set -u
name=$1
shift
for pid in $(pgrep -x etcd 2>/dev/null); do
  args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || continue
  envs=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || envs=
  # --key=value, --key value, -key value (etcd takes all three).
  flag() {
    printf '%s\n' "$args" | awk -v k="$1" '
      take { print; exit }
      { a = $0; sub(/^--?/, "", a) }
      a == k { take = 1; next }
      index(a, k "=") == 1 { print substr(a, length(k) + 2); exit }'
  }
  envv() { printf '%s\n' "$envs" | sed -n "s/^$1=//p" | head -n 1; }
  cfg=$(flag config-file)
  [ -n "$cfg" ] || cfg=$(envv ETCD_CONFIG_FILE)
  yaml() {
    [ -n "$cfg" ] && [ -f "$cfg" ] && sed -n "s/^$1:[[:space:]]*//p" "$cfg" | head -n 1 | tr -d "\"'"
  }
  if [ -n "$cfg" ]; then
    n=$(yaml name) src="config file $cfg"
  else
    n=$(flag name) src=flags
    [ -n "$n" ] || { n=$(envv ETCD_NAME); src=environment; }
  fi
  [ -n "$n" ] || n=default
  [ "$n" = "$name" ] || continue
  if [ -n "$cfg" ]; then
    d=$(yaml data-dir)
  else
    d=$(flag data-dir)
    [ -n "$d" ] || d=$(envv ETCD_DATA_DIR)
  fi
  case $d in
    /*) ;;
    *) d="$(readlink "/proc/$pid/cwd")/${d:-$n.etcd}" ;;
  esac
  echo "pid=$pid"
  echo "configured_by=$src"
  # In a container (Docker, containerd, Kubernetes, Podman) its paths are the
  # container's, not the host's: said so, never given as the data directory.
  if grep -Eq 'docker|containerd|kubepods|libpod' "/proc/$pid/cgroup" 2>/dev/null; then
    echo "container=yes"
    echo "container_data_dir=$d"
    exit 0
  fi
  echo "binary=$(readlink "/proc/$pid/exe")"
  echo "unit=$(sed -n 's|^0::.*/\([^/]*\.service\)$|\1|p' "/proc/$pid/cgroup" | head -n 1)"
  echo "data_dir=$d"
  [ -d "$d/member" ] && echo "has_data=yes"
  exit 0
done
exit 0
