# shellcheck shell=sh
# Part: takes the host's etcd-deploy lock for the rest of the script, so
# that members sharing a host change host-level files one at a time.
exec 9>/run/etcd-deploy.lock
flock 9
