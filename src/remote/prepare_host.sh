# shellcheck shell=sh
# The etcd system user, and the directories it owns.
# Arguments: DATA_DIR INSTALL_DIR CONFIG_DIR
set -eu
data=$1 install=$2 config=$3
shift 3
id -u etcd >/dev/null 2>&1 \
  || useradd --system --user-group --no-create-home --home-dir "$data" --shell /usr/sbin/nologin etcd
# Member data of another owner is an etcd etcd-deploy is taking over
# (`adopt` hands it to the etcd user once that etcd has stopped): left as is.
if [ ! -d "$data/member" ] || [ "$(stat -c %U "$data")" = etcd ]; then
  install -d -m 0700 -o etcd -g etcd "$data"
fi
install -d -m 0755 "$install" "$config"
