//! The plan: every decision a run makes, computed as a pure function of the
//! inventory, the facts and the desired file digests (`plan_with`). `plan`
//! prints it (text or JSON), `apply` hands it to the executor, which only
//! carries it out: what to install, which member joins, restarts or leaves,
//! whether a snapshot is taken and where, whether removed data is wiped,
//! what a failed upgrade rolls back to, and which scope the command has.
//!
//! Depends on the inventory and the facts only: no SSH, no etcd client.

pub mod adopt;
mod guards;
pub mod maintenance;
pub mod quorum;
pub mod recover;
pub mod rollout;
mod saved;
mod step;
mod text;
pub mod tls_move;

pub use rollout::Rollout;
pub use saved::SavedPlan;
pub use step::{Data, RestartReason, Rollback, Service, Step};

use crate::facts::{Facts, MemberInfo, unreachable_reason};
use crate::inventory::{
    Image, Inventory, Member, Runtime, Version, same_endpoint, valid_name, valid_url,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    /// Digest of its scheduled-snapshot files; `None` without `[backup]`.
    pub backup_digest: Option<String>,
}

/// Host preparation, run on all hosts in parallel before membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Scheduled snapshots (`[backup]`) to write and start, or to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStep>,
}

/// What happens to a member's scheduled snapshots on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStep {
    /// Write its files and start its timer (new, changed, or stopped).
    Write,
    /// `[backup]` left the inventory: stop the timer, remove its files
    /// (the snapshots saved stay).
    Remove,
}

impl BackupStep {
    /// What the host's scheduled snapshots need, given the member's desired
    /// files (`None` in `d`: no `[backup]`).
    fn needed(d: Option<&Desired>, h: &crate::facts::HostFacts) -> Option<BackupStep> {
        match d.and_then(|d| d.backup_digest.as_ref()) {
            Some(want) if h.backup_digest.as_ref() != Some(want) || !h.backup_active => {
                Some(BackupStep::Write)
            }
            None if h.backup_digest.is_some() => Some(BackupStep::Remove),
            _ => None,
        }
    }
}

impl Prepare {
    /// Compose mode: the image of the version installed. Installed means the
    /// image is there; a release image is built from the tarball, a registry
    /// one pulled (no tarball then).
    fn set_image(&mut self, image: &Image) {
        let Some(v) = self.install else { return };
        self.image = Some(match image {
            Image::Release => ImageStep::Build(image.reference(v)),
            Image::Registry(_) => {
                self.install = None;
                ImageStep::Pull(image.reference(v))
            }
        });
    }

    fn is_empty(&self) -> bool {
        self.install.is_none()
            && self.link.is_none()
            && self.image.is_none()
            && self.host_file.is_none()
            && !self.certs
            && self.backup.is_none()
    }
}

/// Compose mode: how the image of a version gets onto the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStep {
    /// `FROM scratch` with the binaries of the release just installed.
    Build(String),
    Pull(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostFile {
    SystemdUnit,
    ComposeFile,
}

/// What the command asked for: every other command is `apply` limited to
/// its own steps, so that it never does something unasked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Scope {
    /// Make the cluster match the inventory, whatever that takes.
    #[default]
    Apply,
    /// `upgrade --to`: the rolling version change only.
    Upgrade,
    /// `upgrade --prepare-only`: the hosts' preparation only, no member restarted.
    PrepareUpgrade,
    /// `certs rotate`: new member certificates, rolled out with restarts.
    CertsRotate,
    /// `replace OLD --with NEW`: NEW joins, then OLD leaves.
    Replace { old: String, new: String },
    /// `adopt`: members someone else runs taken over (`adopt.rs`), nothing else.
    Adopt,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub scope: Scope,
    /// Allow a rolling change to an older version (patch downgrades only).
    pub allow_downgrade: bool,
    /// Where a snapshot goes before a version change; `None`: no snapshot.
    pub snapshot_dir: Option<PathBuf>,
    /// Delete removed members' data directories (`replace --wipe`).
    pub wipe_removed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub scope: Scope,
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

    /// The steps an operator must agree to (`--yes`, or asked on a
    /// terminal): members leaving the cluster, data deleted, services
    /// taken over (`Step::destructive`).
    pub fn destructive(&self) -> Vec<String> {
        self.steps.iter().filter_map(Step::destructive).collect()
    }
}

/// Computes the plan for `apply` with default options.
pub fn plan(inv: &Inventory, facts: &Facts, desired: &BTreeMap<String, Desired>) -> Plan {
    plan_with(inv, facts, desired, &Options::default())
}

/// Computes the plan for `apply`, `upgrade`, `replace` and `certs rotate`.
pub fn plan_with(
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
    opts: &Options,
) -> Plan {
    let mut p = Plan {
        scope: opts.scope.clone(),
        ..Plan::default()
    };
    for m in &inv.members {
        match p.shared_hosts.iter_mut().find(|(a, _)| *a == m.ssh.address) {
            Some((_, names)) => names.push(m.name.clone()),
            None => p
                .shared_hosts
                .push((m.ssh.address.clone(), vec![m.name.clone()])),
        }
    }
    p.shared_hosts.retain(|(_, names)| names.len() > 1);
    untrusted_notes(&mut p, inv, facts);
    if opts.scope == Scope::Adopt {
        adopt::plan(&mut p, inv, facts, desired);
        return p;
    }
    if let Some(why) = guards::blocking(inv, facts, false) {
        p.blocked = Some(why);
        return p;
    }
    decide(&mut p, inv, facts, desired, opts);
    if p.blocked.is_none() {
        limit_to_scope(&mut p);
    }
    p
}

/// etcd processes on members' hosts that are not taken for any member (a
/// name and flags are anyone's to choose): said once per host.
fn untrusted_notes(p: &mut Plan, inv: &Inventory, facts: &Facts) {
    let mut seen = BTreeSet::new();
    for m in &inv.members {
        let Some(h) = facts.hosts.get(&m.name) else {
            continue;
        };
        for u in &h.untrusted_etcd {
            if seen.insert((m.ssh.address.as_str(), u.as_str())) {
                let (pid, why) = u.split_once(' ').unwrap_or((u, ""));
                p.notes.push(format!(
                    "host {}: etcd process {pid} is not taken for any member: {why}",
                    m.ssh.address
                ));
            }
        }
    }
}

/// The host and membership steps that make the cluster match the inventory.
fn decide(
    p: &mut Plan,
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
    opts: &Options,
) {
    let want = inv.cluster.version;
    let cluster = &facts.cluster;
    let default_host = Default::default();
    let hf = |name: &str| facts.hosts.get(name).unwrap_or(&default_host);
    let mut restart: BTreeMap<&str, Vec<RestartReason>> = BTreeMap::new();
    // Members in service whose version differs: a rolling upgrade, not a link switch.
    let mut rolling: BTreeMap<String, Option<Version>> = BTreeMap::new();

    for m in &inv.members {
        // Nothing is known of (or done on) a host SSH cannot reach.
        if facts.unreachable.contains_key(&m.name) {
            continue;
        }
        let h = hf(&m.name);
        let in_service = h.active || cluster.entry(m).is_some_and(|e| e.started());
        // What actually runs wins over the link (an interrupted upgrade may have switched it).
        let running = cluster
            .status
            .get(&m.name)
            .and_then(|s| Version::parse(&s.version))
            .or(h.current);
        // The one place the plan tells runtimes apart. systemd: the version
        // is the host's `current` link, and a changed unit restarts members.
        // Compose: the version is the service's image (written with the
        // compose file), and a changed service recreates only its container.
        let (kind, image, by_link) = match &m.runtime {
            Runtime::Systemd => (HostFile::SystemdUnit, None, true),
            Runtime::Compose(c) => (HostFile::ComposeFile, Some(&c.image), false),
        };
        let mut prep = Prepare {
            host: m.name.clone(),
            install: None,
            link: None,
            image: None,
            host_file: None,
            certs: false,
            backup: None,
        };
        if in_service && running.is_some() && running != Some(want) {
            prep.install = (!h.installed.contains(&want)).then_some(want);
            rolling.insert(m.name.clone(), h.current.filter(|c| *c != want).or(running));
        } else if h.current != Some(want) && !in_service {
            prep.install = (!h.installed.contains(&want)).then_some(want);
            prep.link = by_link.then_some(want);
        }
        if let Some(image) = image {
            prep.set_image(image);
        }
        let d = desired.get(&m.name);
        if d.is_some_and(|d| h.host_file_digest.as_ref() != Some(&d.host_file_digest)) {
            prep.host_file = Some(kind);
            if h.host_file_digest.is_some() && h.active && kind == HostFile::SystemdUnit {
                restart
                    .entry(&m.name)
                    .or_default()
                    .push(RestartReason::UnitChanged);
            }
        }
        if let Some(want_service) = d.and_then(|d| d.service_digest.as_ref())
            && h.active
            && h.service_digest.as_ref() != Some(want_service)
        {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::ContainerChanged);
        }
        // Keys loosened on the host are written again with their modes (no
        // restart: the same files).
        if h.pki_loose && d.is_some_and(|d| d.pki_digest.is_some()) {
            prep.certs = true;
        }
        if let Some(want_pki) = d.and_then(|d| d.pki_digest.as_ref())
            && h.pki_digest.as_ref() != Some(want_pki)
        {
            prep.certs = true;
            if h.pki_digest.is_some() && h.active {
                restart
                    .entry(&m.name)
                    .or_default()
                    .push(RestartReason::CertificatesChanged);
            }
        }
        if h.active && h.config_forced {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::ForceNewCluster);
        }
        if h.active && h.config_stale && !h.crash_looping {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::StaleConfig);
        }
        if h.active && h.pki_stale && !h.crash_looping {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::StaleCertificates);
        }
        if h.active && h.crash_looping && !cluster.status.contains_key(&m.name) {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::CrashLooping);
        }
        if h.active
            && h.config_digest.is_some()
            && d.is_some_and(|d| h.config_digest.as_ref() != Some(&d.config_digest))
        {
            restart
                .entry(&m.name)
                .or_default()
                .push(RestartReason::ConfigChanged);
        }
        prep.backup = BackupStep::needed(d, h);
        if !prep.is_empty() {
            p.prepare.push(prep);
        }
    }

    if let Some(why) = guards::tls_switched(inv, facts) {
        p.blocked = Some(why);
        return;
    }
    let tls_move = match tls_move::next(inv, facts) {
        Ok(step) => step,
        Err(why) => {
            p.blocked = Some(why);
            return;
        }
    };
    if let Some(Step::TlsMove { order, .. }) = &tls_move {
        // The move writes every member's config and certificates itself, and
        // restarts the members it names (whatever config they have read).
        restart.retain(|host, reasons| {
            reasons.retain(|r| {
                let moved = *r == RestartReason::StaleConfig && order.iter().any(|o| o == host);
                !(moved
                    || matches!(
                        r,
                        RestartReason::ConfigChanged | RestartReason::CertificatesChanged
                    ))
            });
            !reasons.is_empty()
        });
        if !rolling.is_empty() {
            p.blocked = Some(format!(
                "the cluster is moving to TLS ({} still on plain-HTTP peers): one change at a time; set the version back to the one it runs, apply, then change the version",
                order.join(", ")
            ));
            return;
        }
    }
    for (name, why) in &facts.unreachable {
        let etcd = match cluster.status.get(name) {
            Some(s) if s.healthy() => "its etcd answers and is healthy",
            Some(_) => "its etcd answers but is not healthy",
            None => "counted as down",
        };
        p.notes.push(format!(
            "{name}: its host cannot be reached ({}); {etcd}; nothing on it changes this run",
            unreachable_reason(why)
        ));
    }
    let Some(list) = &cluster.members else {
        if !facts.unreachable.is_empty() {
            p.blocked = Some(format!(
                "no member answers, and {} cannot be reached: with hosts missing, etcd-deploy cannot tell a new cluster from a stopped one; bring them back (or take them out of the inventory), then run it again",
                facts.unreachable_names()
            ));
            return;
        }
        nothing_answers(p, inv, facts);
        return;
    };
    if let Some(why) = guards::peer_url_changed(inv, facts, list) {
        p.blocked = Some(why);
        return;
    }
    let mut promotes = Vec::new();
    let mut resumed_joins = Vec::new();
    let mut new_joins = Vec::new();
    let mut starts = Vec::new();
    let mut restarts: Vec<Step> = Vec::new();
    // Crash-looping members: back in service before anything else stops.
    let mut repairs: Vec<Step> = Vec::new();
    for m in &inv.members {
        let h = hf(&m.name);
        if let Some(why) = facts.unreachable.get(&m.name) {
            if !cluster.entry(m).is_some_and(|e| e.started()) {
                p.blocked = Some(format!(
                    "{} must join the cluster, but its host cannot be reached ({})",
                    m.name,
                    unreachable_reason(why)
                ));
                return;
            }
            continue;
        }
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
                    let step = Step::Restart {
                        host: m.name.clone(),
                        reasons: reasons.clone(),
                    };
                    if reasons.iter().any(|r| r.is_repair()) {
                        repairs.push(step);
                    } else {
                        restarts.push(step);
                    }
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
    let data = if opts.wipe_removed {
        Data::Wipe
    } else {
        Data::Keep
    };
    let mut removals = Vec::new();
    let mut dead_removals = Vec::new();
    for e in list {
        if inventory_member(inv, e).is_some() {
            continue;
        }
        let alive = cluster.others.get(&e.id).is_some_and(|s| s.is_some());
        let step = Step::Remove {
            name: label(inv, e),
            id: e.id,
            host: facts
                .recorded
                .get(&e.name)
                .filter(|r| e.peer_urls.iter().any(|u| same_endpoint(u, &r.peer_url)))
                .cloned(),
            leader: cluster.leader() == Some(e.id),
            alive,
            data,
        };
        if alive {
            removals.push(step);
        } else {
            dead_removals.push((e.id, step));
        }
    }
    // Members etcd-deploy removed from the cluster in a run that stopped
    // before it stopped their etcd: its own record says where they run.
    for (name, rec) in &facts.recorded {
        let in_inventory = inv.members.iter().any(|m| &m.name == name);
        let in_cluster = list
            .iter()
            .any(|e| e.peer_urls.iter().any(|u| same_endpoint(u, &rec.peer_url)));
        if !in_inventory && !in_cluster {
            removals.push(Step::Retire {
                name: name.clone(),
                host: rec.clone(),
                data,
            });
        }
    }
    if !dead_removals.is_empty() {
        let ids: Vec<u64> = dead_removals.iter().map(|(id, _)| *id).collect();
        match quorum::check_removal(list, &ids, &facts.cluster.healthy_ids()) {
            Err(why) => {
                p.blocked = Some(format!(
                    "removing the {} member(s) that do not answer: {why}; restore members first",
                    ids.len()
                ));
                return;
            }
            Ok(after) => p.notes.push(format!(
                "{} not answering: removed first, since quorum allows it ({after})",
                dead_removals
                    .iter()
                    .map(|(_, s)| match s {
                        Step::Remove { name, .. } => name.as_str(),
                        _ => "",
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    p.steps.extend(dead_removals.into_iter().map(|(_, s)| s));
    let membership_pending = !starts.is_empty()
        || !promotes.is_empty()
        || !resumed_joins.is_empty()
        || !new_joins.is_empty();
    if !starts.is_empty() {
        let configs = without_config(facts, &starts);
        p.steps.push(Step::Start {
            hosts: starts,
            configs,
        });
    }
    defer_lone_restarts(p, list, &mut repairs, new_joins.len() + resumed_joins.len());
    p.steps.extend(repairs);
    p.steps.extend(promotes);
    p.steps.extend(resumed_joins);
    p.steps.extend(new_joins);
    if !rolling.is_empty() && !facts.unreachable.is_empty() {
        p.blocked = Some(format!(
            "the version change to {want} needs every member, and {} cannot be reached; bring it back, then run it again",
            facts.unreachable_names()
        ));
        return;
    }
    if !rolling.is_empty() {
        if membership_pending {
            p.notes.push(format!(
                "the version change to {want} follows once every member has joined"
            ));
            p.replan = true;
        } else {
            match rollout::check(&rollout::view(inv, facts), want, opts.allow_downgrade) {
                Ok(rollout) if !rollout.order.is_empty() => {
                    let from: BTreeMap<String, Version> = rollout
                        .order
                        .iter()
                        .filter_map(|n| Some((n.clone(), rolling.get(n).copied().flatten()?)))
                        .collect();
                    // A member restarted for its new version picks up config changes too.
                    restarts.retain(
                        |s| !matches!(s, Step::Restart { host, .. } if rollout.order.contains(host)),
                    );
                    let rollback = if rollout.order.iter().all(|n| from.contains_key(n)) {
                        Rollback::PreviousVersion
                    } else {
                        Rollback::Stop
                    };
                    p.steps.push(Step::Upgrade {
                        rollout,
                        from,
                        snapshot_to: opts.snapshot_dir.clone(),
                        rollback,
                    });
                }
                Ok(_) => {}
                Err(why) => {
                    p.blocked = Some(format!("cannot change the version to {want}: {why}"));
                    return;
                }
            }
        }
    }
    if let Some(step) = tls_move {
        if membership_pending {
            p.notes
                .push("the move to TLS follows once every member has joined".into());
        } else {
            let Step::TlsMove { pass, .. } = &step else {
                return;
            };
            p.notes.push(match pass {
                tls_move::TlsPass::Certificates => "moving to TLS, pass 1 of 2: certificates in place, peer certificates in each config, still plain HTTP; pass 2 follows in this run".to_string(),
                tls_move::TlsPass::Peers => "moving to TLS, pass 2 of 2: each member's peer URL becomes https (member update), then it restarts with its final config (peers and clients over TLS)".to_string(),
                tls_move::TlsPass::Back => "moving back to plain HTTP: each member's peer URL becomes http (member update), then it restarts plain but for its peer certificate; config restarts without it follow in this run".to_string(),
            });
            p.steps.push(step);
        }
        p.replan = true;
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
    if let Some(why) = restarts_without_quorum(inv, facts, list, &restarts, &p.steps) {
        p.blocked = Some(why);
        return;
    }
    p.steps.extend(restarts);
    p.steps.extend(removals);
}

/// The only voter of a cluster that members are joining (a `recover` that
/// stopped between writing its seed's normal config and the restart) runs
/// a config or TLS files older than its host's: restarting it now would
/// stop the whole cluster, so it restarts once the others have joined, in
/// the next round of the run. (recover's one-off config itself is undone
/// first: any later start would lose data.)
fn defer_lone_restarts(p: &mut Plan, list: &[MemberInfo], repairs: &mut Vec<Step>, joins: usize) {
    if quorum::voters(list) != 1 || joins == 0 {
        return;
    }
    let mut later = Vec::new();
    repairs.retain(|st| match st {
        Step::Restart { host, reasons } if reasons.iter().all(|r| r.keeps_files()) => {
            later.push(host.clone());
            false
        }
        _ => true,
    });
    if !later.is_empty() {
        p.notes.push(format!(
            "{} runs an older config or TLS files than its host holds; as the cluster's only voter it restarts once the others have joined",
            later.join(", ")
        ));
        p.replan = true;
    }
}

/// Restarts (and the members of a rolling upgrade) stop their member for a
/// while: each must leave a healthy majority, counting the members started
/// or repaired before it as healthy by then (the executor checks again,
/// live, just before each one). Why not, naming the unhealthy members.
fn restarts_without_quorum(
    inv: &Inventory,
    facts: &Facts,
    list: &[MemberInfo],
    restarts: &[Step],
    earlier: &[Step],
) -> Option<String> {
    let cluster = &facts.cluster;
    let id_of = |host: &str| {
        inv.member(host)
            .and_then(|m| cluster.entry(m))
            .map(|e| e.id)
    };
    let mut healthy = cluster.healthy_ids();
    for st in earlier.iter().chain(restarts) {
        // recover's seed alone in the cluster: its restart on its normal
        // config stops the whole (one-member) cluster for a moment, and
        // must happen before anything joins it.
        if let Step::Restart { reasons, .. } = st
            && reasons.contains(&RestartReason::ForceNewCluster)
            && quorum::voters(list) == 1
        {
            continue;
        }
        // Who stops, and whether each counts as serving once it is back (a
        // member restarted on the config it was meant to run; each member of
        // a move to TLS, healthy before the next).
        let (stopping, back) = match st.service() {
            Service::Keeps | Service::Removes => continue,
            Service::Restores(hosts) => {
                healthy.extend(hosts.into_iter().filter_map(id_of));
                continue;
            }
            Service::Cycles { members, back } => (
                members
                    .into_iter()
                    .filter_map(|h| Some((h, id_of(h)?)))
                    .collect::<Vec<_>>(),
                back,
            ),
        };
        for (host, id) in stopping {
            if let Err(why) = quorum::check_step(list, &[], &[id], &healthy) {
                return Some(format!(
                    "restarting {host} would lose quorum: {why}; unhealthy: {}",
                    unhealthy(inv, facts, list, &healthy)
                ));
            }
            if back {
                healthy.insert(id);
            }
        }
    }
    None
}

/// The voters that are not healthy, each with what is known of why.
pub fn unhealthy(
    inv: &Inventory,
    facts: &Facts,
    list: &[MemberInfo],
    healthy: &BTreeSet<u64>,
) -> String {
    let cluster = &facts.cluster;
    let mut out = Vec::new();
    for e in list
        .iter()
        .filter(|e| !e.is_learner && !healthy.contains(&e.id))
    {
        let m = inventory_member(inv, e);
        let name = label(inv, e);
        let status = match m {
            Some(m) => cluster.status.get(&m.name),
            None => cluster.others.get(&e.id).and_then(Option::as_ref),
        };
        let host = m.and_then(|m| facts.hosts.get(&m.name));
        let unreachable = m.and_then(|m| facts.unreachable.get(&m.name));
        let why = match (status, host) {
            (None, _) if let Some(u) = unreachable => {
                format!("its host cannot be reached: {}", unreachable_reason(u))
            }
            (Some(s), _) => s.trouble().unwrap_or_else(|| "healthy".into()),
            (None, Some(h)) if h.crash_looping => "crash-looping".into(),
            (None, Some(h)) if !h.active => "etcd is not running".into(),
            (None, Some(_)) => "runs but does not answer on its client URL".into(),
            (None, None) if !e.started() => "added but never started".into(),
            (None, None) => "does not answer".into(),
        };
        out.push(format!("{name} ({why})"));
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

/// No member answers: a fresh cluster is bootstrapped; members with data
/// are started together, and the run plans again once they answer.
fn nothing_answers(p: &mut Plan, inv: &Inventory, facts: &Facts) {
    let hf = |name: &str| facts.hosts.get(name);
    let with_data: Vec<_> = inv
        .members
        .iter()
        .filter(|m| hf(&m.name).is_some_and(|h| h.has_data))
        .collect();
    let running: Vec<_> = inv
        .members
        .iter()
        .filter(|m| hf(&m.name).is_some_and(|h| h.active))
        .map(|m| m.name.as_str())
        .collect();
    if !running.is_empty() {
        p.blocked = Some(format!(
            "etcd runs on {} but no member answers on its client URL; wait for it to settle or look at `journalctl -u etcd` there, then apply again",
            running.join(", ")
        ));
        return;
    }
    if with_data.is_empty() {
        let Some((first, rest)) = inv.members.split_first() else {
            return;
        };
        p.steps.push(Step::Bootstrap {
            host: first.name.clone(),
        });
        for m in rest {
            p.steps.push(Step::Join {
                host: m.name.clone(),
                added: None,
                stale_data: false,
                running: false,
            });
        }
    } else {
        let hosts: Vec<String> = with_data.iter().map(|m| m.name.clone()).collect();
        p.steps.push(Step::Start {
            configs: without_config(facts, &hosts),
            hosts,
        });
        p.notes.push(
            "no member answers: the members that have data are started first; the membership is read again once they are up".into(),
        );
        p.replan = true;
    }
}

/// Those of `hosts` whose config file is missing (their data kept by
/// `destroy`, or removed by hand): written before they start.
fn without_config(facts: &Facts, hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .filter(|h| {
            facts
                .hosts
                .get(*h)
                .is_some_and(|f| f.config_digest.is_none())
        })
        .cloned()
        .collect()
}

/// Holds the plan to the command's scope: a command other than `apply`
/// refuses to run when the cluster needs more than it does.
fn limit_to_scope(p: &mut Plan) {
    // Any command brings back members that are in the cluster but stopped
    // or crash-looping (an interrupted run may have left one so): that only
    // returns the cluster to service, and is what resuming needs.
    let back_in_service = |st: &Step| match st {
        Step::Start { .. } => true,
        Step::Restart { reasons, .. } => reasons.iter().any(|r| r.is_repair()),
        _ => false,
    };
    let outside = |st: &Step| match &p.scope {
        Scope::Apply | Scope::PrepareUpgrade | Scope::Adopt => false,
        _ if back_in_service(st) => false,
        Scope::Upgrade => !matches!(st, Step::Upgrade { .. }),
        Scope::CertsRotate => !matches!(st, Step::Restart { reasons, .. }
            if reasons.contains(&RestartReason::CertificatesChanged)),
        Scope::Replace { old, new } => !match st {
            Step::Join { host, .. } | Step::Promote { host, .. } => host == new,
            Step::Remove { name, .. } | Step::Retire { name, .. } => name == old,
            _ => false,
        },
    };
    let prep_outside = |host: &str| matches!(&p.scope, Scope::Replace { new, .. } if host != new);
    if p.steps.iter().any(outside) || p.prepare.iter().any(|x| prep_outside(&x.host)) {
        p.blocked = Some(
            "the cluster differs from the inventory in other ways too (see `etcd-deploy plan`); run apply first".into(),
        );
        return;
    }
    if p.scope == Scope::PrepareUpgrade {
        p.steps.clear();
        p.replan = false;
        if !p.prepare.is_empty() {
            p.notes
                .push("--prepare-only: the hosts are prepared, no member is restarted".into());
        }
    }
}

/// The inventory member a member-list entry is, if any.
pub fn inventory_member<'a>(inv: &'a Inventory, e: &MemberInfo) -> Option<&'a Member> {
    inv.members.iter().find(|m| e.is(m))
}

/// How a member-list entry is named in steps and messages: its inventory
/// name, else its etcd name when it is one etcd-deploy accepts (a name from
/// etcd is shown and used to reach a recorded host), else its ID in hex.
pub fn label(inv: &Inventory, e: &MemberInfo) -> String {
    match inventory_member(inv, e) {
        Some(m) => m.name.clone(),
        None if valid_name(&e.name) => e.name.clone(),
        None => format!("{:x}", e.id),
    }
}

/// `name=peer-url,...` for every member in the list; a member that never
/// started has no name yet, so the inventory's name for its peer URL is used.
/// Read at the moment a member joins (the list changes during a run).
pub fn initial_cluster(list: &[MemberInfo], inv: &Inventory, joining: &Member) -> String {
    let mut parts = Vec::new();
    for e in list {
        // Names and URLs from etcd go into the joining member's config: one
        // that etcd-deploy would not write itself (a `,` or `=` would add
        // entries) is left out, and etcd refuses the join rather than trust it.
        if !e.peer_urls.iter().all(|u| valid_url(u)) {
            continue;
        }
        let name = if e.started() {
            if !valid_name(&e.name) {
                continue;
            }
            e.name.clone()
        } else {
            match inventory_member(inv, e) {
                Some(m) => m.name.clone(),
                None => continue,
            }
        };
        for u in &e.peer_urls {
            parts.push(format!("{name}={u}"));
        }
    }
    if !parts
        .iter()
        .any(|p| p.starts_with(&format!("{}=", joining.name)))
    {
        parts.push(format!("{}={}", joining.name, joining.peer_url()));
    }
    parts.join(",")
}
