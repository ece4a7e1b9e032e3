//! The cluster's run lock on the hosts (`remote/run_lock.sh`): a `flock`
//! on each member's host, held by a script that runs while this run keeps
//! its SSH connection and writes a line every `BEAT`. It stands beside the
//! lock in etcd (`etcd::lock`) and is what a run has when no member answers
//! (a first apply, a lost quorum, restore, destroy). A run that dies closes
//! the script's stdin (the lock is free at once); a controller cut off
//! stops beating (free within `TTL`). Taken on every host or on none.

use crate::inventory::Inventory;
use crate::layout;
use crate::script::Script;
use crate::ssh::Host;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// How long a host keeps the lock of a run it no longer hears from.
pub(crate) const TTL: Duration = Duration::from_secs(15);
/// How often the run says it is alive.
const BEAT: Duration = Duration::from_secs(5);
/// How long a host may take to say whether it gave the lock.
const ANSWER: Duration = Duration::from_secs(10);

/// Locks this run holds on hosts; given back by `release`, or when the
/// process dies.
pub(crate) struct HostLocks {
    held: Vec<Held>,
}

struct Held {
    child: openssh::Child<std::sync::Arc<openssh::Session>>,
    beat: tokio::task::JoinHandle<()>,
}

/// What taking the locks came to.
pub(crate) enum Taken {
    Held(HostLocks),
    /// Another run holds the lock on `host`: its holder line as it wrote it.
    Busy {
        host: String,
        holder: String,
    },
}

/// Takes the lock on the host of every connected member (once per host),
/// in parallel; if any host has it held by another run, gives back those
/// taken. `holder` is one line (JSON) saying who this run is.
pub(crate) async fn acquire(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
    holder: &str,
) -> Result<Taken, String> {
    let script = Script::new(
        "etcd-deploy-run-lock",
        crate::remote::ROOT_DIR,
        Vec::<String>::new(),
    )
    .then(
        include_str!("remote/run_lock.sh"),
        [
            layout::run_lock_path(inv),
            holder.to_string(),
            TTL.as_secs().to_string(),
        ],
    );
    let mut seen = BTreeSet::new();
    let jobs = inv.members.iter().filter_map(|m| {
        let host = hosts.get(&m.name)?;
        seen.insert((m.ssh.address.as_str(), m.ssh.port))
            .then(|| take_one(host, &script))
    });
    let mut held = HostLocks { held: Vec::new() };
    let mut busy = None;
    let mut failed = None;
    for r in futures_util::future::join_all(jobs).await {
        match r {
            Ok(One::Held(h)) => held.held.push(*h),
            Ok(One::Busy(host, holder)) => busy = Some(Taken::Busy { host, holder }),
            Err(e) => failed = Some(e),
        }
    }
    match (busy, failed) {
        (None, None) => Ok(Taken::Held(held)),
        (busy, failed) => {
            held.release().await;
            match busy {
                Some(b) => Ok(b),
                None => Err(failed.unwrap_or_default()),
            }
        }
    }
}

enum One {
    Held(Box<Held>),
    Busy(String, String),
}

async fn take_one(host: &Host, script: &Script) -> Result<One, String> {
    let fail = |e: String| format!("{}: taking the run lock: {e}", host.name);
    let mut child = host
        .spawn_held("take the run lock", script)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let first = async {
        let out = child.stdout().take()?;
        let mut line = String::new();
        tokio::io::BufReader::new(out)
            .read_line(&mut line)
            .await
            .ok()?;
        Some(line)
    };
    let line = tokio::time::timeout(ANSWER, first).await.ok().flatten();
    match line.as_deref().map(str::trim_end) {
        Some("held") => {
            let Some(mut stdin) = child.stdin().take() else {
                return Err(fail("no stdin".into()));
            };
            let beat = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(BEAT).await;
                    if stdin.write_all(b"1\n").await.is_err() || stdin.flush().await.is_err() {
                        return;
                    }
                }
            });
            Ok(One::Held(Box::new(Held { child, beat })))
        }
        Some(l) if l.starts_with("busy ") => {
            let _ = child.wait().await;
            Ok(One::Busy(host.name.clone(), l["busy ".len()..].to_string()))
        }
        _ => {
            // Its own words, if it said any before it ended.
            let mut why = String::new();
            if let Some(mut err) = child.stderr().take() {
                use tokio::io::AsyncReadExt;
                let read = err.read_to_string(&mut why);
                let _ = tokio::time::timeout(Duration::from_secs(1), read).await;
            }
            let _ = child.disconnect().await;
            Err(fail(match why.trim() {
                "" => "the host did not answer".into(),
                w => crate::facts::printable_upto(w, 300),
            }))
        }
    }
}

impl HostLocks {
    /// Gives every lock back: the beats stop and stdin closes, so each
    /// script ends and its `flock` with it.
    pub(crate) async fn release(self) {
        let waits = self.held.into_iter().map(|h| async move {
            h.beat.abort();
            let _ = h.beat.await;
            let _ = tokio::time::timeout(Duration::from_secs(5), h.child.wait()).await;
        });
        futures_util::future::join_all(waits).await;
    }
}
