//! Facts: what is true on the hosts and in the cluster right now, gathered in
//! parallel before planning. Each host fact comes from one shell script whose
//! `key=value` output is parsed by a pure function, so parsing is tested
//! without hosts.

use crate::access::Access;
use crate::etcd::{self, MemberInfo, MemberStatus};
use crate::inventory::{Compose, Inventory, Member, Version};
use crate::layout;
use crate::ssh::{Host, quote};
use crate::templates::{CLUSTER_MARKER, DIGEST_MARKER};
use std::collections::BTreeMap;

/// What one host has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `uname -m`
    pub arch: String,
    /// Versions unpacked under the install directory.
    pub installed: Vec<Version>,
    /// The version the `current` link points at.
    pub current: Option<Version>,
    /// Settings digest in the config file's first line.
    pub config_digest: Option<String>,
    /// Digest of the host's systemd unit or compose file.
    pub host_file_digest: Option<String>,
    pub active: bool,
    /// Starts with the host (systemd: enabled; compose: the container exists).
    pub enabled: bool,
    pub pid: Option<u32>,
    /// The data directory holds a member (etcd has started there before).
    pub has_data: bool,
    /// SHA256 over the TLS files on the host (see `layout::PKI_FILES`).
    pub pki_digest: Option<String>,
    /// The member's config serves clients over TLS.
    pub config_tls: bool,
    /// The cluster the member's existing config file was written for.
    pub config_cluster: Option<String>,
    /// Systemd mode: the cluster the host's template unit was written for.
    pub unit_cluster: Option<String>,
    /// Compose mode: how compose is run there (`docker compose` or `docker-compose`).
    pub compose: Option<String>,
    /// Compose mode: the Docker engine's version, when it answers.
    pub engine: Option<String>,
    /// Compose mode: the digest of the service the member's container was made from.
    pub service_digest: Option<String>,
    /// The member also runs the other way (a systemd unit in compose mode, a
    /// container in systemd mode): the mode was switched under a running member.
    pub other_runtime_active: bool,
}

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

impl HostFacts {
    /// Parses `host_script`'s output.
    pub fn parse(out: &str) -> HostFacts {
        let mut f = HostFacts::default();
        for line in out.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match k {
                "arch" => f.arch = v.to_string(),
                "installed" => f.installed.extend(Version::parse(v)),
                "current" => {
                    f.current = v
                        .rsplit('/')
                        .next()
                        .and_then(|d| d.strip_prefix("etcd-v"))
                        .and_then(Version::parse)
                }
                "config_digest" => {
                    f.config_digest = v
                        .strip_prefix(DIGEST_MARKER.trim_end())
                        .map(|d| d.trim().to_string())
                        .filter(|d| !d.is_empty())
                }
                "host_file_digest" => {
                    f.host_file_digest = Some(v.to_string()).filter(|d| !d.is_empty())
                }
                // The v2 plugin is listed first and preferred, as the scripts' `dc` does.
                "compose" if f.compose.is_none() => {
                    f.compose = Some(v.to_string()).filter(|c| !c.is_empty())
                }
                "other_runtime" => f.other_runtime_active = v == "active",
                "config_cluster" => f.config_cluster = Some(v.to_string()),
                "unit_cluster" => f.unit_cluster = Some(v.to_string()),
                "engine" => f.engine = Some(v.to_string()).filter(|e| !e.is_empty()),
                "container" => {
                    let mut parts = v.splitn(4, ' ');
                    f.enabled = true;
                    f.active = parts.next() == Some("true");
                    f.pid = parts
                        .next()
                        .and_then(|p| p.parse().ok())
                        .filter(|p| *p != 0);
                    f.current = parts.next().and_then(Version::parse);
                    f.service_digest = parts
                        .next()
                        .map(str::to_string)
                        .filter(|d| !d.is_empty() && d != "<no value>");
                }
                "active" => f.active = v == "active" || v == "activating" || v == "reloading",
                "enabled" => f.enabled = v == "enabled",
                "pid" => f.pid = v.parse().ok().filter(|p| *p != 0),
                "has_data" => f.has_data = v == "yes",
                "config_tls" => f.config_tls = v == "yes",
                "pki_digest" => f.pki_digest = Some(v.to_string()).filter(|d| !d.is_empty()),
                _ => {}
            }
        }
        f.installed.sort();
        f
    }
}

/// The cluster as its members describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    /// From any member that answered; `None` when none did.
    pub members: Option<Vec<MemberInfo>>,
    /// Per inventory member name, what that member said of itself.
    pub status: BTreeMap<String, MemberStatus>,
    /// `etcdcluster` from `/version` (e.g. `3.5.0`), when a member answered.
    pub cluster_version: Option<String>,
    /// Raised alarms, as `NAME on MEMBER-ID`.
    pub alarms: Vec<String>,
    /// Members not in the inventory, by ID: what each said of itself on its
    /// advertised client URL, `None` when it did not answer.
    pub others: BTreeMap<u64, Option<MemberStatus>>,
}

impl ClusterFacts {
    /// The member-list entry of an inventory member (matched by peer URL, since
    /// a member that never started has no name).
    pub fn entry(&self, m: &Member) -> Option<&MemberInfo> {
        let url = m.peer_url();
        self.members
            .as_ref()?
            .iter()
            .find(|e| e.peer_urls.iter().any(|u| u == &url))
    }

    pub fn leader(&self) -> Option<u64> {
        self.status.values().map(|s| s.leader).find(|l| *l != 0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub hosts: BTreeMap<String, HostFacts>,
    pub cluster: ClusterFacts,
}

/// Reads every host's facts in parallel.
pub async fn gather_hosts(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
) -> Result<BTreeMap<String, HostFacts>, crate::ssh::HostError> {
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
pub async fn gather_cluster(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fresh_host() {
        let f = HostFacts::parse("arch=x86_64\nactive=inactive\nenabled=\npid=0\n");
        assert_eq!(
            f,
            HostFacts {
                arch: "x86_64".into(),
                ..HostFacts::default()
            }
        );
    }

    #[test]
    fn parses_running_member() {
        let out = "arch=x86_64\ninstalled=3.5.1\ninstalled=3.5.0\ncurrent=etcd-v3.5.1\nconfig_digest=# etcd-deploy settings-digest: abc123\nhost_file_digest=def\nactive=active\nenabled=enabled\npid=4242\nhas_data=yes\n";
        let f = HostFacts::parse(out);
        assert_eq!(
            f.installed,
            vec![
                Version::parse("3.5.0").unwrap(),
                Version::parse("3.5.1").unwrap()
            ]
        );
        assert_eq!(f.current, Version::parse("3.5.1"));
        assert_eq!(f.config_digest.as_deref(), Some("abc123"));
        assert_eq!(f.host_file_digest.as_deref(), Some("def"));
        assert!(f.active && f.enabled && f.has_data);
        assert_eq!(f.pid, Some(4242));
    }

    #[test]
    fn parses_compose_member() {
        let f = HostFacts::parse(
            "arch=x86_64\ncompose=docker-compose\ncompose=docker compose\nengine=20.10.24\ninstalled=3.5.1\ncontainer=true 977 3.5.1 d1g\nhost_file_digest=h\n",
        );
        assert_eq!(f.compose.as_deref(), Some("docker-compose"));
        assert_eq!(f.engine.as_deref(), Some("20.10.24"));
        assert!(f.active && f.enabled);
        assert_eq!(
            (f.pid, f.current, f.service_digest.as_deref()),
            (Some(977), Version::parse("3.5.1"), Some("d1g"))
        );
        let stopped = HostFacts::parse("container=false 0 3.5.0 <no value>\n");
        assert!(
            !stopped.active
                && stopped.enabled
                && stopped.pid.is_none()
                && stopped.service_digest.is_none()
        );
    }

    #[test]
    fn ignores_foreign_config() {
        let f = HostFacts::parse("config_digest=name: hand-written\n");
        assert_eq!(f.config_digest, None);
    }
}
