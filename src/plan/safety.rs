//! The plan's safety checks on restarts: each restart, and each member of a
//! rolling step, must leave a healthy majority (counting the members
//! brought back before it), said with the unhealthy members named; and the
//! restart of a cluster's only voter waits until the members joining it
//! have joined.

use super::{Plan, RestartReason, Service, Step, inventory_member, label, quorum};
use crate::facts::{Facts, MemberInfo, unreachable_reason};
use crate::inventory::Inventory;
use std::collections::BTreeSet;

/// The only voter of a cluster that members are joining (a `recover` that
/// stopped between writing its seed's normal config and the restart) runs
/// a config or TLS files older than its host's: restarting it now would
/// stop the whole cluster, so it restarts once the others have joined, in
/// the next round of the run. (recover's one-off config itself is undone
/// first: any later start would lose data.)
pub(super) fn defer_lone_restarts(
    p: &mut Plan,
    list: &[MemberInfo],
    repairs: &mut Vec<Step>,
    joins: usize,
) {
    if quorum::voters(list) != 1 || joins == 0 {
        return;
    }
    let mut later = Vec::new();
    repairs.retain(|st| match st {
        Step::Restart {
            host,
            write_config: false,
            ..
        } => {
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
pub(super) fn restarts_without_quorum(
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
            Service::Keeps | Service::Removes | Service::StopsAll(_) => continue,
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
