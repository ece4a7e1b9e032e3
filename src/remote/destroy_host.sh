# shellcheck shell=sh
# Part of `destroy`: once no etcd member runs on the host any more (no
# `etcd@` unit instance, no container etcd-deploy made), what etcd-deploy
# put on the host for all members: the template unit, the releases it
# unpacked (each carries the .sha256 it wrote), the `current` link, the links
# to their binaries (only those that point into CURRENT), and the install
# directory if nothing else is in it (checked against the path rule first).
# Arguments: UNIT_PATH CONFIG_DIR CURRENT INSTALL_DIR BIN_DIR BINARY...
set -eu
unit_path=$1 config_dir=$2 current=$3 bin=$5
install=$(checked install_dir "$4" dedicated) || exit 3
current=$install/${current##*/}
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
for d in "$install"/etcd-v*; do
  if [ -d "$d" ] && [ ! -L "$d" ] && [ -f "$d/.sha256" ]; then rm -rf "$d"; fi
done
if [ -L "$current" ]; then rm -f "$current"; fi
rmdir "$install" 2>/dev/null || true
