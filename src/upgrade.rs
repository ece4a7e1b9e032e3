//! Rolling version changes: what etcd allows (pure checks), in what order
//! members go (followers first, the leader last), and the per-member switch
//! with its health gate and rollback.
//!
//! etcd's rules (upgrade guide): one minor version at a time; every member
//! healthy first; no learners or alarms; a mixed-version cluster can still be
//! rolled back, a fully upgraded one cannot go below its cluster version.

use crate::error::Error;
use crate::etcd;
use crate::exec::{self, Env};
use crate::inventory::{Member, Version};
use crate::progress::Task;
use crate::snapshot;
use crate::ssh::HostError;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

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
    pub alarms: Vec<String>,
}

/// A checked rolling version change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    pub to: Version,
    /// Members to switch, followers first, the leader last.
    pub order: Vec<String>,
    /// The leader's name, if it is among `order` (leadership moves off it first).
    pub leader: Option<String>,
    pub downgrade: bool,
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
                "{} runs {v}; etcd upgrades one minor version at a time: go to the latest {}.{} patch first, then {to}",
                m.name,
                v.major,
                v.minor + 1
            ));
        }
        if to < v {
            downgrade = true;
        }
    }
    if downgrade {
        if !allow_downgrade {
            return Err(format!(
                "{to} is older than what the cluster runs; pass --allow-downgrade if you mean it"
            ));
        }
        if let Some((maj, min)) = view.cluster_version
            && (to.major, to.minor) < (maj, min)
        {
            return Err(format!(
                "the cluster version is {maj}.{min}: members older than that cannot join it (a minor downgrade needs etcd's downgrade API); only patch downgrades within {maj}.{min} are possible"
            ));
        }
    }
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
    Ok(Rollout {
        to,
        order,
        leader,
        downgrade,
    })
}

// --- execution ---------------------------------------------------------------

/// Runs a checked rollout: snapshot, then each member in order.
pub(crate) async fn run(
    env: &Env<'_>,
    rollout: &Rollout,
    from: &BTreeMap<String, Version>,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let cluster = exec::urls(env, live).await?;
    if let Some(dir) = env.snapshot_dir {
        let leader = leader_url(env, live).await?;
        let saved = snapshot::save(&leader, dir, &env.inv.cluster.name)
            .await
            .map_err(|e| {
                Error::Blocked(format!("snapshot before the version change failed: {e}"))
            })?;
        env.progress.line(&format!(
            "snapshot saved: {} ({} bytes, revision {})",
            saved.path.display(),
            saved.bytes,
            saved.revision
        ));
    }
    for name in &rollout.order {
        let m = env.member(name)?;
        let task = env.progress.task(name);
        exec::guard(
            &task,
            switch_member(env, m, rollout.to, from.get(name).copied(), live, &task),
        )
        .await?;
        task.done(&format!("runs etcd {}, healthy, caught up", rollout.to));
    }
    // etcd raises the cluster version by itself once every member runs the new
    // one (its leader checks every few seconds).
    let want = (rollout.to.major, rollout.to.minor);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = etcd::versions(&cluster[0])
            .await
            .map_err(|e| Error::Blocked(format!("reading the cluster version: {e}")))?;
        let got = Version::parse(&v.etcdcluster).map(|c| (c.major, c.minor));
        if got == Some(want) || rollout.downgrade || Instant::now() > deadline {
            env.progress.line(&format!(
                "cluster version {} (every member runs etcd {})",
                v.etcdcluster, rollout.to
            ));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Moves one member to `to`: leadership off it first, then link switch,
/// restart, health, version and catch-up checks; back to `old` on failure.
async fn switch_member(
    env: &Env<'_>,
    m: &Member,
    to: Version,
    old: Option<Version>,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let url = env.url(m).await?;
    let st = etcd::status(&url)
        .await
        .map_err(|e| exec::etcd_err(&m.name, "read status", e))?;
    hand_over_if_leader(env, m, &url, &st, Some(to), live, task).await?;
    task.step(&format!("switch to etcd {to} and restart"));
    exec::switch_version(env, m, to).await?;
    let attempt = async {
        exec::start(env, m, true, task).await?;
        exec::wait_healthy(env, m, task).await?;
        let st = etcd::status(&url)
            .await
            .map_err(|e| exec::etcd_err(&m.name, "read status", e))?;
        if st.version != to.to_string() {
            return Err(HostError::new(
                &m.name,
                "check version",
                format!("reports {} after the restart, not {to}", st.version),
            )
            .into());
        }
        wait_caught_up(env, m, &url, live, task).await
    };
    let Err(err) = attempt.await else {
        return Ok(());
    };
    let Some(old) = old else { return Err(err) };
    task.step(&format!("roll back to etcd {old}"));
    let back = async {
        exec::switch_version(env, m, old).await?;
        exec::start(env, m, true, task).await?;
        exec::wait_healthy(env, m, task).await
    };
    let outcome = match back.await {
        Ok(()) => format!(
            "rolled back to etcd {old}; the member is healthy on {old} and the rollout stopped here"
        ),
        Err(e) => format!("rolling back to etcd {old} failed too: {e}"),
    };
    Err(HostError::new(
        &m.name,
        &format!("upgrade to {to}"),
        format!("{err}; {outcome}"),
    )
    .into())
}

/// Before a member restarts: if it leads (and is not alone), leadership moves
/// to another member first, so that the restart needs no election.
pub(crate) async fn hand_over_if_leader(
    env: &Env<'_>,
    m: &Member,
    url: &str,
    st: &etcd::MemberStatus,
    prefer: Option<Version>,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    if st.leader == st.id && live.len() > 1 {
        task.step("move leadership to another member");
        move_leadership(env, &m.name, url, st.id, prefer, live).await?;
    }
    Ok(())
}

/// Hands leadership to an upgraded member when there is one (so the new
/// leader already runs the target version), else to any other voter; waits
/// until the move took effect. No election is needed: the leader transfers.
pub(crate) async fn move_leadership(
    env: &Env<'_>,
    leader: &str,
    url: &str,
    leader_id: u64,
    prefer: Option<Version>,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let mut candidates = Vec::new();
    for name in live.iter().filter(|n| n.as_str() != leader) {
        let Ok(u) = env.url(env.member(name)?).await else {
            continue;
        };
        if let Ok(s) = etcd::check_health(&u).await
            && !s.is_learner
        {
            candidates.push((
                prefer.is_some_and(|v| s.version == v.to_string()),
                s.raft_applied_index,
                s.id,
            ));
        }
    }
    candidates.sort();
    let Some(&(_, _, target)) = candidates.last() else {
        return Err(HostError::new(
            leader,
            "move leadership",
            "no other healthy voting member to take over",
        )
        .into());
    };
    exec::retry(leader, "move leadership", Duration::from_secs(15), || {
        etcd::move_leader(url, target)
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(s) = etcd::status(url).await
            && s.leader != 0
            && s.leader != leader_id
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HostError::new(
                leader,
                "move leadership",
                "leadership did not move within 15s",
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the member has applied everything the leader had committed.
async fn wait_caught_up(
    env: &Env<'_>,
    m: &Member,
    url: &str,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    task.step("wait until caught up with the leader");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let leader = leader_url(env, live).await?;
        let (l, me) = (etcd::status(&leader).await, etcd::status(url).await);
        if let (Ok(l), Ok(me)) = (&l, &me)
            && me.raft_applied_index >= l.raft_index
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HostError::new(
                &m.name,
                "wait until caught up",
                format!("leader {l:?}, member {me:?}"),
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The client URL of the current leader.
pub(crate) async fn leader_url(env: &Env<'_>, live: &BTreeSet<String>) -> Result<String, Error> {
    let mut leader_id = 0;
    let mut by_id = BTreeMap::new();
    for name in live {
        let u = env.url(env.member(name)?).await?;
        if let Ok(s) = etcd::status(&u).await {
            if s.leader != 0 {
                leader_id = s.leader;
            }
            by_id.insert(s.id, u);
        }
    }
    by_id
        .remove(&leader_id)
        .ok_or_else(|| Error::Blocked("no leader among the members that answer".into()))
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
