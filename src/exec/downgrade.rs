//! etcd's downgrade calls around a rolling version change, as the plan
//! decides them (`plan::downgrade::DowngradeCall`): before the first restart
//! of a minor downgrade, `downgrade validate` and `downgrade enable` (the
//! cluster version drops to the target at once), then every member's
//! storage version seen to follow; an enabled downgrade that the target
//! no longer wants is cancelled. The restarts themselves are the rolling
//! change's (`upgrade.rs`).

use super::Env;
use super::gates::{retry, urls};
use crate::error::Error;
use crate::etcd::Downgrade;
use crate::inventory::Version;
use crate::plan::DowngradeCall;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long every member's storage version may take to follow an enabled
/// downgrade (etcd's guide: "usually very fast").
const STORAGE_WAIT: Duration = Duration::from_secs(60);

/// Makes the call the plan names through `cluster` (client URLs), then
/// waits for what etcd does with it.
pub(super) async fn before_restarts(
    env: &Env<'_>,
    call: DowngradeCall,
    cluster: &[String],
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    match call {
        DowngradeCall::None => Ok(()),
        DowngradeCall::Enable { major, minor } => {
            let target = format!("{major}.{minor}");
            env.progress
                .line(&format!("etcd downgrade: validate {target}"));
            env.etcd
                .downgrade(cluster, Downgrade::Validate(target.clone()))
                .await
                .map_err(|e| {
                    Error::Blocked(format!(
                        "etcd refuses a downgrade to {target} (downgrade validate): {}; nothing was changed",
                        e.message
                    ))
                })?;
            env.progress.line(&format!(
                "etcd downgrade: enable {target}; the cluster version is {target} from now on"
            ));
            env.etcd
                .downgrade(cluster, Downgrade::Enable(target.clone()))
                .await
                .map_err(|e| {
                    Error::Blocked(format!(
                        "etcd refused `downgrade enable {target}`: {}; no member was restarted. Run the same command again (it sees whether the downgrade was enabled)",
                        e.message
                    ))
                })?;
            storage_follows(env, (major, minor), live).await
        }
        DowngradeCall::Resume { major, minor } => {
            env.progress.line(&format!(
                "etcd downgrade to {major}.{minor} is enabled already: going on with it"
            ));
            storage_follows(env, (major, minor), live).await
        }
        DowngradeCall::Cancel { major, minor } => {
            env.progress.line(&format!(
                "etcd downgrade to {major}.{minor} is enabled: cancel it (downgrade cancel)"
            ));
            cancel(env, cluster).await
        }
    }
}

/// Waits until every member that reports a storage version (3.6 and later)
/// reports `target`'s: before that, the older binary cannot read its data.
async fn storage_follows(
    env: &Env<'_>,
    target: (u32, u32),
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let deadline = Instant::now() + STORAGE_WAIT;
    loop {
        let mut behind = Vec::new();
        for name in live {
            let url = env.url(env.member(name)?).await?;
            match env.etcd.status(&url).await {
                Ok(st) => {
                    let at = Version::parse(&st.storage_version).map(|v| (v.major, v.minor));
                    if at.is_some_and(|a| a != target) {
                        behind.push(format!("{name} {}", st.storage_version));
                    }
                }
                Err(e) => behind.push(format!("{name} ({})", e.message)),
            }
        }
        if behind.is_empty() {
            env.progress.line(&format!(
                "every member's storage version is {}.{}: members can go to the older binary",
                target.0, target.1
            ));
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Blocked(format!(
                "etcd's downgrade to {}.{} is enabled, but after {} s not every storage version follows: {}; no member was restarted. Look at `etcd-deploy status`, then run the same command again (or apply with the newer version to cancel the downgrade)",
                target.0,
                target.1,
                STORAGE_WAIT.as_secs(),
                behind.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The way back of a member that ran the newer minor `to` and failed after
/// its start: when etcd has moved the cluster version meanwhile (every
/// member ran `to` for a moment), `old` can start again only under etcd's
/// downgrade, which is enabled here (through the other members in `live`).
/// The cluster version it found, when it had moved.
pub(super) async fn enable_for_rollback(
    env: &Env<'_>,
    m: &crate::inventory::Member,
    old: Version,
    to: Version,
    live: &BTreeSet<String>,
) -> Result<Option<String>, Error> {
    if (old.major, old.minor) >= (to.major, to.minor) {
        return Ok(None);
    }
    let others: BTreeSet<String> = live.iter().filter(|n| **n != m.name).cloned().collect();
    if others.is_empty() {
        return Ok(None);
    }
    let urls = urls(env, &others).await?;
    let Some(first) = urls.first() else {
        return Ok(None);
    };
    let cv = env
        .etcd
        .versions(first)
        .await
        .map_err(|e| Error::Blocked(format!("reading the cluster version: {}", e.message)))?;
    let moved = Version::parse(&cv.etcdcluster)
        .is_some_and(|c| (c.major, c.minor) > (old.major, old.minor));
    if !moved {
        return Ok(None);
    }
    env.progress.line(&format!(
        "{}: the cluster version moved to {} meanwhile; etcd {old} starts again only under etcd's downgrade",
        m.name, cv.etcdcluster
    ));
    let call = DowngradeCall::Enable {
        major: old.major,
        minor: old.minor,
    };
    before_restarts(env, call, &urls, &others).await?;
    Ok(Some(cv.etcdcluster))
}

/// Once every member runs a downgrade's target: etcd's own end of the
/// downgrade (`downgrade cancel`, which its leader makes within seconds),
/// made at once, so that an upgrade right after never finds it still
/// enabled (3.5 members do not report it, and a 3.6 member joining first
/// stops their leader from ending it: the cluster version would stay put).
pub(super) async fn end(
    env: &Env<'_>,
    call: DowngradeCall,
    cluster: &[String],
) -> Result<(), Error> {
    let (DowngradeCall::Enable { major, minor } | DowngradeCall::Resume { major, minor }) = call
    else {
        return Ok(());
    };
    cancel(env, cluster).await?;
    env.progress.line(&format!(
        "etcd's downgrade to {major}.{minor} ended: every member runs it"
    ));
    Ok(())
}

/// An upgrade whose cluster version does not move: a downgrade to an older
/// minor than `to`, left enabled (by a downgrade whose end etcd had not
/// made yet), pins it. Cancelled when a member reports one; whether it did.
pub(super) async fn cancel_stale(
    env: &Env<'_>,
    cluster: &[String],
    live: &BTreeSet<String>,
    to: (u32, u32),
) -> Result<bool, Error> {
    for name in live {
        let url = env.url(env.member(name)?).await?;
        let Ok(st) = env.etcd.status(&url).await else {
            continue;
        };
        let stale = Version::parse(&st.downgrade_target).is_some_and(|t| (t.major, t.minor) < to);
        if stale {
            env.progress.line(&format!(
                "a downgrade to {} is still enabled and holds the cluster version down: cancel it (downgrade cancel)",
                st.downgrade_target
            ));
            cancel(env, cluster).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// `downgrade cancel` (asked again while the cluster settles after a
/// restart); none in flight is as good.
async fn cancel(env: &Env<'_>, cluster: &[String]) -> Result<(), Error> {
    let call = || async {
        match env.etcd.downgrade(cluster, Downgrade::Cancel).await {
            Err(e) if e.message.contains("no inflight downgrade") => Ok(String::new()),
            other => other,
        }
    };
    retry("etcd", "downgrade cancel", Duration::from_secs(20), call).await?;
    Ok(())
}
