# shellcheck shell=sh
# Prints the file at PATH, and nothing when it does not exist.
# Arguments: PATH
[ -f "$1" ] && cat "$1"
true
