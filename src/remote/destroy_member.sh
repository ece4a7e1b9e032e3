# shellcheck shell=sh
# Part of `destroy`, after the member's etcd is stopped: its config and
# TLS files, and with WIPE=yes its data: etcd's `member` directory and a
# restore's note, then the data directory itself if nothing else is in it
# and it is a dedicated one (anything else is not etcd-deploy's to delete); when the WAL is kept apart
# (WAL_DIR empty when it is not), etcd's WAL files in it (`*.wal`, `*.tmp`)
# and the directory if nothing else is left, deleted as the etcd user. The
# data directory and the WAL's parent are checked against the path rule
# first and used as resolved.
# Arguments: CONFIG PKI_DIR DATA_DIR WAL_DIR WIPE
set -eu
config=$1 pki=$2 data=$3 wal=$4 wipe=$5
shift 5
rm -rf "$config" "$pki"
if [ "$wipe" = yes ]; then
  data=$(checked data_dir "$data" data) || exit 3
  rm -rf "$data/member"
  rm -f "$data/etcd-deploy-restore"
  # A data directory etcd-deploy did not choose (a hand-made cluster's,
  # taken over where it lives) stays, empty.
  if [ "$(rule_verdict "$data")" = dedicated ]; then rmdir "$data" 2>/dev/null || true; fi
  if [ -n "$wal" ]; then
    # The WAL's parent is etcd's (etcd makes `<wal-dir>.tmp` there): it is
    # checked, and what is in it is deleted as the etcd user, who could
    # swap a name there for a link between a check and root's act.
    parent=$(checked "wal-dir's parent" "${wal%/*}" dedicated) || exit 3
    wal=$parent/${wal##*/}
    if id -u etcd >/dev/null 2>&1; then
      # shellcheck disable=SC2016 # expanded by the etcd user's shell
      runuser -u etcd -- sh -c '[ -d "$1" ] && [ ! -L "$1" ] || exit 0
        find "$1" -maxdepth 1 -type f \( -name "[0-9a-f]*-[0-9a-f]*.wal" -o -name "[0-9]*.tmp" \) -delete
        rmdir "$1" 2>/dev/null || true' etcd-deploy-wipe-wal "$wal"
    fi
  fi
fi
