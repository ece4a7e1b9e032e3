//! Rolling version changes as the planner decides them: what etcd allows,
//! and in what order members go (followers first, the leader last). The
//! executor's side (switch, gates, rollback) is `exec/upgrade.rs`.
//!
//! etcd's rules (upgrade guides): one minor version at a time, every member
//! on one patch of the old minor and at least the patch etcd requires
//! before the next (3.5.26 before 3.6, 3.6.11 before 3.7); every member
//! healthy first; no learners or alarms; a mixed-version cluster can still be
//! rolled back, a fully upgraded one cannot go below its cluster version.

use super::downgrade::{DowngradeCall, downgrade_call};
use crate::facts::Facts;
use crate::inventory::{Inventory, Version};
use serde::{Deserialize, Serialize};

/// One member as the upgrade check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    pub id: u64,
    /// The version the member runs; `None` when it does not answer.
    pub version: Option<Version>,
    pub healthy: bool,
    pub learner: bool,
}

/// The cluster as the upgrade check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub members: Vec<MemberView>,
    pub leader: Option<u64>,
    /// `X.Y` from `/version`'s `etcdcluster`.
    pub cluster_version: Option<(u32, u32)>,
    /// The minor etcd's downgrade is enabled to, if it is.
    pub downgrade_target: Option<(u32, u32)>,
    pub alarms: Vec<String>,
}

/// A checked rolling version change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub to: Version,
    /// Members to switch, followers first, the leader last.
    pub order: Vec<String>,
    /// The leader's name, if it is among `order` (leadership moves off it first).
    pub leader: Option<String>,
    pub downgrade: bool,
    /// What etcd's downgrade API is asked first, if anything.
    #[serde(default, skip_serializing_if = "DowngradeCall::is_none")]
    pub etcd_downgrade: DowngradeCall,
    /// 3.5 to 3.6: the first member's v2 store is checked for custom
    /// content (`etcdutl check v2store`, which needs it stopped) before it
    /// starts on 3.6, which refuses such a store.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_v2store: bool,
}

/// The patch every member of the previous minor must run before etcd
/// allows the next minor (its upgrade guides: 3.5 members at 3.5.26 or
/// later before 3.6, or "too many learner member" errors; 3.6 members at
/// 3.6.11 before 3.7).
pub const MINIMUM_BEFORE: [((u32, u32), Version); 2] = [
    (
        (3, 6),
        Version {
            major: 3,
            minor: 5,
            patch: 26,
        },
    ),
    (
        (3, 7),
        Version {
            major: 3,
            minor: 6,
            patch: 11,
        },
    ),
];

/// Why a minor upgrade to `to` is refused by etcd's own preconditions on
/// the versions members run (`pending`: those not on `to` yet), if it is.
fn minor_preconditions(pending: &[&MemberView], to: Version) -> Option<String> {
    let minor_up = pending
        .iter()
        .filter_map(|m| m.version)
        .any(|v| v.major == to.major && v.minor + 1 == to.minor);
    if !minor_up {
        return None;
    }
    let mut versions: Vec<(Version, &str)> = pending
        .iter()
        .filter_map(|m| Some((m.version?, m.name.as_str())))
        .collect();
    versions.sort();
    if versions.first().map(|v| v.0) != versions.last().map(|v| v.0) {
        let each: Vec<String> = versions.iter().map(|(v, n)| format!("{n} {v}")).collect();
        return Some(format!(
            "members run different versions ({}): a minor upgrade starts from one patch on every member; bring them to the newest {}.{} patch first",
            each.join(", "),
            to.major,
            to.minor - 1
        ));
    }
    let (old, name) = versions.first().copied()?;
    let (_, min) = MINIMUM_BEFORE
        .iter()
        .find(|(minor, _)| *minor == (to.major, to.minor))?;
    (old < *min).then(|| {
        format!(
            "{name} runs {old}; etcd requires every {}.{} member at {min} or later before {}.{} (its upgrade guide): upgrade to the newest {}.{} patch first (`etcd-deploy upgrade --to {}.{}.x`)",
            old.major, old.minor, to.major, to.minor, old.major, old.minor, old.major, old.minor
        )
    })
}

/// The legs of a version change from `running` (what every member runs) to
/// `to`, one minor at a time as etcd requires: first the newest patch of the
/// current minor when etcd's minimum before the next is not met, then the
/// newest patch of each minor in between (`newest`: of a minor, as this
/// build knows it), then `to`. A patch change, a single minor step from the
/// required patch, or a downgrade is one leg; so is a chain through a minor
/// whose newest patch is unknown (the check then refuses it, naming why).
pub fn legs(
    running: Version,
    to: Version,
    newest: impl Fn(u32, u32) -> Option<Version>,
) -> Vec<Version> {
    if to <= running || to.major != running.major {
        return vec![to];
    }
    let mut legs = Vec::new();
    let mut at = running;
    while at.minor < to.minor {
        let next = at.minor + 1;
        let minimum = MINIMUM_BEFORE
            .iter()
            .find(|(m, _)| *m == (at.major, next))
            .map(|(_, v)| *v);
        if minimum.is_some_and(|min| at < min) {
            match newest(at.major, at.minor).filter(|n| Some(*n) >= minimum) {
                Some(patch) => {
                    legs.push(patch);
                    at = patch;
                }
                None => return vec![to],
            }
            continue;
        }
        if next == to.minor {
            break;
        }
        match newest(at.major, next) {
            Some(patch) => {
                legs.push(patch);
                at = patch;
            }
            None => return vec![to],
        }
    }
    legs.push(to);
    legs
}

/// Decides whether moving every member to `to` is allowed, and in what order.
pub fn check(view: &ClusterView, to: Version, allow_downgrade: bool) -> Result<Rollout, String> {
    if view.members.is_empty() {
        return Err("no member answers; an upgrade needs a healthy cluster".into());
    }
    if !view.alarms.is_empty() {
        return Err(format!(
            "alarms are raised ({}); resolve them (etcdctl alarm list / disarm) before upgrading",
            view.alarms.join(", ")
        ));
    }
    let unhealthy: Vec<&str> = view
        .members
        .iter()
        .filter(|m| !m.healthy)
        .map(|m| m.name.as_str())
        .collect();
    if !unhealthy.is_empty() {
        return Err(format!(
            "not every member is healthy ({}); fix that first, then upgrade",
            unhealthy.join(", ")
        ));
    }
    if let Some(l) = view.members.iter().find(|m| m.learner) {
        return Err(format!(
            "{} is a learner; promote it (etcd-deploy apply) or remove it before upgrading",
            l.name
        ));
    }
    if to.major != 3 {
        return Err(format!("etcd {to} is not supported"));
    }
    let mut downgrade = false;
    for m in &view.members {
        let Some(v) = m.version else { continue };
        if to > v && (to.minor > v.minor + 1 || to.major != v.major) {
            return Err(format!(
                "{} runs {v}; etcd upgrades one minor version at a time: go to the latest {}.{} patch first, then {to} (`etcd-deploy upgrade --to {to}` goes through each minor in turn)",
                m.name,
                v.major,
                v.minor + 1
            ));
        }
        if to < v && (to.major != v.major || v.minor > to.minor + 1) {
            return Err(format!(
                "{} runs {v}; etcd downgrades one minor version at a time: go to the newest {}.{} patch first (`etcd-deploy downgrade --to {to}` goes through each minor in turn)",
                m.name,
                v.major,
                v.minor.saturating_sub(1)
            ));
        }
        if to < v {
            downgrade = true;
        }
    }
    let pending: Vec<&MemberView> = view
        .members
        .iter()
        .filter(|m| m.version != Some(to))
        .collect();
    if let Some(why) = minor_preconditions(&pending, to) {
        return Err(why);
    }
    let etcd_downgrade = downgrade_call(view, to, downgrade, allow_downgrade)?;
    let pending = |m: &&MemberView| m.version != Some(to);
    let mut order: Vec<String> = view
        .members
        .iter()
        .filter(pending)
        .filter(|m| Some(m.id) != view.leader)
        .map(|m| m.name.clone())
        .collect();
    let leader = view
        .members
        .iter()
        .filter(pending)
        .find(|m| Some(m.id) == view.leader)
        .map(|m| m.name.clone());
    order.extend(leader.clone());
    let check_v2store = (to.major, to.minor) == (3, 6)
        && view
            .members
            .iter()
            .any(|m| order.contains(&m.name) && m.version.is_some_and(|v| v.minor == 5));
    Ok(Rollout {
        to,
        order,
        leader,
        downgrade,
        etcd_downgrade,
        check_v2store,
    })
}

/// The cluster as the upgrade check needs it, from the facts.
pub fn view(inv: &Inventory, facts: &Facts) -> ClusterView {
    let members = inv
        .members
        .iter()
        .filter_map(|m| {
            let e = facts.cluster.entry(m)?;
            let st = facts.cluster.status.get(&m.name);
            Some(MemberView {
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
    let downgrade_target = facts
        .cluster
        .downgrade_target()
        .and_then(Version::parse)
        .map(|v| (v.major, v.minor));
    ClusterView {
        members,
        leader: facts.cluster.leader(),
        cluster_version,
        downgrade_target,
        alarms: facts.cluster.alarms.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    fn view(versions: &[&str], leader: usize) -> ClusterView {
        ClusterView {
            members: versions
                .iter()
                .enumerate()
                .map(|(i, ver)| MemberView {
                    name: format!("etcd-{}", i + 1),
                    id: i as u64 + 1,
                    version: Some(v(ver)),
                    healthy: true,
                    learner: false,
                })
                .collect(),
            leader: Some(leader as u64 + 1),
            cluster_version: Some((v(versions[0]).major, v(versions[0]).minor)),
            downgrade_target: None,
            alarms: vec![],
        }
    }

    #[test]
    fn followers_first_leader_last() {
        let r = check(&view(&["3.5.0", "3.5.0", "3.5.0"], 0), v("3.5.1"), false).expect("allowed");
        assert_eq!(r.order, ["etcd-2", "etcd-3", "etcd-1"]);
        assert_eq!(r.leader.as_deref(), Some("etcd-1"));
    }

    #[test]
    fn resumes_by_skipping_upgraded_members() {
        let r = check(&view(&["3.5.1", "3.5.0", "3.5.0"], 2), v("3.5.1"), false).expect("allowed");
        assert_eq!(r.order, ["etcd-2", "etcd-3"]);
        let done =
            check(&view(&["3.5.1", "3.5.1", "3.5.1"], 0), v("3.5.1"), false).expect("allowed");
        assert!(done.order.is_empty() && done.leader.is_none());
    }

    #[test]
    fn one_minor_at_a_time() {
        assert!(check(&view(&["3.4.23"; 3], 0), v("3.5.1"), false).is_ok());
        let e = check(&view(&["3.4.23"; 3], 0), v("3.6.0"), false).expect_err("skips 3.5");
        assert!(e.contains("etcd-1 runs 3.4.23; etcd upgrades one minor version at a time: go to the latest 3.5 patch first"), "{e}");
    }

    /// A chained upgrade's legs: one minor at a time, through etcd's
    /// required patches and each minor's newest patch.
    #[test]
    fn a_chain_goes_one_minor_at_a_time_through_the_required_patches() {
        let newest = |major: u32, minor: u32| match (major, minor) {
            (3, 5) => Some(v("3.5.36")),
            (3, 6) => Some(v("3.6.17")),
            (3, 7) => Some(v("3.7.4")),
            _ => None,
        };
        let cases: [(&str, &str, &[&str]); 8] = [
            ("3.5.1", "3.7.4", &["3.5.36", "3.6.17", "3.7.4"]),
            ("3.5.36", "3.7.4", &["3.6.17", "3.7.4"]),
            ("3.5.26", "3.6.0", &["3.6.0"]),
            ("3.5.1", "3.6.17", &["3.5.36", "3.6.17"]),
            ("3.6.8", "3.7.4", &["3.6.17", "3.7.4"]),
            ("3.4.23", "3.5.1", &["3.5.1"]),
            ("3.5.0", "3.5.1", &["3.5.1"]),
            ("3.7.4", "3.6.17", &["3.6.17"]),
        ];
        for (running, to, want) in cases {
            let got: Vec<String> = legs(v(running), v(to), newest)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{running} -> {to}");
        }
        // A minor whose newest patch is unknown: one leg, refused by the check.
        assert_eq!(legs(v("3.4.23"), v("3.6.0"), |_, _| None), [v("3.6.0")]);
    }

    /// etcd's own preconditions for the next minor (issue 24).
    #[test]
    fn a_minor_upgrade_needs_etcd_s_minimum_patch_on_every_member() {
        let cases: [(&[&str], &str, Option<&str>); 7] = [
            (&["3.5.36"; 3], "3.6.17", None),
            (&["3.5.26"; 3], "3.6.0", None),
            (
                &["3.5.25"; 3],
                "3.6.17",
                Some(
                    "etcd-1 runs 3.5.25; etcd requires every 3.5 member at 3.5.26 or later before 3.6 (its upgrade guide): upgrade to the newest 3.5 patch first (`etcd-deploy upgrade --to 3.5.x`)",
                ),
            ),
            (
                &["3.6.8"; 3],
                "3.7.4",
                Some(
                    "etcd-1 runs 3.6.8; etcd requires every 3.6 member at 3.6.11 or later before 3.7",
                ),
            ),
            (&["3.6.17"; 3], "3.7.4", None),
            (
                &["3.5.36", "3.5.26", "3.5.36"],
                "3.6.17",
                Some(
                    "members run different versions (etcd-2 3.5.26, etcd-1 3.5.36, etcd-3 3.5.36): a minor upgrade starts from one patch on every member",
                ),
            ),
            // Resuming: members already on the target are not counted.
            (&["3.6.17", "3.5.36", "3.5.36"], "3.6.17", None),
        ];
        for (versions, to, want) in cases {
            let got = check(&view(versions, 0), v(to), false).err();
            match want {
                None => assert_eq!(got, None, "{versions:?} -> {to}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|e| e.contains(w)),
                    "{versions:?} -> {to}: {got:?}"
                ),
            }
        }
        // Patch upgrades within a minor are not minor upgrades.
        assert!(check(&view(&["3.5.1", "3.5.0", "3.5.0"], 0), v("3.5.36"), false).is_ok());
    }

    #[test]
    fn downgrade_needs_flag_and_cluster_version() {
        let e = check(&view(&["3.5.1"; 3], 0), v("3.5.0"), false).expect_err("downgrade");
        assert!(e.contains("--allow-downgrade"), "{e}");
        assert!(
            check(&view(&["3.5.1"; 3], 0), v("3.5.0"), true)
                .expect("patch downgrade")
                .downgrade
        );
        let e = check(&view(&["3.5.1"; 3], 0), v("3.4.23"), true).expect_err("minor downgrade");
        assert!(e.contains("the cluster version is 3.5"), "{e}");
    }

    /// etcd's downgrade procedure as the plan decides it: enable, resume an
    /// enabled one, cancel it when the target goes back up.
    #[test]
    fn a_minor_downgrade_goes_through_etcd_s_downgrade_api() {
        type Case<'a> = (
            &'a [&'a str],
            (u32, u32),
            Option<(u32, u32)>,
            &'a str,
            bool,
            Result<(DowngradeCall, &'a [&'a str]), &'a str>,
        );
        let none: &[&str] = &[];
        let cases: [Case; 9] = [
            (
                &["3.6.17"; 3],
                (3, 6),
                None,
                "3.5.36",
                true,
                Ok((
                    DowngradeCall::Enable { major: 3, minor: 5 },
                    &["etcd-2", "etcd-3", "etcd-1"],
                )),
            ),
            (
                &["3.7.4"; 3],
                (3, 7),
                None,
                "3.6.17",
                true,
                Ok((
                    DowngradeCall::Enable { major: 3, minor: 6 },
                    &["etcd-2", "etcd-3", "etcd-1"],
                )),
            ),
            (
                &["3.6.17"; 3],
                (3, 6),
                None,
                "3.5.36",
                false,
                Err("`etcd-deploy downgrade --to 3.5.36`"),
            ),
            (
                &["3.7.4"; 3],
                (3, 7),
                None,
                "3.5.36",
                true,
                Err("etcd downgrades one minor version at a time"),
            ),
            // Interrupted after enable and one restart: go on.
            (
                &["3.6.17", "3.5.36", "3.6.17"],
                (3, 5),
                Some((3, 5)),
                "3.5.36",
                true,
                Ok((
                    DowngradeCall::Resume { major: 3, minor: 5 },
                    &["etcd-3", "etcd-1"],
                )),
            ),
            // The target back up: cancel, then the downgraded member back.
            (
                &["3.6.17", "3.5.36", "3.6.17"],
                (3, 5),
                Some((3, 5)),
                "3.6.17",
                false,
                Ok((DowngradeCall::Cancel { major: 3, minor: 5 }, &["etcd-2"])),
            ),
            (
                &["3.6.17"; 3],
                (3, 5),
                Some((3, 5)),
                "3.6.17",
                false,
                Ok((DowngradeCall::Cancel { major: 3, minor: 5 }, none)),
            ),
            // A partial upgrade rolled back: the cluster version never moved.
            (
                &["3.6.17", "3.5.36", "3.5.36"],
                (3, 5),
                None,
                "3.5.36",
                true,
                Ok((DowngradeCall::None, &["etcd-1"])),
            ),
            (
                &["3.5.1"; 3],
                (3, 5),
                None,
                "3.4.23",
                true,
                Err("etcd supports a minor downgrade (its downgrade API) only from 3.6 on"),
            ),
        ];
        for (versions, cv, dg, to, allow, want) in cases {
            let mut c = view(versions, 0);
            c.cluster_version = Some(cv);
            c.downgrade_target = dg;
            let got = check(&c, v(to), allow);
            match (got, want) {
                (Ok(r), Ok((call, order))) => {
                    assert_eq!(r.etcd_downgrade, call, "{versions:?} -> {to}");
                    assert_eq!(r.order, order, "{versions:?} -> {to}");
                }
                (Err(e), Err(w)) => assert!(e.contains(w), "{versions:?} -> {to}: {e}"),
                (got, want) => panic!("{versions:?} -> {to}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn refuses_unhealthy_learner_or_alarm() {
        let mut c = view(&["3.5.0"; 3], 0);
        c.members[1].healthy = false;
        assert!(
            check(&c, v("3.5.1"), false)
                .expect_err("unhealthy")
                .contains("not every member is healthy (etcd-2)")
        );
        let mut c = view(&["3.5.0"; 3], 0);
        c.members[2].learner = true;
        assert!(
            check(&c, v("3.5.1"), false)
                .expect_err("learner")
                .contains("etcd-3 is a learner")
        );
        let mut c = view(&["3.5.0"; 3], 0);
        c.alarms.push("NOSPACE on etcd-2".into());
        assert!(
            check(&c, v("3.5.1"), false)
                .expect_err("alarm")
                .contains("alarms are raised (NOSPACE on etcd-2)")
        );
    }
}
