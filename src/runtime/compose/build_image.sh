# shellcheck shell=sh
# Builds the release image FROM scratch from the unpacked, verified release
# in SRC (etcd is a static binary: nothing else is needed).
# Arguments: IMAGE SRC BIN_DIR VERSION
set -eu
img=$1 src=$2 bin=$3 version=$4
shift 4
if docker image inspect "$img" >/dev/null 2>&1; then exit 0; fi
ctx=$(mktemp -d /tmp/etcd-deploy-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/bin"
for b in etcd etcdctl etcdutl; do if [ -x "$src/$b" ]; then cp "$src/$b" "$ctx/bin/"; fi; done
printf 'FROM scratch\nCOPY bin/ %s/\nLABEL org.opencontainers.image.title=etcd org.opencontainers.image.version=%s io.etcd-deploy.release-sha256=%s\n' \
  "$bin" "$version" "$(cat "$src/.sha256")" >"$ctx/Dockerfile"
docker build -q -t "$img" "$ctx" >/dev/null
