# shellcheck shell=sh
# Installs the scheduled snapshots of one member ([backup]): the job script,
# the template service and timer (shared by the host's members), the
# member's environment file, its snapshot directory DIR/MEMBER (the etcd
# user's, 0700, in DIR: root's, 0755; both checked against the path rule,
# and DIR taken back from the etcd user an older etcd-deploy gave it to),
# then enables and starts its timer.
# Arguments: SCRIPT SERVICE TIMER ENV DIR MEMBER UNIT SCRIPT_TEXT SERVICE_TEXT TIMER_TEXT ENV_TEXT
set -eu
script=$1 service=$2 timer=$3 env=$4 top=$5 member=$6 unit=$7
script_text=$8 service_text=$9 timer_text=${10} env_text=${11}
shift 11
top=$(checked backup.dir "$top" dedicated) || exit 3
install -d -m 0755 "$top"
chown root:root "$top"
chmod 0755 "$top"
dir=$(checked backup.dir "$top/$member" dedicated) || exit 3
write() {
  printf '%s' "$2" >"$1.tmp"
  chmod "$3" "$1.tmp"
  mv "$1.tmp" "$1"
}
install -d -m 0755 "${script%/*}"
install -d -m 0700 -o etcd -g etcd "$dir"
write "$script" "$script_text" 0755
write "$service" "$service_text" 0644
write "$timer" "$timer_text" 0644
write "$env" "$env_text" 0644
systemctl daemon-reload
systemctl enable --now "$unit" >/dev/null 2>&1 || systemctl enable --now "$unit"
