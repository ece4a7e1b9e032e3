#!/bin/sh
# etcd-deploy: saves one snapshot of this host's etcd member, checks that
# etcd's own tool reads it through, names it after its revision, and keeps
# the newest KEEP. Run on schedule by etcd-deploy-backup@NAME.service with
# /etc/etcd/backup/NAME.env; written by etcd-deploy, edits are overwritten.
# Environment: ENDPOINT DIR KEEP PREFIX BIN [PKI]
set -eu
: "${ENDPOINT:?}" "${DIR:?}" "${KEEP:?}" "${PREFIX:?}" "${BIN:?}"
umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)
part="$DIR/.$PREFIX-$stamp.db.part"
trap 'rm -f "$part"' EXIT
set -- --endpoints "$ENDPOINT" --command-timeout=30m
if [ -n "${PKI:-}" ]; then
  set -- "$@" --cacert "$PKI/ca.crt" --cert "$PKI/server.crt" --key "$PKI/server.key"
fi
ETCDCTL_API=3 "$BIN/etcdctl" "$@" snapshot save "$part" >/dev/null
# "hash, revision, total keys, total size": etcdutl from 3.5, etcdctl before.
if [ -x "$BIN/etcdutl" ]; then
  st=$("$BIN/etcdutl" snapshot status "$part" -w simple)
else
  st=$(ETCDCTL_API=3 "$BIN/etcdctl" snapshot status "$part" -w simple)
fi
rev=$(echo "$st" | cut -d, -f2 | tr -d ' ')
case $rev in
  '' | *[!0-9]*) echo "the snapshot does not check out: $st" >&2; exit 1 ;;
esac
final="$DIR/$PREFIX-$stamp-rev$rev.db"
mv "$part" "$final"
trap - EXIT
# Names sort by time; the newest KEEP stay.
for f in "$DIR/$PREFIX"-*-rev*.db; do [ -e "$f" ] && echo "$f"; done | sort -r |
  tail -n +"$((KEEP + 1))" | while read -r f; do rm -f -- "$f"; done
echo "saved $final ($st)"
