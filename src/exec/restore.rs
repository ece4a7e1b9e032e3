//! Disaster recovery as etcd's guide describes it: every member stopped,
//! its data moved aside (never deleted), the snapshot restored on every
//! member with a fresh token and the inventory's membership, all started
//! together (they form one new cluster), the membership verified.

use super::Env;
use super::gates::{guard, retry, start, urls, wait_healthy, write_config};
use crate::error::Error;
use crate::layout;
use crate::plan::RestoreStep;
use crate::remote;
use crate::runtime::{self, Restore};
use crate::set_aside::{self, Aside};
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Phase {
    Stop,
    Restore,
    Start,
}

impl Phase {
    fn done(self) -> &'static str {
        match self {
            Phase::Stop => "stopped",
            Phase::Restore => "snapshot restored, old data moved aside",
            Phase::Start => "started, healthy",
        }
    }
}

/// Carries out the plan's `Step::Restore`: the snapshot file (checked by
/// the caller; `sha256` is the SHA256 of the whole file, checked again on
/// each host) restored onto each of its members, streamed to each; old data
/// directories become `<data_dir>.pre-restore-<stamp>`.
pub(super) async fn run(env: &Env<'_>, step: &RestoreStep) -> Result<(), Error> {
    // Once members stop, a half-done restore is worse than a finished one:
    // the first Ctrl-C lets it finish.
    let _changing = crate::interrupt::Changing::begin();
    let (snapshot, sha, stamp) = (step.snapshot.as_path(), &step.sha256, &step.stamp);
    let restore = &Restore {
        initial_cluster: step.initial_cluster.clone(),
        token: step.token.clone(),
    };
    let members = step
        .members
        .iter()
        .map(|n| env.member(n))
        .collect::<Result<Vec<_>, Error>>()?;
    let members = &members;
    let all = |phase: Phase| {
        futures_util::future::try_join_all(members.iter().map(|m| async move {
            let host = env.host(&m.name)?;
            let task = env.progress.task(&m.name);
            let r = guard(&task, async {
                match phase {
                    Phase::Stop => {
                        task.step("stop etcd");
                        let script = runtime::of(m).stop(env.inv, m);
                        host.run("stop etcd", &script).await?;
                    }
                    Phase::Restore => {
                        // A fresh host has no config yet; the restored data
                        // makes the first-start fields needless.
                        write_config(env, m, None, &task).await?;
                        task.step("move data aside, restore the snapshot");
                        let own = runtime::of(m).restore(env.inv, m, restore);
                        let script = remote::receive_snapshot(m, sha, stamp)
                            .then(&own.body, own.args)
                            .then(remote::OWN_DATA, Vec::<String>::new());
                        host.run_with_file("restore snapshot", &script, snapshot)
                            .await?;
                    }
                    Phase::Start => {
                        start(env, m, false, &task).await?;
                        wait_healthy(env, m, &task).await?;
                    }
                }
                Ok::<(), Error>(())
            })
            .await;
            if r.is_ok() {
                task.done(phase.done());
            }
            r
        }))
    };
    // Each phase on every member before the next: all stopped before any
    // data moves, all restored before any starts.
    all(Phase::Stop).await?;
    all(Phase::Restore).await?;
    all(Phase::Start).await?;
    let live: BTreeSet<String> = step.members.iter().cloned().collect();
    // Retried: a cached connection to a member that just started may fail
    // once (seen in the lab as "transport error").
    let cluster = urls(env, &live).await?;
    let list = retry(
        "the cluster",
        "read member list after the restore",
        Duration::from_secs(30),
        || env.etcd.member_list(&cluster),
    )
    .await?;
    let mut got: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    got.sort();
    let want: Vec<&str> = live.iter().map(String::as_str).collect();
    if got != want {
        return Err(Error::Blocked(format!(
            "after the restore the members are {got:?}, expected {want:?}"
        )));
    }
    // Finished everywhere: the restored data is the members' own now.
    set_aside(env, true).await?;
    Ok(())
}

/// Every member's data directories set aside so far, oldest first, with
/// what each holds (`clear`: the note of the restore that made the current
/// data goes first, that restore having finished). A host that cannot say
/// is left out.
pub(crate) async fn set_aside(
    env: &Env<'_>,
    clear: bool,
) -> Result<Vec<(String, Vec<Aside>)>, Error> {
    let asks = env.inv.members.iter().map(|m| async move {
        let host = env.host(&m.name).ok()?;
        let out = host
            .run("list data set aside", &remote::aside(m, clear))
            .await
            .ok()?;
        Some((m.name.clone(), set_aside::parse(layout::data_dir(m), &out)))
    });
    Ok(futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect())
}
