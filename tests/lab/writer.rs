//! A client that writes keys in a loop against all client URLs, failing over
//! to the next URL on any error, and reports what was acknowledged. Shared by
//! the lab tests and `examples/writeload.rs` (the rolling benchmark).

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A client identity for clusters with TLS: PEM texts.
#[derive(Debug, Clone)]
pub struct Tls {
    pub ca: String,
    pub cert: String,
    pub key: String,
    /// A password user's name and password (the certificate then only
    /// lets it connect).
    pub user: Option<(String, String)>,
}

impl Tls {
    /// Reads `ca.crt`, `<who>.crt` and `<who>.key` from an etcd-deploy TLS directory.
    pub fn from_dir(dir: &std::path::Path, who: &str) -> std::io::Result<Tls> {
        let read = |f: String| std::fs::read_to_string(dir.join(f));
        Ok(Tls {
            ca: read("ca.crt".into())?,
            cert: read(format!("{who}.crt"))?,
            key: read(format!("{who}.key"))?,
            user: None,
        })
    }
}

/// Connection options with `timeout` per call, and TLS when given.
pub fn options(tls: Option<&Tls>, connect: Duration, timeout: Duration) -> ConnectOptions {
    let o = ConnectOptions::new()
        .with_connect_timeout(connect)
        .with_timeout(timeout);
    match tls {
        Some(t) => {
            let o = o.with_tls(
                TlsOptions::new()
                    .ca_certificate(Certificate::from_pem(&t.ca))
                    .identity(Identity::from_pem(&t.cert, &t.key)),
            );
            match &t.user {
                Some((name, password)) => o.with_user(name.as_str(), password.as_str()),
                None => o,
            }
        }
        None => o,
    }
}

/// What a `Writer` saw.
#[derive(Debug)]
pub struct WriteReport {
    /// Keys whose put was acknowledged.
    pub acked: Vec<String>,
    pub failed_attempts: usize,
    /// The longest time between two acknowledged writes.
    pub longest_gap: Duration,
    /// When that gap ended, since the writer started (to find its cause in a log).
    pub longest_gap_end: Duration,
    /// The first failures, as (time since start, endpoint, error), to explain stalls.
    pub failures: Vec<(Duration, String, String)>,
}

/// Writes `prefix0000000`, `prefix0000001`, ... until stopped.
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<WriteReport>,
}

impl Writer {
    pub fn start(urls: Vec<String>, prefix: &str, tls: Option<Tls>) -> Writer {
        Writer::start_with(urls, prefix, tls, Duration::from_millis(300))
    }

    /// A writer whose calls wait up to `timeout` (real clients wait
    /// seconds: a hang then shows as a stall of that length, where the
    /// 300 ms default would fail over and hide it).
    pub fn start_with(
        urls: Vec<String>,
        prefix: &str,
        tls: Option<Tls>,
        timeout: Duration,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let prefix = prefix.to_string();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(write_loop(urls, prefix, flag, tls, timeout))
        });
        Writer { stop, handle }
    }

    pub fn stop(self) -> WriteReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("writer thread")
    }
}

async fn write_loop(
    urls: Vec<String>,
    prefix: String,
    stop: Arc<AtomicBool>,
    tls: Option<Tls>,
    timeout: Duration,
) -> WriteReport {
    // A client with a deadline: a healthy put takes milliseconds here; the
    // identity only for https endpoints (a list may hold both, e.g. while a
    // cluster moves to TLS).
    let opts = |url: &str| {
        options(
            tls.as_ref().filter(|_| url.starts_with("https://")),
            Duration::from_millis(200),
            timeout,
        )
    };
    let mut clients: Vec<Option<Client>> = urls.iter().map(|_| None).collect();
    let mut report = WriteReport {
        acked: Vec::new(),
        failed_attempts: 0,
        longest_gap: Duration::ZERO,
        longest_gap_end: Duration::ZERO,
        failures: Vec::new(),
    };
    let begin = Instant::now();
    let (mut e, mut n, mut last) = (0usize, 0usize, Instant::now());
    while !stop.load(Ordering::Relaxed) {
        let key = format!("{prefix}{n:07}");
        if clients[e].is_none() {
            clients[e] = Client::connect([urls[e].as_str()], Some(opts(&urls[e])))
                .await
                .ok();
        }
        let result = match clients[e].as_mut() {
            Some(c) => c
                .put(key.as_str(), "v", None)
                .await
                .map(|_| ())
                .map_err(|err| err.to_string()),
            None => Err("cannot connect".to_string()),
        };
        if let Err(err) = &result
            && report.failures.len() < 20
        {
            report
                .failures
                .push((begin.elapsed(), urls[e].clone(), err.clone()));
        }
        if result.is_ok() {
            let now = Instant::now();
            if now - last > report.longest_gap {
                report.longest_gap = now - last;
                report.longest_gap_end = begin.elapsed();
            }
            last = now;
            report.acked.push(key);
            n += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        } else {
            report.failed_attempts += 1;
            clients[e] = None;
            e = (e + 1) % urls.len();
        }
    }
    report
}

/// Reads every acknowledged key back through `url`; returns the ones missing.
pub async fn lost_writes(
    url: &str,
    report: &WriteReport,
    prefix: &str,
    tls: Option<&Tls>,
) -> Result<Vec<String>, etcd_client::Error> {
    let mut c = Client::connect(
        [url],
        Some(options(
            tls,
            Duration::from_secs(2),
            Duration::from_secs(10),
        )),
    )
    .await?;
    let r = c
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await?;
    let have: std::collections::HashSet<Vec<u8>> =
        r.kvs().iter().map(|kv| kv.key().to_vec()).collect();
    Ok(report
        .acked
        .iter()
        .filter(|k| !have.contains(k.as_bytes()))
        .cloned()
        .collect())
}
