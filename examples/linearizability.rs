//! Records and checks client histories for `bench/linearizability`
//! (issue 27).
//!
//!   linearizability record OUT.json PREFIX URL...
//!       Clients (one per URL by default, each bound to its member, failing
//!       over) do reads, writes and compare-and-set over a few keys until
//!       stdin has a line or closes; a line `event TEXT` notes TEXT on the
//!       history instead. Then every key is read once more and the history
//!       is written to OUT.json. With `ETCD_TLS_DIR` set (an etcd-deploy
//!       TLS directory) the clients use `operator.crt` (read again at every
//!       new connection with `LIN_TLS_RELOAD=1`: a CA rotation changes it).
//!       `LIN_CLIENTS`, `LIN_KEYS`, `LIN_TIMEOUT_MS` change the load.
//!
//!   linearizability check HISTORY.json [--html OUT.html] [--one-cluster]
//!       Prints one line: operations, those that completed, unknown outcomes, cluster IDs,
//!       verdict, checker time; then, for an anomaly, the operations to look
//!       at. `--html` draws the history. `--one-cluster`: a second cluster
//!       ID at all is an anomaly (every operation but restore and recover
//!       keeps the cluster). Exit 0 linearizable, 1 not, 3 undecided.

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub, dead_code)]

#[path = "../tests/shared/history.rs"]
mod history;
#[path = "../tests/shared/history_html.rs"]
mod history_html;
#[path = "../tests/shared/linearizability.rs"]
mod linearizability;
#[path = "../tests/lab/recorder.rs"]
mod recorder;
#[path = "../tests/lab/writer.rs"]
mod writer;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(out: &str, prefix: &str, urls: Vec<String>) {
    let tls = std::env::var_os("ETCD_TLS_DIR")
        .map(|d| writer::Tls::from_dir(std::path::Path::new(&d), "operator").expect("TLS files"));
    let load = recorder::Load {
        clients: env_num("LIN_CLIENTS", urls.len() as u64) as usize,
        keys: env_num("LIN_KEYS", 4) as usize,
        timeout: Duration::from_millis(env_num("LIN_TIMEOUT_MS", 2000)),
        tls_dir: std::env::var_os("ETCD_TLS_DIR")
            .filter(|_| std::env::var_os("LIN_TLS_RELOAD").is_some())
            .map(Into::into),
        ..recorder::Load::default()
    };
    let r = recorder::Recorder::start(urls, prefix, tls, load);
    for line in std::io::stdin().lock().lines() {
        match line {
            Ok(l) if l.starts_with("event ") => r.event(&l["event ".len()..]),
            _ => break,
        }
    }
    let h = r.stop();
    std::fs::write(out, serde_json::to_string(&h).expect("json")).expect("write history");
    eprintln!("{} operations recorded into {out}", h.ops.len());
}

fn check(path: &str, html: Option<&str>, one_cluster: bool) -> i32 {
    let h: history::History =
        serde_json::from_str(&std::fs::read_to_string(path).expect("history")).expect("history");
    let began = Instant::now();
    let mut v = linearizability::check(&h, Duration::from_secs(300));
    let took = began.elapsed();
    let clusters: BTreeSet<u64> = h.ops.iter().filter_map(|o| o.cluster_id).collect();
    if one_cluster && clusters.len() > 1 && v == linearizability::Verdict::Linearizable {
        let first = h
            .ops
            .iter()
            .position(|o| o.cluster_id.is_some())
            .unwrap_or(0);
        let other = h
            .ops
            .iter()
            .position(|o| o.cluster_id.is_some() && o.cluster_id != h.ops[first].cluster_id)
            .unwrap_or(0);
        v = linearizability::Verdict::Anomaly {
            what: "a second cluster ID answered: the operation should have kept the cluster".into(),
            ops: vec![first, other],
        };
    }
    let unknown = h
        .ops
        .iter()
        .filter(|o| o.outcome == history::Outcome::Unknown)
        .count();
    let verdict = match &v {
        linearizability::Verdict::Linearizable => "linearizable".to_string(),
        linearizability::Verdict::Anomaly { .. } => "NOT linearizable".to_string(),
        linearizability::Verdict::Unknown(_) => "undecided".to_string(),
    };
    let ok = h
        .ops
        .iter()
        .filter(|o| o.outcome == history::Outcome::Ok)
        .count();
    println!(
        "ops={} ok={ok} unknown={} clusters={} verdict={verdict} checker={:.2}s",
        h.ops.len(),
        unknown,
        clusters.len(),
        took.as_secs_f64()
    );
    if v != linearizability::Verdict::Linearizable {
        eprint!("{}", linearizability::report(&h, &v));
    }
    if let Some(out) = html {
        std::fs::write(out, history_html::render(&h, &v)).expect("write html");
    }
    match v {
        linearizability::Verdict::Linearizable => 0,
        linearizability::Verdict::Anomaly { .. } => 1,
        linearizability::Verdict::Unknown(_) => 3,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("record") if args.len() >= 4 => record(&args[1], &args[2], args[3..].to_vec()),
        Some("check") if args.len() >= 2 => {
            let html = args
                .iter()
                .position(|a| a == "--html")
                .and_then(|i| args.get(i + 1))
                .map(String::as_str);
            let one = args.iter().any(|a| a == "--one-cluster");
            std::process::exit(check(&args[1], html, one));
        }
        _ => {
            eprintln!(
                "usage: linearizability record OUT.json PREFIX URL... | check HISTORY.json [--html OUT.html] [--one-cluster]"
            );
            std::process::exit(2);
        }
    }
}
