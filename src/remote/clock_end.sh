# shellcheck shell=sh
# Part (with -v, after the facts script): how long the script ran on the
# host, in microseconds, without SSH's share (`-v` shows it beside the
# whole round trip).
# shellcheck disable=SC2154 # set by clock_start.sh
echo "script_took_us=$((($(date +%s%N) - clock_start) / 1000))"
