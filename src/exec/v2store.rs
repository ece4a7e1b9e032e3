//! The precondition of etcd 3.6 that only a stopped member can show: a v2
//! store without custom content (etcd's upgrade guide, "Upgrade etcd from
//! 3.5 to 3.6"; 3.6 refuses to start on one that has it). The first member
//! of a 3.5 to 3.6 rollout is stopped (leadership already moved off it),
//! checked with its 3.5 release's `etcdutl check v2store`, and, unless the
//! store is clean, started again on 3.5 and the rollout refused: every
//! other member untouched, nothing deleted.

use super::Env;
use super::gates::{start, wait_healthy};
use crate::error::Error;
use crate::inventory::Member;
use crate::progress::Task;
use crate::runtime;

/// Stops `m` and checks its v2 store; on anything but a clean store, `m`
/// runs its old release again and the error says why and what to do.
pub(super) async fn check(env: &Env<'_>, m: &Member, task: &Task) -> Result<(), Error> {
    let rt = runtime::of(m);
    let Some(script) = rt.check_v2store(env.inv, m) else {
        task.step("v2 store not checked: this runtime keeps etcd's tools in its image");
        return Ok(());
    };
    let host = env.host(&m.name)?;
    task.step("stop etcd to check its v2 store (etcdutl check v2store)");
    host.run("stop etcd", &rt.stop(env.inv, m)).await?;
    let checked = host.run("check the v2 store", &script).await;
    let (verdict, said) = match &checked {
        Ok(out) => (
            field(out, "verdict").unwrap_or("unknown"),
            field(out, "said").unwrap_or_default().to_string(),
        ),
        Err(e) => ("unknown", e.to_string()),
    };
    if verdict == "clean" {
        task.step("v2 store: no custom content");
        return Ok(());
    }
    // Back as it was before anything else is said.
    start(env, m, false, task).await?;
    wait_healthy(env, m, task).await?;
    let why = if verdict == "custom" {
        format!(
            "its v2 store holds custom (non-membership) content, which etcd 3.6 refuses to start on (etcdutl check v2store: {said}). etcd's upgrade guide (\"Upgrade etcd from 3.5 to 3.6\", v2store has custom data) says how to remove it: delete the v2 keys with the v2 API (ETCDCTL_API=2 etcdctl rm, with enable-v2 on), then make each member write a fresh v2 snapshot (a temporary snapshot-count = 1 in [etcd] extra and an apply, then take it out again), and upgrade again. etcd-deploy deletes no data for you"
        )
    } else {
        format!(
            "its v2 store could not be checked ({said}); etcd 3.6 refuses to start on one with custom content, so the upgrade does not go on unchecked"
        )
    };
    Err(Error::Blocked(format!(
        "{}: {why}. It runs its previous release again, healthy; no other member was touched",
        m.name
    )))
}

/// The value of `key=value` in the script's output.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}
