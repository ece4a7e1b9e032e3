//! The history recorder (issue 27): several clients, each bound to its own
//! member and failing over to the next when it cannot reach it, doing
//! linearizable reads, writes of unique values and compare-and-set (a
//! transaction on the key's mod revision) over a few keys, each operation
//! recorded with its invocation and completion (monotonic), its result and
//! whether it is known to have taken effect, and the cluster and member ID
//! of its response (`tests/shared/history.rs`, which the crate that
//! includes this file declares as `history`). Shared by path with the
//! `linearizability` example (`bench/linearizability`).

use crate::history::{History, Input, Op, Outcome, Output, Watch, Watched};
use crate::writer::{Tls, options};
use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp, WatchOptions};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Recording clients, until `stop`.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    began: Instant,
    events: Arc<Mutex<Vec<(u64, String)>>>,
    clients: Vec<std::thread::JoinHandle<Vec<Op>>>,
    /// etcd's own account of the writes it applied.
    watcher: std::thread::JoinHandle<Watch>,
    /// The revision the watcher must reach before it stops (set at stop).
    until: Arc<AtomicI64>,
    /// For the final reads.
    urls: Vec<String>,
    prefix: String,
    tls: Option<Tls>,
    load: Load,
}

/// How the clients behave.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: usize,
    pub keys: usize,
    /// Each call's deadline: past it, the outcome is unknown.
    pub timeout: Duration,
    /// Between two operations of one client.
    pub pause: Duration,
    /// An etcd-deploy TLS directory whose `ca.crt` and `operator.*` are
    /// read again at every new connection (a CA rotation changes them).
    pub tls_dir: Option<std::path::PathBuf>,
}

/// The identity for a connection to `url`: none for plain HTTP; the
/// files in `load.tls_dir` as they are now, or else `tls`.
fn identity(tls: Option<&Tls>, load: &Load, url: &str) -> Option<Tls> {
    if !url.starts_with("https://") {
        return None;
    }
    load.tls_dir
        .as_ref()
        .and_then(|d| Tls::from_dir(d, "operator").ok())
        .or_else(|| tls.cloned())
}

impl Default for Load {
    fn default() -> Load {
        Load {
            clients: 3,
            keys: 4,
            timeout: Duration::from_secs(2),
            pause: Duration::from_millis(10),
            tls_dir: None,
        }
    }
}

impl Recorder {
    /// Starts `load.clients` clients over `urls` (client i bound to
    /// `urls[i % n]`), on keys `PREFIXk0`, `PREFIXk1`, ...
    pub fn start(urls: Vec<String>, prefix: &str, tls: Option<Tls>, load: Load) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        // Where etcd's account begins: before any client writes.
        let start = current_revision(&urls, tls.as_ref()) + 1;
        let clients = (0..load.clients)
            .map(|c| {
                let (stop, urls, tls, load) =
                    (stop.clone(), urls.clone(), tls.clone(), load.clone());
                let prefix = prefix.to_string();
                on_own_thread(move || client_loop(c, urls, prefix, tls, load, stop, began))
            })
            .collect();
        let until = Arc::new(AtomicI64::new(i64::MAX));
        let watcher = {
            let (urls, tls, until, load) = (urls.clone(), tls.clone(), until.clone(), load.clone());
            let prefix = prefix.to_string();
            on_own_thread(move || watch_loop(urls, prefix, tls, load, start, until, began))
        };
        Recorder {
            watcher,
            until,
            stop,
            began,
            events: Arc::new(Mutex::new(Vec::new())),
            clients,
            urls,
            prefix: prefix.to_string(),
            tls,
            load,
        }
    }

    /// Notes what is being done to the cluster now (shown on the history).
    pub fn event(&self, what: &str) {
        let at = self.began.elapsed().as_nanos() as u64;
        self.events
            .lock()
            .expect("events")
            .push((at, what.to_string()));
    }

    /// Stops the clients (each finishes the operation it is in), then one
    /// more client reads every key (an acknowledged write lost shows there
    /// at the latest), and returns the history, in order of invocation.
    pub fn stop(self) -> History {
        self.stop.store(true, Ordering::Relaxed);
        let mut ops: Vec<Op> = self
            .clients
            .into_iter()
            .flat_map(|h| h.join().expect("client"))
            .collect();
        ops.extend(runtime().block_on(final_reads(
            self.load.clients,
            &self.urls,
            &self.prefix,
            self.tls.as_ref(),
            &self.load,
            self.began,
        )));
        ops.sort_by_key(|o| (o.call, o.client));
        // The watch follows up to the last revision the final reads saw.
        let last = ops
            .iter()
            .filter_map(|o| match &o.output {
                None => None,
                Some(Output::Got { mod_rev: rev, .. })
                | Some(Output::Put { rev })
                | Some(Output::Cas { rev, .. }) => Some(*rev),
            })
            .max()
            .unwrap_or(0);
        self.until.store(last, Ordering::Relaxed);
        let watch = self.watcher.join().expect("watcher");
        let events = self.events.lock().expect("events").clone();
        let mut h = History {
            ops,
            events,
            recovery: None,
            watch: Some(watch),
        };
        h.recovery = h.recovery_from_events();
        h
    }
}

/// A small deterministic generator per client (no dependency).
struct Rnd(u64);

impl Rnd {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn client_loop(
    c: usize,
    urls: Vec<String>,
    prefix: String,
    tls: Option<Tls>,
    load: Load,
    stop: Arc<AtomicBool>,
    began: Instant,
) -> Vec<Op> {
    let mut rnd = Rnd(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut at = c % urls.len();
    let mut client: Option<Client> = None;
    // What this client last read of each key: (value, mod revision).
    let mut seen: Vec<(Option<String>, i64)> = vec![(None, 0); load.keys];
    let mut ops = Vec::new();
    let mut seq = 0u64;
    let now = || began.elapsed().as_nanos() as u64;
    while !stop.load(Ordering::Relaxed) {
        let k = rnd.below(load.keys as u64) as usize;
        let key = format!("{prefix}k{k}");
        seq += 1;
        let value = format!("c{c}-{seq}");
        let input = match rnd.below(10) {
            0..=4 => Input::Get,
            5..=7 => Input::Put { value },
            _ => Input::Cas {
                expect: seen[k].0.clone(),
                expect_rev: seen[k].1,
                value,
            },
        };
        let url = urls[at].clone();
        let call = now();
        if client.is_none() {
            let o = options(
                identity(tls.as_ref(), &load, &url).as_ref(),
                load.timeout,
                load.timeout,
            );
            client = Client::connect([url.as_str()], Some(o)).await.ok();
        }
        let Some(cl) = client.as_mut() else {
            // Never sent: it certainly did not take effect.
            ops.push(op(
                c,
                key,
                input,
                None,
                Outcome::Failed,
                call,
                now(),
                &url,
                None,
            ));
            at = (at + 1) % urls.len();
            tokio::time::sleep(load.pause).await;
            continue;
        };
        let result = tokio::time::timeout(
            load.timeout + Duration::from_millis(500),
            run(cl, &key, &input),
        )
        .await;
        let ret = now();
        match result {
            Ok(Ok((output, cluster, member))) => {
                if let Output::Got { value, mod_rev } = &output {
                    seen[k] = (value.clone(), *mod_rev);
                }
                let mut o = op(
                    c,
                    key,
                    input,
                    Some(output),
                    Outcome::Ok,
                    call,
                    ret,
                    &url,
                    None,
                );
                o.cluster_id = Some(cluster);
                o.member_id = Some(member);
                ops.push(o);
            }
            Ok(Err(e)) => {
                let outcome = match input {
                    // A read has no effect: a failed one tells nothing.
                    Input::Get => Outcome::Failed,
                    // Never sent: the connection could not be made.
                    _ if e.contains("tcp connect error") => Outcome::Failed,
                    _ => Outcome::Unknown,
                };
                ops.push(op(c, key, input, None, outcome, call, ret, &url, Some(e)));
                client = None;
                at = (at + 1) % urls.len();
            }
            Err(_) => {
                let outcome = match input {
                    Input::Get => Outcome::Failed,
                    _ => Outcome::Unknown,
                };
                let e = Some("no answer in time".to_string());
                ops.push(op(c, key, input, None, outcome, call, ret, &url, e));
                client = None;
                at = (at + 1) % urls.len();
            }
        }
        tokio::time::sleep(load.pause).await;
    }
    ops
}

/// Every key read once, by client `c`, from the first member that
/// answers (up to 30 s in all: the cluster may still be settling).
async fn final_reads(
    c: usize,
    urls: &[String],
    prefix: &str,
    tls: Option<&Tls>,
    load: &Load,
    began: Instant,
) -> Vec<Op> {
    let now = || began.elapsed().as_nanos() as u64;
    let mut ops = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    for k in 0..load.keys {
        let key = format!("{prefix}k{k}");
        'key: while Instant::now() < give_up {
            for url in urls {
                let o = options(
                    identity(tls, load, url).as_ref(),
                    load.timeout,
                    load.timeout,
                );
                let Ok(mut cl) = Client::connect([url.as_str()], Some(o)).await else {
                    continue;
                };
                let call = now();
                if let Ok((output, cluster, member)) = run(&mut cl, &key, &Input::Get).await {
                    let mut o = op(
                        c,
                        key.clone(),
                        Input::Get,
                        Some(output),
                        Outcome::Ok,
                        call,
                        now(),
                        url,
                        None,
                    );
                    o.cluster_id = Some(cluster);
                    o.member_id = Some(member);
                    ops.push(o);
                    break 'key;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    ops
}

#[allow(clippy::too_many_arguments)]
fn op(
    c: usize,
    key: String,
    input: Input,
    output: Option<Output>,
    outcome: Outcome,
    call: u64,
    ret: u64,
    url: &str,
    error: Option<String>,
) -> Op {
    Op {
        client: c,
        key,
        input,
        output,
        outcome,
        call,
        ret,
        endpoint: url.to_string(),
        cluster_id: None,
        member_id: None,
        error: error.map(|e| e.chars().take(200).collect()),
    }
}

/// One operation: its output, and the response's cluster and member ID.
async fn run(cl: &mut Client, key: &str, input: &Input) -> Result<(Output, u64, u64), String> {
    let ids = |h: Option<&etcd_client::ResponseHeader>| {
        h.map(|h| (h.cluster_id(), h.member_id(), h.revision()))
            .unwrap_or_default()
    };
    match input {
        Input::Get => {
            let r = cl.get(key, None).await.map_err(|e| e.to_string())?;
            let (cluster, member, _) = ids(r.header());
            let (value, mod_rev) = match r.kvs().first() {
                Some(kv) => (
                    Some(String::from_utf8_lossy(kv.value()).to_string()),
                    kv.mod_revision(),
                ),
                None => (None, 0),
            };
            Ok((Output::Got { value, mod_rev }, cluster, member))
        }
        Input::Put { value } => {
            let r = cl
                .put(key, value.as_str(), None)
                .await
                .map_err(|e| e.to_string())?;
            let (cluster, member, rev) = ids(r.header());
            Ok((Output::Put { rev }, cluster, member))
        }
        Input::Cas {
            expect_rev, value, ..
        } => {
            let txn = Txn::new()
                .when([Compare::mod_revision(key, CompareOp::Equal, *expect_rev)])
                .and_then([TxnOp::put(key, value.as_str(), None)]);
            let r = cl.txn(txn).await.map_err(|e| e.to_string())?;
            let (cluster, member, rev) = ids(r.header());
            Ok((
                Output::Cas {
                    succeeded: r.succeeded(),
                    rev,
                },
                cluster,
                member,
            ))
        }
    }
}

/// A watch on the prefix from the run's start, resumed on the next member
/// from the revision after the last one delivered whenever its stream
/// breaks; it stops once it has delivered `until` (set when the clients
/// stop). Complete when no revision was skipped: never compacted away, and
/// caught up in the end (within 30 s of being asked to).
async fn watch_loop(
    urls: Vec<String>,
    prefix: String,
    tls: Option<Tls>,
    load: Load,
    start: i64,
    until: Arc<AtomicI64>,
    began: Instant,
) -> Watch {
    let now = || began.elapsed().as_nanos() as u64;
    let mut w = Watch {
        complete: true,
        writes: Vec::new(),
    };
    let (mut at, mut next) = (0usize, start);
    let mut asked: Option<Instant> = None;
    loop {
        let target = until.load(Ordering::Relaxed);
        if target != i64::MAX {
            if next > target {
                return w;
            }
            let since = *asked.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(30) {
                w.complete = false;
                return w;
            }
        }
        let url = &urls[at];
        at = (at + 1) % urls.len();
        let o = options(
            identity(tls.as_ref(), &load, url).as_ref(),
            Duration::from_secs(2),
            Duration::from_secs(2),
        );
        let Ok(mut cl) = Client::connect([url.as_str()], Some(o)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let opts = WatchOptions::new().with_prefix().with_start_revision(next);
        let Ok(mut stream) = cl.watch(prefix.as_str(), Some(opts)).await else {
            continue;
        };
        loop {
            let target = until.load(Ordering::Relaxed);
            if target != i64::MAX && next > target {
                return w;
            }
            let msg = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
            let resp = match msg {
                // Quiet: look at the target again.
                Err(_) if target == i64::MAX => continue,
                // Asked to finish but nothing comes: try the next member.
                Err(_) => break,
                Ok(Ok(Some(r))) => r,
                Ok(_) => break,
            };
            if resp.canceled() || resp.compact_revision() > 0 {
                w.complete = false;
                return w;
            }
            for ev in resp.events() {
                if let Some(kv) = ev.kv() {
                    if kv.mod_revision() < next {
                        continue;
                    }
                    w.writes.push(Watched {
                        key: String::from_utf8_lossy(kv.key()).to_string(),
                        value: String::from_utf8_lossy(kv.value()).to_string(),
                        rev: kv.mod_revision(),
                        at: now(),
                    });
                    next = kv.mod_revision() + 1;
                }
            }
        }
    }
}

/// The cluster's revision now, from the first member that answers (the
/// recorder's start: its prefix is new, nothing before it matters).
fn current_revision(urls: &[String], tls: Option<&Tls>) -> i64 {
    runtime().block_on(async {
        for _ in 0..50 {
            for url in urls {
                let o = options(
                    tls.filter(|_| url.starts_with("https://")),
                    Duration::from_secs(2),
                    Duration::from_secs(2),
                );
                if let Ok(mut cl) = Client::connect([url.as_str()], Some(o)).await
                    && let Ok(r) = cl.get("/", None).await
                    && let Some(h) = r.header()
                {
                    return h.revision();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no member answered to start the recorder");
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs the future `make` gives on a thread and runtime of its own.
fn on_own_thread<T, F, Fut>(make: F) -> std::thread::JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || runtime().block_on(make()))
}
