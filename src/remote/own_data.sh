# shellcheck shell=sh
# Part, last of a restore: the restored data directory $d belongs to etcd.
# shellcheck disable=SC2154 # $d is set by receive_snapshot.sh
chown -R etcd:etcd "$d"
chmod 0700 "$d"
