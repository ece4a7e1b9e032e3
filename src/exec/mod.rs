//! The executor: carries out a plan and decides nothing the plan does not
//! say. Hosts are prepared in parallel (`prepare.rs`) while membership steps
//! run one at a time (`join.rs`, `restart.rs`, `upgrade.rs`, `remove.rs`,
//! `adopt.rs`),
//! each gated on the member being healthy before the next (`gates/`).
//! `restore.rs` and `destroy.rs` carry out the whole-cluster steps.
//! Every failure names the host and the step; whatever ran before it is left
//! in a state the next `apply` picks up from.

mod access;
mod adopt;
mod destroy;
mod downgrade;
mod gates;
mod join;
mod maintenance;
mod prepare;
mod recover;
mod remove;
mod restart;
mod restore;
mod rolling;
mod tls_move;
mod upgrade;
mod v2store;

#[cfg(test)]
mod tests;

pub(crate) use gates::snapshot_source;
pub(crate) use maintenance::{compact, defrag, disarm, refresh_free_pages};
pub(crate) use recover::{force_new_cluster as recover_seed, survey as recover_survey};
pub(crate) use restore::set_aside;

use crate::access::Access;
use crate::error::Error;
use crate::etcd::EtcdApi;
use crate::interrupt;
use crate::inventory::{Inventory, Member};
use crate::plan::{Plan, Step};
use crate::progress::Progress;
use crate::ssh::{Dial, Host};
use crate::templates::Templates;
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::watch;

/// What the steps act through: the session's inventory, connections,
/// templates and progress. Every decision comes from the plan.
pub(crate) struct Env<'a> {
    pub(crate) inv: &'a Inventory,
    /// The cluster's API (`etcd::Live`; the executor's tests: a fake).
    pub(crate) etcd: &'a dyn EtcdApi,
    /// Connections to hosts outside `hosts` (former members' hosts).
    pub(crate) dial: &'a dyn Dial,
    pub(crate) hosts: &'a BTreeMap<String, Host>,
    pub(crate) access: &'a Access,
    pub(crate) templates: &'a Templates,
    pub(crate) progress: &'a Progress,
}

impl Env<'_> {
    fn member(&self, name: &str) -> Result<&Member, Error> {
        self.inv
            .member(name)
            .ok_or_else(|| Error::Blocked(format!("{name} is not in the inventory")))
    }

    fn host(&self, name: &str) -> Result<&Host, Error> {
        self.hosts
            .get(name)
            .ok_or_else(|| Error::Blocked(format!("no SSH connection to {name}")))
    }

    /// The member's client URL; without an SSH connection to its host, its
    /// own client URL when the inventory allows reaching it directly.
    async fn url(&self, m: &Member) -> Result<String, Error> {
        Ok(self
            .access
            .url_or_direct(m, self.hosts.get(&m.name))
            .await?)
    }
}

/// Runs the plan: refuses a blocked one, fetches and verifies release files
/// before any host changes, then prepares hosts while the steps run.
pub(crate) async fn execute(env: &Env<'_>, plan: &Plan) -> Result<(), Error> {
    if let Some(b) = &plan.blocked {
        return Err(Error::Blocked(b.clone()));
    }
    let _changing = interrupt::Changing::begin();
    let artifacts = prepare::resolve_artifacts(env, &plan.prepare).await?;
    // A step waits only for the hosts it touches, so the first member
    // bootstraps while the others are still unpacking.
    let mut ready: Ready = BTreeMap::new();
    let mut senders = BTreeMap::new();
    for p in &plan.prepare {
        let (tx, rx) = watch::channel(Readiness::Pending);
        senders.insert(p.host.clone(), tx);
        ready.insert(p.host.clone(), rx);
    }
    let prepare = prepare::all(env, plan, &artifacts, &senders);
    let steps = async {
        // Members known to serve clients; cluster calls go through them.
        let mut live: BTreeSet<String> = plan.serving.iter().cloned().collect();
        for (done, step) in plan.steps.iter().enumerate() {
            // A rolling upgrade checks and takes its snapshot while its hosts
            // are prepared, and waits for them before its first restart.
            if !matches!(step, Step::Upgrade { .. }) {
                for host in step.hosts() {
                    wait_prepared(&ready, host).await?;
                }
            }
            stop_if_interrupted(done, plan.steps.len(), "steps")?;
            run_step(env, step, &mut live, &ready).await?;
        }
        Ok::<(), Error>(())
    };
    let (prepared, stepped) = tokio::join!(prepare, steps);
    prepared?;
    stepped
}

/// At a step boundary: stops the run if Ctrl-C asked for it.
pub(crate) fn stop_if_interrupted(done: usize, of: usize, unit: &str) -> Result<(), Error> {
    if !interrupt::requested() {
        return Ok(());
    }
    let again: Vec<String> = std::env::args().map(|a| crate::ssh::quote(&a)).collect();
    Err(Error::Interrupted(format!(
        "interrupted after {done} of {of} {unit}; every member touched so far finished its step (healthy, or rolled back); run the same command again to resume: {}",
        again.join(" ")
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Pending,
    Done,
    Failed,
}

/// Per host the plan prepares, whether its preparation has finished.
type Ready = BTreeMap<String, watch::Receiver<Readiness>>;

async fn wait_prepared(ready: &Ready, host: &str) -> Result<(), Error> {
    let Some(rx) = ready.get(host) else {
        return Ok(());
    };
    let mut rx = rx.clone();
    match rx.wait_for(|r| *r != Readiness::Pending).await.map(|r| *r) {
        Ok(Readiness::Done) => Ok(()),
        _ => Err(Error::Blocked(format!("{host}: preparing the host failed"))),
    }
}

async fn run_step(
    env: &Env<'_>,
    step: &Step,
    live: &mut BTreeSet<String>,
    ready: &Ready,
) -> Result<(), Error> {
    match step {
        Step::Bootstrap { host } => join::bootstrap(env, host, live).await,
        Step::Start { hosts, configs } => join::start_stopped(env, hosts, configs, live).await,
        Step::Promote { host, id } => join::promote_step(env, host, *id, live).await,
        Step::Join {
            host,
            added,
            stale_data,
            running,
        } => join::join(env, host, *added, *stale_data, *running, live).await,
        Step::Restart {
            host,
            reasons,
            write_config,
            keep_for_rollback,
            lone_seed,
        } => {
            let decided = restart::Decided {
                write_config: *write_config,
                keep_for_rollback: *keep_for_rollback,
                lone_seed: *lone_seed,
            };
            restart::run(env, host, reasons, decided, live).await
        }
        Step::Upgrade {
            rollout,
            from,
            snapshot_to,
            rollback,
            configs,
        } => {
            let prepared = async {
                for host in step.hosts() {
                    wait_prepared(ready, host).await?;
                }
                Ok(())
            };
            let how = upgrade::How {
                from,
                snapshot_to: snapshot_to.as_deref(),
                rollback: *rollback,
                configs,
            };
            upgrade::run(env, rollout, &how, live, prepared).await
        }
        Step::Adopt {
            order, previous, ..
        } => adopt::run(env, order, previous, live).await,
        Step::TlsMove { pass, order, .. } => tls_move::run(env, *pass, order, live).await,
        Step::Retire { name, host, data } => remove::retire(env, name, host, *data).await,
        Step::Access { changes } => {
            let urls = gates::urls(env, live).await?;
            access::run(env, changes, &urls).await
        }
        Step::Record { members, records } => {
            crate::records::write(env.inv, env.hosts, members, records)
                .await
                .map_err(Error::Blocked)
        }
        Step::Remove {
            name,
            id,
            host,
            data,
            ..
        } => remove::run(env, name, *id, host.as_ref(), *data, live).await,
        Step::Restore(r) => restore::run(env, r).await,
        Step::Destroy { members, data } => destroy::run(env, members, *data).await,
    }
}
