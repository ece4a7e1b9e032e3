# shellcheck shell=sh
# Part: what every member's host says, as key=value lines (parsed by
# facts.rs; the config's first two lines are printed raw and read there).
# It runs on every plan, apply and status, so it starts few processes: one
# `stat` for every file whose time or mode counts and one `awk` that reads
# them with the config, the records, the CA file and the running etcd's
# start; a `date` and a `getconf` when etcd runs; a digest per set of
# files; a `flock` when the run lock's file exists. What costs more is read only when something
# points to it: a restore's note when there is one, the run lock's holder
# when it is held, a foreign etcd's settings when one runs (named_etcd.sh).
# Arguments: CONFIG DATA_DIR PKI_DIR INSTALL_DIR BACKUP_ENV BACKUP_SERVICE
#   BACKUP_TIMER BACKUP_SCRIPT BACKUP_UNIT RECORDS RUN_LOCK PKI_PATH...
#   (PKI_PATH: each file of the member's pki directory that etcd reads and
#   its digest covers, as a path)
config=$1 data=$2 pki=$3 install=$4 benv=$5 bservice=$6 btimer=$7 bscript=$8 bunit=$9
records=${10} run_lock=${11}
shift 11
# The first entry of DIR that is none of the PATTERNs (DIR itself when it is
# not a directory), in `found`; empty when DIR is absent or holds only
# those. (A function setting a variable: no subshell.)
foreign() {
  found='' d=$1
  shift
  [ -e "$d" ] || [ -L "$d" ] || return 0
  if [ -L "$d" ] || [ ! -d "$d" ]; then found=$d; return 0; fi
  for e in "$d"/* "$d"/.[!.]* "$d"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e##*/}
    for p in "$@"; do
      # shellcheck disable=SC2254 # the patterns are patterns
      case $n in $p) continue 2 ;; esac
    done
    found=$n
    return 0
  done
}
# The kernel's own name for the machine (uname's, without a process).
arch=
IFS= read -r arch 2>/dev/null </proc/sys/kernel/arch || arch=$(uname -m)
echo "arch=$arch"
foreign "$data" member lost+found etcd-deploy-restore
[ -n "$found" ] && echo "data_dir_foreign=$found"
foreign "$install" 'etcd-v*' current current.tmp
[ -n "$found" ] && echo "install_dir_foreign=$found"
[ -d "$data/member" ] && echo "has_data=yes"
# A restore that did not finish made this data (own_data.sh's note). The
# directory is the etcd user's: the note is read without following a link
# and without blocking on a FIFO put in its place.
n="$data/etcd-deploy-restore"
if [ -f "$n" ] && [ ! -L "$n" ]; then
  echo "restored_by=$(dd if="$n" iflag=nofollow,nonblock bs=40 count=1 status=none 2>/dev/null | cut -d' ' -f1)"
fi
# The running etcd (member_pid, from the runtime's part): when it started,
# to about 20 ms (the clock now less its age: uptime less its start in
# ticks since boot).
now='' hz='' pid=''
# shellcheck disable=SC2154
if [ "${member_pid:-0}" != 0 ] && [ -r "/proc/$member_pid/stat" ]; then
  pid=$member_pid now=$(date +%s.%N) hz=$(getconf CLK_TCK)
fi
tls='' cfg='' rec=''
[ -f "$pki/ca.crt" ] && tls=$pki/ca.crt
[ -f "$config" ] && cfg=$config
# etcd-deploy's records of the cluster's members (record.sh writes them,
# one line of JSON, in a directory only root may write to), never through
# a link.
[ -f "$records" ] && [ ! -L "$records" ] && rec=$records
# "MTIME MODE PATH" of the config and etcd's TLS files, then (after
# /dev/null) of every key file.
stat -c '%.3Y %a %n' -- "$config" "$@" /dev/null "$pki"/*.key 2>/dev/null |
  awk -v config="$cfg" -v records="$rec" -v ca="$tls" \
    -v pid="$pid" -v now="$now" -v hz="$hz" '
  BEGIN {
    # The first two lines (their markers) and the settings the facts name;
    # recover'"'"'s one-off start (force-new-cluster) left in place is a run
    # stopped before the member went back to its normal config.
    if (config != "") {
      while ((getline l <config) > 0) {
        if (++n <= 2) print "config_line" n "=" l
        if (l ~ /^client-transport-security:/) ctls = 1
        if (l ~ /^peer-transport-security:/) peer = 1
        if (l ~ /^force-new-cluster: true/) forced = 1
      }
      if (ctls) print "config_tls=yes"
      if (peer) print "config_peer_certs=yes"
      if (forced) print "config_forced=yes"
    }
    if (records != "" && (getline r <records) > 0) print "records=" substr(r, 1, 65536)
    # The CAs the member trusts: their certificates'"'"' bodies, one a line
    # (facts.rs takes their SHA256 fingerprints).
    if (ca != "") {
      while ((getline l <ca) > 0 && certs < 8) {
        if (l ~ /-----BEGIN CERTIFICATE-----/) b = ""
        else if (l ~ /-----END CERTIFICATE-----/) { print "ca_cert=" b; certs++ }
        else b = b l
      }
    }
    if (pid != "") {
      if ((getline st <("/proc/" pid "/stat")) > 0 && (getline up <"/proc/uptime") > 0) {
        sub(/.*\) /, "", st); split(st, f, " "); split(up, u, " ")
        started = now - (u[1] - f[20] / hz)
        # How long it has run, in whole seconds: one that started moments
        # ago may not answer yet (status waits for it to settle).
        printf "member_age=%d\n", now - started
      } else pid = ""
    }
  }
  { name = $0; sub(/^[^ ]* [^ ]* /, "", name) }
  name == "/dev/null" { keys = 1; next }
  # A key file (or a link in its place) whose mode is not 0600.
  keys { if (ca != "" && $2 != "600") loose = 1; next }
  # A file written more than 50 ms after etcd started is newer than what
  # it read: a run stopped between writing the files and restarting the
  # member. (A pass that restarted it a second before writing its next
  # config is told apart.)
  { newer = pid != "" && $1 > started + 0.05 }
  name == config { if (newer) print "config_stale=yes"; next }
  ca != "" && newer { stale = 1 }
  END {
    if (stale) print "pki_stale=yes"
    if (loose) print "pki_loose=yes"
  }'
# A run holds the cluster's run lock here (run_lock.sh): who. (The kernel's
# lock table does not list a lock whose taker has exited, as `flock FD`
# has: it is tried.)
if [ -f "$run_lock" ] && [ ! -L "$run_lock" ] && ! flock -n "$run_lock" true 2>/dev/null; then
  echo "run_lock=$(head -c 2048 "$run_lock.holder" 2>/dev/null | head -n 1)"
fi
if [ -f "$benv" ]; then
  d=$(cat "$benv" "$bservice" "$btimer" "$bscript" 2>/dev/null | sha256sum)
  echo "backup_digest=${d%% *}"
  echo "backup_active=$(systemctl is-active "$bunit" 2>/dev/null)"
fi
if [ -n "$tls" ]; then
  d=$(cat "$@" 2>/dev/null | sha256sum)
  echo "pki_digest=${d%% *}"
  # The client revocation list (layout::CRL_FILE), apart: no restart.
  if [ -f "$pki/client-crl.der" ]; then
    d=$(sha256sum <"$pki/client-crl.der")
    echo "crl_digest=${d%% *}"
  fi
fi
true
