# shellcheck shell=sh
# Part: functions reading a running etcd process's settings as etcd itself
# reads them: its config file when it has one (then flags are ignored), else
# its flags (--key=value, --key value, -key value), else ETCD_* variables.
# `etcd_proc PID` loads them; then `etcd_setting KEY VAR` prints one.
etcd_proc() {
  p_args=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  p_envs=$(tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null) || p_envs=
  p_cfg=$(etcd_flag config-file)
  [ -n "$p_cfg" ] || p_cfg=$(printf '%s\n' "$p_envs" | sed -n 's/^ETCD_CONFIG_FILE=//p' | head -n 1)
}
etcd_flag() {
  printf '%s\n' "$p_args" | awk -v k="$1" '
    take { print; exit }
    { a = $0; sub(/^--?/, "", a) }
    a == k { take = 1; next }
    index(a, k "=") == 1 { print substr(a, length(k) + 2); exit }'
}
# KEY (as in the config file and flags) VAR (its ETCD_* variable)
etcd_setting() {
  if [ -n "$p_cfg" ]; then
    [ -f "$p_cfg" ] && sed -n "s/^$1:[[:space:]]*//p" "$p_cfg" | head -n 1 | tr -d "\"'"
  else
    v=$(etcd_flag "$1")
    [ -n "$v" ] || v=$(printf '%s\n' "$p_envs" | sed -n "s/^$2=//p" | head -n 1)
    printf '%s\n' "$v"
  fi
}
# The member name of etcd process PID (etcd's default: "default").
etcd_name() {
  etcd_proc "$1" || return 1
  n=$(etcd_setting name ETCD_NAME)
  echo "${n:-default}"
}
# `etcd_where PID NAME` (after `etcd_proc PID`): where etcd process PID of
# member NAME keeps its data and what runs it. Sets w_inner (the data
# directory as etcd sees it: config, flag, variable, else etcd's default
# NAME.etcd in its working directory), w_data (the same as a host path;
# empty for a container whose mount of it is not found), w_container (the
# Docker container's ID, when in one) and w_unit (the systemd service it
# runs in, outside containers).
etcd_where() {
  w_inner=$(etcd_setting data-dir ETCD_DATA_DIR)
  case $w_inner in
    /*) ;;
    *) w_inner="$(readlink "/proc/$1/cwd")/${w_inner:-$2.etcd}" ;;
  esac
  # shellcheck disable=SC2034 # read by the scripts after this part
  w_container='' w_unit='' w_data=''
  w_cg=$(cat "/proc/$1/cgroup" 2>/dev/null)
  if printf '%s\n' "$w_cg" | grep -Eq 'docker|containerd|kubepods|libpod'; then
    w_container=$(printf '%s\n' "$w_cg" | grep -o '[0-9a-f]\{64\}' | head -n 1)
    [ -n "$w_container" ] || return 0
    # The bind mount holding the data: the longest destination it is under.
    w_data=$(docker inspect -f '{{range .Mounts}}{{println .Destination .Source}}{{end}}' "$w_container" 2>/dev/null \
      | awk -v p="$w_inner" 'NF == 2 && (p == $1 || index(p, $1 "/") == 1) && length($1) > best {
          best = length($1); out = $2 substr(p, length($1) + 1) } END { print out }')
  else
    # shellcheck disable=SC2034
    w_unit=$(printf '%s\n' "$w_cg" | sed -n 's|^0::.*/\([^/]*\.service\)$|\1|p' | head -n 1)
    # shellcheck disable=SC2034
    w_data=$w_inner
  fi
}
# `etcd_tls SECTION KEY` (after `etcd_proc PID`): a TLS file setting as etcd
# reads it: in a config file KEY under SECTION (client-transport-security or
# peer-transport-security), else the flag or variable (peer ones prefixed).
etcd_tls() {
  if [ -n "$p_cfg" ]; then
    [ -f "$p_cfg" ] && awk -v s="$1:" -v k="$2:" '
      /^[^[:space:]#]/ { in_s = ($1 == s) ; next }
      in_s && $1 == k { v = $2; gsub(/["'\'']/, "", v); print v; exit }' "$p_cfg"
  else
    case $1 in peer-*) k="peer-$2" ;; *) k=$2 ;; esac
    etcd_setting "$k" "ETCD_$(echo "$k" | tr 'a-z-' 'A-Z_')"
  fi
}
# `etcd_trusted PID PORT...`: whether etcd process PID may be taken for a
# member, whatever it calls itself: it runs in a container (Docker,
# containerd, podman: root's to start), or in a system service (a
# `/system.slice/*.service` cgroup, never a user's session or user manager)
# as root or as that service's own User=, and then listens on one of the
# PORTs (the kernel's socket table: the sockets are its own open files).
# Otherwise prints why not and returns 1: a name and flags are anyone's to
# choose.
etcd_trusted() {
  t_pid=$1
  shift
  t_cg=$(cat "/proc/$t_pid/cgroup" 2>/dev/null) || { echo "it is gone"; return 1; }
  if printf '%s\n' "$t_cg" | grep -Eq 'docker|containerd|kubepods|libpod'; then return 0; fi
  t_unit=$(printf '%s\n' "$t_cg" | sed -n 's|^[0-9]*:[^:]*:/system\.slice/\(.*/\)\{0,1\}\([^/]*\.service\)$|\2|p' | head -n 1)
  t_uid=$(stat -c %u "/proc/$t_pid")
  if [ -z "$t_unit" ]; then
    echo "it runs as $(id -nu "$t_uid" 2>/dev/null || echo "uid $t_uid") outside any system service or container"
    return 1
  fi
  t_user=$(systemctl show -p User --value "$t_unit" 2>/dev/null)
  t_want=0
  [ -z "$t_user" ] || t_want=$(id -u "$t_user" 2>/dev/null) || t_want=none
  if [ "$t_uid" != 0 ] && [ "$t_uid" != "$t_want" ]; then
    echo "it runs as $(id -nu "$t_uid" 2>/dev/null || echo "uid $t_uid") in $t_unit, whose user is ${t_user:-root}"
    return 1
  fi
  t_socks=$(find "/proc/$t_pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
  for t_port in "$@"; do
    t_hex=$(printf ':%04X' "$t_port")
    t_listen=$(awk -v p="$t_hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    if [ -n "$t_listen" ] && [ -n "$t_socks" ] && printf '%s\n' "$t_socks" | grep -qxF "$t_listen"; then return 0; fi
  done
  echo "it does not listen on port $*"
  return 1
}
