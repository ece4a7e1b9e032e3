//! Restarting a running member whose config, unit, container or
//! certificates changed, or that crash-loops (a repair), through the
//! rolling driver (`rolling.rs`): quorum checked live first, config written,
//! leadership moved off it if it leads, restart, healthy before the next
//! step. A member that does not become healthy with a new config gets its
//! previous config back and is restarted again; the run stops there,
//! quoting the cause from its log.

use super::Env;
use super::gates::{existing_member, guard, restart_with, write_config};
use super::rolling::{self, Change, Look};
use crate::error::Error;
use crate::inventory::Member;
use crate::member_config::Bootstrap;
use crate::plan::{RestartReason, quorum};
use crate::progress::Task;
use crate::remote;
use crate::ssh::HostError;
use std::collections::BTreeSet;

/// What the plan decided for the restart (`Step::restart`); the reasons
/// are only said.
pub(super) struct Decided {
    pub(super) write_config: bool,
    pub(super) keep_for_rollback: bool,
    pub(super) lone_seed: bool,
}

pub(super) async fn run(
    env: &Env<'_>,
    host: &str,
    reasons: &[RestartReason],
    decided: Decided,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let m = env.member(host)?;
    let task = env.progress.task(host);
    let op = Restart {
        decided,
        why: reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        repair: reasons.contains(&RestartReason::CrashLooping),
    };
    guard(&task, rolling::one(env, &op, m, live, &task)).await?;
    task.done(&op.done());
    Ok(())
}

/// One restart as the plan decided it.
struct Restart {
    decided: Decided,
    why: String,
    repair: bool,
}

/// What a restart learns before it starts: how the member starts on the
/// cluster's data, and the config to go back to (a config change only).
struct Found {
    bootstrap: Bootstrap,
    previous: Option<String>,
}

impl Change for Restart {
    type State = Found;

    fn members(&self) -> &'static str {
        "members"
    }

    fn done(&self) -> String {
        format!(
            "{} ({}), healthy",
            if self.repair { "repaired" } else { "restarted" },
            self.why
        )
    }

    fn catches_up(&self) -> bool {
        false
    }

    async fn look(
        &self,
        env: &Env<'_>,
        m: &Member,
        live: &BTreeSet<String>,
        _task: &Task,
    ) -> Result<Look<Found>, Error> {
        let (_, list, bootstrap) = existing_member(env, m, live).await?;
        // recover's seed, alone in the cluster, restarts on its normal
        // config whatever quorum says: any later start would be worse.
        let alone = quorum::voters(&list) == 1;
        let finish_recover = self.decided.lone_seed && alone;
        let gate = list
            .iter()
            .find(|e| e.is(m))
            .map(|e| e.id)
            .filter(|_| !finish_recover);
        let previous = if self.decided.keep_for_rollback {
            let h = env.host(&m.name)?;
            Some(
                h.run("read the current config", &remote::read_config(m))
                    .await?,
            )
        } else {
            None
        };
        let url = env.url(m).await?;
        let status = if alone {
            None
        } else {
            env.etcd.status(&url).await.ok()
        };
        Ok(Look {
            gate,
            status,
            state: Found {
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
        // A member that has not read its config restarts on the one it has
        // (mid-way through a move to TLS it is not yet the inventory's).
        if self.decided.write_config {
            write_config(env, m, Some(&found.bootstrap), task).await?;
        }
        Ok(())
    }

    async fn change(
        &self,
        _env: &Env<'_>,
        _m: &Member,
        _found: &mut Found,
        task: &Task,
    ) -> Result<(), Error> {
        let verb = if self.repair {
            "repair: restart"
        } else {
            "restart"
        };
        task.step(&format!("{verb} ({})", self.why));
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
        let Some(old) = found.previous.filter(|p| !p.trim().is_empty()) else {
            return err;
        };
        task.step("roll back to the previous config");
        let outcome = match restart_with(env, m, &old, task).await {
            Ok(()) => "its previous config is back and it is healthy again; the run stopped here (fix the setting, then apply again)".to_string(),
            Err(e) => format!("going back to its previous config failed too: {e}"),
        };
        HostError::new(
            &m.name,
            "restart with the new config",
            format!("not healthy with the new config: {outcome}.\n{err}"),
        )
        .into()
    }
}
