//! Write load for the rolling benchmark (`bench/rolling`): writes keys in a
//! loop against all client URLs with failover until stdin closes or a line is
//! read, then reads every acknowledged key back and prints one JSON line:
//! acknowledged writes, failed attempts, longest gap, writes lost. With
//! `ETCD_TLS_DIR` set (an etcd-deploy TLS directory), it uses `operator.crt`.
//!
//!   cargo run --release --example writeload -- PREFIX URL...

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub)]

#[path = "../tests/lab/writer.rs"]
mod writer;

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
    let started = std::time::SystemTime::now();
    let w = writer::Writer::start(urls.clone(), &prefix, tls.clone());
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let report = w.stop();
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Read back through the first member that answers (the operation may
    // have removed the first one).
    let lost = rt.block_on(async {
        let mut last = Err("no URL".to_string());
        for url in &urls {
            last = writer::lost_writes(url, &report, &prefix, tls.as_ref())
                .await
                .map_err(|e| e.to_string());
            if last.is_ok() {
                break;
            }
        }
        last
    });
    let lost = match lost {
        Ok(l) => l.len().to_string(),
        Err(e) => serde_json::Value::from(format!("unknown: {e}")).to_string(),
    };
    let gap_end = (started + report.longest_gap_end)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    println!(
        "{{\"acked\": {}, \"failed_attempts\": {}, \"longest_gap_ms\": {}, \"longest_gap_end\": {}.{:03}, \"lost\": {lost}}}",
        report.acked.len(),
        report.failed_attempts,
        report.longest_gap.as_millis(),
        gap_end.as_secs(),
        gap_end.subsec_millis()
    );
}
