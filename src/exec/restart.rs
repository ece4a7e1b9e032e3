//! Restarting a running member whose config, unit, container or
//! certificates changed, or that crash-loops (a repair): quorum checked
//! live first, config written, leadership moved off it if it leads,
//! restart, healthy before the next step. A member that does not become
//! healthy with a new config gets its previous config back and is restarted
//! again; the run stops there, quoting the cause from its log.

use super::Env;
use super::gates::{
    existing_member, guard, hand_over_if_leader, quorum_gate, restart_with, start, wait_healthy,
    write_config,
};
use crate::error::Error;
use crate::etcd;
use crate::plan::{RestartReason, quorum};
use crate::remote;
use crate::ssh::HostError;
use std::collections::BTreeSet;

pub(super) async fn run(
    env: &Env<'_>,
    host: &str,
    reasons: &[RestartReason],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let m = env.member(host)?;
    let task = env.progress.task(host);
    let why = reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let repair = reasons.contains(&RestartReason::CrashLooping);
    guard(&task, async {
        let (_, list, b) = existing_member(env, m, live).await?;
        // recover's seed, alone in the cluster, restarts on its normal
        // config whatever quorum says: any later start would be worse.
        let alone = quorum::voters(&list) == 1;
        let finish_recover = reasons.contains(&RestartReason::ForceNewCluster) && alone;
        if let Some(e) = list.iter().find(|e| e.is(m))
            && !finish_recover
        {
            task.step("check quorum");
            quorum_gate(env, host, "restart it", &[], &[e.id], live).await?;
        }
        // (Never back to recover's one-off config.)
        let previous = if reasons.contains(&RestartReason::ConfigChanged)
            && !reasons.contains(&RestartReason::ForceNewCluster)
        {
            let h = env.host(host)?;
            Some(h.run("read the current config", &remote::read_config(m)).await?)
        } else {
            None
        };
        // A member that has not read its config restarts on the one it has
        // (mid-way through a move to TLS it is not yet the inventory's).
        if !reasons.iter().all(|r| r.keeps_files()) {
            write_config(env, m, Some(&b), &task).await?;
        }
        let url = env.url(m).await?;
        if let Ok(st) = etcd::status(&url).await
            && !alone
        {
            hand_over_if_leader(env, m, &url, &st, None, live, &task).await?;
        }
        task.step(&format!("{} ({why})", if repair { "repair: restart" } else { "restart" }));
        let attempt = async {
            start(env, m, true, &task).await?;
            wait_healthy(env, m, &task).await
        };
        let Err(err) = attempt.await else {
            return Ok(());
        };
        let Some(old) = previous.filter(|p| !p.trim().is_empty()) else {
            return Err(err);
        };
        task.step("roll back to the previous config");
        let outcome = match restart_with(env, m, &old, &task).await {
            Ok(()) => "its previous config is back and it is healthy again; the run stopped here (fix the setting, then apply again)".to_string(),
            Err(e) => format!("going back to its previous config failed too: {e}"),
        };
        Err(HostError::new(
            host,
            "restart with the new config",
            format!("not healthy with the new config: {outcome}.\n{err}"),
        )
        .into())
    })
    .await?;
    task.done(&format!(
        "{} ({why}), healthy",
        if repair { "repaired" } else { "restarted" }
    ));
    Ok(())
}
