# shellcheck shell=sh
# shellcheck disable=SC2154 # w_* are set by etcd_where (etcd_process.sh)
# Finds the etcd process serving member NAME on this host (made by hand,
# by another tool, or by etcd-deploy) and prints how it runs, as key=value
# lines: its PID, binary, systemd unit or container, where its settings come
# from and its data directory (config file, flag, environment, or etcd's
# default NAME.etcd in its working directory; for a container, the host
# path of the mount holding it), and the user it runs as (`run_as`: its
# TLS files are read as that user), and the settings KEY... it runs with
# (`setting_KEY`). Nothing when no etcd there is NAME.
# Only an etcd that `etcd_trusted` takes for the member counts (a system
# service's or a container's, listening on the member's PEER_PORT or CLIENT_PORT); any
# other etcd process is reported as `untrusted=PID WHY`, its files unread.
# (After the etcd_process.sh part.)
# Arguments: NAME PEER_PORT CLIENT_PORT KEY...
name=$1 peer_port=$2 client_port=$3
shift 3
found=
for pid in $(pgrep -x etcd 2>/dev/null); do
  # Trusted first: an untrusted process's config file is never read.
  if ! why=$(etcd_trusted "$pid" "$peer_port" "$client_port"); then
    echo "untrusted=$pid $why"
    continue
  fi
  [ -z "$found" ] || continue
  etcd_proc "$pid" || continue
  n=$(etcd_setting name ETCD_NAME)
  [ "${n:-default}" = "$name" ] || continue
  found=$pid
  echo "run_as=$(id -nu "$(stat -c %u "/proc/$pid")" 2>/dev/null || stat -c %u "/proc/$pid")"
  if [ -n "$p_cfg" ]; then src="config file $p_cfg"; elif [ -n "$(etcd_flag name)" ]; then src=flags; else src=environment; fi
  etcd_where "$pid" "$name"
  echo "pid=$pid"
  echo "configured_by=$src"
  if [ -n "$w_container" ]; then
    echo "container=$w_container"
    echo "container_data_dir=$w_inner"
  else
    echo "binary=$(readlink "/proc/$pid/exe")"
    echo "unit=$w_unit"
  fi
  if [ -n "$w_data" ]; then
    echo "data_dir=$w_data"
    [ -d "$w_data/member" ] && echo "has_data=yes"
  fi
  # Its TLS files (host paths; a containerised member's are not read).
  if [ -z "$w_container" ]; then
    for sk in client-transport-security:cert-file client-transport-security:key-file \
      client-transport-security:trusted-ca-file peer-transport-security:cert-file \
      peer-transport-security:key-file peer-transport-security:trusted-ca-file; do
      v=$(etcd_tls "${sk%%:*}" "${sk#*:}")
      [ -n "$v" ] && echo "tls_${sk%%-transport-security:*}_${sk#*:}=$v"
    done
  fi
  # The tuning the inventory's [etcd] can carry, so that adopting keeps it.
  for k in "$@"; do
    v=$(etcd_setting "$k" "ETCD_$(echo "$k" | tr 'a-z-' 'A-Z_')")
    [ -n "$v" ] && echo "setting_$k=$v"
  done
done
true
