//! Maintenance decisions, pure functions of the inventory and the facts:
//! which members `defrag` defragments and in what order, where `compact`
//! compacts to, which alarms `alarm disarm` may clear. The executor
//! (`exec/maintenance.rs`) carries them out and asks again, live, just
//! before each member (sizes and leadership move while it runs).

use crate::facts::{Facts, MemberStatus, alarm_parts, human_bytes};
use crate::inventory::{Inventory, Member};
use serde::Serialize;

/// etcd's default backend quota (2 GiB), when the inventory sets none.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// NOSPACE is cleared only when every member uses at most this percentage
/// of its quota.
pub const DISARM_AT: u64 = 95;

/// Below this much free space a defragmentation is not worth blocking a
/// member for, whatever the percentage.
pub const MIN_FREE_BYTES: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragOptions {
    /// Skip a member whose free pages are less than this percentage of its
    /// database file (and less than `MIN_FREE_BYTES`... either way small).
    pub min_free_percent: u8,
    /// Defragment every member, however little it would reclaim.
    pub all: bool,
}

impl Default for DefragOptions {
    fn default() -> Self {
        DefragOptions {
            min_free_percent: 10,
            all: false,
        }
    }
}

/// One member to defragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefragTarget {
    pub name: String,
    pub id: u64,
    /// It leads now: leadership moves off it first.
    pub leader: bool,
    pub db_size: u64,
    /// Bytes in the file that hold no data (etcd's `dbSize - dbSizeInUse`).
    pub free: u64,
}

/// A member left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub name: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DefragPlan {
    /// Followers first, the leader last.
    pub order: Vec<DefragTarget>,
    pub skipped: Vec<Skipped>,
}

/// Whether one member is worth defragmenting: `Ok` with its target, or why
/// not. While a NOSPACE alarm is raised every member is: the alarm stops
/// writes cluster-wide, every member's database is about as full, and the
/// free-page count etcd reports lags a compaction until the next write
/// (bbolt frees pages when a write transaction begins), which the alarm
/// refuses.
pub fn defrag_member(
    name: &str,
    st: &MemberStatus,
    alarms: &[String],
    opts: DefragOptions,
) -> Result<DefragTarget, String> {
    if st.leader == 0 {
        return Err("no leader (partitioned, or an election is under way)".into());
    }
    let db_size = u64::try_from(st.db_size).unwrap_or(0);
    let in_use = u64::try_from(st.db_size_in_use).unwrap_or(0);
    let free = db_size.saturating_sub(in_use);
    let nospace = alarms
        .iter()
        .filter_map(|a| alarm_parts(a))
        .any(|(kind, _)| kind == "NOSPACE");
    let small = free < MIN_FREE_BYTES
        || free.saturating_mul(100) < db_size.saturating_mul(u64::from(opts.min_free_percent));
    if small && !nospace && !opts.all {
        return Err(format!(
            "little to reclaim ({} free of {}; below {}% or 1 MB)",
            human_bytes(free),
            human_bytes(db_size),
            opts.min_free_percent
        ));
    }
    Ok(DefragTarget {
        name: name.to_string(),
        id: st.id,
        leader: st.leader == st.id,
        db_size,
        free,
    })
}

/// The defragmentation of the inventory's members: those that answer with a
/// leader and have enough to reclaim, followers first, the leader last
/// (leadership moves off it first, so no client's write waits on it).
pub fn defrag(inv: &Inventory, facts: &Facts, opts: DefragOptions) -> Result<DefragPlan, String> {
    if facts.cluster.status.is_empty() {
        return Err("no member answers; defragmentation needs a running cluster".into());
    }
    let mut p = DefragPlan::default();
    for m in &inv.members {
        let skip = |why: String| Skipped {
            name: m.name.clone(),
            why,
        };
        match facts.cluster.status.get(&m.name) {
            None if facts.unreachable.contains_key(&m.name) => p.skipped.push(skip(
                "its host cannot be reached and its etcd does not answer".into(),
            )),
            None => p.skipped.push(skip("its etcd does not answer".into())),
            Some(st) => match defrag_member(&m.name, st, &facts.cluster.alarms, opts) {
                Ok(t) => p.order.push(t),
                Err(why) => p.skipped.push(skip(why)),
            },
        }
    }
    p.order.sort_by_key(|t| t.leader);
    Ok(p)
}

/// The revision `compact --retain N` compacts to: the last `retain`
/// revisions stay readable. `Err` when there is nothing to compact.
pub fn compact_target(revision: i64, retain: u64) -> Result<i64, String> {
    let retain = i64::try_from(retain).unwrap_or(i64::MAX);
    let target = revision.saturating_sub(retain);
    if target < 1 {
        return Err(format!(
            "the cluster is at revision {revision}: with {retain} revisions kept there is nothing to compact"
        ));
    }
    Ok(target)
}

/// An alarm `alarm disarm` clears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disarm {
    /// `NOSPACE`
    pub alarm: String,
    pub member_id: u64,
    /// The inventory's name for the member, or its ID in hex.
    pub member: String,
}

/// The alarms that may be cleared, or why not. NOSPACE only once every
/// member's database file is at most `DISARM_AT` percent of its quota
/// (etcd checks a write against the file's size, free pages included, not
/// the bytes in use: `BackendQuota.Available`), else the next write raises
/// it again at once; compact, then defragment, first. CORRUPT never (the
/// member's data differs from the others': replace it).
pub fn disarm(inv: &Inventory, facts: &Facts) -> Result<Vec<Disarm>, String> {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for a in &facts.cluster.alarms {
        let Some((kind, id)) = alarm_parts(a) else {
            refused.push(format!("{a}: not an alarm etcd-deploy knows"));
            continue;
        };
        let member = inv.members.iter().find(|m| {
            facts
                .cluster
                .status
                .get(&m.name)
                .is_some_and(|s| s.id == id)
        });
        let label = member.map_or_else(|| format!("{id:x}"), |m| m.name.clone());
        match kind {
            "NOSPACE" => {
                if member.is_none() {
                    refused.push(format!(
                        "{label}: raised NOSPACE but does not answer (or is not in the inventory): its database size is unknown"
                    ));
                    continue;
                }
                let full: Vec<String> = inv
                    .members
                    .iter()
                    .filter_map(|m| {
                        let st = facts.cluster.status.get(&m.name)?;
                        let used = u64::try_from(st.db_size).unwrap_or(0);
                        let quota = quota_of(m);
                        (used.saturating_mul(100) > quota.saturating_mul(DISARM_AT)).then(|| {
                            format!(
                                "{}'s database file is {} of its {} quota",
                                m.name,
                                human_bytes(used),
                                human_bytes(quota)
                            )
                        })
                    })
                    .collect();
                if full.is_empty() {
                    out.push(Disarm {
                        alarm: kind.to_string(),
                        member_id: id,
                        member: label,
                    });
                } else {
                    refused.push(format!(
                        "{label}: NOSPACE would be raised again at once ({}; at most {DISARM_AT}% to clear it): compact (etcd-deploy compact --retain N) and defragment (etcd-deploy defrag) first",
                        full.join(", ")
                    ));
                }
            }
            "CORRUPT" => refused.push(format!(
                "{label}: raised CORRUPT: its data differs from the other members'; never cleared by etcd-deploy: replace the member (etcd-deploy replace) and look at why"
            )),
            other => refused.push(format!("{label}: alarm {other} is not one etcd-deploy clears")),
        }
    }
    if refused.is_empty() {
        Ok(out)
    } else {
        Err(refused.join("; "))
    }
}

/// The member's backend quota: the inventory's, else etcd's default.
pub fn quota_of(m: &Member) -> u64 {
    m.settings.quota_backend_bytes.unwrap_or(DEFAULT_QUOTA)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(id: u64, leader: u64, size: i64, in_use: i64) -> MemberStatus {
        MemberStatus {
            id,
            version: "3.5.1".into(),
            leader,
            raft_term: 2,
            cluster_id: 1,
            raft_index: 10,
            raft_applied_index: 10,
            db_size: size,
            db_size_in_use: in_use,
            is_learner: false,
            errors: vec![],
            revision: 5,
            storage_version: String::new(),
            downgrade_target: String::new(),
        }
    }

    #[test]
    fn a_member_with_little_to_reclaim_is_skipped_unless_all_or_nospace() {
        let o = DefragOptions::default();
        // 50 MB file, 10 MB free: 20 %, worth it.
        assert!(defrag_member("a", &st(1, 2, 50_000_000, 40_000_000), &[], o).is_ok());
        // 50 MB file, 2 MB free: 4 %, skipped.
        let why = defrag_member("a", &st(1, 2, 50_000_000, 48_000_000), &[], o).unwrap_err();
        assert!(why.contains("little to reclaim"), "{why}");
        // A fresh member: 20 kB, half free, but under 1 MB.
        assert!(defrag_member("a", &st(1, 2, 20_000, 10_000), &[], o).is_err());
        let all = DefragOptions { all: true, ..o };
        assert!(defrag_member("a", &st(1, 2, 20_000, 10_000), &[], all).is_ok());
        let nospace = vec!["NOSPACE on 1".to_string()];
        assert_eq!(alarm_parts("NOSPACE on 1a"), Some(("NOSPACE", 26)));
        assert!(defrag_member("a", &st(1, 2, 4_000_000, 3_900_000), &nospace, o).is_ok());
        // Another member's alarm counts too: writes stop everywhere.
        let other = vec!["NOSPACE on 9".to_string()];
        assert!(defrag_member("a", &st(1, 2, 4_000_000, 3_900_000), &other, o).is_ok());
        let corrupt = vec!["CORRUPT on 9".to_string()];
        assert!(defrag_member("a", &st(1, 2, 4_000_000, 3_900_000), &corrupt, o).is_err());
        // No leader: never.
        assert!(defrag_member("a", &st(1, 0, 50_000_000, 1), &[], all).is_err());
    }

    #[test]
    fn compaction_keeps_the_last_revisions() {
        assert_eq!(compact_target(1000, 100), Ok(900));
        assert!(compact_target(100, 100).is_err());
        assert!(compact_target(5, u64::MAX).is_err());
    }
}
