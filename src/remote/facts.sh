# shellcheck shell=sh
# Part: what every member's host says, as key=value lines (parsed by
# facts.rs; the config's first two lines are printed raw and read there).
# Arguments: CONFIG DATA_DIR PKI_DIR INSTALL_DIR BACKUP_ENV BACKUP_SERVICE
#   BACKUP_TIMER BACKUP_SCRIPT BACKUP_UNIT RECORDS RUN_LOCK PKI_FILE...
config=$1 data=$2 pki=$3 install=$4 benv=$5 bservice=$6 btimer=$7 bscript=$8 bunit=$9
records=${10} run_lock=${11}
shift 11
# The first entry of DIR that is none of the PATTERNs (DIR itself when it is
# not a directory); nothing when DIR is absent or holds only those.
foreign() {
  d=$1
  shift
  [ -e "$d" ] || [ -L "$d" ] || return 0
  if [ -L "$d" ] || [ ! -d "$d" ]; then echo "$d"; return 0; fi
  for e in "$d"/* "$d"/.[!.]* "$d"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e##*/}
    for p in "$@"; do
      # shellcheck disable=SC2254 # the patterns are patterns
      case $n in $p) continue 2 ;; esac
    done
    echo "$n"
    return 0
  done
}
echo "arch=$(uname -m)"
f=$(foreign "$data" member lost+found etcd-deploy-restore)
[ -n "$f" ] && echo "data_dir_foreign=$f"
f=$(foreign "$install" 'etcd-v*' current current.tmp)
[ -n "$f" ] && echo "install_dir_foreign=$f"
if [ -f "$config" ]; then
  echo "config_line1=$(sed -n 1p "$config")"
  echo "config_line2=$(sed -n 2p "$config")"
  grep -q '^client-transport-security:' "$config" && echo "config_tls=yes"
  grep -q '^peer-transport-security:' "$config" && echo "config_peer_certs=yes"
fi
[ -d "$data/member" ] && echo "has_data=yes"
# A restore that did not finish made this data (own_data.sh's note). The
# directory is the etcd user's: the note is read without following a link
# and without blocking on a FIFO put in its place.
n="$data/etcd-deploy-restore"
if [ -f "$n" ] && [ ! -L "$n" ]; then
  echo "restored_by=$(dd if="$n" iflag=nofollow,nonblock bs=40 count=1 status=none 2>/dev/null | cut -d' ' -f1)"
fi
# The running etcd (member_pid, from the runtime's part) started before its
# config file (or one of its TLS files) last changed: it has not read it (a
# run stopped between writing the files and restarting the member). Its
# start, to about 20 ms: the clock now less its age (uptime less its start
# in ticks since boot, both since boot); a file written more than 50 ms
# after that start is newer than what it read. (A pass that restarted the
# member a second before writing its next config is told apart.)
started=
# shellcheck disable=SC2154
if [ "${member_pid:-0}" != 0 ] && [ -r "/proc/$member_pid/stat" ]; then
  ticks=$(sed 's/.*) //' "/proc/$member_pid/stat" | cut -d' ' -f20)
  started=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v now="$(date +%s.%N)" \
    '{ printf "%.3f", now - ($1 - t / hz) }' /proc/uptime)
  # How long it has run, in whole seconds: one that started moments ago may
  # not answer yet (status waits for it to settle).
  echo "member_age=$(awk -v s="$started" -v now="$(date +%s.%N)" 'BEGIN { printf "%d", now - s }')"
fi
# FILE changed after the running etcd started.
newer() { awk -v m="$(stat -c %.3Y "$1")" -v s="$started" 'BEGIN { exit !(m > s + 0.05) }'; }
if [ -f "$config" ]; then
  # recover's one-off start (force-new-cluster) left in place: a run
  # stopped before the member went back to its normal config.
  grep -q '^force-new-cluster: true' "$config" && echo "config_forced=yes"
  [ -n "$started" ] && newer "$config" && echo "config_stale=yes"
fi
if [ -n "$started" ] && [ -f "$pki/ca.crt" ]; then
  for f in "$@"; do
    if [ -f "$pki/$f" ] && newer "$pki/$f"; then
      echo "pki_stale=yes"
      break
    fi
  done
fi
if [ -f "$benv" ]; then
  echo "backup_digest=$(cat "$benv" "$bservice" "$btimer" "$bscript" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  echo "backup_active=$(systemctl is-active "$bunit" 2>/dev/null)"
fi
# etcd-deploy's records of the cluster's members (record.sh writes them,
# one line of JSON, in a directory only root may write to).
if [ -f "$records" ] && [ ! -L "$records" ]; then
  echo "records=$(head -c 65536 "$records" | head -n 1)"
fi
# A run holds the cluster's run lock here (run_lock.sh): who.
if [ -f "$run_lock" ] && [ ! -L "$run_lock" ] && ! flock -n "$run_lock" true 2>/dev/null; then
  echo "run_lock=$(head -c 2048 "$run_lock.holder" 2>/dev/null | head -n 1)"
fi
if [ -f "$pki/ca.crt" ]; then
  # The CAs the member trusts: SHA256 fingerprints of their certificates.
  printf 'ca_certs='
  awk '/-----BEGIN CERTIFICATE-----/ { b = ""; next } /-----END CERTIFICATE-----/ { print b; next } { b = b $0 }' "$pki/ca.crt" 2>/dev/null |
    head -n 8 | while IFS= read -r body; do
      printf '%s' "$body" | base64 -d 2>/dev/null | sha256sum | cut -c1-64 | tr '\n' ','
    done
  echo
  echo "pki_digest=$(cd "$pki" && cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  # The client revocation list (layout::CRL_FILE), apart: no restart.
  if [ -f "$pki/client-crl.der" ]; then
    echo "crl_digest=$(sha256sum <"$pki/client-crl.der" | cut -d' ' -f1)"
  fi
  for k in "$pki"/*.key; do
    if [ -e "$k" ] && [ "$(stat -c %a "$k")" != 600 ]; then echo "pki_loose=yes"; break; fi
  done
fi
true
