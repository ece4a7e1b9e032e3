//! Linearizability on real hosts (issue 27): the representative part of
//! `bench/linearizability` that runs with the tests. Clients bound to each
//! member record a history of reads, writes and compare-and-set while a
//! rolling upgrade runs and its controller is SIGKILLed at a step boundary
//! and run again; the checker (`tests/shared/linearizability.rs`) must find
//! the history linearizable, from one cluster, with every acknowledged
//! write still there at the end.

use crate::history::Outcome;
use crate::linearizability::{Verdict, check, report};
use crate::recorder::{Load, Recorder};
use crate::support::*;

#[test]
fn a_rolling_upgrade_killed_and_rerun_keeps_the_history_linearizable() {
    let lab = Lab::up(29, 3);
    let inv = lab.inventory(3, with_version("3.6.8"));
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let rec = Recorder::start(urls, "lin/", None, Load::default());
    std::thread::sleep(std::time::Duration::from_secs(2));
    rec.event("upgrade to 3.6.17");
    let args: Vec<String> = [
        "upgrade",
        path_str(&inv),
        "--to",
        "3.6.17",
        "--no-snapshot",
        "--yes",
    ]
    .map(String::from)
    .to_vec();
    // Killed as the first member restarts on the new release: a member on
    // its way, the others not yet.
    let mut restarts = 0;
    let (seen, hit) = kill_when(&args, |l| {
        if l.contains("restart") || l.contains("stop") {
            restarts += 1;
        }
        restarts == 2
    });
    assert!(hit, "the kill point came:\n{seen}");
    eprintln!("killed after:\n{seen}");
    rec.event("controller SIGKILLed");
    std::thread::sleep(std::time::Duration::from_secs(1));
    rec.event("upgrade run again");
    deploy_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    rec.event("upgrade done");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let h = rec.stop();
    let unknown = h
        .ops
        .iter()
        .filter(|o| o.outcome == Outcome::Unknown)
        .count();
    let began = std::time::Instant::now();
    let v = check(&h, std::time::Duration::from_secs(120));
    let clusters: std::collections::BTreeSet<u64> =
        h.ops.iter().filter_map(|o| o.cluster_id).collect();
    eprintln!(
        "upgrade killed and rerun: {} operations, {unknown} unknown, {} cluster ID(s), {} in {:?}",
        h.ops.len(),
        clusters.len(),
        report(&h, &v).lines().next().unwrap_or(""),
        began.elapsed()
    );
    if v != Verdict::Linearizable {
        let keep = std::env::temp_dir().join("lin-upgrade-killed.json");
        let _ = std::fs::write(&keep, serde_json::to_string(&h).unwrap_or_default());
        panic!("{} (history kept in {})", report(&h, &v), keep.display());
    }
    assert_eq!(clusters.len(), 1, "one cluster throughout");
    let watch = h.watch.as_ref().expect("watched");
    assert!(watch.complete, "etcd's watch followed every revision");
    eprintln!("etcd's watch delivered {} writes", watch.writes.len());
    let reads = h.ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
    assert!(reads > 100, "the clients made progress: {reads}");
    let now = lab.inventory(3, with_version("3.6.17"));
    let plan = deploy_ok(&["plan", path_str(&now)]);
    assert!(plan.contains("No changes"), "{plan}");
}
