# shellcheck shell=sh
# Part, last of a restore: the restored data directory $d belongs to etcd,
# and says which restore made it from which snapshot (etcd-deploy-restore,
# removed when that restore finishes on every member): a later run that
# moves it aside can tell it from data the member ran with.
# shellcheck disable=SC2154 # $d, $stamp and $sha are set by receive_snapshot.sh
chown -R etcd:etcd "$d"
chmod 0700 "$d"
printf '%s %s\n' "$stamp" "$sha" >"$d/etcd-deploy-restore"
