# shellcheck shell=sh
# The etcd system user, and the directories it owns (each checked against
# the path rule on the host first, and used as resolved).
# Arguments: DATA_DIR INSTALL_DIR CONFIG_DIR (after the path rule's part)
set -eu
data=$(checked data_dir "$1" data) || exit 3
install=$(checked install_dir "$2" dedicated) || exit 3
config=$3
shift 3
id -u etcd >/dev/null 2>&1 \
  || useradd --system --user-group --no-create-home --home-dir "$data" --shell /usr/sbin/nologin etcd
# Member data of another owner is an etcd etcd-deploy is taking over
# (`adopt` hands it to the etcd user once that etcd has stopped): left as is.
if [ ! -d "$data/member" ] || [ "$(stat -c %U "$data")" = etcd ]; then
  install -d -m 0700 -o etcd -g etcd "$data"
fi
install -d -m 0755 "$install" "$config"
