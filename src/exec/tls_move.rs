//! One pass of moving a plain-HTTP cluster to TLS, as the plan's `TlsMove`
//! step says (`plan::tls_move`): one member at a time, quorum checked live
//! without it, leadership moved off it if it leads; pass 1 writes the
//! config with its peer certificate (still plain HTTP) and restarts; pass 2
//! makes its peer URL https (`member update`) and restarts it with its final
//! config; the move back makes it http with a plain config. Healthy
//! and caught up before the next. A member that does not come up gets its
//! previous config (and pass 2: its plain peer URL) back, and the run stops.

use super::Env;
use super::gates::{
    etcd_err, existing_member, guard, hand_over_if_leader, put_config, quorum_gate, restart_with,
    start, wait_caught_up, wait_healthy,
};
use crate::error::Error;
use crate::etcd;
use crate::inventory::Member;
use crate::member_config;
use crate::plan::tls_move::TlsPass;
use crate::progress::Task;
use crate::remote;
use crate::ssh::HostError;
use std::collections::BTreeSet;

pub(super) async fn run(
    env: &Env<'_>,
    pass: TlsPass,
    order: &[String],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    for (done, name) in order.iter().enumerate() {
        super::stop_if_interrupted(done, order.len(), "members of the move to TLS")?;
        let m = env.member(name)?;
        let task = env.progress.task(name);
        guard(&task, move_member(env, m, pass, live, &task)).await?;
        task.done(match pass {
            TlsPass::Certificates => "peer certificate in its config, healthy, caught up",
            TlsPass::Peers => "peers and clients over TLS, healthy, caught up",
            TlsPass::Back => "peers and clients over plain HTTP, healthy, caught up",
        });
    }
    Ok(())
}

async fn move_member(
    env: &Env<'_>,
    m: &Member,
    pass: TlsPass,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let host = env.host(&m.name)?;
    let url = env.url(m).await?;
    let (cluster, list, b) = existing_member(env, m, live).await?;
    let Some(entry) = list.iter().find(|e| e.is(m)) else {
        return Err(HostError::new(&m.name, "move to TLS", "not in the member list").into());
    };
    let (id, old_peer_urls) = (entry.id, entry.peer_urls.clone());
    // A member a stopped run left unreachable to its peers does not answer:
    // it is moved all the same (it only comes back).
    let st = etcd::status(&url).await.ok();
    task.step("check quorum");
    quorum_gate(env, &m.name, "restart it", &[], &[id], live).await?;
    let previous = host
        .run("read the current config", &remote::read_config(m))
        .await?;
    let config = match pass {
        TlsPass::Certificates | TlsPass::Back => {
            member_config::render_tls_certificates(env.inv, m, Some(&b))?
        }
        TlsPass::Peers => member_config::render(env.inv, m, Some(&b))?,
    };
    task.step("write config");
    put_config(env, m, &config.config, "write config").await?;
    if let Some(st) = &st {
        hand_over_if_leader(env, m, &url, st, None, live, task).await?;
    }
    if pass != TlsPass::Certificates {
        // (A run stopped after the update, before the restart: done already.)
        if !old_peer_urls.contains(&m.peer_url()) {
            task.step(&format!("member update: peer URL {}", m.peer_url()));
            etcd::update_peer_urls(&cluster, id, vec![m.peer_url()])
                .await
                .map_err(|e| etcd_err(&m.name, "member update", e))?;
        }
        // From its restart on it serves clients as the inventory says.
        env.access.serve_as(m, None).await;
    }
    task.step("restart");
    let attempt = async {
        start(env, m, true, task).await?;
        wait_healthy(env, m, task).await?;
        let url = env.url(m).await?;
        wait_caught_up(env, m, &url, live, task).await
    };
    let Err(err) = attempt.await else {
        return Ok(());
    };
    task.step("roll back to the previous config");
    let back = async {
        if pass != TlsPass::Certificates && !old_peer_urls.is_empty() {
            env.access.serve_as(m, Some(pass == TlsPass::Back)).await;
            etcd::update_peer_urls(&cluster, id, old_peer_urls.clone())
                .await
                .map_err(|e| etcd_err(&m.name, "member update back", e))?;
        }
        restart_with(env, m, &previous, task).await
    };
    let outcome = match back.await {
        Ok(()) => {
            "its previous config is back and it is healthy again; the run stopped here".to_string()
        }
        Err(e) => format!("going back to its previous config failed too: {e}"),
    };
    Err(HostError::new(
        &m.name,
        "move to TLS",
        format!("not healthy after the change: {outcome}.\n{err}"),
    )
    .into())
}
