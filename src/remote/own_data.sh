# shellcheck shell=sh
# Part, last of a restore: the restored data directory $d says which
# restore made it from which snapshot (etcd-deploy-restore, removed when
# that restore finishes on every member: a later run that moves it aside
# can tell it from data the member ran with), then belongs to etcd. The
# note is written while $d is still root's: once it is etcd's, a name in it
# may be a link the etcd user put there.
# shellcheck disable=SC2154 # $d, $stamp and $sha are set by receive_snapshot.sh
printf '%s %s\n' "$stamp" "$sha" >"$d/etcd-deploy-restore"
chown -R etcd:etcd "$d"
chmod 0700 "$d"
