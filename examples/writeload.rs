//! Write load for the benchmarks (`bench/rolling`, `bench/vs-hand`,
//! `bench/kill-matrix`): writes keys in a loop until stdin closes or a line
//! is read, then reads every acknowledged key back and prints one JSON line:
//! acknowledged writes, failed attempts, longest gap, writes lost. With
//! `ETCD_TLS_DIR` set (an etcd-deploy TLS directory), it uses `operator.crt`.
//!
//! By default one client fails over between the URLs with a 300 ms call
//! deadline. `WRITELOAD_PER_MEMBER=1` runs one client per URL instead, each
//! bound to its member (as an application pinned to its local etcd is), and
//! `WRITELOAD_TIMEOUT_MS` sets the call deadline (real clients use seconds:
//! a request that hangs then shows as a stall of that length, not as a quick
//! failover). The figures are the worst over the clients, the sums of writes.
//!
//!   cargo run --release --example writeload -- PREFIX URL...

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub, dead_code)]

#[path = "../tests/lab/writer.rs"]
mod writer;

use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(prefix), urls) = (args.next(), args.collect::<Vec<_>>()) else {
        eprintln!("usage: writeload PREFIX URL...");
        std::process::exit(2);
    };
    if urls.is_empty() {
        eprintln!("usage: writeload PREFIX URL...");
        std::process::exit(2);
    }
    let tls = std::env::var_os("ETCD_TLS_DIR")
        .map(|d| writer::Tls::from_dir(std::path::Path::new(&d), "operator"));
    let tls = match tls.transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ETCD_TLS_DIR: {e}");
            std::process::exit(2);
        }
    };
    let timeout = std::env::var("WRITELOAD_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(300), Duration::from_millis);
    let per_member = std::env::var("WRITELOAD_PER_MEMBER").is_ok_and(|v| v == "1");
    // (prefix, urls) per client.
    let clients: Vec<(String, Vec<String>)> = if per_member {
        urls.iter()
            .enumerate()
            .map(|(k, u)| (format!("{prefix}{k}-"), vec![u.clone()]))
            .collect()
    } else {
        vec![(prefix.clone(), urls.clone())]
    };
    let started = std::time::SystemTime::now();
    let writers: Vec<writer::Writer> = clients
        .iter()
        .map(|(p, u)| writer::Writer::start_with(u.clone(), p, tls.clone(), timeout))
        .collect();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let reports: Vec<writer::WriteReport> = writers.into_iter().map(|w| w.stop()).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut acked, mut failed, mut lost_total) = (0, 0, 0usize);
    let mut unknown = None;
    let mut worst = (Duration::ZERO, Duration::ZERO);
    for ((p, _), report) in clients.iter().zip(&reports) {
        // Failed attempts on stderr, with wall-clock times to set beside an operation's log.
        for (at, url, err) in &report.failures {
            let t = (started + *at)
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "failed write at {}.{:03} on {url}: {err}",
                t.as_secs(),
                t.subsec_millis()
            );
        }
        // Read back through the first member that answers (the operation
        // may have removed some).
        let lost = rt.block_on(async {
            let mut last = Err("no URL".to_string());
            for url in &urls {
                last = writer::lost_writes(url, report, p, tls.as_ref())
                    .await
                    .map_err(|e| e.to_string());
                if last.is_ok() {
                    break;
                }
            }
            last
        });
        match lost {
            Ok(l) => lost_total += l.len(),
            Err(e) => unknown = Some(e),
        }
        acked += report.acked.len();
        failed += report.failed_attempts;
        if report.longest_gap > worst.0 {
            worst = (report.longest_gap, report.longest_gap_end);
        }
    }
    let lost = match unknown {
        None => lost_total.to_string(),
        Some(e) => serde_json::Value::from(format!("unknown: {e}")).to_string(),
    };
    let gap_end = (started + worst.1)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    println!(
        "{{\"acked\": {acked}, \"failed_attempts\": {failed}, \"longest_gap_ms\": {}, \"longest_gap_end\": {}.{:03}, \"lost\": {lost}, \"timeout_ms\": {}}}",
        worst.0.as_millis(),
        gap_end.as_secs(),
        gap_end.subsec_millis(),
        timeout.as_millis()
    );
}
