# shellcheck shell=sh
# Part (with -v, in front of the facts script): when the script started on
# the host, for clock_end.sh.
# shellcheck disable=SC2034 # read by clock_end.sh
clock_start=$(date +%s%N)
