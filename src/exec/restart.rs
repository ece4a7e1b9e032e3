//! Restarting a running member whose config, unit, container or
//! certificates changed: config written, leadership moved off it if it
//! leads, restart, healthy before the next step.

use super::Env;
use super::gates::{etcd_err, guard, hand_over_if_leader, start, urls, wait_healthy, write_config};
use crate::error::Error;
use crate::etcd;
use crate::member_config::Bootstrap;
use crate::plan::{RestartReason, initial_cluster};
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
    guard(&task, async {
        let list = etcd::member_list(&urls(env, live).await?)
            .await
            .map_err(|e| etcd_err(host, "read member list", e))?;
        let b = Bootstrap {
            initial_cluster: initial_cluster(&list, env.inv, m),
            state: "existing",
        };
        write_config(env, m, Some(&b), &task).await?;
        let url = env.url(m).await?;
        if let Ok(st) = etcd::status(&url).await {
            hand_over_if_leader(env, m, &url, &st, None, live, &task).await?;
        }
        task.step(&format!("restart ({why})"));
        start(env, m, true, &task).await?;
        wait_healthy(env, m, &task).await
    })
    .await?;
    task.done(&format!("restarted ({why}), healthy"));
    Ok(())
}
