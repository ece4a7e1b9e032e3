//! Lab tests of rolling operations with writes flowing: upgrades (with their
//! refusals and rollback), replacement, scale-in.

use crate::support::*;

#[test]
fn upgrade_3_4_to_3_5_0_to_3_5_1_with_writes_flowing() {
    let lab = Lab::up(15, 3);
    let inv = lab.inventory(3, with_version("3.4.23"));
    apply(&inv);
    assert_eq!(versions(&lab.url(1)).0, "3.4.23");
    rt().block_on(async {
        let mut c = client(&lab.url(2)).await;
        for i in 0..100 {
            c.put(format!("before/{i:03}"), "kept", None)
                .await
                .expect("put");
        }
    });
    let snapshots = lab.dir.path().join("snapshots");
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    for to in ["3.5.0", "3.5.1"] {
        let writer = Writer::start(urls.clone(), &format!("during-{to}/"), None);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let log = lab.dir.path().join(format!("upgrade-{to}.jsonl"));
        let out = deploy_ok(&[
            "upgrade",
            path_str(&inv),
            "--to",
            to,
            "--snapshot-dir",
            path_str(&snapshots),
            "--log",
            path_str(&log),
        ]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let report = writer.stop();
        assert!(
            out.contains("leadership moves to an upgraded member first"),
            "{out}"
        );
        assert!(out.contains("snapshot saved: "), "{out}");
        assert_no_loss(
            &format!("upgrade to {to}"),
            &lab.url(1),
            &report,
            &format!("during-{to}/"),
        );
        for i in 1..=3 {
            assert_eq!(
                versions(&lab.url(i)),
                (to.to_string(), "3.5.0".to_string()),
                "member {i}"
            );
        }
        let log = std::fs::read_to_string(&log).expect("log");
        assert!(
            log.lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            "JSON lines"
        );
        assert!(log.contains("\"event\":\"done\""), "{log}");
    }
    assert_eq!(std::fs::read_dir(&snapshots).expect("snapshots").count(), 2);
    rt().block_on(async {
        let r = client(&lab.url(3))
            .await
            .get(
                "before/",
                Some(
                    etcd_client::GetOptions::new()
                        .with_prefix()
                        .with_count_only(),
                ),
            )
            .await
            .expect("get");
        assert_eq!(
            r.count(),
            100,
            "data written before the upgrades is still there"
        );
    });
    // The inventory still says 3.4.23: apply plans a downgrade, which etcd allows
    // only from 3.6 on (a 3.5 cluster version keeps 3.4 members out).
    let o = deploy(&["apply", path_str(&inv)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("etcd supports a minor downgrade (its downgrade API) only from 3.6 on"),
        "{}",
        text(&o)
    );
    assert!(apply(&lab.inventory(3, |s| s)).contains("No changes."));
}

/// Raises or clears a NOSPACE alarm on the member at `url`.
fn nospace_alarm(url: &str, action: etcd_client::AlarmAction) {
    rt().block_on(async {
        let mut c = client(url).await;
        let id = c
            .status()
            .await
            .expect("status")
            .header()
            .expect("header")
            .member_id();
        let mut o = etcd_client::AlarmOptions::new();
        o.with_member(id);
        c.alarm(action, etcd_client::AlarmType::Nospace, Some(o))
            .await
            .expect("alarm");
    });
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
        assert_eq!(
            pids,
            (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>(),
            "nothing restarted"
        );
        for i in 1..=3 {
            assert_eq!(
                lab.ssh(i, "ls /opt/etcd | grep -c v3.6 || true"),
                "0",
                "nothing installed"
            );
        }
    };
    // An inventory two minors ahead: apply refuses (`upgrade --to` would
    // go through each minor in turn).
    let skips = lab.inventory(3, with_version("3.6.0"));
    refused(
        &["apply", path_str(&skips), "--yes"],
        "etcd upgrades one minor version at a time",
    );
    refused(
        &["upgrade", path_str(&inv), "--to", "3.4.20", "--no-snapshot"],
        "`etcd-deploy downgrade --to 3.4.20` (or --allow-downgrade) if you mean it",
    );

    // A raised alarm.
    nospace_alarm(&lab.url(1), etcd_client::AlarmAction::Activate);
    refused(
        &["upgrade", path_str(&inv), "--to", "3.5.0", "--no-snapshot"],
        "alarms are raised (NOSPACE on",
    );
    nospace_alarm(&lab.url(1), etcd_client::AlarmAction::Deactivate);

    // An unhealthy member (its etcd frozen).
    lab.ssh(
        3,
        "kill -STOP $(systemctl show -p MainPID --value etcd@etcd-3.service)",
    );
    refused(
        &["upgrade", path_str(&inv), "--to", "3.5.0", "--no-snapshot"],
        "not every member is healthy (etcd-3)",
    );
    lab.ssh(
        3,
        "kill -CONT $(systemctl show -p MainPID --value etcd@etcd-3.service)",
    );
}

#[test]
fn broken_release_is_rolled_back() {
    let lab = Lab::up(17, 3);
    let (_, t, report) = failed_upgrade_to_broken_release(&lab, |s| s);
    assert!(
        t.contains("this etcd is broken on purpose"),
        "the journal is quoted: {t}"
    );
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1", "member {i}");
        assert_eq!(lab.ssh(i, "readlink /opt/etcd/current"), "etcd-v3.5.1");
    }
    assert_cluster(&lab, 3);
    assert_no_loss("failed upgrade", &lab.url(1), &report, "w/");
}

/// Member names as every given member lists them (sorted), asserting they agree.
fn members_seen_by(lab: &Lab, hosts: &[usize]) -> Vec<String> {
    rt().block_on(async {
        let mut seen = Vec::new();
        for h in hosts {
            let mut c = client(&lab.url(*h)).await;
            let mut names: Vec<String> = c
                .member_list()
                .await
                .expect("member list")
                .members()
                .iter()
                .map(|m| m.name().to_string())
                .collect();
            names.sort();
            seen.push(names);
        }
        for s in &seen {
            assert_eq!(s, &seen[0], "members disagree: {seen:?}");
        }
        seen.remove(0)
    })
}

#[test]
fn replace_a_follower_then_the_leader_with_writes_flowing() {
    let lab = Lab::up(18, 5);
    let start = lab.inventory_of(&[1, 2, 3], "start");
    apply(&start);
    let urls: Vec<String> = (1..=5).map(|i| lab.url(i)).collect();

    // A follower: etcd-2 → etcd-4 (etcd-1 bootstrapped the cluster and leads it).
    let leader = lab.leader(&start);
    let follower = [1, 2, 3]
        .into_iter()
        .find(|h| *h != leader)
        .expect("a follower");
    let mut hosts: Vec<usize> = [1, 2, 3]
        .into_iter()
        .map(|h| if h == follower { 4 } else { h })
        .collect();
    let inv = lab.inventory_of(&hosts, "follower-replaced");
    let writer = Writer::start(urls.clone(), "follower/", None);
    let out = deploy_ok(&[
        "replace",
        path_str(&inv),
        &format!("etcd-{follower}"),
        "--with",
        "etcd-4",
        "--yes",
    ]);
    let report = writer.stop();
    assert!(
        out.contains("+ etcd-4       join")
            && out.contains(&format!("- etcd-{follower}       remove member")),
        "{out}"
    );
    assert_no_loss("replace a follower", &lab.url(leader), &report, "follower/");
    let mut want: Vec<String> = hosts.iter().map(|h| format!("etcd-{h}")).collect();
    want.sort();
    assert_eq!(members_seen_by(&lab, &hosts), want);
    assert_eq!(
        lab.ssh(
            follower,
            &format!("systemctl is-active etcd@etcd-{follower}; systemctl is-enabled etcd@etcd-{follower}; ls /var/lib/etcd")
        ),
        "inactive\ndisabled\nmember",
        "stopped, data kept"
    );

    // The leader: leadership moves off it before it leaves.
    let leader = lab.leader(&inv);
    hosts = hosts
        .into_iter()
        .map(|h| if h == leader { 5 } else { h })
        .collect();
    let inv2 = lab.inventory_of(&hosts, "leader-replaced");
    let writer = Writer::start(urls, "leader/", None);
    let out = deploy_ok(&[
        "replace",
        path_str(&inv2),
        &format!("etcd-{leader}"),
        "--with",
        "etcd-5",
        "--wipe",
        "--yes",
    ]);
    let report = writer.stop();
    assert!(
        out.contains("move leadership to another member, remove member"),
        "{out}"
    );
    assert_no_loss("replace the leader", &lab.url(hosts[0]), &report, "leader/");
    let mut want: Vec<String> = hosts.iter().map(|h| format!("etcd-{h}")).collect();
    want.sort();
    assert_eq!(members_seen_by(&lab, &hosts), want);
    assert_eq!(
        lab.ssh(
            leader,
            &format!(
                "systemctl is-active etcd@etcd-{leader}; ls /var/lib/etcd 2>/dev/null | wc -l"
            )
        ),
        "inactive\n0",
        "--wipe removed its data"
    );
    assert!(apply(&inv2).contains("No changes."));
}

#[test]
fn replace_a_dead_member() {
    let lab = Lab::up(19, 4);
    let start = lab.inventory_of(&[1, 2, 3], "start");
    apply(&start);
    let leader = lab.leader(&start);
    let dead = [1, 2, 3]
        .into_iter()
        .find(|h| *h != leader)
        .expect("a follower");
    lab.kill_host(dead);
    let hosts: Vec<usize> = [1, 2, 3]
        .into_iter()
        .map(|h| if h == dead { 4 } else { h })
        .collect();
    let inv = lab.inventory_of(&hosts, "dead-replaced");
    let urls: Vec<String> = hosts.iter().map(|h| lab.url(*h)).collect();
    let writer = Writer::start(urls, "dead/", None);
    let out = deploy_ok(&[
        "replace",
        path_str(&inv),
        &format!("etcd-{dead}"),
        "--with",
        "etcd-4",
        "--yes",
    ]);
    let report = writer.stop();
    assert!(
        out.contains("not answering: removed first, since quorum allows it"),
        "{out}"
    );
    let remove_at = out.find(&format!("- etcd-{dead} ")).expect("remove step");
    let join_at = out.find("+ etcd-4       join").expect("join step");
    assert!(remove_at < join_at, "the dead member goes first:\n{out}");
    assert!(
        out.contains("its host could not be reached to stop etcd"),
        "{out}"
    );
    assert_no_loss("replace a dead member", &lab.url(leader), &report, "dead/");
    let mut want: Vec<String> = hosts.iter().map(|h| format!("etcd-{h}")).collect();
    want.sort();
    assert_eq!(members_seen_by(&lab, &hosts), want);
}

#[test]
fn scale_in_from_5_to_3_with_writes_flowing() {
    let lab = Lab::up(21, 5);
    let five = lab.inventory(5, |s| s);
    apply(&five);
    let three = lab.inventory_of(&[1, 2, 3], "three");
    let plan = deploy_ok(&["plan", path_str(&three)]);
    assert!(
        plan.contains("- etcd-4 ") && plan.contains("- etcd-5 ") && plan.contains("Plan: 2 steps."),
        "{plan}"
    );
    // Issue 11, finding 10: removing members needs consent; without a
    // terminal and without --yes, nothing is done (exit 2).
    let o = deploy(&["apply", path_str(&three)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("removes member etcd-4 from the cluster")
            && text(&o).contains("pass --yes"),
        "{}",
        text(&o)
    );
    assert_eq!(
        members_seen_by(&lab, &[1, 2, 3]).len(),
        5,
        "nothing was removed"
    );
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "scale/", None);
    apply(&three);
    let report = writer.stop();
    assert_no_loss("scale 5 → 3", &lab.url(1), &report, "scale/");
    assert_eq!(
        members_seen_by(&lab, &[1, 2, 3]),
        ["etcd-1", "etcd-2", "etcd-3"]
    );
    for h in [4, 5] {
        assert_eq!(
            lab.ssh(
                h,
                &format!("systemctl is-active etcd@etcd-{h}; ls /var/lib/etcd")
            ),
            "inactive\nmember",
            "host {h}: stopped, data kept"
        );
    }
    assert!(apply(&three).contains("No changes."));
}
