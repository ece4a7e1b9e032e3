//! Gathers the facts: every host's facts script over SSH and every running
//! member's own view of the cluster, in parallel. What comes back is parsed
//! in `facts.rs`; nothing here decides anything.

use crate::access::Access;
use crate::etcd;
use crate::facts::{ClusterFacts, HostFacts};
use crate::inventory::{Compose, Inventory, Member};
use crate::layout::{self, CLUSTER_MARKER};
use crate::ssh::{Host, HostError, quote};
use std::collections::BTreeMap;

/// The script that prints a host's facts.
pub fn host_script(inv: &Inventory, m: &Member) -> String {
    let common = format!(
        r#"echo "arch=$(uname -m)"
[ -f {config} ] && echo "config_digest=$(head -n1 {config})"
grep -q '^client-transport-security:' {config} 2>/dev/null && echo "config_tls=yes"
[ -f {config} ] && sed -n '2s/^{cluster_marker}\(.*\); edits are overwritten\.$/config_cluster=\1/p' {config}
[ -d {data}/member ] && echo "has_data=yes"
[ -f {pki}/ca.crt ] && echo "pki_digest=$(cd {pki} && cat {pki_files} 2>/dev/null | sha256sum | cut -d' ' -f1)"
"#,
        config = quote(&layout::config_path(m)),
        data = quote(layout::data_dir(m)),
        pki = quote(&layout::pki_dir(m)),
        pki_files = layout::PKI_FILES.join(" "),
        cluster_marker = CLUSTER_MARKER,
    );
    let runtime = match m.compose() {
        None => format!(
            "{}[ \"$(docker inspect -f '{{{{.State.Running}}}}' {} 2>/dev/null)\" = true ] && echo other_runtime=active\n",
            systemd_script(inv, m),
            quote(&layout::container(inv, m))
        ),
        Some(c) => format!(
            "{}systemctl is-active --quiet {} 2>/dev/null && echo other_runtime=active\n",
            compose_script(inv, m, c),
            layout::unit(m)
        ),
    };
    format!("{common}{runtime}exit 0\n")
}

fn systemd_script(inv: &Inventory, m: &Member) -> String {
    let install = quote(&inv.cluster.install_dir);
    let current = quote(&layout::current_link(inv));
    let unit = layout::unit(m);
    format!(
        r#"for d in {install}/etcd-v*; do [ -x "$d/etcd" ] && echo "installed=${{d##*/etcd-v}}"; done
[ -L {current} ] && echo "current=$(readlink {current})"
[ -f {unit_path} ] && echo "host_file_digest=$(sha256sum < {unit_path} | cut -d' ' -f1)"
[ -f {unit_path} ] && sed -n 's/^Description=etcd member %i of cluster \(.*\) (managed by etcd-deploy)$/unit_cluster=\1/p' {unit_path}
echo "active=$(systemctl is-active {unit} 2>/dev/null)"
echo "enabled=$(systemctl is-enabled {unit} 2>/dev/null)"
echo "pid=$(systemctl show -p MainPID --value {unit} 2>/dev/null)"
"#,
        unit_path = quote(layout::UNIT_PATH),
    )
}

/// Compose mode: the tools, the images of the member's image pattern, and
/// its container (running, PID, version and service digest from its labels).
/// The compose v2 plugin is found where the docker CLI looks for it: running
/// it only to learn it exists would cost a 60 MB binary's start-up per host.
fn compose_script(inv: &Inventory, m: &Member, c: &Compose) -> String {
    // `docker image ls` shows Docker Hub images without their registry prefix.
    let pattern = c.image.pattern();
    let pattern = pattern
        .strip_prefix("docker.io/library/")
        .or_else(|| pattern.strip_prefix("docker.io/"))
        .unwrap_or(pattern);
    let (prefix, suffix) = pattern.split_once("{version}").unwrap_or((pattern, ""));
    format!(
        r#"for d in "${{DOCKER_CONFIG:-$HOME/.docker}}/cli-plugins" /usr/local/lib/docker/cli-plugins /usr/local/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins /usr/libexec/docker/cli-plugins; do [ -x "$d/docker-compose" ] && {{ echo "compose=docker compose"; break; }}; done
command -v docker-compose >/dev/null 2>&1 && echo "compose=docker-compose"
command -v docker >/dev/null 2>&1 && echo "engine=$(docker version --format '{{{{.Server.Version}}}}' 2>/dev/null)"
p={prefix} s={suffix}
docker image ls --format '{{{{.Repository}}}}:{{{{.Tag}}}}' 2>/dev/null | while read -r i; do case "$i" in "$p"*"$s") v=${{i#"$p"}}; echo "installed=${{v%"$s"}}";; esac; done
[ -f {file} ] && echo "host_file_digest=$(sha256sum < {file} | cut -d' ' -f1)"
docker inspect -f 'container={{{{.State.Running}}}} {{{{.State.Pid}}}} {{{{index .Config.Labels "io.etcd-deploy.version"}}}} {{{{index .Config.Labels "io.etcd-deploy.digest"}}}}' {container} 2>/dev/null
"#,
        prefix = quote(prefix),
        suffix = quote(suffix),
        file = quote(&layout::compose_file(inv)),
        container = quote(&layout::container(inv, m)),
    )
}

/// Reads every host's facts in parallel.
pub async fn hosts(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
) -> Result<BTreeMap<String, HostFacts>, HostError> {
    let jobs = inv.members.iter().filter_map(|m| {
        let host = hosts.get(&m.name)?;
        let script = host_script(inv, m);
        Some(async move {
            host.run("gather facts", &script)
                .await
                .map(|out| (m.name.clone(), HostFacts::parse(&out)))
        })
    });
    futures_util::future::try_join_all(jobs)
        .await
        .map(|v| v.into_iter().collect())
}

/// Asks every running member for its status and one of them for the member list.
pub async fn cluster(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
    host_facts: &BTreeMap<String, HostFacts>,
    access: &Access,
) -> ClusterFacts {
    let jobs = inv
        .members
        .iter()
        .filter(|m| host_facts.get(&m.name).is_some_and(|f| f.active))
        .filter_map(|m| {
            let host = hosts.get(&m.name)?;
            Some(async move {
                let url = access.url(m, host).await.ok()?;
                let status = etcd::status(&url).await.ok()?;
                Some((m.name.clone(), url, status))
            })
        });
    let answers: Vec<_> = futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .flatten()
        .collect();
    let urls: Vec<String> = answers.iter().map(|(_, u, _)| u.clone()).collect();
    if urls.is_empty() {
        return ClusterFacts::default();
    }
    let (members, versions, alarms) = tokio::join!(
        etcd::member_list(&urls),
        etcd::versions(&urls[0]),
        etcd::alarms(&urls)
    );
    let members = members.ok();
    let known: Vec<String> = inv.members.iter().map(|m| m.peer_url()).collect();
    let others = members
        .iter()
        .flatten()
        .filter(|e| !e.peer_urls.iter().any(|u| known.contains(u)))
        .map(|e| async move {
            let status = match e.client_urls.first() {
                Some(u) => etcd::status(u).await.ok(),
                None => None,
            };
            (e.id, status)
        });
    let others = futures_util::future::join_all(others)
        .await
        .into_iter()
        .collect();
    ClusterFacts {
        members,
        status: answers.into_iter().map(|(n, _, s)| (n, s)).collect(),
        cluster_version: versions.ok().map(|v| v.etcdcluster),
        alarms: alarms
            .unwrap_or_default()
            .into_iter()
            .map(|(id, a)| format!("{a} on {id:x}"))
            .collect(),
        others,
    }
}
