//! What every phase waits on or goes through: a member healthy, caught up
//! with the leader, leadership moved off it; retries of etcd calls while the
//! cluster settles; starting a member and reading its log when it fails.

use super::Env;
use crate::error::Error;
use crate::etcd::{self, EtcdError};
use crate::etcd_log::{log_cause, peer_trouble};
use crate::facts::printable;
use crate::inventory::{Member, Version, valid_url};
use crate::member_config::{self, Bootstrap};
use crate::plan::{inventory_member, label, quorum};
use crate::progress::Task;
use crate::remote;
use crate::runtime;
use crate::ssh::HostError;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a member may take to become healthy after a start.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a (re)started member may take to become healthy before its
/// log is read for a partition (a normal start takes 1-2 s; a member that
/// cannot reach the leader is named after this, not after the timeout).
const PEER_GRACE: Duration = Duration::from_secs(8);

/// Marks the task failed when the step fails.
pub(super) async fn guard<T>(
    task: &Task,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let r = f.await;
    if let Err(e) = &r {
        task.fail(&e.to_string());
    }
    r
}

/// Retries an etcd call that fails while the cluster settles (a learner
/// catching up, a fresh member's connections not yet counted); an error
/// etcd's classification calls permanent is reported at once.
pub(super) async fn retry<T, F, Fut>(
    host: &str,
    step: &str,
    timeout: Duration,
    mut f: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EtcdError>>,
{
    let deadline = Instant::now() + timeout;
    // Short, steady pauses: the cluster usually allows the call within seconds,
    // and every pause beyond that moment is time lost.
    let pause = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(pause).await
            }
            Err(e) => return Err(etcd_err(host, step, e)),
        }
    }
}

pub(super) fn etcd_err(host: &str, step: &str, e: EtcdError) -> Error {
    HostError::new(host, step, e.message).into()
}

/// Client URLs of the members known to serve.
pub(super) async fn urls(env: &Env<'_>, live: &BTreeSet<String>) -> Result<Vec<String>, Error> {
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

/// Renders and writes the member's config (with first-start fields if given).
pub(super) async fn write_config(
    env: &Env<'_>,
    m: &Member,
    b: Option<&Bootstrap>,
    task: &Task,
) -> Result<(), Error> {
    task.step("write config");
    let r = member_config::render(env.inv, m, b)?;
    put_config(env, m, &r.config, "write config").await
}

/// The cluster's client URLs (through the members in `live`), its member
/// list, and how `m` starts on the data it has (`existing`). The list is
/// read with retries: right after another member's restart, a cached
/// connection to it may fail once.
pub(super) async fn existing_member(
    env: &Env<'_>,
    m: &Member,
    live: &BTreeSet<String>,
) -> Result<(Vec<String>, Vec<crate::facts::MemberInfo>, Bootstrap), Error> {
    let cluster = urls(env, live).await?;
    let list = retry(&m.name, "read member list", Duration::from_secs(30), || {
        etcd::member_list(&cluster)
    })
    .await?;
    let b = Bootstrap {
        initial_cluster: crate::plan::initial_cluster(&list, env.inv, m),
        state: "existing",
    };
    Ok((cluster, list, b))
}

/// Writes `config` back and restarts the member on it, healthy: the way
/// back of a config change that did not come up.
pub(super) async fn restart_with(
    env: &Env<'_>,
    m: &Member,
    config: &str,
    task: &Task,
) -> Result<(), Error> {
    put_config(env, m, config, "write the previous config").await?;
    start(env, m, true, task).await?;
    wait_healthy(env, m, task).await
}

/// Writes `text` as the member's config file (atomically, on its host).
pub(super) async fn put_config(
    env: &Env<'_>,
    m: &Member,
    text: &str,
    step: &str,
) -> Result<(), Error> {
    env.host(&m.name)?
        .run_with_input(step, &remote::write_config(m), text.as_bytes())
        .await?;
    Ok(())
}

/// Makes `m`'s next (re)start run version `v` (its runtime says how).
pub(super) async fn switch_version(env: &Env<'_>, m: &Member, v: Version) -> Result<(), Error> {
    let host = env.host(&m.name)?;
    let (script, input) = runtime::of(m).switch_version(env.templates, env.inv, m, v)?;
    let step = format!("switch to etcd {v}");
    match input {
        Some(text) => host.run_with_input(&step, &script, text.as_bytes()).await?,
        None => host.run(&step, &script).await?,
    };
    Ok(())
}

/// Starts (or restarts) the member; a failure carries its log's last lines.
pub(super) async fn start(
    env: &Env<'_>,
    m: &Member,
    restart: bool,
    task: &Task,
) -> Result<(), Error> {
    let step = if restart {
        "restart etcd"
    } else {
        "start etcd"
    };
    task.step(step);
    let host = env.host(&m.name)?;
    let script = runtime::of(m).start(env.inv, m, restart);
    if let Err(mut e) = host.run(step, &script).await {
        e.detail.push_str(&journal(env, m).await);
        return Err(e.into());
    }
    Ok(())
}

/// The last lines of the member's log, as a paragraph for an error message.
async fn journal(env: &Env<'_>, m: &Member) -> String {
    let rt = runtime::of(m);
    let Ok(host) = env.host(&m.name) else {
        return String::new();
    };
    match host.run("read the log", &rt.logs(env.inv, m)).await {
        Ok(j) if !j.trim().is_empty() => {
            let lines: Vec<&str> = j.trim_end().lines().collect();
            let tail = lines[lines.len().saturating_sub(12)..].join("\n");
            let cause = match log_cause(&j) {
                Some(c) => format!("\ncause, from its log: {c}"),
                None => String::new(),
            };
            format!(
                "{cause}\n--- last lines of the etcd {} on {} ---\n{}",
                rt.log_name(),
                host.name,
                printable_lines(&tail)
            )
        }
        _ => String::new(),
    }
}

/// Log lines from a host, control characters (but newlines) escaped.
fn printable_lines(text: &str) -> String {
    text.lines()
        .map(printable_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn printable_line(l: &str) -> String {
    l.chars()
        .take(300)
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

/// Waits until the member is healthy (see `etcd::check_health`).
pub(super) async fn wait_healthy(env: &Env<'_>, m: &Member, task: &Task) -> Result<(), Error> {
    task.step("wait until healthy");
    let url = env.url(m).await?;
    let rt = runtime::of(m);
    let started = Instant::now();
    let deadline = started + HEALTH_TIMEOUT;
    let mut next_look = started + Duration::from_secs(1);
    let mut next_peer_look = started;
    loop {
        let err = match etcd::check_health(&url).await {
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
async fn cut_off_from_leader(env: &Env<'_>, m: &Member) -> Option<String> {
    // A member that hears a leader (catching up slowly, say) is not cut off.
    // (One that is not ready yet may not answer at all: asked briefly.)
    if let Ok(url) = env.url(m).await
        && let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(1), etcd::status(&url)).await
        && s.leader != 0
    {
        return None;
    }
    let others = env.inv.members.iter().filter(|o| o.name != m.name);
    let asks = others.map(|o| async move {
        let url = env.url(o).await.ok()?;
        etcd::status(&url).await.ok().map(|s| s.leader)
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
pub(super) async fn wait_caught_up(
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

/// Before a member restarts: if it leads (and is not alone), leadership moves
/// to another member first, so that the restart needs no election.
pub(super) async fn hand_over_if_leader(
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
pub(super) async fn move_leadership(
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
    retry(leader, "move leadership", Duration::from_secs(15), || {
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

/// What each member in `live` that answers says of itself, with its name
/// and client URL.
async fn statuses(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<Vec<(String, String, crate::facts::MemberStatus)>, Error> {
    let mut found = Vec::new();
    for name in live {
        let u = env.url(env.member(name)?).await?;
        if let Ok(s) = etcd::status(&u).await {
            found.push((name.clone(), u, s));
        }
    }
    Ok(found)
}

/// The client URL of the current leader, among the inventory members in `live`.
pub(super) async fn leader_url(env: &Env<'_>, live: &BTreeSet<String>) -> Result<String, Error> {
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
            if let Ok(s) = etcd::status(url).await
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
pub(super) async fn quorum_gate(
    env: &Env<'_>,
    host: &str,
    what: &str,
    removing: &[u64],
    stopping: &[u64],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let list = etcd::member_list(&urls(env, live).await?)
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
            Some(u) => match etcd::status(&u).await {
                Ok(s) => match s.trouble() {
                    Some(t) => Err(t),
                    None => etcd::cut_off(&u).await.map_or(Ok(()), Err),
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
