//! Maintenance as the plan gives it (`plan/maintenance.rs`): defragment the
//! chosen members one at a time (each re-checked live first: quorum without
//! it, still worth it, leadership moved off it), compact the history,
//! clear alarms. etcd blocks a member's reads and writes while it
//! defragments, so only one member is ever blocked, and never the leader.

use super::Env;
use super::gates::{etcd_err, guard, move_leadership, quorum_gate, retry, urls};
use crate::error::Error;
use crate::facts::{alarm_label, human_bytes};
use crate::plan::maintenance::{DefragOptions, DefragPlan, Disarm, Skipped, defrag_member};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What one member's defragmentation gave back.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Defragged {
    pub name: String,
    pub before: u64,
    pub after: u64,
    pub seconds: f64,
}

/// Defragments the plan's members in its order. Returns what each gave back
/// and the members left alone at the last moment (with why).
pub(crate) async fn defrag(
    env: &Env<'_>,
    plan: &DefragPlan,
    opts: DefragOptions,
    live: &BTreeSet<String>,
) -> Result<(Vec<Defragged>, Vec<Skipped>), Error> {
    let _changing = crate::interrupt::Changing::begin();
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    for (i, t) in plan.order.iter().enumerate() {
        super::stop_if_interrupted(i, plan.order.len(), "members to defragment")?;
        let m = env.member(&t.name)?;
        let task = env.progress.task(&t.name);
        let url = env.url(m).await?;
        let one = async {
            // Sizes and leadership move while the run goes on: asked again.
            let st = env
                .etcd
                .status(&url)
                .await
                .map_err(|e| etcd_err(&t.name, "read status", e))?;
            let alarms: Vec<String> = env
                .etcd
                .alarms(&urls(env, live).await?)
                .await
                .map_err(|e| etcd_err(&t.name, "read alarms", e))?
                .into_iter()
                .map(|(id, a)| alarm_label(&a, id))
                .collect();
            let target = match defrag_member(&t.name, &st, &alarms, opts) {
                Ok(target) => target,
                Err(why) => return Ok(Err(why)),
            };
            task.step("check quorum");
            quorum_gate(env, &t.name, "defragment it", &[], &[st.id], live).await?;
            if target.leader && live.len() > 1 {
                task.step("move leadership to another member");
                move_leadership(env, &t.name, &url, st.id, None, live).await?;
            }
            task.step(&format!(
                "defragment ({} of {} free)",
                human_bytes(target.free),
                human_bytes(target.db_size)
            ));
            let started = Instant::now();
            env.etcd
                .defragment(&url)
                .await
                .map_err(|e| etcd_err(&t.name, "defragment", e))?;
            let seconds = started.elapsed().as_secs_f64();
            let after = retry(&t.name, "check health", Duration::from_secs(30), || {
                env.etcd.check_health(&url)
            })
            .await?;
            Ok::<_, Error>(Ok(Defragged {
                name: t.name.clone(),
                before: u64::try_from(st.db_size).unwrap_or(0),
                after: u64::try_from(after.db_size).unwrap_or(0),
                seconds,
            }))
        };
        match guard(&task, one).await? {
            Ok(d) => {
                task.done(&format!(
                    "defragmented: {} -> {} (gave back {}) in {:.2} s",
                    human_bytes(d.before),
                    human_bytes(d.after),
                    human_bytes(d.before.saturating_sub(d.after)),
                    d.seconds
                ));
                done.push(d);
            }
            Err(why) => {
                task.done(&format!("left alone: {why}"));
                skipped.push(Skipped {
                    name: t.name.clone(),
                    why,
                });
            }
        }
    }
    Ok((done, skipped))
}

/// Compacts the history up to `revision`, through the members in `live`,
/// then has every member count the pages it freed (for `defrag` to see).
pub(crate) async fn compact(
    env: &Env<'_>,
    revision: i64,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    env.etcd
        .compact(&cluster, revision)
        .await
        .map_err(|e| Error::Blocked(format!("compacting to revision {revision}: {e}")))?;
    refresh_free_pages(env, live).await
}

/// Has every member count the pages a compaction freed, so that the sizes
/// read next are current (see `env.etcd.commit_pending_frees`). Under a NOSPACE
/// alarm etcd refuses it (said nothing of: the plan then defragments every
/// member anyway).
pub(crate) async fn refresh_free_pages(
    env: &Env<'_>,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    if let Err(e) = env.etcd.commit_pending_frees(&cluster).await
        && !e.message.contains("database space exceeded")
    {
        env.progress.line(&format!(
            "free pages not refreshed ({}); sizes may not show a recent compaction yet",
            e.message
        ));
    }
    // etcd commits its database every 100 ms.
    tokio::time::sleep(Duration::from_millis(250)).await;
    Ok(())
}

/// Clears the alarms the plan allows, then reads the alarms again: those
/// still raised (etcd raised one again) are the error.
pub(crate) async fn disarm(
    env: &Env<'_>,
    alarms: &[Disarm],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    for a in alarms {
        env.etcd
            .disarm(&cluster, a.member_id, &a.alarm)
            .await
            .map_err(|e| etcd_err(&a.member, &format!("disarm {}", a.alarm), e))?;
        env.progress
            .line(&format!("{}: {} alarm cleared", a.member, a.alarm));
    }
    let left = env
        .etcd
        .alarms(&cluster)
        .await
        .map_err(|e| Error::Blocked(format!("reading the alarms again: {e}")))?;
    if !left.is_empty() {
        let names: Vec<String> = left.iter().map(|(id, a)| alarm_label(a, *id)).collect();
        return Err(Error::Blocked(format!(
            "alarms raised again at once: {}",
            names.join(", ")
        )));
    }
    Ok(())
}
