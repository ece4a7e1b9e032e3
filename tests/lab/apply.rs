//! Lab tests of `apply`: fresh apply, no-op, config change, growth through
//! tunnels, interrupted joins, bad input.

use crate::support::*;
use std::time::{Duration, Instant};

#[test]
fn fresh_apply_then_noop_then_config_change() {
    let lab = Lab::up(11, 3);
    let inv = lab.inventory(3, |s| s);
    let plan = text(&deploy(&["plan", inv.to_str().expect("utf-8")]));
    assert!(
        plan.contains("bootstrap: start as the first member") && plan.contains("Plan: 7 steps."),
        "{plan}"
    );

    let start = Instant::now();
    apply(&inv);
    eprintln!("fresh 3-host apply: {:?}", start.elapsed());
    assert_cluster(&lab, 3);
    let status = status_json(&inv);
    let rows = status.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["health"] == "healthy" && r["version"] == "3.5.1"),
        "{status}"
    );
    assert_eq!(
        rows.iter().filter(|r| r["leader"] == true).count(),
        1,
        "{status}"
    );
    assert_eq!(lab.ssh(2, "stat -c '%U %a' /var/lib/etcd"), "etcd 700");
    assert_eq!(lab.ssh(2, "readlink /opt/etcd/current"), "etcd-v3.5.1");

    // Second apply: nothing changes, nothing restarts.
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let start = Instant::now();
    let out = apply(&inv);
    eprintln!("no-op apply: {:?}", start.elapsed());
    assert!(out.contains("No changes."), "{out}");
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());
    // For CI: `plan --detailed-exitcode` is 0 with nothing to do, 2 with changes.
    let detailed = |inv: &std::path::Path| {
        deploy(&["plan", inv.to_str().expect("utf-8"), "--detailed-exitcode"])
            .status
            .code()
    };
    assert_eq!(detailed(&inv), Some(0));

    // A setting changed on one host restarts that member only.
    let edited = lab.inventory(3, |s| {
        s.replace(
            "address = \"127.0.11.2\"",
            "address = \"127.0.11.2\"\netcd = { snapshot_count = 20000 }",
        )
    });
    let plan = text(&deploy(&["plan", edited.to_str().expect("utf-8")]));
    assert!(
        plan.contains("~ etcd-2       restart (config changed)") && plan.contains("Plan: 1 step."),
        "{plan}"
    );
    assert_eq!(detailed(&edited), Some(2));
    apply(&edited);
    let after: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    assert_eq!(after[0], pids[0]);
    assert_ne!(after[1], pids[1]);
    assert_eq!(after[2], pids[2]);
    assert!(
        lab.ssh(2, "cat /etc/etcd/etcd-2.conf.yml")
            .contains("snapshot-count: 20000")
    );
    assert_cluster(&lab, 3);
    assert!(apply(&edited).contains("No changes."));
}

#[test]
fn grow_from_one_to_three_through_ssh_tunnels() {
    let lab = Lab::up(12, 3);
    // The controller reaches the client ports only through SSH local forwards
    // here, and logs in as an unprivileged user that becomes root with sudo.
    let tunnel = |s: String| {
        s.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\naccess = \"tunnel\"",
        )
        .replace("user = \"root\"", "user = \"ops\"\nbecome = true")
    };
    let one = lab.inventory(1, tunnel);
    apply(&one);
    assert_cluster(&lab, 1);
    let three = lab.inventory(3, tunnel);
    let plan = text(&deploy(&["plan", three.to_str().expect("utf-8")]));
    assert!(
        plan.contains("+ etcd-2       join: member add (learner)")
            && plan.contains("+ etcd-3       join"),
        "{plan}"
    );
    assert!(!plan.contains("etcd-1 "), "etcd-1 is left alone: {plan}");
    apply(&three);
    assert_cluster(&lab, 3);
    assert!(apply(&three).contains("No changes."));
}

#[test]
fn interrupted_apply_converges() {
    let lab = Lab::up(13, 4);
    let two = lab.inventory(2, |s| s);
    apply(&two);

    // As if an apply died right after `member add`: etcd-3 is a learner that never started.
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        // etcd refuses member add until its peers have been connected for 5 s.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let opts = etcd_client::MemberAddOptions::new().with_is_learner();
            match c
                .member_add([format!("http://{}:2380", lab.addr(3))], Some(opts))
                .await
            {
                Ok(_) => break,
                Err(e)
                    if Instant::now() < deadline && e.to_string().contains("unhealthy cluster") =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("member add: {e}"),
            }
        }
    });
    let three = lab.inventory(3, |s| s);
    let plan = text(&deploy(&["plan", three.to_str().expect("utf-8")]));
    assert!(plan.contains("join: resume member"), "{plan}");
    apply(&three);
    assert_cluster(&lab, 3);

    // Killed in the middle of a real join (after its member add).
    let four = lab.inventory(4, |s| s);
    let (seen, _) = kill_when(&[String::from("apply"), path_str(&four).to_string()], |l| {
        l.contains("etcd-4: write config")
    });
    assert!(seen.contains("etcd-4: member add"), "{seen}");
    apply(&four);
    assert_cluster(&lab, 4);
}

#[test]
fn bad_input_and_unreachable_host_touch_nothing() {
    let lab = Lab::up(14, 3);
    let untouched = |lab: &Lab| {
        for i in 1..=3 {
            assert_eq!(
                lab.ssh(
                    i,
                    "ls /opt/etcd /etc/etcd /etc/systemd/system/etcd@.service 2>/dev/null | wc -l"
                ),
                "0",
                "host {i} was changed"
            );
        }
    };
    // Bad inventory: exit 2, file:line:col, no host changed.
    let bad = lab.inventory(3, |s| s.replace("version = \"3.5.1\"", "version = \"3.5\""));
    let o = deploy(&["apply", bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("inventory-3.toml:4:11: cluster.version: `3.5` is not a release version"),
        "{}",
        text(&o)
    );
    untouched(&lab);

    // An unreachable host: exit 1, the host is named, no host changed.
    lab.kill_host(3);
    let inv = lab.inventory(3, |s| s.replace("[ssh]", "[ssh]\nconnect_timeout_secs = 2"));
    let o = deploy(&["apply", inv.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("etcd-3: connect: cannot connect to 127.0.14.3 over SSH"),
        "{}",
        text(&o)
    );
    for i in 1..=2 {
        assert_eq!(
            lab.ssh(i, "ls /opt/etcd /etc/etcd 2>/dev/null | wc -l"),
            "0",
            "host {i} was changed"
        );
    }

    // A corrupted tarball on the mirror: refused, nothing installed.
    let mirror = lab.dir.path().join("mirror");
    std::fs::create_dir_all(mirror.join("v3.5.1")).expect("mkdir");
    let good =
        std::fs::read("/var/cache/etcd-deploy-lab/mirror/v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz")
            .expect("lab mirror");
    std::fs::copy(
        "/var/cache/etcd-deploy-lab/mirror/v3.5.1/SHA256SUMS",
        mirror.join("v3.5.1/SHA256SUMS"),
    )
    .expect("sums");
    let mut bad_bytes = good.clone();
    let mid = bad_bytes.len() / 2;
    bad_bytes[mid] ^= 0xff;
    std::fs::write(
        mirror.join("v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz"),
        bad_bytes,
    )
    .expect("write");
    let cache = lab.dir.path().join("cache");
    let inv = lab.inventory(2, |s| {
        s.replace(
            "source = \"http://127.0.0.1:18080\"",
            &format!(
                "source = \"file://{}\"\ncache_dir = \"{}\"",
                mirror.display(),
                cache.display()
            ),
        )
    });
    let o = deploy(&["apply", inv.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("checksum mismatch for etcd-v3.5.1-linux-amd64.tar.gz"),
        "{}",
        text(&o)
    );
    for i in 1..=2 {
        assert_eq!(
            lab.ssh(i, "ls /opt/etcd 2>/dev/null | wc -l"),
            "0",
            "host {i} got something installed"
        );
    }
}

#[test]
fn three_members_on_one_host_as_instance_units() {
    let lab = Lab::up(25, 1);
    let inv = lab.inventory(1, |s| {
        lab.three_on_host_1(s, "m", |k| format!("data_dir = \"/var/lib/etcd-m{k}\"\n"))
            .replace("version = \"3.5.1\"", "version = \"3.5.0\"")
    });
    let plan = deploy_ok(&["plan", path_str(&inv)]);
    assert!(
        plan.contains("+ m0 ") && plan.contains("+ m2 ") && plan.contains("Plan: 7 steps."),
        "{plan}"
    );
    apply(&inv);
    let units = lab.ssh(1, "systemctl is-active etcd@m0 etcd@m1 etcd@m2; ls /etc/systemd/system | grep -c '^etcd@.service$'; ls /etc/systemd/system | grep -c '^etcd@m.\\.service\\.d$'; ls /opt/etcd");
    assert_eq!(
        units, "active\nactive\nactive\n1\n3\ncurrent\netcd-v3.5.0",
        "three instances of one template unit (a drop-in each), one release"
    );
    rt().block_on(async {
        let urls: Vec<String> = (0..3)
            .map(|k| format!("http://127.0.25.1:{}", 2379 + 1000 * k))
            .collect();
        let mut names = Vec::new();
        for u in &urls {
            let mut c = client(u).await;
            let mut n: Vec<String> = c
                .member_list()
                .await
                .expect("list")
                .members()
                .iter()
                .map(|m| m.name().to_string())
                .collect();
            n.sort();
            names.push(n);
        }
        assert!(names.iter().all(|n| n == &["m0", "m1", "m2"]), "{names:?}");
        client(&urls[0])
            .await
            .put("shared-host", "yes", None)
            .await
            .expect("put");
        for u in &urls[1..] {
            let r = client(u).await.get("shared-host", None).await.expect("get");
            assert_eq!(r.kvs()[0].value(), b"yes");
        }
    });
    let pids = lab.ssh(
        1,
        "systemctl show -p MainPID --value etcd@m0 etcd@m1 etcd@m2",
    );
    assert!(apply(&inv).contains("No changes."));
    assert_eq!(
        pids,
        lab.ssh(
            1,
            "systemctl show -p MainPID --value etcd@m0 etcd@m1 etcd@m2"
        ),
        "nothing restarted"
    );
    // A rolling upgrade of members that share a host (and its release link).
    let out = deploy_ok(&["upgrade", path_str(&inv), "--to", "3.5.1", "--no-snapshot"]);
    assert!(out.contains("upgrade 3.5.0 → 3.5.1"), "{out}");
    for k in 0..3 {
        assert_eq!(
            versions(&format!("http://127.0.25.1:{}", 2379 + 1000 * k)).0,
            "3.5.1",
            "member m{k}"
        );
    }
    deploy_ok(&["destroy", path_str(&inv), "--yes"]);
    assert_eq!(
        lab.ssh(1, "pgrep -x etcd | wc -l; ls /etc/systemd/system | grep -c '^etcd@' || true; ls -d /var/lib/etcd-m*"),
        "0\n0\n/var/lib/etcd-m0\n/var/lib/etcd-m1\n/var/lib/etcd-m2"
    );
}

/// Issue 11: `plan --out FILE` then `apply --plan FILE` carries out exactly
/// that plan; once the cluster changed, the saved plan is refused.
#[test]
fn a_saved_plan_is_carried_out_only_while_the_cluster_is_as_planned() {
    let lab = Lab::up(37, 1);
    let inv = lab.inventory(1, |s| s);
    let saved = lab.dir.path().join("fresh.plan.json");
    let plan = deploy_ok(&["plan", path_str(&inv), "--out", path_str(&saved)]);
    assert!(plan.contains("bootstrap"), "{plan}");
    let out = deploy_ok(&["apply", path_str(&inv), "--plan", path_str(&saved)]);
    assert!(out.contains("the saved plan was carried out"), "{out}");
    assert!(apply(&inv).contains("No changes."));
    // The same file again: the cluster is no longer what it was planned for.
    let o = deploy(&["apply", path_str(&inv), "--plan", path_str(&saved)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("changed since"), "{}", text(&o));
}
