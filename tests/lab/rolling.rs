//! Lab tests of rolling operations with writes flowing: upgrades (with their
//! refusals and rollback), replacement, scale-in.

use crate::support::*;

fn with_version(v: &'static str) -> impl Fn(String) -> String {
    move |s| s.replace("version = \"3.5.1\"", &format!("version = \"{v}\""))
}

#[test]
fn upgrade_3_4_to_3_5_0_to_3_5_1_with_writes_flowing() {
    let lab = Lab::up(15, 3);
    let inv = lab.inventory(3, with_version("3.4.23"));
    apply(&inv);
    assert_eq!(versions(&lab.url(1)).0, "3.4.23");
    rt().block_on(async {
        let mut c = client(&lab.url(2)).await;
        for i in 0..100 {
            c.put(format!("before/{i:03}"), "kept", None).await.expect("put");
        }
    });
    let snapshots = lab.dir.path().join("snapshots");
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    for to in ["3.5.0", "3.5.1"] {
        let writer = Writer::start(urls.clone(), &format!("during-{to}/"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let log = lab.dir.path().join(format!("upgrade-{to}.jsonl"));
        let out = deploy_ok(&["upgrade", path_str(&inv), "--to", to, "--snapshot-dir", path_str(&snapshots), "--log", path_str(&log)]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let report = writer.stop();
        assert!(out.contains("leadership moves to an upgraded member first"), "{out}");
        assert!(out.contains("snapshot saved: "), "{out}");
        assert_no_loss(&format!("upgrade to {to}"), &lab.url(1), &report, &format!("during-{to}/"));
        for i in 1..=3 {
            assert_eq!(versions(&lab.url(i)), (to.to_string(), "3.5.0".to_string()), "member {i}");
        }
        let log = std::fs::read_to_string(&log).expect("log");
        assert!(log.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "JSON lines");
        assert!(log.contains("\"event\":\"done\""), "{log}");
    }
    assert_eq!(std::fs::read_dir(&snapshots).expect("snapshots").count(), 2);
    rt().block_on(async {
        let r = client(&lab.url(3))
            .await
            .get("before/", Some(etcd_client::GetOptions::new().with_prefix().with_count_only()))
            .await
            .expect("get");
        assert_eq!(r.count(), 100, "data written before the upgrades is still there");
    });
    // The inventory still says 3.4.23: apply refuses to go back rather than downgrade.
    let o = deploy(&["apply", path_str(&inv)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--allow-downgrade"), "{}", text(&o));
    assert!(apply(&lab.inventory(3, |s| s)).contains("No changes."));
}

#[test]
fn upgrade_refusals_touch_nothing() {
    let lab = Lab::up(16, 3);
    let inv = lab.inventory(3, with_version("3.4.23"));
    apply(&inv);
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let refused = |args: &[&str], why: &str| {
        let o = deploy(args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(why), "expected {why:?} in:\n{}", text(&o));
        assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>(), "nothing restarted");
        for i in 1..=3 {
            assert_eq!(lab.ssh(i, "ls /opt/etcd | grep -c v3.6 || true"), "0", "nothing installed");
        }
    };
    refused(&["upgrade", path_str(&inv), "--to", "3.6.0", "--no-snapshot"], "etcd upgrades one minor version at a time");
    refused(&["upgrade", path_str(&inv), "--to", "3.4.20", "--no-snapshot"], "pass --allow-downgrade");

    // A raised alarm.
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        let id = c.status().await.expect("status").header().expect("header").member_id();
        let mut o = etcd_client::AlarmOptions::new();
        o.with_member(id);
        c.alarm(etcd_client::AlarmAction::Activate, etcd_client::AlarmType::Nospace, Some(o)).await.expect("raise alarm");
    });
    refused(&["upgrade", path_str(&inv), "--to", "3.5.0", "--no-snapshot"], "alarms are raised (Nospace on");
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        let id = c.status().await.expect("status").header().expect("header").member_id();
        let mut o = etcd_client::AlarmOptions::new();
        o.with_member(id);
        c.alarm(etcd_client::AlarmAction::Deactivate, etcd_client::AlarmType::Nospace, Some(o)).await.expect("disarm");
    });

    // An unhealthy member (its etcd frozen).
    lab.ssh(3, "kill -STOP $(systemctl show -p MainPID --value etcd.service)");
    refused(&["upgrade", path_str(&inv), "--to", "3.5.0", "--no-snapshot"], "not every member is healthy (etcd-3)");
    lab.ssh(3, "kill -CONT $(systemctl show -p MainPID --value etcd.service)");
}

#[test]
fn broken_release_is_rolled_back() {
    let lab = Lab::up(17, 3);
    let mirror = mirror_with_broken(&lab.dir.path().join("mirror"), &["3.5.1"], "3.5.2");
    let cache = lab.dir.path().join("cache");
    let inv = lab.inventory(3, |s| {
        s.replace("source = \"http://127.0.0.1:18080\"", &format!("source = \"{mirror}\"\ncache_dir = \"{}\"", cache.display()))
    });
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "w/");
    let o = deploy(&["upgrade", path_str(&inv), "--to", "3.5.2", "--no-snapshot"]);
    let report = writer.stop();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("error: etcd-") && t.contains(": upgrade to 3.5.2: "), "the host and the step are named: {t}");
    assert!(t.contains("rolled back to etcd 3.5.1; the member is healthy on 3.5.1"), "{t}");
    assert!(t.contains("this etcd is broken on purpose"), "the journal is quoted: {t}");
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1", "member {i}");
        assert_eq!(lab.ssh(i, "readlink /opt/etcd/current"), "etcd-v3.5.1");
    }
    assert_cluster(&lab, 3);
    assert_no_loss("failed upgrade", &lab.url(1), &report, "w/");
}
