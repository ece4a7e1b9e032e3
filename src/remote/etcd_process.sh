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
