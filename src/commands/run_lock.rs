//! The cluster's run lock as the commands use it: a run that changes the
//! cluster takes it once the plan has something to do (a no-op takes
//! nothing), plans again under it, and gives it back at the end. It has two
//! halves, taken in this order: one on every member's host (`host_lock`,
//! what a run has when no member answers: a first apply, a lost quorum,
//! restore, destroy) and one in etcd (`etcd::lock`, when members answer:
//! it holds even for hosts this run cannot reach). Another run holding
//! either refuses this one at once, naming who and since when, or makes it
//! wait (`--lock-timeout`). `plan` and `status` never take it, only show it.

use super::Session;
use crate::error::Error;
use crate::etcd::lock::{self, Holder, NotTaken, RunLock};
use crate::facts::{Facts, printable_upto};
use crate::host_lock::{self, HostLocks, Taken};
use std::time::{Duration, Instant};

/// The lock as this run holds it.
pub(super) struct Held {
    etcd: Option<RunLock>,
    hosts: HostLocks,
}

impl Held {
    /// Gives both halves back (etcd's through `urls`, the members' URLs now).
    pub(super) async fn release(self, urls: &[String]) {
        if let Some(l) = self.etcd {
            l.release(urls).await;
        }
        self.hosts.release().await;
    }
}

/// The client URLs of the members that answered.
async fn serving(s: &Session, facts: &Facts) -> Vec<String> {
    s.client_urls(|name| facts.cluster.status.contains_key(name))
        .await
}

/// A holder's line as a person reads it.
fn described(line: &str) -> String {
    match serde_json::from_str::<Holder>(line) {
        Ok(h) => h.describe(),
        Err(_) => printable_upto(line, 200),
    }
}

fn held_elsewhere(who: Option<String>, ttl: u64) -> Error {
    Error::Blocked(format!(
        "another run holds this cluster's run lock{}: one run at a time changes a cluster. Wait for it (--lock-timeout DURATION waits), or, if that run died, its lock is freed {ttl} s after it did at the latest. Nothing was changed",
        who.map(|w| format!(" ({w})")).unwrap_or_default(),
    ))
}

/// Takes the lock for this run, waiting up to `wait` for another run's;
/// the half in etcd only with `in_etcd` (not for the commands that take
/// the whole cluster down or run without quorum: restore, destroy, recover).
pub(super) async fn take(
    s: &Session,
    facts: &Facts,
    wait: Duration,
    in_etcd: bool,
) -> Result<Held, Error> {
    let command: Vec<String> = std::env::args().skip(1).collect();
    let holder = Holder::here(&format!("etcd-deploy {}", command.join(" ")));
    let line = serde_json::to_string(&holder).unwrap_or_default();
    let deadline = Instant::now() + wait;
    let hosts = loop {
        match host_lock::acquire(&s.inv, &s.hosts, &line)
            .await
            .map_err(Error::Blocked)?
        {
            Taken::Held(h) => break h,
            Taken::Busy { host, holder } => {
                if Instant::now() >= deadline {
                    let who = format!("{}, on the host of {host}", described(&holder));
                    return Err(held_elsewhere(Some(who), host_lock::TTL.as_secs()));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let urls = if in_etcd {
        serving(s, facts).await
    } else {
        Vec::new()
    };
    if urls.is_empty() {
        return Ok(Held { etcd: None, hosts });
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let etcd = match lock::acquire(&urls, &holder, left).await {
        Ok(l) => Some(l),
        // NOSPACE refuses every write, the lock's too: the repairs for it
        // (defrag, compact, disarm) go on with the hosts' half, saying so.
        Err(NotTaken::Etcd(e)) if e.message.contains("database space exceeded") => {
            s.progress.warn(
                "the cluster's run lock cannot be taken in etcd while NOSPACE is raised (etcd refuses every write): going on with the hosts' half only",
            );
            None
        }
        Err(e) => {
            hosts.release().await;
            return Err(match e {
                NotTaken::Held(who) => held_elsewhere(who, lock::LEASE_TTL as u64),
                NotTaken::Etcd(e) => Error::Blocked(format!(
                    "taking this cluster's run lock failed: {}; nothing was changed",
                    e.message
                )),
            });
        }
    };
    Ok(Held { etcd, hosts })
}

/// Who holds the lock now, for `plan` and `status` (which never take it).
pub(super) async fn shown(s: &Session, facts: &Facts) -> Option<String> {
    let on_host = s.inv.members.iter().find_map(|m| {
        let line = facts.hosts.get(&m.name)?.run_lock.as_deref()?;
        Some(format!("{} (on the host of {})", described(line), m.name))
    });
    if on_host.is_some() {
        return on_host;
    }
    let urls = serving(s, facts).await;
    if urls.is_empty() {
        return None;
    }
    lock::held_by(&urls).await
}
