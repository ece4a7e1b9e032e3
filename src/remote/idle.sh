# shellcheck shell=sh
# Part: the rest of the script runs at idle CPU and I/O priority, so that
# preparing a host (unpacking a release, building an image) takes no time
# from the etcd serving on it. Without renice or ionice it runs as it is.
renice -n 19 -p $$ >/dev/null 2>&1 || true
ionice -c 3 -p $$ >/dev/null 2>&1 || true
