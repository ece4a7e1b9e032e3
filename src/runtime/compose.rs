//! Members as services of one Docker Compose file per host and cluster
//! (`docker compose` where present, else `docker-compose`); the release is
//! the service's image, built from the verified tarball or pulled. Every
//! compose call names the one member's service (`--no-deps`): the host's
//! other members are left alone. A failing etcd is restarted by the restart
//! policy, so the executor watches the container's state.

use super::{GetImage, HostFile, MemberRuntime, Restore};
use crate::files::sha256_hex;
use crate::inventory::{self, Inventory, Member, Network, Version};
use crate::layout::{self, NO_COMPOSE};
use crate::script::{HOST_LOCK, IDLE, Script, flag};
use crate::templates::{TemplateError, Templates};
use minijinja::{Value, context};
use std::collections::BTreeMap;

pub(super) struct Compose<'a> {
    pub(super) c: &'a inventory::Compose,
}

/// The `dc` function part, for `inv`'s compose project and file.
fn dc(inv: &Inventory) -> Script {
    Script::new(
        "etcd-deploy-compose",
        include_str!("compose/dc.sh"),
        [
            layout::compose_project(inv),
            layout::compose_file(inv),
            NO_COMPOSE.to_string(),
        ],
    )
}

impl MemberRuntime for Compose<'_> {
    fn log_name(&self) -> &'static str {
        "container log"
    }

    fn facts(&self, inv: &Inventory, m: &Member) -> Script {
        // `docker image ls` shows Docker Hub images without their registry prefix.
        let pattern = self.c.image.pattern();
        let pattern = pattern
            .strip_prefix("docker.io/library/")
            .or_else(|| pattern.strip_prefix("docker.io/"))
            .unwrap_or(pattern);
        let (prefix, suffix) = pattern.split_once("{version}").unwrap_or((pattern, ""));
        Script::new(
            "etcd-deploy-facts",
            include_str!("compose/facts.sh"),
            [
                prefix.to_string(),
                suffix.to_string(),
                layout::compose_file(inv),
                layout::container(inv, m),
                layout::unit(m),
            ],
        )
    }

    fn host_file(
        &self,
        t: &Templates,
        inv: &Inventory,
        m: &Member,
        version_of: &dyn Fn(&Member) -> Version,
    ) -> Result<HostFile, TemplateError> {
        compose_file(t, inv, m, version_of)
    }

    fn write_host_file(&self, inv: &Inventory, _m: &Member) -> Script {
        Script::new(
            "etcd-deploy-write-compose-file",
            include_str!("compose/write_file.sh"),
            [layout::compose_dir(inv), layout::compose_file(inv)],
        )
        .after(HOST_LOCK, Vec::<String>::new())
    }

    fn switch_version(
        &self,
        t: &Templates,
        inv: &Inventory,
        m: &Member,
        v: Version,
    ) -> Result<(Script, Option<String>), TemplateError> {
        let version_of = |o: &Member| {
            if o.name == m.name {
                v
            } else {
                inv.cluster.version
            }
        };
        let f = self.host_file(t, inv, m, &version_of)?;
        Ok((self.write_host_file(inv, m), Some(f.text)))
    }

    fn start(&self, inv: &Inventory, m: &Member, restart: bool) -> Script {
        // Members sharing a host start together when none answers: their
        // `up` calls would race to create the host's bridge network (seen
        // once: "network ... already exists"), so they go one at a time.
        dc(inv)
            .then(
                include_str!("compose/start.sh"),
                [m.name.clone(), flag(restart).to_string()],
            )
            .after(HOST_LOCK, Vec::<String>::new())
    }

    fn stop(&self, inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-stop",
            include_str!("compose/stop.sh"),
            [layout::container(inv, m)],
        )
    }

    fn logs(&self, inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-logs",
            include_str!("compose/logs.sh"),
            [layout::container(inv, m)],
        )
    }

    fn watch(&self, inv: &Inventory, m: &Member) -> Option<Script> {
        Some(Script::new(
            "etcd-deploy-container-state",
            include_str!("compose/state.sh"),
            [layout::container(inv, m)],
        ))
    }

    fn crashed(&self, watched: &str) -> Option<String> {
        crashed(watched)
    }

    fn restore(&self, inv: &Inventory, m: &Member, r: &Restore) -> Script {
        let v = inv.cluster.version;
        let tool = if v
            >= (Version {
                major: 3,
                minor: 5,
                patch: 0,
            }) {
            "etcdutl"
        } else {
            "etcdctl"
        };
        let mut args = vec![
            self.c.image.reference(v),
            format!("{}/{tool}", layout::IMAGE_BIN_DIR),
            m.name.clone(),
            r.initial_cluster.clone(),
            r.token.clone(),
            m.peer_url(),
        ];
        // The restore resolves every peer URL's host; peers known by container
        // name resolve only on the bridge while they run.
        args.extend(
            inv.members
                .iter()
                .filter(|o| {
                    matches!(
                        o.compose().map(|c| c.network),
                        Some(Network::Bridge {
                            peers_by_name: true
                        })
                    )
                })
                .map(|o| o.name.clone()),
        );
        Script::new(
            "etcd-deploy-restore",
            include_str!("compose/restore.sh"),
            args,
        )
    }

    fn remove(&self, inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-destroy",
            include_str!("compose/remove.sh"),
            [
                layout::container(inv, m),
                inv.cluster.name.clone(),
                layout::compose_network(inv),
                layout::compose_dir(inv),
                format!("{}/compose", layout::CONFIG_DIR),
            ],
        )
    }

    fn get_image(&self, inv: &Inventory, v: Version, image: GetImage<'_>) -> Option<Script> {
        Some(match image {
            GetImage::Build(r) => build_image(inv, v, r),
            GetImage::Pull(r) => pull_image(r),
        })
    }
}

/// The compose file of the host `m` runs on: one service per compose member
/// there, each running `version_of(member)`; each service carries a digest
/// of the template and its own inputs (in its container's labels too), so a
/// change recreates only the members it concerns.
fn compose_file(
    t: &Templates,
    inv: &Inventory,
    m: &Member,
    version_of: &dyn Fn(&Member) -> Version,
) -> Result<HostFile, TemplateError> {
    let on_host: Vec<(&Member, &inventory::Compose)> = inv
        .host_members(m)
        .into_iter()
        .filter_map(|o| o.compose().map(|c| (o, c)))
        .collect();
    let bridged = on_host.iter().any(|(o, _)| o.bridged());
    let source = t.compose_source();
    let mut own_digest = None;
    let mut members = Vec::new();
    for (o, c) in on_host {
        let v = version_of(o);
        let mut svc: BTreeMap<&str, Value> = BTreeMap::from([
            ("name", Value::from(o.name.as_str())),
            ("container", Value::from(layout::container(inv, o))),
            ("image", Value::from(c.image.reference(v))),
            ("version", Value::from(v.to_string())),
            ("bridge", Value::from(o.bridged())),
            ("advertise", Value::from(o.advertise.as_str())),
            // The address ports are published on (IPv6 in brackets).
            ("publish", Value::from(inventory::url_host(&o.advertise))),
            ("client_port", Value::from(o.client_port)),
            ("peer_port", Value::from(o.peer_port)),
            ("data_dir", Value::from(layout::data_dir(o))),
            ("config", Value::from(layout::config_path(o))),
            ("config_dir", Value::from(layout::CONFIG_DIR)),
            ("bin_dir", Value::from(layout::IMAGE_BIN_DIR)),
        ]);
        // What decides a recreate: the template and this service's inputs.
        let inputs = serde_json::to_string(&svc).unwrap_or_default();
        let digest =
            sha256_hex(format!("{source}\n{}\n{inputs}", layout::compose_network(inv)).as_bytes());
        svc.insert("digest", Value::from(digest.as_str()));
        if o.name == m.name {
            own_digest = Some(digest);
        }
        members.push(Value::from(svc));
    }
    let ctx = context! {
        cluster => context! { name => &inv.cluster.name, project => layout::compose_project(inv) },
        network => if bridged { Value::from(layout::compose_network(inv)) } else { Value::from(()) },
        members => members,
    };
    let text = t.render_compose(ctx)?;
    Ok(HostFile {
        digest: sha256_hex(text.as_bytes()),
        text,
        service_digest: own_digest,
    })
}

/// Builds the release image `FROM scratch` from the unpacked, verified
/// release of `v` (etcd is a static binary: nothing else is needed).
fn build_image(inv: &Inventory, v: Version, reference: &str) -> Script {
    Script::new(
        "etcd-deploy-build-image",
        include_str!("compose/build_image.sh"),
        [
            reference.to_string(),
            layout::version_dir(inv, v),
            layout::IMAGE_BIN_DIR.to_string(),
            v.to_string(),
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .after(IDLE, Vec::<String>::new())
}

/// Pulls the image from its registry unless the host has it.
fn pull_image(reference: &str) -> Script {
    Script::new(
        "etcd-deploy-pull-image",
        include_str!("compose/pull_image.sh"),
        [reference],
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .after(IDLE, Vec::<String>::new())
}

/// Why `state.sh`'s output says etcd is not running in its container, if it
/// does: it exited (and may be restarted by the restart policy) or never started.
fn crashed(state: &str) -> Option<String> {
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
