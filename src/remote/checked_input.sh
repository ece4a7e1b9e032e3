# shellcheck shell=sh
# Part, first of every script fed a file from the controller's memory
# (ssh.rs run_with_input: configs, units, compose files, TLS files): the
# whole input is read into a private temporary file and checked against its
# SHA256 before anything acts on it, then becomes the rest's stdin. A
# controller that dies mid-stream leaves a short input (the remote side
# sees an ordinary end of file): nothing is written from it.
# Arguments: SHA256
sum=$1
shift
input=$(mktemp)
cat >"$input"
if [ "$(sha256sum "$input" | cut -d' ' -f1)" != "$sum" ]; then
  rm -f "$input"
  echo "the input arrived incomplete (the controller stopped sending?); nothing was written" >&2
  exit 1
fi
exec <"$input"
rm -f "$input"
