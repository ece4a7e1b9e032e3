//! Membership: which inventory members join (new, or resuming an earlier
//! `member add`), start, restart (repairs first) or are promoted; which
//! cluster members leave (dead ones first, when quorum allows), and which
//! former members an interrupted run left running.

use super::{Data, RestartReason, Step, inventory_member, label, quorum};
use crate::facts::{Facts, HostFacts, MemberInfo, unreachable_reason};
use crate::inventory::{Inventory, same_endpoint};
use std::collections::BTreeMap;

/// The inventory members' membership and service steps, by kind.
pub(super) struct Membership {
    pub(super) promotes: Vec<Step>,
    pub(super) resumed_joins: Vec<Step>,
    pub(super) new_joins: Vec<Step>,
    /// Members in the cluster whose etcd is stopped.
    pub(super) starts: Vec<String>,
    pub(super) restarts: Vec<Step>,
    /// Crash-looping members: back in service before anything else stops.
    pub(super) repairs: Vec<Step>,
}

/// What each inventory member needs, given why running ones must restart;
/// an error when a member that must join cannot be reached.
pub(super) fn of(
    inv: &Inventory,
    facts: &Facts,
    restart: &BTreeMap<String, Vec<RestartReason>>,
) -> Result<Membership, String> {
    let cluster = &facts.cluster;
    let default_host = HostFacts::default();
    let mut out = Membership {
        promotes: Vec::new(),
        resumed_joins: Vec::new(),
        new_joins: Vec::new(),
        starts: Vec::new(),
        restarts: Vec::new(),
        repairs: Vec::new(),
    };
    for m in &inv.members {
        let h = facts.hosts.get(&m.name).unwrap_or(&default_host);
        if let Some(why) = facts.unreachable.get(&m.name) {
            if !cluster.entry(m).is_some_and(|e| e.started()) {
                return Err(format!(
                    "{} must join the cluster, but its host cannot be reached ({})",
                    m.name,
                    unreachable_reason(why)
                ));
            }
            continue;
        }
        match cluster.entry(m) {
            None => out.new_joins.push(Step::Join {
                host: m.name.clone(),
                added: None,
                stale_data: h.has_data && !h.active,
                running: false,
            }),
            Some(e) if !e.started() => out.resumed_joins.push(Step::Join {
                host: m.name.clone(),
                added: Some(e.id),
                stale_data: h.has_data && !h.active,
                running: h.active,
            }),
            Some(e) => {
                if !h.active {
                    out.starts.push(m.name.clone());
                } else if let Some(reasons) = restart.get(m.name.as_str()) {
                    let step = Step::restart(&m.name, reasons.clone());
                    if reasons.iter().any(|r| r.is_repair()) {
                        out.repairs.push(step);
                    } else {
                        out.restarts.push(step);
                    }
                }
                if e.is_learner {
                    out.promotes.push(Step::Promote {
                        host: m.name.clone(),
                        id: e.id,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The cluster members that leave, and former members to stop.
pub(super) struct Removals {
    /// Live members' removals and retirements (after the joins).
    pub(super) live: Vec<Step>,
    /// Removals of members that do not answer (first).
    pub(super) dead: Vec<Step>,
    /// Why the dead ones may go first.
    pub(super) note: Option<String>,
}

/// Members no longer in the inventory leave the cluster: live ones after
/// the joins (so a replacement is voting before the old member goes), dead
/// ones first when quorum allows it (a dead member only weakens quorum);
/// former members an interrupted run removed but did not stop are retired.
/// An error when removing the dead ones loses quorum.
pub(super) fn removals(
    inv: &Inventory,
    facts: &Facts,
    list: &[MemberInfo],
    data: Data,
) -> Result<Removals, String> {
    let cluster = &facts.cluster;
    let mut removals = Vec::new();
    let mut dead = Vec::new();
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
            dead.push((e.id, label(inv, e), step));
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
    let mut note = None;
    if !dead.is_empty() {
        let ids: Vec<u64> = dead.iter().map(|(id, ..)| *id).collect();
        let after = quorum::check_removal(list, &ids, &cluster.healthy_ids()).map_err(|why| {
            format!(
                "removing the {} member(s) that do not answer: {why}; restore members first",
                ids.len()
            )
        })?;
        let names: Vec<&str> = dead.iter().map(|(_, name, _)| name.as_str()).collect();
        note = Some(format!(
            "{} not answering: removed first, since quorum allows it ({after})",
            names.join(", ")
        ));
    }
    Ok(Removals {
        live: removals,
        dead: dead.into_iter().map(|(.., s)| s).collect(),
        note,
    })
}
