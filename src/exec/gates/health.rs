//! Waiting on a member: healthy (or, sooner, the reason it will not be:
//! etcd keeps exiting, or it cannot reach its leader), then caught up with
//! the leader.

use super::*;
use crate::error::Error;
use crate::etcd_log::peer_trouble;
use crate::exec::Env;
use crate::inventory::Member;
use crate::progress::Task;
use crate::runtime;
use crate::ssh::HostError;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a member may take to become healthy after a start.
pub(in crate::exec) const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a (re)started member may take to become healthy before its
/// log is read for a partition (a normal start takes 1-2 s; a member that
/// cannot reach the leader is named after this, not after the timeout).
pub(in crate::exec) const PEER_GRACE: Duration = Duration::from_secs(8);

/// Waits until the member is healthy (see `env.etcd.check_health`).
pub(in crate::exec) async fn wait_healthy(
    env: &Env<'_>,
    m: &Member,
    task: &Task,
) -> Result<(), Error> {
    task.step("wait until healthy");
    let url = env.url(m).await?;
    let rt = runtime::of(m);
    let started = Instant::now();
    let deadline = started + HEALTH_TIMEOUT;
    let mut next_look = started + Duration::from_secs(1);
    let mut next_peer_look = started;
    loop {
        let err = match env.etcd.check_health(&url).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // A runtime that keeps restarting a failing etcd (instead of failing
        // the start) is looked at every second.
        if let Some(watch) = rt.watch(env.inv, m)
            && Instant::now() >= next_look
        {
            next_look = Instant::now() + Duration::from_secs(1);
            let host = env.host(&m.name)?;
            let state = host.run("look at the member", &watch).await?;
            if let Some(why) = rt.crashed(&state) {
                let detail = format!("{why}{}", journal(env, m).await);
                return Err(HostError::new(&m.name, "wait until healthy", detail).into());
            }
        }
        // Not healthy well past a normal start: etcd's own log says
        // whether it cannot reach the leader (a partition), checked every
        // two seconds; the start is not waited out.
        if Instant::now() >= started + PEER_GRACE && Instant::now() >= next_peer_look {
            next_peer_look = Instant::now() + Duration::from_secs(2);
            if let Some(trouble) = cut_off_from_leader(env, m).await {
                let detail = format!(
                    "not healthy after {}s, and it cannot reach the leader; etcd says: {trouble}",
                    started.elapsed().as_secs()
                );
                return Err(HostError::new(&m.name, "wait until healthy", detail).into());
            }
        }
        if Instant::now() >= deadline {
            let detail = format!(
                "not healthy after {}s: {err}{}",
                HEALTH_TIMEOUT.as_secs(),
                journal(env, m).await
            );
            return Err(HostError::new(&m.name, "wait until healthy", detail).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the member's log says since its start about not reaching the
/// current leader (as the other members name it), if anything, while it
/// hears no leader itself. Nothing when no other member names a leader (a
/// cluster starting together, e.g. a restore: its members reach each other
/// only as they come up) or the member hears one.
pub(in crate::exec) async fn cut_off_from_leader(env: &Env<'_>, m: &Member) -> Option<String> {
    // A member that hears a leader (catching up slowly, say) is not cut off.
    // (One that is not ready yet may not answer at all: asked briefly.)
    if let Ok(url) = env.url(m).await
        && let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(1), env.etcd.status(&url)).await
        && s.leader != 0
    {
        return None;
    }
    let others = env.inv.members.iter().filter(|o| o.name != m.name);
    let asks = others.map(|o| async move {
        let url = env.url(o).await.ok()?;
        env.etcd.status(&url).await.ok().map(|s| s.leader)
    });
    let leader = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .find(|l| *l != 0)?;
    let host = env.host(&m.name).ok()?;
    let log = host
        .run("read the log", &runtime::of(m).logs(env.inv, m))
        .await
        .ok()?;
    peer_trouble(&log, Some(leader))
}

/// Waits until the member has applied everything the leader had committed.
pub(in crate::exec) async fn wait_caught_up(
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
        let (l, me) = (env.etcd.status(&leader).await, env.etcd.status(url).await);
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
