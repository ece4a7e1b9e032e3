//! One member at a time, for every operation that takes members out of
//! service in turn (a version change, the TLS move, adopt, a restart): the
//! driver owns the order, Ctrl-C between members, the live quorum gate,
//! leadership handed over, the start, health, catch-up and going back; an
//! operation (`Change`) says what changes on one member and how to undo it.
//!
//! For each member: `look` (what it is, what the way back needs) → the
//! quorum gate (unless `look` says none applies) → `prepare` (its files) →
//! leadership moved off it if it leads → `change` (what must follow the
//! hand-over) → start → healthy → `verify` → caught up (if asked) → done;
//! on a failure after the change, `undo`.

use super::Env;
use super::gates::{guard, hand_over_if_leader, quorum_gate, start, wait_caught_up, wait_healthy};
use crate::error::Error;
use crate::facts::MemberStatus;
use crate::inventory::{Member, Version};
use crate::progress::Task;
use std::collections::BTreeSet;

/// What `look` found out about a member before anything changes.
pub(super) struct Look<U> {
    /// Its ID when the live quorum gate applies before it stops (`None`: it
    /// does not: recover's seed alone in the cluster, a member an
    /// interrupted adopt left stopped).
    pub(super) gate: Option<u64>,
    /// Its status when it answers and may hand leadership over (`None`:
    /// it does not answer, or must not hand over).
    pub(super) status: Option<MemberStatus>,
    /// What the later phases need: the member list's view of it, the
    /// previous config, what the way back needs.
    pub(super) state: U,
}

/// What one operation does to one member.
pub(super) trait Change {
    /// What `look` learns for the later phases and the way back.
    type State;
    /// The members, as the Ctrl-C message names them ("members of the
    /// rolling change").
    fn members(&self) -> &'static str;
    /// The quorum gate's words for the stop ("restart it").
    fn stopping(&self) -> &'static str {
        "restart it"
    }
    /// The leader's preferred successor's version, if any.
    fn prefer(&self) -> Option<Version> {
        None
    }
    /// What is said once a member is done.
    fn done(&self) -> String;
    /// What the member is, and what going back would need.
    async fn look(
        &self,
        env: &Env<'_>,
        m: &Member,
        live: &BTreeSet<String>,
        task: &Task,
    ) -> Result<Look<Self::State>, Error>;
    /// Before leadership moves off it: its files (none by default).
    async fn prepare(
        &self,
        _env: &Env<'_>,
        _m: &Member,
        _state: &mut Self::State,
        _task: &Task,
    ) -> Result<(), Error> {
        Ok(())
    }
    /// After leadership moved off it, before its start.
    async fn change(
        &self,
        env: &Env<'_>,
        m: &Member,
        state: &mut Self::State,
        task: &Task,
    ) -> Result<(), Error>;
    /// A restart (`true`) or a start of a service not yet running.
    fn restarts(&self) -> bool {
        true
    }
    /// Once healthy: what must also be true.
    async fn verify(&self, _env: &Env<'_>, _m: &Member) -> Result<(), Error> {
        Ok(())
    }
    /// Whether the member must catch up with the leader before the next.
    fn catches_up(&self) -> bool {
        true
    }
    /// The way back after `err` (the change made, the member not healthy):
    /// the error the run stops with, saying what became of the member.
    async fn undo(
        &self,
        env: &Env<'_>,
        m: &Member,
        state: Self::State,
        err: Error,
        task: &Task,
    ) -> Error;
}

/// Each member of `order` in turn, each healthy (and caught up) before the
/// next; Ctrl-C stops between members. `live` gains the members done when
/// `joins_live` (they serve from then on).
pub(super) async fn run(
    env: &Env<'_>,
    op: &impl Change,
    order: &[String],
    live: &mut BTreeSet<String>,
    joins_live: bool,
) -> Result<(), Error> {
    for (done, name) in order.iter().enumerate() {
        super::stop_if_interrupted(done, order.len(), op.members())?;
        let m = env.member(name)?;
        let task = env.progress.task(name);
        guard(&task, one(env, op, m, live, &task)).await?;
        if joins_live {
            live.insert(name.clone());
        }
        task.done(&op.done());
    }
    Ok(())
}

/// One member through the whole sequence.
pub(super) async fn one(
    env: &Env<'_>,
    op: &impl Change,
    m: &Member,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let Look {
        gate,
        status,
        mut state,
    } = op.look(env, m, live, task).await?;
    if let Some(id) = gate {
        task.step("check quorum");
        quorum_gate(env, &m.name, op.stopping(), &[], &[id], live).await?;
    }
    op.prepare(env, m, &mut state, task).await?;
    if let Some(st) = &status {
        let url = env.url(m).await?;
        hand_over_if_leader(env, m, &url, st, op.prefer(), live, task).await?;
    }
    op.change(env, m, &mut state, task).await?;
    let attempt = async {
        start(env, m, op.restarts(), task).await?;
        wait_healthy(env, m, task).await?;
        op.verify(env, m).await?;
        if op.catches_up() {
            let url = env.url(m).await?;
            wait_caught_up(env, m, &url, live, task).await?;
        }
        Ok(())
    };
    let Err(err) = attempt.await else {
        return Ok(());
    };
    Err(op.undo(env, m, state, err, task).await)
}
