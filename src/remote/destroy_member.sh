# shellcheck shell=sh
# Part of `destroy`, after the member's etcd is stopped: its config and
# TLS files, and with WIPE=yes its data: etcd's `member` directory, then the
# data directory itself if nothing else is in it (anything else is not
# etcd-deploy's to delete), and the WAL directory when it is kept apart
# (WAL_DIR empty when it is not).
# Arguments: CONFIG PKI_DIR DATA_DIR WAL_DIR WIPE
set -eu
config=$1 pki=$2 data=$3 wal=$4 wipe=$5
shift 5
rm -rf "$config" "$pki"
if [ "$wipe" = yes ]; then
  rm -rf "$data/member"
  rmdir "$data" 2>/dev/null || true
  if [ -n "$wal" ]; then rm -rf "$wal"; fi
fi
