# shellcheck shell=sh
# Part of `destroy`: once no etcd member runs on the host any more (no
# `etcd@` unit instance, no container etcd-deploy made), what etcd-deploy
# put on the host for all members: the template unit, the releases and the
# links to their binaries (only links that point into CURRENT).
# Arguments: UNIT_PATH CONFIG_DIR CURRENT INSTALL_DIR BIN_DIR BINARY...
set -eu
unit_path=$1 config_dir=$2 current=$3 install=$4 bin=$5
shift 5
if systemctl list-units --no-legend --state=active,activating,reloading 'etcd@*' | grep -q .; then exit 0; fi
if command -v docker >/dev/null 2>&1 \
  && docker ps -aq --filter label=io.etcd-deploy.cluster 2>/dev/null | grep -q .; then exit 0; fi
rm -f "$unit_path"
rmdir "$config_dir/pki" "$config_dir" 2>/dev/null || true
systemctl daemon-reload
for b in "$@"; do
  if [ "$(readlink "$bin/$b")" = "$current/$b" ]; then rm -f "$bin/$b"; fi
done
rm -rf "$install"
