# shellcheck shell=sh
# Makes the release image (FROM scratch: etcd is a static binary) from the
# unpacked, verified release in SRC, in the layout `docker save` writes, and
# has the daemon load it. The daemon then writes the binaries about once; a
# `docker build` moves them through its build context and snapshots too
# (measured in the lab: 173 MB written and 47 CPU ticks in dockerd against
# 115 MB and 27 for a load), and the daemon's work, unlike this script's,
# does not run at idle priority: it competes with etcd on the same host.
# Arguments: IMAGE SRC BIN_DIR VERSION
set -eu
img=$1 src=$2 bin=$3 version=$4
shift 4
if docker image inspect "$img" >/dev/null 2>&1; then exit 0; fi
ctx=$(mktemp -d /tmp/etcd-deploy-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/root
mkdir -p "$root$bin"
for b in etcd etcdctl etcdutl; do if [ -x "$src/$b" ]; then ln "$src/$b" "$root$bin/$b" 2>/dev/null || cp "$src/$b" "$root$bin/"; fi; done
top=${bin#/}
top=${top%%/*}
tar -cf "$ctx/layer.tar" -C "$root" --numeric-owner --owner=0 --group=0 --mtime=@0 "$top"
diff=$(sha256sum "$ctx/layer.tar" | cut -d' ' -f1)
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
printf '{"architecture":"%s","os":"linux","config":{"Labels":{"org.opencontainers.image.title":"etcd","org.opencontainers.image.version":"%s","io.etcd-deploy.release-sha256":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"etcd-deploy: the etcd %s release binaries in %s"}]}' \
  "$arch" "$version" "$(cat "$src/.sha256")" "$diff" "$version" "$bin" >"$ctx/config.json"
cfg=$(sha256sum "$ctx/config.json" | cut -d' ' -f1)
mv "$ctx/config.json" "$ctx/$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$img" >"$ctx/manifest.json"
tar -cf - -C "$ctx" manifest.json "$cfg.json" layer.tar | docker load -q >/dev/null
docker image inspect "$img" >/dev/null
