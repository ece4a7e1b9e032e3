//! One run at a time per cluster, whoever runs it: a lock held in the
//! cluster itself through etcd's own lease-backed lock (the v3lock API,
//! `etcdctl lock`), under the reserved name `etcd-deploy/run-lock`, with who
//! holds it (host, user, command, since) kept under `etcd-deploy/run-holder`
//! on the same lease. The lease is kept alive while the run lasts; a run
//! that dies (SIGKILL, a lost laptop) lets it expire, so the next run waits
//! at most `LEASE_TTL` for it.

use super::EtcdError;
use super::connect::{client, forget};
use crate::facts::printable_upto;
use etcd_client::{LockOptions, PutOptions};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Who holds the lock, as the holder writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub host: String,
    pub user: String,
    pub command: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
}

impl Holder {
    /// This process, running `command`.
    pub(crate) fn here(command: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| user_of_this_process());
        Holder {
            host,
            user,
            command: command.to_string(),
            pid: std::process::id(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// `user@host (command, PID n) since T`, each part shown safely (a
    /// holder's note is anyone's text).
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}@{} ({}, PID {}) since {}",
            printable_upto(&self.user, 64),
            printable_upto(&self.host, 128),
            printable_upto(&self.command, 160).trim_end(),
            self.pid,
            printable_upto(&self.since, 40)
        )
    }
}

/// The lock's name: etcd keeps one key per waiter under it.
pub(crate) const LOCK_NAME: &str = "etcd-deploy/run-lock";
/// Who holds the lock, as JSON, on the holder's lease.
pub(crate) const HOLDER_KEY: &str = "etcd-deploy/run-holder";
/// The lease's time to live: how long a killed run's lock outlives it.
pub(crate) const LEASE_TTL: i64 = 15;

/// A lock this run holds: released with `release`, or by its lease's
/// expiry when the process dies.
pub(crate) struct RunLock {
    urls: Vec<String>,
    lease: i64,
    key: Vec<u8>,
    keep_alive: tokio::task::JoinHandle<()>,
}

/// Why the lock was not taken.
pub(crate) enum NotTaken {
    /// Another run holds it: who, as it said (`None`: it did not say yet).
    Held(Option<String>),
    Etcd(EtcdError),
}

impl From<EtcdError> for NotTaken {
    fn from(e: EtcdError) -> Self {
        NotTaken::Etcd(e)
    }
}

impl From<etcd_client::Error> for NotTaken {
    fn from(e: etcd_client::Error) -> Self {
        NotTaken::Etcd(e.into())
    }
}

/// The name of this process's user (from /etc/passwd), else its UID.
fn user_of_this_process() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "?".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)? == uid.to_string()).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// Takes the lock through `urls`, waiting for it up to `wait` (at least
/// one attempt of about a second); `holder` (JSON) says who takes it.
pub(crate) async fn acquire(
    urls: &[String],
    holder: &Holder,
    wait: Duration,
) -> Result<RunLock, NotTaken> {
    let holder = serde_json::to_string(holder).unwrap_or_default();
    let lease = on_any(urls, |mut c| async move {
        c.lease_grant(LEASE_TTL, None).await.map(|r| r.id())
    })
    .await?;
    let keep_alive = tokio::spawn(keep_alive(urls.to_vec(), lease));
    let deadline = Instant::now() + wait;
    let key = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = left.clamp(Duration::from_secs(1), Duration::from_secs(3));
        let lock = on_any(urls, |mut c| async move {
            c.lock(LOCK_NAME, Some(LockOptions::new().with_lease(lease)))
                .await
                .map(|r| r.key().to_vec())
        });
        match tokio::time::timeout(attempt, lock).await {
            Ok(Ok(key)) => break key,
            Ok(Err(e)) => {
                keep_alive.abort();
                revoke(urls, lease).await;
                return Err(e.into());
            }
            // A run of this machine that died (its PID gone) holds it: its
            // lease is revoked at once rather than waited out.
            Err(_) if broke_dead_holder(urls).await => continue,
            Err(_) if Instant::now() < deadline => continue,
            Err(_) => {
                let who = held_by(urls).await;
                keep_alive.abort();
                revoke(urls, lease).await;
                return Err(NotTaken::Held(who));
            }
        }
    };
    let put = |mut c: etcd_client::Client| {
        let holder = holder.clone();
        async move {
            c.put(
                HOLDER_KEY,
                holder,
                Some(PutOptions::new().with_lease(lease)),
            )
            .await
        }
    };
    on_any(urls, put).await?;
    Ok(RunLock {
        urls: urls.to_vec(),
        lease,
        key,
        keep_alive,
    })
}

/// A call made through the first member of `urls` that takes it: another
/// run's step may be restarting one of them. An error etcd gives (not a
/// lost connection) is the answer.
async fn on_any<T, F, Fut>(urls: &[String], f: F) -> Result<T, EtcdError>
where
    F: Fn(etcd_client::Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let mut last = EtcdError::new("no member to ask");
    for _ in 0..3 {
        for u in urls {
            let one = [u.clone()];
            let Ok(c) = client(&one).await else { continue };
            match f(c).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let e = EtcdError::from(e);
                    if !e.is_transient() {
                        return Err(e);
                    }
                    forget(&one);
                    last = e;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(last)
}

/// Keeps the lease alive while the run lasts, through whichever member
/// answers (the run's own steps restart them one by one).
async fn keep_alive(urls: Vec<String>, lease: i64) {
    loop {
        tokio::time::sleep(Duration::from_secs((LEASE_TTL / 3).max(1) as u64)).await;
        let once = |mut c: etcd_client::Client| async move {
            let (mut keeper, mut answers) = c.lease_keep_alive(lease).await?;
            keeper.keep_alive().await?;
            answers.message().await.map(|_| ())
        };
        // Not kept alive this time: the next tick tries again, and a run
        // cut off from its cluster for longer loses the lock with it.
        let _ = on_any(&urls, once).await;
    }
}

/// When the holder is a run of this machine whose process is gone (killed,
/// crashed), its lease is revoked: the lock it left is freed now instead of
/// after `LEASE_TTL`. Whether it was. A holder on another machine is never
/// judged from here.
async fn broke_dead_holder(urls: &[String]) -> bool {
    let Ok(r) = on_any(urls, |mut c| async move { c.get(HOLDER_KEY, None).await }).await else {
        return false;
    };
    let Some(kv) = r.kvs().first() else {
        return false;
    };
    let Ok(h) = serde_json::from_slice::<Holder>(kv.value()) else {
        return false;
    };
    let here = Holder::here("");
    if h.host != here.host || h.pid == here.pid || runs_etcd_deploy(h.pid) {
        return false;
    }
    let lease = kv.lease();
    on_any(urls, |mut c| async move {
        c.lease_revoke(lease).await.map(|_| ())
    })
    .await
    .is_ok()
}

/// Whether process `pid` of this machine is an etcd-deploy.
fn runs_etcd_deploy(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "etcd-deploy")
}

/// The lease revoked (the lock and the holder's note go with it).
async fn revoke(urls: &[String], lease: i64) {
    let _ = on_any(urls, |mut c| async move {
        c.lease_revoke(lease).await.map(|_| ())
    })
    .await;
}

impl RunLock {
    /// Gives the lock back (and its lease: the holder's note goes with it).
    /// `now`: the members' client URLs as they serve now (a move to TLS
    /// changed their scheme, a removal took one away), asked first.
    pub(crate) async fn release(self, now: &[String]) {
        self.keep_alive.abort();
        let key = self.key;
        let urls: Vec<String> = now.iter().chain(&self.urls).cloned().collect();
        let _ = on_any(&urls, |mut c| {
            let key = key.clone();
            async move { c.unlock(key).await.map(|_| ()) }
        })
        .await;
        revoke(&urls, self.lease).await;
    }
}

/// Who holds the lock now, as its holder wrote it (`None`: nobody said).
pub(crate) async fn held_by(urls: &[String]) -> Option<String> {
    let r = on_any(urls, |mut c| async move { c.get(HOLDER_KEY, None).await })
        .await
        .ok()?;
    let text = String::from_utf8_lossy(r.kvs().first()?.value()).into_owned();
    Some(match serde_json::from_str::<Holder>(&text) {
        Ok(h) => h.describe(),
        Err(_) => format!("an unknown holder ({})", printable_upto(&text, 120)),
    })
}
