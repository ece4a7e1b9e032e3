# shellcheck shell=sh
# Finds the etcd process serving member NAME on this host (made by hand,
# by another tool, or by etcd-deploy) and prints how it runs, as key=value
# lines: its PID, binary, systemd unit, where its settings come from and its
# data directory (config file, flag, environment, or etcd's default
# NAME.etcd in its working directory). Nothing when no etcd there is NAME.
# (After the etcd_process.sh part.)
# Arguments: NAME
name=$1
shift
for pid in $(pgrep -x etcd 2>/dev/null); do
  etcd_proc "$pid" || continue
  n=$(etcd_setting name ETCD_NAME)
  [ "${n:-default}" = "$name" ] || continue
  if [ -n "$p_cfg" ]; then src="config file $p_cfg"; elif [ -n "$(etcd_flag name)" ]; then src=flags; else src=environment; fi
  d=$(etcd_setting data-dir ETCD_DATA_DIR)
  case $d in
    /*) ;;
    *) d="$(readlink "/proc/$pid/cwd")/${d:-$name.etcd}" ;;
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
