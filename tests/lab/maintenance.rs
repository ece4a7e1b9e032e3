//! Day-2 maintenance on real hosts: a cluster filled past a small quota
//! until etcd raises NOSPACE and refuses writes, then `compact`, `defrag`
//! and `alarm disarm` bring writes back; writes keep being tried all along
//! and every acknowledged one is read back.

use crate::support::*;
use crate::writer::Writer;

/// 100 kB values written over a few keys until etcd refuses with NOSPACE.
fn fill_until_nospace(url: &str) -> usize {
    rt().block_on(async {
        let mut c = client(url).await;
        let value = vec![b'x'; 100_000];
        for i in 0..1000 {
            if let Err(e) = c.put(format!("fill/{}", i % 4), value.clone(), None).await {
                assert!(e.to_string().contains("database space exceeded"), "{e}");
                return i;
            }
        }
        panic!("no NOSPACE after 1000 writes of 100 kB");
    })
}

#[test]
fn nospace_then_compact_defrag_disarm_and_writes_work_again() {
    let lab = Lab::up(60, 3);
    // etcd's quota is per member; 6 MB fills in a few dozen writes.
    let inv = lab.inventory(3, |s| {
        s.replace(
            "[release]",
            "[etcd]\nquota_backend_bytes = 6000000\n\n[release]",
        )
    });
    apply(&inv);
    let inv_s = path_str(&inv);
    // A fresh cluster: nothing is worth defragmenting, nothing is raised.
    let out = deploy_ok(&["defrag", inv_s]);
    assert!(
        out.contains("little to reclaim") && out.contains("Nothing to defragment"),
        "{out}"
    );
    assert_eq!(deploy(&["alarm", "list", inv_s]).status.code(), Some(0));

    let writes = fill_until_nospace(&lab.url(1));
    assert!(writes > 10, "NOSPACE after only {writes} writes");
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "maintenance/", None);

    // The alarm is seen, named, and not cleared while the database is full.
    let o = deploy(&["alarm", "list", inv_s, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        v.as_array()
            .is_some_and(|a| a.iter().any(|x| x["alarm"] == "NOSPACE")),
        "{v}"
    );
    let o = deploy(&["alarm", "disarm", inv_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("compact"), "{}", text(&o));
    // status flags it (exit 1), as the member's only trouble.
    let o = deploy(&["status", inv_s, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        st.as_array()
            .is_some_and(|a| a.iter().any(|r| r["health"] == "alarm NOSPACE")),
        "{st}"
    );

    let out = deploy_ok(&["compact", inv_s, "--retain", "1"]);
    assert!(out.contains("Compacted to revision"), "{out}");
    let o = deploy(&["defrag", inv_s, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let done = summary["defrag"]["defragmented"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(done.len(), 3, "every member holds NOSPACE: {summary}");
    for d in &done {
        assert!(
            d["after"].as_u64() < d["before"].as_u64(),
            "nothing given back: {summary}"
        );
    }
    // Leader last (leadership moved off it first).
    let log = text(&o);
    let leader_line = log.lines().position(|l| l.contains("(the leader: last"));
    assert!(leader_line.is_some(), "{log}");
    let out = deploy_ok(&["alarm", "disarm", inv_s]);
    assert!(out.contains("Alarms cleared"), "{out}");
    assert_eq!(deploy(&["alarm", "list", inv_s]).status.code(), Some(0));

    // Writes are accepted again, through every member.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let report = writer.stop();
    assert!(
        !report.acked.is_empty(),
        "no write acknowledged after disarm"
    );
    assert_no_loss("after NOSPACE", &lab.url(2), &report, "maintenance/");
    assert_cluster(&lab, 3);
    let out = deploy_ok(&["apply", inv_s]);
    assert!(out.contains("No changes"), "{out}");
}

/// `metrics_port`: a plain-HTTP metrics listener even with client TLS on,
/// scraped without certificates; `status` names a member whose listener
/// does not answer (cut off with an iptables rule matching only this test's
/// address, removed after).
#[test]
fn metrics_listener_is_plain_http_with_tls_and_status_flags_a_silent_one() {
    let lab = Lab::up(62, 3);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(3, |s| {
        s.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmetrics_port = 2381",
        )
        .replacen(
            "[[hosts]]",
            &format!(
                "[tls]\nmode = \"generate\"\ndir = \"{}\"\n\n[[hosts]]",
                pki.display()
            ),
            1,
        )
    });
    apply(&inv);
    let inv_s = path_str(&inv);
    assert_metrics_served(&lab, 3, 2381);
    let st = status_json(&inv);
    assert_eq!(
        st[1]["metrics_url"],
        format!("http://{}:2381", lab.addr(2)),
        "{st}"
    );

    let rule: Vec<String> = [
        "OUTPUT",
        "-d",
        &lab.addr(2),
        "-p",
        "tcp",
        "--dport",
        "2381",
        "-j",
        "REJECT",
    ]
    .map(String::from)
    .to_vec();
    let o = sh(std::process::Command::new("iptables").arg("-I").args(&rule));
    assert!(o.status.success(), "iptables: {}", text(&o));
    let o = deploy(&["status", inv_s]);
    let _ = std::process::Command::new("iptables")
        .arg("-D")
        .args(&rule)
        .output();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    let row = t.lines().find(|l| l.contains("etcd-2")).unwrap_or_default();
    assert!(row.contains("metrics listener does not answer"), "{t}");
    assert!(
        t.lines()
            .filter(|l| l.contains("etcd-1") || l.contains("etcd-3"))
            .all(|l| l.ends_with("healthy")),
        "{t}"
    );
    assert_eq!(deploy(&["status", inv_s]).status.code(), Some(0));
}

/// Members' snapshots saved by each host on `[backup]`'s schedule, as `snapshot list -o json` shows them.
fn saved_on_hosts(inv: &std::path::Path) -> Vec<serde_json::Value> {
    let o = deploy(&["snapshot", "list", path_str(inv), "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["host"].is_string())
        .collect()
}

/// `[backup]`: each host saves its member's snapshot on schedule (a systemd
/// timer, here every 3 s), checked and named by revision, the newest `keep`
/// kept; `snapshot list` shows them across hosts; `restore --latest` fetches
/// the newest, checks it and restores it; without `[backup]` apply stops the
/// timers and the saved snapshots stay.
#[test]
fn scheduled_snapshots_are_saved_pruned_listed_and_restored() {
    let lab = Lab::up(64, 3);
    let with_backup = |s: String| {
        s.replace(
            "[release]",
            "[backup]\nschedule = \"*:*:0/3\"\nkeep = 2\n\n[release]",
        )
    };
    let inv = lab.inventory(3, with_backup);
    let out = apply(&inv);
    assert!(out.contains("write and start scheduled snapshots"), "{out}");
    assert!(apply(&inv).contains("No changes"));

    let rev = rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        let mut last = 0;
        for i in 0..20 {
            let r = c.put(format!("kept/{i}"), "v", None).await.expect("put");
            last = r.header().map_or(0, |h| h.revision());
        }
        last
    });
    // Every member's host saves snapshots; two per member stay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let rows = saved_on_hosts(&inv);
        let covering = |m: &str| {
            rows.iter()
                .filter(|r| r["host"] == m && r["revision"].as_i64() >= Some(rev))
                .count()
        };
        if ["etcd-1", "etcd-2", "etcd-3"]
            .iter()
            .all(|m| covering(m) >= 2)
        {
            for m in ["etcd-1", "etcd-2", "etcd-3"] {
                let n = rows.iter().filter(|r| r["host"] == m).count();
                assert!(n <= 2, "keep = 2, yet {n} on {m}: {rows:?}");
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no two snapshots per member within 60 s: {rows:?}\n{}",
            lab.ssh(
                1,
                "journalctl -u 'etcd-deploy-backup@*' --no-pager | tail -20"
            )
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let listing = deploy_ok(&["snapshot", "list", path_str(&inv)]);
    assert!(
        listing.contains("HOST") && listing.contains("etcd-2"),
        "{listing}"
    );

    // The timers stop first (and a job under way finishes: a oneshot
    // service is "activating" while it runs), so the newest snapshot is one
    // taken before the keys are deleted.
    for i in 1..=3 {
        lab.ssh(
            i,
            &format!(
                "systemctl stop etcd-deploy-backup@etcd-{i}.timer; while systemctl show -p ActiveState --value etcd-deploy-backup@etcd-{i}.service | grep -Eq '^(activating|active|deactivating)$'; do sleep 0.1; done"
            ),
        );
    }
    // Keys deleted after the snapshot are back after the restore.
    rt().block_on(async {
        let mut c = client(&lab.url(2)).await;
        c.delete(
            "kept/",
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        )
        .await
        .expect("delete");
    });
    let out = deploy_ok(&["restore", path_str(&inv), "--latest", "--yes"]);
    assert!(out.contains("fetched and checked"), "{out}");
    let n = rt().block_on(async {
        let mut c = client(&lab.url(3)).await;
        let r = c
            .get("kept/", Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .expect("get");
        r.kvs().len()
    });
    assert_eq!(n, 20, "every key written before the snapshot is back");
    assert_cluster(&lab, 3);
    // The restore brought the hosts back to the inventory: timers running.
    for i in 1..=3 {
        let state = lab.ssh(
            i,
            &format!("systemctl is-active etcd-deploy-backup@etcd-{i}.timer"),
        );
        assert_eq!(state.trim(), "active");
    }
    assert!(apply(&inv).contains("No changes"));

    // Without [backup]: timers stopped and removed, snapshots kept.
    let plain = lab.inventory(3, |s| s);
    let out = apply(&plain);
    assert!(out.contains("stop scheduled snapshots"), "{out}");
    for i in 1..=3 {
        let state = lab.ssh(
            i,
            &format!("systemctl is-active etcd-deploy-backup@etcd-{i}.timer || true"),
        );
        assert_ne!(state.trim(), "active");
        let left = lab.ssh(i, &format!("ls /var/backups/etcd/etcd-{i} | wc -l"));
        assert_eq!(left.trim(), "2", "saved snapshots stay");
    }
    assert!(apply(&plain).contains("No changes"));
}
