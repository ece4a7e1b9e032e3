//! Compose mode on a host: the shell scripts that write the host's compose
//! file, build or pull images and start, stop, inspect and remove a member's
//! container. `remote.rs` picks these or the systemd ones by the member's runtime.
//!
//! Every compose call goes through `dc`, which uses `docker compose` where
//! present and `docker-compose` otherwise, with the project and file named
//! explicitly, and acts on the one member's service only (`--no-deps`): the
//! other members on the host are left alone.

use crate::inventory::{Inventory, Member, Network, Version};
use crate::layout::{self, NO_COMPOSE};
use crate::ssh::quote;

/// The `dc` shell function: compose, whichever flavour the host has.
fn prelude(inv: &Inventory) -> String {
    format!(
        "dc() {{
  if docker compose version >/dev/null 2>&1; then docker compose -p {p} -f {f} \"$@\"
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose -p {p} -f {f} \"$@\"
  else echo '{NO_COMPOSE}' >&2; return 127; fi
}}
",
        p = quote(&layout::compose_project(inv)),
        f = quote(&layout::compose_file(inv)),
    )
}

/// Writes the compose file (from stdin) and the `.env` holding the etcd
/// user's IDs the file refers to.
pub fn write_file(inv: &Inventory) -> String {
    let dir = quote(&layout::compose_dir(inv));
    let file = quote(&layout::compose_file(inv));
    format!(
        "set -e
install -d -m 0755 {dir}
printf 'ETCD_UID=%s\\nETCD_GID=%s\\n' \"$(id -u etcd)\" \"$(id -g etcd)\" > {dir}/.env.tmp
mv {dir}/.env.tmp {dir}/.env
cat > {file}.tmp
chmod 0644 {file}.tmp
mv {file}.tmp {file}
"
    )
}

/// Builds the release image `FROM scratch` from the unpacked, verified
/// release (etcd is a static binary: nothing else is needed).
pub fn build_image(inv: &Inventory, v: Version, reference: &str) -> String {
    format!(
        "set -e
img={img}
if docker image inspect \"$img\" >/dev/null 2>&1; then exit 0; fi
src={src}
ctx=$(mktemp -d /tmp/etcd-deploy-image.XXXXXX)
trap 'rm -rf \"$ctx\"' EXIT
mkdir \"$ctx/bin\"
for b in etcd etcdctl etcdutl; do if [ -x \"$src/$b\" ]; then cp \"$src/$b\" \"$ctx/bin/\"; fi; done
printf 'FROM scratch\\nCOPY bin/ {bin}/\\nLABEL org.opencontainers.image.title=etcd org.opencontainers.image.version=%s io.etcd-deploy.release-sha256=%s\\n' {v} \"$(cat \"$src/.sha256\")\" > \"$ctx/Dockerfile\"
docker build -q -t \"$img\" \"$ctx\" >/dev/null
",
        img = quote(reference),
        src = quote(&layout::version_dir(inv, v)),
        bin = layout::IMAGE_BIN_DIR,
        v = quote(&v.to_string()),
    )
}

pub fn pull_image(reference: &str) -> String {
    format!(
        "set -e\nimg={}\ndocker image inspect \"$img\" >/dev/null 2>&1 || docker pull -q \"$img\" >/dev/null\n",
        quote(reference)
    )
}

/// Creates and starts the member's container, or (`recreate`) replaces it:
/// the compose file may have changed, and the config is read at start.
pub fn start(inv: &Inventory, m: &Member, recreate: bool) -> String {
    format!(
        "set -e\n{}dc up -d --no-deps{} {}\n",
        prelude(inv),
        if recreate { " --force-recreate" } else { "" },
        quote(&m.name)
    )
}

/// Stops the member's container; a missing container is stopped already.
pub fn stop(inv: &Inventory, m: &Member) -> String {
    format!(
        "docker stop -t 30 {c} >/dev/null 2>&1 || ! docker inspect {c} >/dev/null 2>&1\n",
        c = quote(&layout::container(inv, m))
    )
}

/// Prints the container's state and restart count (nothing if it is missing).
pub fn state(inv: &Inventory, m: &Member) -> String {
    format!(
        "docker inspect -f '{{{{.State.Status}}}} {{{{.RestartCount}}}}' {} 2>/dev/null || true",
        quote(&layout::container(inv, m))
    )
}

/// Why `state`'s output says etcd is not running in its container, if it does:
/// it exited (and may be restarted by the restart policy) or never started.
pub fn crashed(state: &str) -> Option<String> {
    let mut parts = state.split_whitespace();
    let status = parts.next()?;
    let restarts = parts.next().unwrap_or("0");
    match status {
        "running" | "created" => None,
        "restarting" => Some(format!(
            "etcd keeps exiting in its container (restarted {restarts} times)"
        )),
        other => Some(format!(
            "etcd is not running in its container (container {other})"
        )),
    }
}

pub fn logs_tail(inv: &Inventory, m: &Member) -> String {
    format!(
        "docker logs --tail 15 {} 2>&1 || true",
        quote(&layout::container(inv, m))
    )
}

/// Removes the member's container if there is one; exits 0 either way.
pub fn remove_container(inv: &Inventory, m: &Member) -> String {
    format!(
        "if command -v docker >/dev/null 2>&1; then docker rm -f {} >/dev/null 2>&1 || true; fi\n",
        quote(&layout::container(inv, m))
    )
}

/// After the host's last container of the cluster is gone: the compose
/// directory, the bridge and the images etcd-deploy built.
pub fn remove_host_files(inv: &Inventory) -> String {
    format!(
        "if docker ps -aq --filter label=io.etcd-deploy.cluster={cluster} | grep -q .; then exit 0; fi
docker network rm {net} >/dev/null 2>&1 || true
rm -rf {dir}
rmdir {parent} 2>/dev/null || true
docker image ls --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | grep '^etcd-deploy/etcd:' | xargs -r docker rmi >/dev/null 2>&1 || true
",
        cluster = quote(&inv.cluster.name),
        net = quote(&layout::compose_network(inv)),
        dir = quote(&layout::compose_dir(inv)),
        parent = quote(&format!("{}/compose", layout::CONFIG_DIR)),
    )
}

/// The `snapshot restore` command, run in a throwaway container of the
/// member's image (the host may have no etcd binaries): `$f` is the snapshot
/// and `$d` the data directory to create.
pub fn restore_command(inv: &Inventory, m: &Member, v: Version, args: &str) -> String {
    let Some(c) = m.compose() else {
        return String::new();
    };
    let parent = std::path::Path::new(layout::data_dir(m))
        .parent()
        .map_or("/".to_string(), |p| p.display().to_string());
    let (tool, env) = if v
        >= (Version {
            major: 3,
            minor: 5,
            patch: 0,
        }) {
        ("etcdutl", "")
    } else {
        ("etcdctl", "-e ETCDCTL_API=3 ")
    };
    // The restore resolves every peer URL's host; peers known by container
    // name resolve only on the bridge while they run, so any address will do.
    let names: String = inv
        .members
        .iter()
        .filter(|o| {
            matches!(
                o.compose().map(|c| c.network),
                Some(Network::Bridge {
                    peers_by_name: true
                })
            )
        })
        .map(|o| format!("--add-host {}:127.0.0.1 ", quote(&o.name)))
        .collect();
    format!(
        "docker run --rm --network none {env}{names}-v \"$f:/snapshot.db:ro\" -v {parent}:{parent} --entrypoint {bin}/{tool} {img} snapshot restore /snapshot.db --data-dir \"$d\" {args} >/dev/null",
        parent = quote(&parent),
        bin = layout::IMAGE_BIN_DIR,
        img = quote(&c.image.reference(v)),
    )
}

#[cfg(test)]
mod tests {
    use super::crashed;

    #[test]
    fn reads_container_state() {
        assert_eq!(crashed("running 0\n"), None);
        assert_eq!(crashed(""), None, "no container yet: nothing to say");
        assert!(crashed("restarting 3").is_some_and(|w| w.contains("restarted 3 times")));
        assert_eq!(crashed("running 2"), None, "restarted before, running now");
        assert!(crashed("exited 0").is_some_and(|w| w.contains("container exited")));
    }
}
