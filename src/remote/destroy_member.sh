# shellcheck shell=sh
# Part of `destroy`, after the member's etcd is stopped: its config and
# TLS files, and with WIPE=yes its data: etcd's `member` directory, then the
# data directory itself if nothing else is in it (anything else is not
# etcd-deploy's to delete).
# Arguments: CONFIG PKI_DIR DATA_DIR WIPE
set -eu
config=$1 pki=$2 data=$3 wipe=$4
shift 4
rm -rf "$config" "$pki"
if [ "$wipe" = yes ]; then
  rm -rf "$data/member"
  rmdir "$data" 2>/dev/null || true
fi
