//! The cluster around a member: its client URLs, its member list and how
//! a member starts on it, the live quorum gate before a stop, moving
//! leadership off a member, where to read a snapshot from.

use super::*;
use crate::error::Error;
use crate::exec::Env;
use crate::facts::printable;
use crate::inventory::{Member, Version, valid_url};
use crate::member_config::Bootstrap;
use crate::plan::{inventory_member, label, quorum};
use crate::progress::Task;
use crate::ssh::HostError;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Client URLs of the members known to serve.
pub(in crate::exec) async fn urls(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for name in live {
        out.push(env.url(env.member(name)?).await?);
    }
    if out.is_empty() {
        return Err(Error::Blocked(
            "no member of the cluster is known to be running".into(),
        ));
    }
    Ok(out)
}

/// The cluster's client URLs (through the members in `live`), its member
/// list, and how `m` starts on the data it has (`existing`). The list is
/// read with retries: right after another member's restart, a cached
/// connection to it may fail once.
pub(in crate::exec) async fn existing_member(
    env: &Env<'_>,
    m: &Member,
    live: &BTreeSet<String>,
) -> Result<(Vec<String>, Vec<crate::facts::MemberInfo>, Bootstrap), Error> {
    let cluster = urls(env, live).await?;
    let list = retry(&m.name, "read member list", Duration::from_secs(30), || {
        env.etcd.member_list(&cluster)
    })
    .await?;
    let b = Bootstrap {
        initial_cluster: crate::plan::initial_cluster(&list, env.inv, m),
        state: "existing",
    };
    Ok((cluster, list, b))
}

/// Before a member restarts: if it leads (and is not alone), leadership moves
/// to another member first, so that the restart needs no election.
pub(in crate::exec) async fn hand_over_if_leader(
    env: &Env<'_>,
    m: &Member,
    url: &str,
    st: &crate::facts::MemberStatus,
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
/// leader already runs the target version), else to the most caught-up
/// voter; waits until the move took effect. The leader transfers: no election.
pub(in crate::exec) async fn move_leadership(
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
        if let Ok(s) = env.etcd.check_health(&u).await
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
    retry(leader, "move leadership", Duration::from_secs(15), || {
        env.etcd.move_leader(url, target)
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(s) = env.etcd.status(url).await
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

/// What each member in `live` that answers says of itself, with its name
/// and client URL.
pub(in crate::exec) async fn statuses(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<Vec<(String, String, crate::facts::MemberStatus)>, Error> {
    let mut found = Vec::new();
    for name in live {
        let u = env.url(env.member(name)?).await?;
        if let Ok(s) = env.etcd.status(&u).await {
            found.push((name.clone(), u, s));
        }
    }
    Ok(found)
}

/// The client URL of the current leader, among the inventory members in `live`.
pub(in crate::exec) async fn leader_url(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<String, Error> {
    let found = statuses(env, live).await?;
    let leader_id = found
        .iter()
        .rev()
        .map(|(_, _, s)| s.leader)
        .find(|l| *l != 0)
        .unwrap_or(0);
    found
        .into_iter()
        .find(|(_, _, s)| s.id == leader_id)
        .map(|(_, u, _)| u)
        .ok_or_else(|| Error::Blocked("no leader among the members that answer".into()))
}

/// Where the snapshot before a version change is read from: the most
/// caught-up follower, once it has applied every entry the leader had
/// committed when asked (so it holds every write acknowledged before); the
/// leader when no follower gets there within a few seconds, or there is none.
/// Streaming a database keeps a read transaction open for the whole stream,
/// and bbolt blocks the member's writes behind it when the file must grow:
/// on a follower, that delays no client's write.
pub(crate) async fn snapshot_source(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<(String, String), Error> {
    let found = statuses(env, live).await?;
    let Some(leader) = found
        .iter()
        .find(|(_, _, s)| s.leader == s.id && s.leader != 0)
    else {
        return Err(Error::Blocked(
            "no leader among the members that answer".into(),
        ));
    };
    let committed = leader.2.raft_index;
    let mut followers: Vec<&(String, String, crate::facts::MemberStatus)> = found
        .iter()
        .filter(|(_, _, s)| s.id != s.leader && s.healthy())
        .collect();
    followers.sort_by_key(|(_, _, s)| std::cmp::Reverse(s.raft_applied_index));
    if let Some((name, url, _)) = followers.first() {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(s) = env.etcd.status(url).await
                && s.raft_applied_index >= committed
            {
                return Ok((name.clone(), url.clone()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok((leader.0.clone(), leader.1.clone()))
}

/// Just before a step stops `stopping` for a while (a restart) or removes
/// `removing`: reads the member list and every voter's health now, and
/// refuses the step when quorum would not survive it (`plan::quorum`),
/// naming each unhealthy member and why. Planning checked the same against
/// the facts; between the two a member may have failed.
pub(in crate::exec) async fn quorum_gate(
    env: &Env<'_>,
    host: &str,
    what: &str,
    removing: &[u64],
    stopping: &[u64],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let list = env
        .etcd
        .member_list(&urls(env, live).await?)
        .await
        .map_err(|e| etcd_err(host, "read member list", e))?;
    let probes = list.iter().filter(|e| !e.is_learner).map(|e| async move {
        let inventory = inventory_member(env.inv, e);
        let url = match inventory {
            Some(m) => env.url(m).await.ok(),
            // A URL from etcd's member list, asked only when it is one
            // etcd-deploy itself would write.
            None => e.client_urls.first().filter(|u| valid_url(u)).cloned(),
        };
        let name = label(env.inv, e);
        let health = match url {
            None => Err("no client URL to ask".to_string()),
            // Status alone is not enough: a follower cut off from the
            // leader keeps naming it; only a linearizable read shows it.
            Some(u) => match env.etcd.status(&u).await {
                Ok(s) => match s.trouble() {
                    Some(t) => Err(t),
                    None => env.etcd.cut_off(&u).await.map_or(Ok(()), Err),
                },
                Err(err) => Err(format!("does not answer: {}", err.message)),
            },
        };
        (e.id, name, health)
    });
    let answers = futures_util::future::join_all(probes).await;
    let healthy: BTreeSet<u64> = answers
        .iter()
        .filter(|(_, _, h)| h.is_ok())
        .map(|(id, ..)| *id)
        .collect();
    let Err(why) = quorum::check_step(&list, removing, stopping, &healthy) else {
        return Ok(());
    };
    let unhealthy: Vec<String> = answers
        .iter()
        .filter_map(|(_, name, h)| {
            h.as_ref()
                .err()
                .map(|w| format!("{name} ({})", printable(w)))
        })
        .collect();
    Err(Error::Blocked(format!(
        "{host}: refusing to {what}: {why}; unhealthy now: {}. Nothing was changed on {host}; bring the unhealthy members back (see `etcd-deploy status`), then run it again",
        if unhealthy.is_empty() {
            "none".to_string()
        } else {
            unhealthy.join(", ")
        }
    )))
}
