//! The plan: every decision a run makes, computed as a pure function of the
//! inventory, the facts and the desired file digests (`plan_with`). `plan`
//! prints it (text or JSON), `apply` hands it to the executor, which only
//! carries it out: what to install, which member joins, restarts or leaves,
//! whether a snapshot is taken and where, whether removed data is wiped,
//! what a failed upgrade rolls back to, and which scope the command has.
//!
//! Depends on the inventory and the facts only: no SSH, no etcd client.

pub mod adopt;
pub mod auth;
pub mod downgrade;
mod guards;
mod host_changes;
pub mod lifecycle;
pub mod maintenance;
mod membership;
mod prepare;
pub mod quorum;
pub mod readiness;
pub mod records;
pub mod recover;
pub mod rollout;
mod safety;
mod saved;
mod step;
mod text;
pub mod tls_move;

pub use downgrade::DowngradeCall;
pub use prepare::{BackupStep, Desired, HostFile, ImageStep, Prepare};
pub use rollout::Rollout;
pub use safety::unhealthy;
pub use saved::SavedPlan;
pub use step::{Data, RestartReason, RestoreStep, Rollback, Service, Step};

use crate::facts::{Facts, MemberInfo, unreachable_reason};
use crate::inventory::{Inventory, Member, Version, valid_name, valid_url};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    /// `restore`: the hosts prepared, then every member's data replaced by
    /// a snapshot's (`lifecycle.rs`).
    Restore,
    /// `destroy`: every member stopped and its files removed (`lifecycle.rs`).
    Destroy,
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
    /// The members that answered when the plan was made: the executor's
    /// cluster calls go through them until more serve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serving: Vec<String>,
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
        serving: facts.cluster.status.keys().cloned().collect(),
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
    } else if let Some(why) = guards::blocking(inv, facts, false) {
        p.blocked = Some(why);
        return p;
    } else {
        decide(&mut p, inv, facts, desired, opts);
        if p.blocked.is_none() {
            limit_to_scope(&mut p);
        }
    }
    records::first(&mut p, inv, facts);
    auth::last(&mut p, inv, facts);
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
    let host_changes::HostChanges {
        prepare,
        mut restart,
        rolling,
    } = host_changes::of(inv, facts, desired);
    p.prepare.extend(prepare);

    let tls_move = match tls_move::decide(inv, facts, &mut restart, !rolling.is_empty()) {
        Ok(step) => step,
        Err(why) => {
            p.blocked = Some(why);
            return;
        }
    };
    unreachable_notes(p, facts);
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
    let Some(ordered) = membership_steps(p, inv, facts, list, opts, &restart) else {
        return;
    };
    let membership_pending = ordered.pending;
    let mut restarts = ordered.restarts;
    let removals = ordered.removals;
    if !rolling.is_empty() && !facts.unreachable.is_empty() {
        p.blocked = Some(format!(
            "the version change to {want} needs every member, and {} cannot be reached; bring it back, then run it again",
            facts.unreachable_names()
        ));
        return;
    }
    if !rolling.is_empty() && membership_pending {
        p.notes.push(format!(
            "the version change to {want} follows once every member has joined"
        ));
        p.replan = true;
    } else if !rolling.is_empty() || facts.cluster.downgrade_target().is_some() {
        match version_change(inv, facts, opts, &rolling) {
            Ok(Some(mut step)) => {
                // A member restarted for its new version picks up config changes too.
                let order: Vec<String> = step.hosts().into_iter().map(String::from).collect();
                let mut changed = BTreeSet::new();
                restarts.retain(|s| match s {
                    Step::Restart { host, reasons, .. } if order.contains(host) => {
                        if reasons.contains(&RestartReason::ConfigChanged) {
                            changed.insert(host.clone());
                        }
                        false
                    }
                    _ => true,
                });
                if let Step::Upgrade { configs, .. } = &mut step {
                    *configs = changed;
                }
                p.steps.push(step);
            }
            Ok(None) => {}
            Err(why) => {
                p.blocked = Some(why);
                return;
            }
        }
    }
    if let Some(step) = tls_move {
        if membership_pending {
            p.notes
                .push("the move to TLS follows once every member has joined".into());
        } else {
            if let Step::TlsMove { pass, .. } = &step {
                p.notes.push(pass.note().to_string());
            }
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
    if quorum::voters(list) == 1
        && restarts
            .iter()
            .chain(&p.steps)
            .any(|s| matches!(s.service(), Service::Cycles { .. }))
    {
        p.notes.push(
            "the cluster has one voter: it does not serve while that member restarts (a few seconds); with three or more members it would".into(),
        );
    }
    if let Some(why) = safety::restarts_without_quorum(inv, facts, list, &restarts, &p.steps) {
        p.blocked = Some(why);
        return;
    }
    p.steps.extend(restarts);
    p.steps.extend(removals);
}

/// What `membership_steps` leaves for the end of the plan.
struct Ordered {
    /// Restarts that are not repairs (the leader's last).
    restarts: Vec<Step>,
    /// Live members' removals and retirements (after the joins).
    removals: Vec<Step>,
    /// Members still start, join or are promoted in this run.
    pending: bool,
}

/// Dead members' removals, stopped members' start, repairs, promotions and
/// joins, in that order, into the plan; `None` when the plan is blocked.
fn membership_steps(
    p: &mut Plan,
    inv: &Inventory,
    facts: &Facts,
    list: &[MemberInfo],
    opts: &Options,
    restart: &BTreeMap<String, Vec<RestartReason>>,
) -> Option<Ordered> {
    let membership::Membership {
        promotes,
        resumed_joins,
        new_joins,
        starts,
        restarts,
        mut repairs,
    } = match membership::of(inv, facts, restart) {
        Ok(m) => m,
        Err(why) => {
            p.blocked = Some(why);
            return None;
        }
    };
    let data = if opts.wipe_removed {
        Data::Wipe
    } else {
        Data::Keep
    };
    let membership::Removals {
        live: removals,
        dead: dead_removals,
        note,
    } = match membership::removals(inv, facts, list, data) {
        Ok(r) => r,
        Err(why) => {
            p.blocked = Some(why);
            return None;
        }
    };
    p.notes.extend(note);
    p.steps.extend(dead_removals);
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
    safety::defer_lone_restarts(p, list, &mut repairs, new_joins.len() + resumed_joins.len());
    p.steps.extend(repairs);
    p.steps.extend(promotes);
    p.steps.extend(resumed_joins);
    p.steps.extend(new_joins);
    Some(Ordered {
        restarts,
        removals,
        pending: membership_pending,
    })
}

/// Hosts SSH cannot reach: what is known of their etcd, and that nothing
/// on them changes this run.
fn unreachable_notes(p: &mut Plan, facts: &Facts) {
    for (name, why) in &facts.unreachable {
        let etcd = match facts.cluster.status.get(name) {
            Some(s) if s.healthy() => "its etcd answers and is healthy",
            Some(_) => "its etcd answers but is not healthy",
            None => "counted as down",
        };
        p.notes.push(format!(
            "{name}: its host cannot be reached ({}); {etcd}; nothing on it changes this run",
            unreachable_reason(why)
        ));
    }
}

/// The rolling version change to the inventory's version for the members
/// in service on another (`rolling`: with the version each ran before, when
/// known), if the cluster allows it; what a failed member goes back to.
fn version_change(
    inv: &Inventory,
    facts: &Facts,
    opts: &Options,
    rolling: &BTreeMap<String, Option<Version>>,
) -> Result<Option<Step>, String> {
    let want = inv.cluster.version;
    let rollout = rollout::check(&rollout::view(inv, facts), want, opts.allow_downgrade)
        .map_err(|why| format!("cannot change the version to {want}: {why}"))?;
    if let Some(why) = inv.extra_refusal().filter(|_| !rollout.order.is_empty()) {
        return Err(format!("cannot change the version to {want}: {why}"));
    }
    // An enabled downgrade the inventory's version does not want is
    // cancelled even when no member is to restart.
    let cancel = matches!(rollout.etcd_downgrade, DowngradeCall::Cancel { .. });
    if rollout.order.is_empty() && !cancel {
        return Ok(None);
    }
    let from: BTreeMap<String, Version> = rollout
        .order
        .iter()
        .filter_map(|n| Some((n.clone(), rolling.get(n).copied().flatten()?)))
        .collect();
    let rollback = if rollout.order.iter().all(|n| from.contains_key(n)) {
        Rollback::PreviousVersion
    } else {
        Rollback::Stop
    };
    Ok(Some(Step::Upgrade {
        rollout,
        from,
        snapshot_to: opts.snapshot_dir.clone(),
        rollback,
        configs: BTreeSet::new(),
    }))
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
        let why: Vec<String> = facts
            .cluster
            .silent
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        let why = match why.is_empty() {
            true => String::new(),
            false => format!(" ({})", why.join("; ")),
        };
        p.blocked = Some(format!(
            "etcd runs on {} but no member answers on its client URL{why}; wait for it to settle or look at `journalctl -u etcd` there, then apply again",
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
        Scope::Apply | Scope::PrepareUpgrade | Scope::Adopt | Scope::Restore | Scope::Destroy => {
            false
        }
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
