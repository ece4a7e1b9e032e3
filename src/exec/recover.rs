//! `recover`'s work on the hosts (the decisions are `plan::recover`): each
//! survivor asked how much data it has, then, after consent, every member stopped, every survivor's data backed up, and the
//! seed started once with `force-new-cluster` and again with its normal
//! config. The other members then join it through the normal apply.

use super::Env;
use super::gates::{guard, put_config, start, wait_healthy, write_config};
use crate::error::Error;
use crate::facts::Facts;
use crate::member_config;
use crate::plan::recover::{Recovery, Role, Survey};
use crate::remote;
use crate::runtime;
use std::collections::BTreeMap;

/// Asks every reachable member with data how much it has: a running member
/// that answers, through etcd; any other is stopped (without quorum it
/// serves nothing) and its database read with etcd's own tool.
pub(crate) async fn survey(
    env: &Env<'_>,
    facts: &Facts,
) -> Result<BTreeMap<String, Survey>, Error> {
    let mut out = BTreeMap::new();
    for m in &env.inv.members {
        let Some(h) = facts.hosts.get(&m.name).filter(|h| h.has_data) else {
            continue;
        };
        if let Some(s) = facts.cluster.status.get(&m.name) {
            out.insert(
                m.name.clone(),
                Survey {
                    revision: s.revision,
                    raft_index: Some(s.raft_index),
                    learner: s.is_learner,
                },
            );
            continue;
        }
        let rt = runtime::of(m);
        let Some(read) = rt.data_revision(env.inv, m) else {
            continue;
        };
        let host = env.host(&m.name)?;
        if h.active {
            env.progress.line(&format!(
                "{}: etcd runs but does not answer: stopped, to read its database",
                m.name
            ));
            host.run("stop etcd", &rt.stop(env.inv, m)).await?;
        }
        let text = host.run("read its database's status", &read).await?;
        let learner = facts.cluster.entry(m).is_some_and(|e| e.is_learner);
        if let Some(revision) = db_revision(&text) {
            out.insert(
                m.name.clone(),
                Survey {
                    revision,
                    raft_index: None,
                    learner,
                },
            );
        }
    }
    Ok(out)
}

/// The `revision` of `etcdutl snapshot status -w json` output.
fn db_revision(text: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    v.get("revision")?.as_i64()
}

/// Stops every member, backs up the survivors' data, and makes the seed a
/// healthy one-member cluster with its data and normal config.
pub(crate) async fn force_new_cluster(
    env: &Env<'_>,
    facts: &Facts,
    recovery: &Recovery,
    stamp: &str,
) -> Result<(), Error> {
    let suffix = format!("pre-recover-{stamp}");
    // The seed first: its copy is what may not fit, and it must fail
    // before any other member's data moves.
    let mut order: Vec<&crate::inventory::Member> = env.inv.members.iter().collect();
    order.sort_by_key(|m| m.name != recovery.seed);
    for m in order {
        // Hosts with nothing of etcd's yet (fresh ones) have nothing to stop.
        let touched = facts
            .hosts
            .get(&m.name)
            .is_some_and(|h| h.active || h.has_data);
        if !env.hosts.contains_key(&m.name) || !touched {
            continue;
        }
        let task = env.progress.task(&m.name);
        let role = recovery.members.iter().find(|r| r.name == m.name);
        guard(&task, async {
            task.step("stop etcd");
            let host = env.host(&m.name)?;
            host.run("stop etcd", &runtime::of(m).stop(env.inv, m))
                .await?;
            if facts.hosts.get(&m.name).is_some_and(|h| h.has_data) {
                let seed = matches!(role.map(|r| &r.role), Some(Role::Seed { .. }));
                task.step(if seed {
                    "copy its data directory aside (backup)"
                } else {
                    "move its data directory aside (backup)"
                });
                let copied = host
                    .run("back up data", &remote::backup_data(m, &suffix, seed))
                    .await;
                if let Err(mut e) = copied {
                    if !seed {
                        return Err(e.into());
                    }
                    // Nothing else has changed yet: the seed goes back to
                    // what it was, on its own data.
                    let was_running = facts.hosts.get(&m.name).is_some_and(|h| h.active);
                    let back = if was_running {
                        match start(env, m, false, &task).await {
                            Ok(()) => "it was started again on its own data",
                            Err(_) => "starting it again on its own data failed too",
                        }
                    } else {
                        "it stays stopped, as it was"
                    };
                    e.detail = format!(
                        "{}; {back}; no other member was touched. Free space beside its data directory (the copy needs as much as the directory holds), then run recover again",
                        e.detail.trim_end()
                    );
                    return Err(e.into());
                }
            }
            Ok(())
        })
        .await?;
        task.done("stopped, data backed up");
    }
    let m = env.member(&recovery.seed)?;
    let task = env.progress.task(&m.name);
    guard(&task, async {
        task.step("start once with force-new-cluster");
        let forced = member_config::render_force_new_cluster(env.inv, m)?;
        put_config(env, m, &forced.config, "write config (force-new-cluster)").await?;
        start(env, m, true, &task).await?;
        wait_healthy(env, m, &task).await?;
        task.step("back to its normal config");
        write_config(env, m, None, &task).await?;
        start(env, m, true, &task).await?;
        wait_healthy(env, m, &task).await
    })
    .await?;
    task.done("a healthy one-member cluster with its data");
    Ok(())
}
