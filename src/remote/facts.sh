# shellcheck shell=sh
# Part: what every member's host says, as key=value lines (parsed by
# facts.rs; the config's first two lines are printed raw and read there).
# Arguments: CONFIG DATA_DIR PKI_DIR PKI_FILE...
config=$1 data=$2 pki=$3
shift 3
echo "arch=$(uname -m)"
if [ -f "$config" ]; then
  echo "config_line1=$(sed -n 1p "$config")"
  echo "config_line2=$(sed -n 2p "$config")"
  grep -q '^client-transport-security:' "$config" && echo "config_tls=yes"
fi
[ -d "$data/member" ] && echo "has_data=yes"
if [ -f "$pki/ca.crt" ]; then
  echo "pki_digest=$(cd "$pki" && cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1)"
fi
true
