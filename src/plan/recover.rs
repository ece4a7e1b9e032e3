//! `recover`: the decisions for a cluster that has lost quorum for good, as
//! a pure function of the facts and of a survey of the survivors' data:
//! whether recovery is allowed at all (never while a member follows a
//! leader), which survivor seeds the new cluster (the most data: highest
//! key-value revision, then committed raft index), and what every other
//! member of the inventory loses. See etcd's disaster-recovery guide:
//! one member is started once with `force-new-cluster`, keeping its data;
//! every other member joins it again with fresh data.

use crate::facts::{Facts, unreachable_reason};
use crate::inventory::Inventory;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How much data one surviving member has: its key-value revision (the
/// writes it applied), read from the running member, or from its database
/// file with etcd's own tool while it is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Survey {
    pub revision: i64,
    /// Its committed raft index, when it was running and answered.
    pub raft_index: Option<u64>,
    /// It is a learner (never a seed: it may not have everything).
    pub learner: bool,
}

/// What happens to one inventory member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Starts once with `force-new-cluster`, keeping its data (a copy is
    /// made first).
    Seed { revision: i64 },
    /// A survivor with no more data than the seed: its data directory is
    /// moved aside (the backup), and it joins the seed with fresh data.
    Rejoin {
        revision: Option<i64>,
        /// Revisions the seed has that it lacks (0 when as far).
        behind: Option<i64>,
    },
    /// No data of its own (a new or wiped host): it joins with fresh data.
    Join,
    /// Its host cannot be reached: it joins once it is back (or is
    /// replaced in the inventory).
    Unreachable { why: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
}

/// The recovery, as `recover` shows it before asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub seed: String,
    pub members: Vec<Member>,
}

/// Decides the recovery from the facts and the survey of the members with
/// data (a member whose data could not be read is missing from it). `Err`
/// says why not: a member follows a leader (quorum exists), or no survivor
/// has data to seed from.
pub fn decide(
    inv: &Inventory,
    facts: &Facts,
    survey: &BTreeMap<String, Survey>,
) -> Result<Recovery, String> {
    // A member that names a leader but cannot serve a linearizable read
    // (the gather asks) follows a leader that has not stepped down yet,
    // without quorum: that is no quorum.
    if let Some((name, s)) = facts
        .cluster
        .status
        .iter()
        .find(|(_, s)| s.leader != 0 && s.errors().is_empty())
    {
        let leader = facts
            .cluster
            .status
            .iter()
            .find(|(_, t)| t.id == s.leader)
            .map_or_else(|| format!("member {:x}", s.leader), |(n, _)| n.clone());
        return Err(format!(
            "the cluster has a leader ({name} follows {leader}): it has quorum, and recover is only for a cluster that lost it for good; use `etcd-deploy apply` (or `replace` for dead members)"
        ));
    }
    // The seed: a voter with the most applied writes; ties go to the
    // higher committed index, then to inventory order. A recover that
    // stopped after writing its seed's one-off config had chosen already
    // (and moved the others' data aside): that choice stands.
    let seed = match facts.forced(inv) {
        Some((m, _)) => Some((
            m.name.clone(),
            survey.get(&m.name).copied().unwrap_or(Survey {
                revision: 0,
                raft_index: None,
                learner: false,
            }),
        )),
        None => inv
            .members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| Some((i, m, survey.get(&m.name)?)))
            .filter(|(_, _, s)| !s.learner)
            .max_by_key(|(i, _, s)| (s.revision, s.raft_index, std::cmp::Reverse(*i)))
            .map(|(_, m, s)| (m.name.clone(), *s)),
    };
    let Some((seed, best)) = seed else {
        return Err(
            "no surviving member has data etcd-deploy could read (none of the reachable hosts holds a voting member's data): nothing to recover from; with a snapshot, use `etcd-deploy restore` instead"
                .into(),
        );
    };
    let members = inv
        .members
        .iter()
        .map(|m| {
            let role = if m.name == seed {
                Role::Seed {
                    revision: best.revision,
                }
            } else if let Some(why) = facts.unreachable.get(&m.name) {
                Role::Unreachable {
                    why: unreachable_reason(why),
                }
            } else if facts.hosts.get(&m.name).is_some_and(|h| h.has_data) {
                let revision = survey.get(&m.name).map(|s| s.revision);
                Role::Rejoin {
                    revision,
                    behind: revision.map(|r| (best.revision - r).max(0)),
                }
            } else {
                Role::Join
            };
            Member {
                name: m.name.clone(),
                role,
            }
        })
        .collect();
    Ok(Recovery { seed, members })
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.members {
            let (tag, what) = match &m.role {
                Role::Seed { revision } => (
                    "seed",
                    format!(
                        "revision {revision}: the most data; its data is copied aside, then it starts once with force-new-cluster as a one-member cluster and keeps every key it has"
                    ),
                ),
                Role::Rejoin {
                    revision: Some(r),
                    behind: Some(b),
                } => (
                    "rejoin",
                    format!(
                        "revision {r} ({b} behind the seed, which has all it has): its data is moved aside (kept), it joins with fresh data"
                    ),
                ),
                Role::Rejoin { .. } => (
                    "rejoin",
                    "its data could not be read: it is moved aside (kept, not looked at), it joins with fresh data".into(),
                ),
                Role::Join => ("join", "no data: joins with fresh data".into()),
                Role::Unreachable { why } => (
                    "wait",
                    format!(
                        "its host cannot be reached ({why}): it joins once it is back; or replace it in the inventory"
                    ),
                ),
            };
            writeln!(f, "{tag:<7} {:<12} {what}", m.name)?;
        }
        Ok(())
    }
}
