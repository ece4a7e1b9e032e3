//! Members entering the cluster: the first one bootstrapping it, stopped
//! members started again, learners added, started and promoted once they
//! have caught up.

use super::Env;
use super::gates::{etcd_err, guard, retry, start, urls, wait_healthy, write_config};
use crate::error::Error;
use crate::etcd::{EtcdError, Kind};
use crate::inventory::Member;
use crate::member_config::Bootstrap;
use crate::plan::initial_cluster;
use crate::progress::Task;
use crate::remote;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a learner may take to catch up before its promotion.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the first member of a new cluster (`initial-cluster-state new`).
pub(super) async fn bootstrap(
    env: &Env<'_>,
    host: &str,
    live: &mut BTreeSet<String>,
) -> Result<(), Error> {
    let m = env.member(host)?;
    let task = env.progress.task(host);
    let b = Bootstrap {
        initial_cluster: format!("{}={}", m.name, m.peer_url()),
        state: "new",
    };
    guard(&task, async {
        write_config(env, m, Some(&b), &task).await?;
        start(env, m, false, &task).await?;
        wait_healthy(env, m, &task).await
    })
    .await?;
    task.done("bootstrapped: first member of a new cluster");
    live.insert(host.to_string());
    Ok(())
}

/// Starts members that are in the cluster but stopped, all at once (when
/// none answers, quorum may need several of them).
pub(super) async fn start_stopped(
    env: &Env<'_>,
    hosts: &[String],
    configs: &[String],
    live: &mut BTreeSet<String>,
) -> Result<(), Error> {
    let jobs = hosts.iter().map(|h| async move {
        let m = env.member(h)?;
        let task = env.progress.task(h);
        let r = guard(&task, async {
            if configs.contains(h) {
                // On its own data, which holds the membership: no
                // first-start fields.
                write_config(env, m, None, &task).await?;
            }
            start(env, m, false, &task).await?;
            wait_healthy(env, m, &task).await
        })
        .await;
        if r.is_ok() {
            task.done("started, healthy");
        }
        r
    });
    futures_util::future::try_join_all(jobs).await?;
    live.extend(hosts.iter().cloned());
    Ok(())
}

/// Promotes a learner that is running already.
pub(super) async fn promote_step(
    env: &Env<'_>,
    host: &str,
    id: u64,
    live: &mut BTreeSet<String>,
) -> Result<(), Error> {
    let m = env.member(host)?;
    let task = env.progress.task(host);
    guard(&task, promote(env, m, id, live, &task)).await?;
    task.done("promoted to voting member");
    live.insert(host.to_string());
    Ok(())
}

/// Adds the member as a learner (unless `added`), starts it with the
/// current membership, waits until healthy, promotes it.
pub(super) async fn join(
    env: &Env<'_>,
    host: &str,
    added: Option<u64>,
    stale_data: bool,
    running: bool,
    live: &mut BTreeSet<String>,
) -> Result<(), Error> {
    let m = env.member(host)?;
    let task = env.progress.task(host);
    guard(
        &task,
        join_member(env, m, added, stale_data, running, live, &task),
    )
    .await?;
    task.done("joined, healthy, voting");
    live.insert(host.to_string());
    Ok(())
}

async fn join_member(
    env: &Env<'_>,
    m: &Member,
    added: Option<u64>,
    stale_data: bool,
    running: bool,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    let id = match added {
        Some(id) => id,
        None => {
            task.step("member add (learner)");
            let peer = m.peer_url();
            retry(&m.name, "member add", PROMOTE_TIMEOUT, || async {
                match env.etcd.add_learner(&cluster, &peer).await {
                    // An earlier attempt whose answer was lost (a client timeout)
                    // did add it: the unstarted entry with its peer URL is ours.
                    Err(e) if e.kind == Kind::PeerUrlExists => env
                        .etcd
                        .member_list(&cluster)
                        .await?
                        .iter()
                        .find(|x| x.peer_urls.contains(&peer) && !x.started())
                        .map(|x| x.id)
                        .ok_or(e),
                    r => r,
                }
            })
            .await?
        }
    };
    if !running {
        if stale_data {
            task.step("move old data aside");
            env.host(&m.name)?
                .run("move old data aside", &remote::move_data_aside(m))
                .await?;
        }
        let list = env
            .etcd
            .member_list(&cluster)
            .await
            .map_err(|e| etcd_err(&m.name, "read member list", e))?;
        let b = Bootstrap {
            initial_cluster: initial_cluster(&list, env.inv, m),
            state: "existing",
        };
        write_config(env, m, Some(&b), task).await?;
        start(env, m, false, task).await?;
    }
    wait_healthy(env, m, task).await?;
    promote(env, m, id, live, task).await
}

async fn promote(
    env: &Env<'_>,
    m: &Member,
    id: u64,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    task.step("promote learner (once caught up)");
    let cluster = urls(env, live).await?;
    let url = env.url(m).await?;
    // etcd refuses the promotion until the learner has caught up, which for
    // a large database takes as long as sending it: the wait goes on while
    // the learner makes progress, and gives up only when it stops.
    let mut deadline = Instant::now() + PROMOTE_TIMEOUT;
    let mut seen = (0, 0);
    let mut said = Instant::now();
    loop {
        match env.etcd.promote(&cluster, id).await {
            // An earlier, interrupted run may have promoted it already.
            Ok(()) => break,
            Err(e) if e.kind == Kind::NotALearner => break,
            Err(e) if !e.is_transient() => return Err(etcd_err(&m.name, "member promote", e)),
            Err(e) => {
                if let Ok(st) = env.etcd.status(&url).await {
                    let now = (st.raft_applied_index, st.db_size);
                    if now != seen {
                        seen = now;
                        deadline = Instant::now() + PROMOTE_TIMEOUT;
                        if said.elapsed() > Duration::from_secs(5) {
                            said = Instant::now();
                            task.step(&format!(
                                "learner catching up: applied index {}, database {} MB",
                                st.raft_applied_index,
                                st.db_size >> 20
                            ));
                        }
                    }
                }
                if Instant::now() > deadline {
                    return Err(etcd_err(
                        &m.name,
                        "member promote",
                        EtcdError::new(format!(
                            "{}; the learner made no progress for {} s",
                            e.message,
                            PROMOTE_TIMEOUT.as_secs()
                        )),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // The leader has committed the promotion; the member applies it a moment
    // later, and until then refuses a voter's requests ("rpc not supported
    // for learner"). Done means the member itself says it votes.
    retry(&m.name, "wait until it votes", PROMOTE_TIMEOUT, || async {
        match env.etcd.status(&url).await {
            Ok(st) if st.is_learner => Err(EtcdError::transient("still a learner in its own view")),
            Ok(_) => Ok(()),
            Err(e) => Err(e.retried()),
        }
    })
    .await?;
    wait_healthy(env, m, task).await
}
