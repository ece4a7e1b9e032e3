//! The cluster's run lock as the commands use it (`etcd::lock`): a run that
//! changes the cluster takes it once the plan has something to do (a no-op
//! writes nothing to etcd), plans again under it, and gives it back at the
//! end; another run holding it refuses this one at once, naming who and
//! since when, or makes it wait (`--lock-timeout`). `plan` and `status`
//! never take it, only show it. A cluster where no member answers (a first
//! apply, a lost quorum) has no lock to take: the run goes on, with only
//! the per-host locks of its scripts.

use super::Session;
use crate::error::Error;
use crate::etcd::lock::{self, Holder, NotTaken, RunLock};
use crate::facts::Facts;
use std::time::Duration;

/// The client URLs of the members that answered.
async fn serving(s: &Session, facts: &Facts) -> Vec<String> {
    s.client_urls(|name| facts.cluster.status.contains_key(name))
        .await
}

/// Takes the lock for this run (`None`: no member answers, there is none).
pub(super) async fn take(
    s: &Session,
    facts: &Facts,
    wait: Duration,
) -> Result<Option<RunLock>, Error> {
    let urls = serving(s, facts).await;
    if urls.is_empty() {
        return Ok(None);
    }
    let command: Vec<String> = std::env::args().skip(1).collect();
    let holder = Holder::here(&format!("etcd-deploy {}", command.join(" ")));
    match lock::acquire(&urls, &holder, wait).await {
        Ok(l) => Ok(Some(l)),
        Err(NotTaken::Held(who)) => Err(Error::Blocked(format!(
            "another run holds this cluster's run lock{}: one run at a time changes a cluster. Wait for it (--lock-timeout DURATION waits), or, if that run died, its lock expires {} s after it did (etcd's lease). Nothing was changed",
            who.map(|w| format!(" ({w})")).unwrap_or_default(),
            lock::LEASE_TTL
        ))),
        // NOSPACE refuses every write, the lock's too: the repairs for it
        // (defrag, compact, disarm) go on without one, saying so.
        Err(NotTaken::Etcd(e)) if e.message.contains("database space exceeded") => {
            s.progress.warn(
                "the cluster's run lock cannot be taken while NOSPACE is raised (etcd refuses every write): going on without it",
            );
            Ok(None)
        }
        Err(NotTaken::Etcd(e)) => Err(Error::Blocked(format!(
            "taking this cluster's run lock failed: {}; nothing was changed",
            e.message
        ))),
    }
}

/// Who holds the lock now, for `plan` and `status` (which never take it).
pub(super) async fn shown(s: &Session, facts: &Facts) -> Option<String> {
    let urls = serving(s, facts).await;
    if urls.is_empty() {
        return None;
    }
    lock::held_by(&urls).await
}
