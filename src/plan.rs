//! The plan: what `apply` will do, computed as a pure function of the
//! inventory, the facts and the desired file digests. `plan` prints it,
//! `apply` executes it; neither re-decides anything.

use crate::facts::Facts;
use crate::inventory::{Image, Inventory, Version, host_of_url};
use crate::templates::Rendered;
use crate::upgrade::{self, Rollout};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// What the rendered files of a member must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub config_digest: String,
    /// The host's systemd unit or compose file.
    pub host_file_digest: String,
    /// Compose mode: the member's service (a difference recreates its container).
    pub service_digest: Option<String>,
    /// Digest of the member's TLS files; `None` without TLS.
    pub pki_digest: Option<String>,
}

impl Desired {
    /// The digests of a member's rendered files (see `Templates::render`).
    pub fn new(r: Rendered, pki_digest: Option<String>) -> Desired {
        Desired {
            config_digest: r.config_digest,
            host_file_digest: r.host_file_digest,
            service_digest: r.service_digest,
            pki_digest,
        }
    }
}

/// Host preparation, run on all hosts in parallel before membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prepare {
    pub host: String,
    /// Unpack this release into its versioned directory.
    pub install: Option<Version>,
    /// Point the `current` link at this version (only on members not running).
    pub link: Option<Version>,
    /// Compose mode: build or pull the image of the version installed.
    pub image: Option<ImageStep>,
    /// Write the systemd unit or compose file (new or changed).
    pub host_file: Option<HostFile>,
    /// Write the TLS certificates and keys (new or changed).
    pub certs: bool,
}

impl Prepare {
    fn is_empty(&self) -> bool {
        self.install.is_none()
            && self.link.is_none()
            && self.image.is_none()
            && self.host_file.is_none()
            && !self.certs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStep {
    /// `FROM scratch` with the binaries of the release just installed.
    Build(String),
    Pull(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostFile {
    SystemdUnit,
    ComposeFile,
}

impl fmt::Display for HostFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostFile::SystemdUnit => "systemd unit",
            HostFile::ComposeFile => "compose file",
        })
    }
}

/// One membership or service step; these run one at a time, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Start the first member of a new cluster (`initial-cluster-state new`).
    Bootstrap { host: String },
    /// Start members that are already in the cluster but stopped, together
    /// (when no member answers, quorum may need several of them at once).
    Start { hosts: Vec<String> },
    /// Make a started learner a voting member.
    Promote { host: String, id: u64 },
    /// Add as a learner (unless `added`), write config (`existing`), start,
    /// wait until healthy, promote.
    Join {
        host: String,
        /// The ID of an earlier `member add` whose member never started.
        added: Option<u64>,
        /// Data from an earlier life of this host is moved aside first.
        stale_data: bool,
        /// The service is running already: only wait and promote.
        running: bool,
    },
    /// Write the changed config and/or unit and restart, waiting for health.
    Restart { host: String, reason: String },
    /// Remove a member that is no longer in the inventory: leadership off it
    /// first, `member remove`, then stop and disable its service (data kept).
    Remove {
        /// Its etcd name (or ID if it never started).
        name: String,
        id: u64,
        /// Its advertised address, where etcd-deploy reaches it over SSH.
        address: Option<String>,
        leader: bool,
        /// It answered when the facts were gathered.
        alive: bool,
    },
    /// A rolling version change, one member at a time, the leader last.
    Upgrade {
        rollout: Rollout,
        /// The version each member ran before, to roll back to.
        from: BTreeMap<String, Version>,
        /// A snapshot is saved from the leader first.
        snapshot: bool,
    },
}

impl Step {
    /// The hosts this step acts on.
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            Step::Start { hosts } => hosts.iter().map(String::as_str).collect(),
            Step::Bootstrap { host }
            | Step::Promote { host, .. }
            | Step::Join { host, .. }
            | Step::Restart { host, .. } => vec![host],
            Step::Upgrade { rollout, .. } => rollout.order.iter().map(String::as_str).collect(),
            // Not an inventory host: nothing to wait for.
            Step::Remove { .. } => vec![],
        }
    }

    pub fn symbol(&self) -> char {
        match self {
            Step::Bootstrap { .. } | Step::Join { .. } => '+',
            Step::Remove { .. } => '-',
            Step::Start { .. }
            | Step::Promote { .. }
            | Step::Restart { .. }
            | Step::Upgrade { .. } => '~',
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub prepare: Vec<Prepare>,
    pub steps: Vec<Step>,
    /// Things the operator should know that the plan does not change.
    pub notes: Vec<String>,
    /// Membership must be read again after these steps (members were started
    /// while no member answered), and a new plan made.
    pub replan: bool,
    /// Why nothing can safely be done, if so.
    pub blocked: Option<String>,
    /// Hosts that run several members, with those members (shown first).
    pub shared_hosts: Vec<(String, Vec<String>)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.prepare.is_empty() && self.steps.is_empty()
    }
}

/// Choices the operator makes on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Allow a rolling change to an older version (patch downgrades only).
    pub allow_downgrade: bool,
    /// No snapshot before a version change (`--no-snapshot`).
    pub no_snapshot: bool,
}

/// Computes the plan for `apply`.
pub fn plan(inv: &Inventory, facts: &Facts, desired: &BTreeMap<String, Desired>) -> Plan {
    plan_with(inv, facts, desired, Options::default())
}

/// Computes the plan for `apply` (and `upgrade`, which is apply with another version).
pub fn plan_with(
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
    opts: Options,
) -> Plan {
    let mut p = Plan::default();
    for m in &inv.members {
        match p.shared_hosts.iter_mut().find(|(a, _)| *a == m.ssh.address) {
            Some((_, names)) => names.push(m.name.clone()),
            None => p
                .shared_hosts
                .push((m.ssh.address.clone(), vec![m.name.clone()])),
        }
    }
    p.shared_hosts.retain(|(_, names)| names.len() > 1);
    let want = inv.cluster.version;
    let cluster = &facts.cluster;
    let default_host = Default::default();
    let hf = |name: &str| facts.hosts.get(name).unwrap_or(&default_host);
    // Hosts where nothing can be done safely: nothing is done anywhere.
    if let Some(why) = [compose_missing, other_cluster, runtime_switched]
        .iter()
        .find_map(|guard| guard(inv, facts))
    {
        p.blocked = Some(why);
        return p;
    }
    let mut restart: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    // Members in service whose version differs: a rolling upgrade, not a link switch.
    let mut rolling: BTreeMap<String, Option<Version>> = BTreeMap::new();

    for m in &inv.members {
        let h = hf(&m.name);
        let in_service = h.active || cluster.entry(m).is_some_and(|e| e.started());
        // What actually runs wins over the link (an interrupted upgrade may have switched it).
        let running = cluster
            .status
            .get(&m.name)
            .and_then(|s| Version::parse(&s.version))
            .or(h.current);
        let mut prep = Prepare {
            host: m.name.clone(),
            install: None,
            link: None,
            image: None,
            host_file: None,
            certs: false,
        };
        if in_service && running.is_some() && running != Some(want) {
            prep.install = (!h.installed.contains(&want)).then_some(want);
            rolling.insert(m.name.clone(), h.current.filter(|c| *c != want).or(running));
        } else if h.current != Some(want) && !in_service {
            prep.install = (!h.installed.contains(&want)).then_some(want);
            // Under compose the version is the service's image, written with the compose file.
            prep.link = m.compose().is_none().then_some(want);
        }
        if let (Some(c), Some(v)) = (m.compose(), prep.install) {
            // Installed means the image is there; a release image is built from the tarball.
            prep.image = Some(match &c.image {
                Image::Release => ImageStep::Build(c.image.reference(v)),
                Image::Registry(_) => {
                    prep.install = None;
                    ImageStep::Pull(c.image.reference(v))
                }
            });
        }
        let d = desired.get(&m.name);
        if d.is_some_and(|d| h.host_file_digest.as_ref() != Some(&d.host_file_digest)) {
            prep.host_file = Some(if m.compose().is_some() {
                HostFile::ComposeFile
            } else {
                HostFile::SystemdUnit
            });
            if h.host_file_digest.is_some() && h.active && m.compose().is_none() {
                restart.entry(&m.name).or_default().push("unit changed");
            }
        }
        if let Some(want_service) = d.and_then(|d| d.service_digest.as_ref())
            && h.active
            && h.service_digest.as_ref() != Some(want_service)
        {
            restart
                .entry(&m.name)
                .or_default()
                .push("container definition changed");
        }
        if let Some(want_pki) = d.and_then(|d| d.pki_digest.as_ref())
            && h.pki_digest.as_ref() != Some(want_pki)
        {
            prep.certs = true;
            if h.pki_digest.is_some() && h.active {
                restart
                    .entry(&m.name)
                    .or_default()
                    .push("certificates changed");
            }
        }
        if h.active
            && h.config_digest.is_some()
            && d.is_some_and(|d| h.config_digest.as_ref() != Some(&d.config_digest))
        {
            restart.entry(&m.name).or_default().push("config changed");
        }
        if !prep.is_empty() {
            p.prepare.push(prep);
        }
    }

    // A running member whose config says otherwise about TLS than the inventory.
    if let Some(m) = inv.members.iter().find(|m| {
        hf(&m.name).active && hf(&m.name).config_digest.is_some() && hf(&m.name).config_tls != m.tls
    }) {
        p.blocked = Some(format!(
            "{} runs with {}, and the inventory says {}: switching a running cluster between http and https is not supported yet (it needs a rolling `member update` of every peer URL); set [tls] as the cluster runs",
            m.name,
            if m.tls { "http" } else { "https" },
            if m.tls { "https" } else { "http" }
        ));
        return p;
    }
    let Some(list) = &cluster.members else {
        let with_data: Vec<_> = inv
            .members
            .iter()
            .filter(|m| hf(&m.name).has_data)
            .collect();
        let running: Vec<_> = inv
            .members
            .iter()
            .filter(|m| hf(&m.name).active)
            .map(|m| m.name.as_str())
            .collect();
        if !running.is_empty() {
            p.blocked = Some(format!(
                "etcd runs on {} but no member answers on its client URL; wait for it to settle or look at `journalctl -u etcd` there, then apply again",
                running.join(", ")
            ));
            return p;
        }
        if with_data.is_empty() {
            let first = &inv.members[0];
            p.steps.push(Step::Bootstrap {
                host: first.name.clone(),
            });
            for m in &inv.members[1..] {
                p.steps.push(Step::Join {
                    host: m.name.clone(),
                    added: None,
                    stale_data: false,
                    running: false,
                });
            }
        } else {
            p.steps.push(Step::Start {
                hosts: with_data.iter().map(|m| m.name.clone()).collect(),
            });
            p.notes.push(
                "no member answers: the members that have data are started first; the membership is read again once they are up".into(),
            );
            p.replan = true;
        }
        return p;
    };

    // A live member under the same name but another peer URL (a port or
    // address edit, or compose members moving onto a shared host's bridge).
    // A dead one is a machine replaced under its old name: removed, then joined.
    if let Some((m, e)) = inv.members.iter().find_map(|m| {
        let e = list.iter().find(|e| {
            e.started()
                && e.name == m.name
                && cluster.others.get(&e.id).is_some_and(|s| s.is_some())
        })?;
        (!e.peer_urls.contains(&m.peer_url())).then_some((m, e))
    }) {
        p.blocked = Some(format!(
            "{} runs with peer URL {}, and the inventory gives it {}: changing a running member's peer URL is not supported (it needs `etcdctl member update` and a restart on the new address); revert the edit, or replace the member under a new name",
            m.name,
            e.peer_urls.join(","),
            m.peer_url()
        ));
        return p;
    }
    let mut promotes = Vec::new();
    let mut resumed_joins = Vec::new();
    let mut new_joins = Vec::new();
    let mut starts = Vec::new();
    let mut restarts: Vec<Step> = Vec::new();
    for m in &inv.members {
        let h = hf(&m.name);
        match cluster.entry(m) {
            None => new_joins.push(Step::Join {
                host: m.name.clone(),
                added: None,
                stale_data: h.has_data && !h.active,
                running: false,
            }),
            Some(e) if !e.started() => resumed_joins.push(Step::Join {
                host: m.name.clone(),
                added: Some(e.id),
                stale_data: h.has_data && !h.active,
                running: h.active,
            }),
            Some(e) => {
                if !h.active {
                    starts.push(m.name.clone());
                } else if let Some(reasons) = restart.get(m.name.as_str()) {
                    restarts.push(Step::Restart {
                        host: m.name.clone(),
                        reason: reasons.join(", "),
                    });
                }
                if e.is_learner {
                    promotes.push(Step::Promote {
                        host: m.name.clone(),
                        id: e.id,
                    });
                }
            }
        }
    }
    // Members no longer in the inventory leave the cluster: live ones after the
    // joins (so a replacement is voting before the old member goes), dead ones
    // first when quorum allows it (a dead member only weakens quorum).
    let mut removals = Vec::new();
    let mut dead_removals = Vec::new();
    for e in list {
        if inv
            .members
            .iter()
            .any(|m| e.peer_urls.contains(&m.peer_url()))
        {
            continue;
        }
        let alive = cluster.others.get(&e.id).is_some_and(|s| s.is_some());
        let step = Step::Remove {
            name: if e.name.is_empty() {
                format!("{:x}", e.id)
            } else {
                e.name.clone()
            },
            id: e.id,
            address: e.peer_urls.first().and_then(|u| host_of_url(u)),
            leader: cluster.leader() == Some(e.id),
            alive,
        };
        if alive {
            removals.push(step)
        } else {
            dead_removals.push(step)
        }
    }
    let voters = list.iter().filter(|e| !e.is_learner).count();
    let healthy = cluster.status.values().filter(|s| !s.is_learner).count()
        + cluster
            .others
            .values()
            .flatten()
            .filter(|s| !s.is_learner)
            .count();
    if !dead_removals.is_empty() {
        let remaining = voters - dead_removals.len();
        if remaining == 0 || healthy < remaining / 2 + 1 {
            p.blocked = Some(format!(
                "{} of {voters} voting members answer; removing the {} dead one(s) would leave {remaining} voters, and quorum needs {} healthy: restore members first",
                healthy,
                dead_removals.len(),
                remaining / 2 + 1
            ));
            return p;
        }
        p.notes.push(format!(
            "{} not answering: removed first, since quorum allows it ({healthy} healthy of {remaining} remaining voters)",
            dead_removals.iter().map(|s| s.hosts().join(",")).collect::<Vec<_>>().join(", ")
        ));
    }
    p.steps.extend(dead_removals);
    let membership_pending = !starts.is_empty()
        || !promotes.is_empty()
        || !resumed_joins.is_empty()
        || !new_joins.is_empty();
    if !starts.is_empty() {
        p.steps.push(Step::Start { hosts: starts });
    }
    p.steps.extend(promotes);
    p.steps.extend(resumed_joins);
    p.steps.extend(new_joins);
    if !rolling.is_empty() {
        if membership_pending {
            p.notes.push(format!(
                "the version change to {want} follows once every member has joined"
            ));
            p.replan = true;
        } else {
            match upgrade::check(&upgrade_view(inv, facts), want, opts.allow_downgrade) {
                Ok(rollout) if !rollout.order.is_empty() => {
                    let from = rollout
                        .order
                        .iter()
                        .filter_map(|n| Some((n.clone(), rolling.get(n).copied().flatten()?)))
                        .collect();
                    // A member restarted for its new version picks up config changes too.
                    restarts.retain(|s| !matches!(s, Step::Restart { host, .. } if rollout.order.contains(host)));
                    p.steps.push(Step::Upgrade {
                        rollout,
                        from,
                        snapshot: !opts.no_snapshot,
                    });
                }
                Ok(_) => {}
                Err(why) => {
                    p.blocked = Some(format!("cannot change the version to {want}: {why}"));
                    return p;
                }
            }
        }
    }
    // The leader restarts last (its leadership is moved off it first).
    let leader = cluster.leader();
    restarts.sort_by_key(|st| {
        st.hosts()
            .first()
            .and_then(|h| inv.member(h))
            .and_then(|m| cluster.entry(m))
            .is_some_and(|e| Some(e.id) == leader)
    });
    p.steps.extend(restarts);
    p.steps.extend(removals);
    p
}

/// A host in compose mode without compose or a running Docker engine: nothing
/// can be done there, and nothing is done anywhere until it has them.
fn compose_missing(inv: &Inventory, facts: &Facts) -> Option<String> {
    let m = inv.members.iter().find(|m| {
        m.compose().is_some()
            && facts
                .hosts
                .get(&m.name)
                .is_none_or(|h| h.compose.is_none() || h.engine.is_none())
    })?;
    let names: Vec<&str> = inv
        .host_members(m)
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    let h = facts.hosts.get(&m.name);
    let why = if h.is_none_or(|h| h.compose.is_none()) {
        format!(
            "{}, and compose mode needs one of them (or set mode = \"systemd\" for this host)",
            crate::compose::NO_COMPOSE
        )
    } else {
        "the Docker engine does not answer (`docker version` shows no server); start it, e.g. `systemctl start docker`".to_string()
    };
    Some(format!(
        "host {} (member{} {}): {why}",
        m.ssh.address,
        if names.len() > 1 { "s" } else { "" },
        names.join(", ")
    ))
}

/// A running member whose mode was switched between systemd and compose:
/// starting it the new way would put a second etcd beside the first.
fn runtime_switched(inv: &Inventory, facts: &Facts) -> Option<String> {
    let m = inv.members.iter().find(|m| {
        facts
            .hosts
            .get(&m.name)
            .is_some_and(|h| h.other_runtime_active)
    })?;
    let (runs, wants) = if m.compose().is_some() {
        ("as a systemd unit", "compose")
    } else {
        ("in a container", "systemd")
    };
    Some(format!(
        "{} runs {runs}, and the inventory says mode = \"{wants}\": switching a running member between systemd and compose is not supported; replace it by a member under a new name in the new mode (`etcd-deploy replace`), or set the mode back",
        m.name
    ))
}

/// A member's files, or its host's systemd unit, written for another cluster:
/// applying would take over that cluster's member (names, config files, the
/// unit and the default data directory are per host, not per cluster).
fn other_cluster(inv: &Inventory, facts: &Facts) -> Option<String> {
    let mine = &inv.cluster.name;
    inv.members.iter().find_map(|m| {
        let h = facts.hosts.get(&m.name)?;
        if let Some(c) = h.config_cluster.as_ref().filter(|c| *c != mine) {
            return Some(format!(
                "{} on host {}: {} belongs to etcd cluster {c}, not {mine}; member names must be unique on a host across clusters: rename this member, or use another host (if this is cluster {c} renamed: set cluster.name back, the name is its identity on the hosts)",
                m.name,
                m.ssh.address,
                crate::layout::config_path(m)
            ));
        }
        let c = h.unit_cluster.as_ref().filter(|c| *c != mine && m.compose().is_none())?;
        Some(format!(
            "host {}: {} runs members of etcd cluster {c}; one host runs one systemd-mode cluster (they share the unit, the release link and the default data directory): use another host, or mode = \"compose\" for this cluster",
            m.ssh.address,
            crate::layout::UNIT_PATH
        ))
    })
}

/// The cluster as the upgrade check needs it, from the facts.
fn upgrade_view(inv: &Inventory, facts: &Facts) -> upgrade::ClusterView {
    let members = inv
        .members
        .iter()
        .filter_map(|m| {
            let e = facts.cluster.entry(m)?;
            let st = facts.cluster.status.get(&m.name);
            Some(upgrade::MemberView {
                name: m.name.clone(),
                id: e.id,
                version: st.and_then(|s| Version::parse(&s.version)),
                healthy: st.is_some_and(|s| s.leader != 0 && s.errors.is_empty()),
                learner: e.is_learner,
            })
        })
        .collect();
    let cluster_version = facts
        .cluster
        .cluster_version
        .as_deref()
        .and_then(Version::parse)
        .map(|v| (v.major, v.minor));
    upgrade::ClusterView {
        members,
        leader: facts.cluster.leader(),
        cluster_version,
        alarms: facts.cluster.alarms.clone(),
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (host, names) in &self.shared_hosts {
            writeln!(f, "host {host}: members {}", names.join(", "))?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        if let Some(b) = &self.blocked {
            return writeln!(f, "blocked: {b}");
        }
        if self.is_empty() {
            return writeln!(f, "No changes. The cluster matches the inventory.");
        }
        for prep in &self.prepare {
            let mut what = Vec::new();
            if let Some(v) = prep.install {
                what.push(format!("install etcd {v}"));
            }
            if let Some(v) = prep.link {
                what.push(format!("use etcd {v}"));
            }
            match &prep.image {
                Some(ImageStep::Build(r)) => what.push(format!("build image {r}")),
                Some(ImageStep::Pull(r)) => what.push(format!("pull image {r}")),
                None => {}
            }
            if let Some(f) = prep.host_file {
                what.push(format!("write {f}"));
            }
            if prep.certs {
                what.push("write TLS certificates".to_string());
            }
            writeln!(f, "+ {:<12} {}", prep.host, what.join(", "))?;
        }
        for s in &self.steps {
            let (host, text) = match s {
                Step::Bootstrap { host } => (
                    host.clone(),
                    "bootstrap: start as the first member of a new cluster (initial-cluster-state new), wait until healthy".to_string(),
                ),
                Step::Start { hosts } => (hosts.join(","), "start the stopped member(s), wait until healthy".to_string()),
                Step::Promote { host, id } => (host.clone(), format!("promote learner {id:x} to voting member")),
                Step::Join { host, added, stale_data, running } => {
                    let mut t = vec![match added {
                        None => "join: member add (learner)".to_string(),
                        Some(id) => format!("join: resume member {id:x} (already added)"),
                    }];
                    if *stale_data {
                        t.push("move old data aside".into());
                    }
                    if !running {
                        t.push("write config (initial-cluster-state existing), start".into());
                    }
                    t.push("wait until healthy, promote".into());
                    (host.clone(), t.join(", "))
                }
                Step::Restart { host, reason } => (host.clone(), format!("restart ({reason}), wait until healthy")),
                Step::Remove { name, id, leader, alive, address } => {
                    let mut t = vec![format!("remove member {id:x} ({})", address.as_deref().unwrap_or("no address"))];
                    if *leader {
                        t.insert(0, "move leadership to another member".into());
                    }
                    if !alive {
                        t.push("(not answering)".into());
                    }
                    t.push("stop and disable its etcd (data kept)".into());
                    (name.clone(), t.join(", "))
                }
                Step::Upgrade { rollout, from, snapshot } => {
                    let verb = if rollout.downgrade { "downgrade" } else { "upgrade" };
                    let froms: std::collections::BTreeSet<String> = from.values().map(|v| v.to_string()).collect();
                    let mut t = format!(
                        "{verb} {} → {}, one member at a time: {}{}",
                        froms.into_iter().collect::<Vec<_>>().join("/"),
                        rollout.to,
                        if *snapshot { "snapshot first, then " } else { "" },
                        rollout.order.join(", ")
                    );
                    if let Some(l) = &rollout.leader {
                        t.push_str(&format!(" ({l} is the leader: leadership moves to an upgraded member first)"));
                    }
                    t.push_str("; each restarted, healthy and caught up before the next, rolled back if not");
                    (rollout.order.join(","), t)
                }
            };
            writeln!(f, "{} {host:<12} {text}", s.symbol())?;
        }
        let n = self.prepare.len() + self.steps.len();
        write!(f, "Plan: {n} step{}.", if n == 1 { "" } else { "s" })?;
        if self.replan {
            write!(f, " More may follow once the stopped members answer.")?;
        }
        writeln!(f)
    }
}
