//! Quorum arithmetic, the one place it is written: who votes, how many must
//! answer, and whether members may leave or stop. The planner (dead members
//! removed first, restarts) and the executor (just before each restart,
//! stop and `member remove`, against live health) both ask here.
//!
//! Learners do not vote: they neither count towards the voters nor towards
//! the healthy members quorum needs. A member that was added but never
//! started is a voter unless it was added as a learner (etcd counts it).

use crate::facts::MemberInfo;
use std::collections::BTreeSet;
use std::fmt;

/// How many voting members the list holds (learners do not vote).
pub fn voters(list: &[MemberInfo]) -> usize {
    list.iter().filter(|e| !e.is_learner).count()
}

/// How many healthy voters a cluster of `voters` needs to make progress.
pub fn needed(voters: usize) -> usize {
    voters / 2 + 1
}

/// The cluster after a removal that quorum allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    pub voters: usize,
    pub healthy: usize,
}

impl fmt::Display for After {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} healthy of {} remaining voters",
            self.healthy, self.voters
        )
    }
}

/// Why a removal is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No voter would be left; etcd-deploy never removes the last one.
    LastVoter,
    /// Fewer healthy voters would remain than quorum needs.
    NoQuorum { after: After, needed: usize },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::LastVoter => {
                f.write_str("no voting member would remain; etcd-deploy never removes the last one")
            }
            Refusal::NoQuorum { after, needed } => write!(
                f,
                "{} healthy member(s) would remain of {} voters; quorum needs {needed}",
                after.healthy, after.voters
            ),
        }
    }
}

/// Whether the members `removing` may leave `list`, with `healthy` the IDs
/// of the members that answer now.
pub fn check_removal(
    list: &[MemberInfo],
    removing: &[u64],
    healthy: &BTreeSet<u64>,
) -> Result<After, Refusal> {
    check_step(list, removing, &[], healthy)
}

/// Whether quorum survives a step that removes `removing` from the cluster
/// and stops (restarts) `stopping` for a while: the healthy voters left
/// while the step runs must be a majority of the voters after it. A member
/// that is unhealthy already loses nothing by being stopped, so a step that
/// only stops unhealthy members (a start, a repair) is refused only when no
/// voter would be left.
pub fn check_step(
    list: &[MemberInfo],
    removing: &[u64],
    stopping: &[u64],
    healthy_ids: &BTreeSet<u64>,
) -> Result<After, Refusal> {
    let staying = list
        .iter()
        .filter(|e| !e.is_learner && !removing.contains(&e.id));
    let (voters, healthy) = staying.fold((0, 0), |(v, h), e| {
        let up = healthy_ids.contains(&e.id) && !stopping.contains(&e.id);
        (v + 1, h + usize::from(up))
    });
    let after = After { voters, healthy };
    if voters == 0 {
        return Err(Refusal::LastVoter);
    }
    let costs_nothing = removing.is_empty()
        && !stopping.is_empty()
        && !stopping.iter().any(|id| healthy_ids.contains(id));
    // A cluster of one voter cannot serve while that voter restarts, however
    // it is done: its restart is allowed (the plan says the cluster pauses).
    let only_voter = voters == 1
        && removing.is_empty()
        && stopping.len() == 1
        && list.iter().any(|e| !e.is_learner && e.id == stopping[0]);
    if healthy < needed(voters) && !costs_nothing && !only_voter {
        return Err(Refusal::NoQuorum {
            after,
            needed: needed(voters),
        });
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Voter,
        Learner,
        /// Added as a voter, never started (no name).
        Unstarted,
    }

    fn member(id: u64, kind: Kind) -> MemberInfo {
        MemberInfo {
            id,
            name: match kind {
                Kind::Unstarted => String::new(),
                _ => format!("m{id}"),
            },
            peer_urls: vec![format!("http://10.0.0.{id}:2380")],
            client_urls: vec![],
            is_learner: matches!(kind, Kind::Learner),
        }
    }

    /// Every cluster of up to five members (each a voter, learner or
    /// unstarted voter; healthy or not), every set of members removed: the
    /// answer never panics and follows the rule, counted independently.
    #[test]
    fn every_small_cluster_and_removal() {
        let kinds = [Kind::Voter, Kind::Learner, Kind::Unstarted];
        let mut checked = 0;
        for n in 1..=5u32 {
            for kind_code in 0..3u32.pow(n) {
                let list: Vec<MemberInfo> = (0..n)
                    .map(|i| {
                        member(
                            u64::from(i) + 1,
                            kinds[(kind_code / 3u32.pow(i) % 3) as usize],
                        )
                    })
                    .collect();
                for healthy_mask in 0..(1u32 << n) {
                    let healthy: BTreeSet<u64> = list
                        .iter()
                        .enumerate()
                        // A member that never started cannot answer.
                        .filter(|(i, e)| healthy_mask & (1 << i) != 0 && !e.name.is_empty())
                        .map(|(_, e)| e.id)
                        .collect();
                    for remove_mask in 0..(1u32 << n) {
                        let removing: Vec<u64> = (0..n)
                            .filter(|i| remove_mask & (1 << i) != 0)
                            .map(|i| u64::from(i) + 1)
                            .collect();
                        let mut voters = 0;
                        let mut up = 0;
                        for e in &list {
                            if !e.is_learner && !removing.contains(&e.id) {
                                voters += 1;
                                up += usize::from(healthy.contains(&e.id));
                            }
                        }
                        let r = check_removal(&list, &removing, &healthy);
                        match r {
                            Ok(a) => {
                                assert!(voters > 0 && up * 2 > voters, "{list:?} {removing:?}");
                                assert_eq!(
                                    a,
                                    After {
                                        voters,
                                        healthy: up
                                    }
                                );
                            }
                            Err(Refusal::LastVoter) => assert_eq!(voters, 0),
                            Err(Refusal::NoQuorum { needed: q, .. }) => {
                                assert!(voters > 0 && up < q && q == voters / 2 + 1)
                            }
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
    }

    /// A restart stops its member for a while: with one of three voters
    /// crash-looping, restarting a healthy one would leave one of three.
    #[test]
    fn restart_counts_the_member_as_down() {
        let list: Vec<MemberInfo> = (1..=3).map(|i| member(i, Kind::Voter)).collect();
        let all = BTreeSet::from([1, 2, 3]);
        let two = BTreeSet::from([1, 3]);
        assert!(check_step(&list, &[], &[1], &all).is_ok());
        assert_eq!(
            check_step(&list, &[], &[1], &two),
            Err(Refusal::NoQuorum {
                after: After {
                    voters: 3,
                    healthy: 1
                },
                needed: 2
            })
        );
        // Restarting the crash-looping member itself costs nothing, even
        // when quorum is lost already (it can only help).
        assert!(check_step(&list, &[], &[2], &two).is_ok());
        assert!(check_step(&list, &[], &[2], &BTreeSet::from([1])).is_ok());
        assert!(check_step(&list, &[], &[1], &BTreeSet::from([1])).is_err());
        // Removing a member while another is down: 1 of 2 is not a majority.
        assert!(check_step(&list, &[3], &[], &two).is_err());
        // A cluster of one voter: its restart pauses it, and is allowed;
        // its removal is not.
        let one = vec![member(1, Kind::Voter), member(2, Kind::Learner)];
        let up = BTreeSet::from([1, 2]);
        assert!(check_step(&one, &[], &[1], &up).is_ok());
        assert_eq!(check_step(&one, &[1], &[], &up), Err(Refusal::LastVoter));
    }

    /// Regression: two dead learners being removed from a healthy cluster of
    /// three voters were counted as voters (and, with fewer voters, the
    /// subtraction underflowed).
    #[test]
    fn dead_learners_do_not_count() {
        let list = vec![
            member(1, Kind::Voter),
            member(2, Kind::Voter),
            member(3, Kind::Voter),
            member(4, Kind::Learner),
            member(5, Kind::Learner),
        ];
        let healthy = BTreeSet::from([1, 2, 3]);
        assert_eq!(
            check_removal(&list, &[4, 5], &healthy),
            Ok(After {
                voters: 3,
                healthy: 3
            })
        );
        let one = vec![
            member(1, Kind::Voter),
            member(4, Kind::Learner),
            member(5, Kind::Learner),
        ];
        assert!(check_removal(&one, &[4, 5], &BTreeSet::from([1])).is_ok());
        assert_eq!(
            check_removal(&one, &[1], &BTreeSet::from([1])),
            Err(Refusal::LastVoter)
        );
    }
}
