//! One pass of moving a plain-HTTP cluster to TLS, as the plan's `TlsMove`
//! step says (`plan::tls_move`), through the rolling driver (`rolling.rs`):
//! one member at a time, quorum checked live without it, leadership moved
//! off it if it leads; pass 1 writes the config with its peer certificate
//! (still plain HTTP) and restarts; pass 2 makes its peer URL https
//! (`member update`) and restarts it with its final config; the move back
//! makes it http with a plain config. Healthy and caught up before the next.
//! A member that does not come up gets its previous config (and pass 2: its
//! plain peer URL) back, and the run stops.

use super::Env;
use super::gates::{etcd_err, existing_member, put_config, restart_with};
use super::rolling::{self, Change, Look};
use crate::error::Error;
use crate::inventory::Member;
use crate::member_config::{self, Bootstrap};
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
    rolling::run(env, &Move { pass }, order, &mut live.clone(), false).await
}

/// One member's part of a pass.
struct Move {
    pass: TlsPass,
}

/// What the pass learns before it changes a member.
struct Found {
    cluster: Vec<String>,
    id: u64,
    old_peer_urls: Vec<String>,
    bootstrap: Bootstrap,
    previous: String,
}

impl Change for Move {
    type State = Found;

    fn members(&self) -> &'static str {
        "members of the move to TLS"
    }

    fn done(&self) -> String {
        match self.pass {
            TlsPass::Certificates => "peer certificate in its config, healthy, caught up",
            TlsPass::Peers => "peers and clients over TLS, healthy, caught up",
            TlsPass::Back => "peers and clients over plain HTTP, healthy, caught up",
        }
        .to_string()
    }

    async fn look(
        &self,
        env: &Env<'_>,
        m: &Member,
        live: &BTreeSet<String>,
        _task: &Task,
    ) -> Result<Look<Found>, Error> {
        let url = env.url(m).await?;
        let (cluster, list, bootstrap) = existing_member(env, m, live).await?;
        let Some(entry) = list.iter().find(|e| e.is(m)) else {
            return Err(HostError::new(&m.name, "move to TLS", "not in the member list").into());
        };
        let (id, old_peer_urls) = (entry.id, entry.peer_urls.clone());
        // A member a stopped run left unreachable to its peers does not
        // answer: it is moved all the same (it only comes back).
        let status = env.etcd.status(&url).await.ok();
        let previous = env
            .host(&m.name)?
            .run("read the current config", &remote::read_config(m))
            .await?;
        Ok(Look {
            gate: Some(id),
            status,
            state: Found {
                cluster,
                id,
                old_peer_urls,
                bootstrap,
                previous,
            },
        })
    }

    async fn prepare(
        &self,
        env: &Env<'_>,
        m: &Member,
        found: &mut Found,
        task: &Task,
    ) -> Result<(), Error> {
        let b = Some(&found.bootstrap);
        let config = match self.pass {
            TlsPass::Certificates | TlsPass::Back => {
                member_config::render_tls_certificates(env.inv, m, b)?
            }
            TlsPass::Peers => member_config::render(env.inv, m, b)?,
        };
        task.step("write config");
        put_config(env, m, &config.config, "write config").await
    }

    async fn change(
        &self,
        env: &Env<'_>,
        m: &Member,
        found: &mut Found,
        task: &Task,
    ) -> Result<(), Error> {
        if self.pass != TlsPass::Certificates {
            // (A run stopped after the update, before the restart: done already.)
            if !found.old_peer_urls.contains(&m.peer_url()) {
                task.step(&format!("member update: peer URL {}", m.peer_url()));
                env.etcd
                    .update_peer_urls(&found.cluster, found.id, vec![m.peer_url()])
                    .await
                    .map_err(|e| etcd_err(&m.name, "member update", e))?;
            }
            // From its restart on it serves clients as the inventory says.
            env.access.serve_as(m, None).await;
        }
        task.step("restart");
        Ok(())
    }

    async fn undo(
        &self,
        env: &Env<'_>,
        m: &Member,
        found: Found,
        err: Error,
        task: &Task,
    ) -> Error {
        task.step("roll back to the previous config");
        let back = async {
            if self.pass != TlsPass::Certificates && !found.old_peer_urls.is_empty() {
                env.access
                    .serve_as(m, Some(self.pass == TlsPass::Back))
                    .await;
                env.etcd
                    .update_peer_urls(&found.cluster, found.id, found.old_peer_urls.clone())
                    .await
                    .map_err(|e| etcd_err(&m.name, "member update back", e))?;
            }
            restart_with(env, m, &found.previous, task).await
        };
        let outcome = match back.await {
            Ok(()) => "its previous config is back and it is healthy again; the run stopped here"
                .to_string(),
            Err(e) => format!("going back to its previous config failed too: {e}"),
        };
        HostError::new(
            &m.name,
            "move to TLS",
            format!("not healthy after the change: {outcome}.\n{err}"),
        )
        .into()
    }
}
