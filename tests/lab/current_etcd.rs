//! The etcd versions people deploy now (issue 24): 3.6 and 3.7, built from
//! etcd's Go modules into the lab mirror. Fresh apply in both modes, status
//! with the cluster and storage versions, a setting under its 3.6+ name that
//! etcd really applies (its own start log says so), snapshot and restore
//! with every key read back, a no-op re-apply.

use crate::support::*;

/// Every status row healthy, on `version`, with cluster and storage
/// version `minor.0`. etcd moves a member's storage version after the
/// cluster version, on its own schedule (seconds after a join): asked again
/// for up to 30 s.
fn assert_versions(inv: &std::path::Path, version: &str, minor: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = status_json(inv);
        let rows = status.as_array().expect("rows");
        assert!(
            rows.iter().all(|r| r["health"] == "healthy"
                && r["version"] == version
                && r["cluster_version"] == minor),
            "{status}"
        );
        if rows.iter().all(|r| r["storage_version"] == minor) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "storage versions: {status}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn etcd_3_7_applies_its_own_settings_and_restores_a_snapshot() {
    let lab = Lab::up(85, 3);
    // 3.6 made the initial corruption check a feature gate; 3.7 knows only
    // the gate (the old `experimental-initial-corrupt-check` is refused).
    let inv = lab.inventory(
        3,
        at(
            "3.7.4",
            "\"feature-gates\" = \"InitialCorruptCheck=true\", \"compaction-batch-limit\" = 500",
        ),
    );
    apply(&inv);
    assert_cluster(&lab, 3);
    assert_versions(&inv, "3.7.4", "3.7.0");
    // A changed setting rolls through the members; each restarts on data
    // it has, and with the gate on runs the initial corruption check (its
    // own log says so: etcd applied the setting, not only read the file).
    let inv = lab.inventory(
        3,
        at(
            "3.7.4",
            "\"feature-gates\" = \"InitialCorruptCheck=true\", \"compaction-batch-limit\" = 600",
        ),
    );
    let out = apply(&inv);
    assert!(out.contains("config changed"), "{out}");
    for i in 1..=3 {
        let log = lab.ssh(
            i,
            &format!(
                "journalctl -u etcd@etcd-{i} --no-pager | grep -c 'starting initial corruption check'"
            ),
        );
        assert_ne!(log, "0", "etcd-{i} restarted with the gate on");
    }
    let text = status_text(&inv);
    assert!(
        text.contains("VERSION  CLUSTER  STORAGE") && text.contains("3.7.4    3.7.0    3.7.0"),
        "{text}"
    );

    // Writes, a snapshot, a disaster, the restore: every key back.
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        for k in 0..200 {
            c.put(format!("k/{k:03}"), format!("v{k}"), None)
                .await
                .expect("put");
        }
    });
    let snap = lab.dir.path().join("snap.db");
    deploy_ok(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    for i in 1..=3 {
        lab.ssh(
            i,
            &format!("systemctl stop etcd@etcd-{i}; rm -rf /var/lib/etcd"),
        );
    }
    deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    assert_cluster(&lab, 3);
    assert_keys_everywhere(&lab, 3, "k/", 200);
    assert!(apply(&inv).contains("No changes."));
}

/// 3.6.17 in compose mode (`image = "release"`) with generated TLS, with a
/// client writing through every member over TLS the whole time: fresh
/// apply, grow to four, scale in (etcd-3 removed), replace etcd-4 by etcd-3
/// (its old data set aside), defrag, compact and the alarm list, then a
/// no-op apply; nothing acknowledged lost.
#[test]
fn etcd_3_6_in_compose_mode_with_tls() {
    let lab = Lab::up_docker(86, 4);
    let pki = lab.dir.path().join("pki");
    let edit = |s: String| {
        with_tls("generate", &pki)(
            s.replace("version = \"3.5.1\"", "version = \"3.6.17\"")
                .replace(
                    "[release]",
                    "mode = \"compose\"\nimage = \"release\"\n\n[release]",
                ),
        )
    };
    let inv = lab.inventory(3, edit);
    apply(&inv);
    assert_versions(&inv, "3.6.17", "3.6.0");
    let file = lab.ssh(2, "cat /etc/etcd/compose/lab86/compose.yml");
    assert!(
        file.contains("image: \"etcd-deploy/etcd:v3.6.17\""),
        "{file}"
    );
    let operator = Tls::from_dir(&pki, "operator").expect("identity");
    let urls: Vec<String> = (1..=4)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let writer = Writer::start(urls.clone(), "compose36/", Some(operator.clone()));
    std::thread::sleep(std::time::Duration::from_millis(500));

    let four = lab.inventory(4, edit);
    assert!(apply(&four).contains("Apply complete"));
    // Scale in: etcd-3 leaves.
    let scaled = without_hosts(&four, &[3], "scaled-in.toml");
    let out = apply(&scaled);
    assert!(out.contains("etcd-3"), "{out}");
    // etcd-4 replaced by etcd-3, whose host keeps the old member's data.
    let out = deploy_ok(&[
        "replace",
        path_str(&inv),
        "etcd-4",
        "--with",
        "etcd-3",
        "--yes",
    ]);
    assert!(out.contains("etcd-3"), "{out}");
    let report = writer.stop();
    assert_no_loss_tls(
        "grow, scale in, replace on 3.6 (compose, TLS)",
        &urls[0],
        &report,
        "compose36/",
        Some(&operator),
    );
    assert_versions(&inv, "3.6.17", "3.6.0");

    assert!(deploy_ok(&["defrag", path_str(&inv), "--all"]).contains("Defragmented 3 member(s)"));
    deploy_ok(&["compact", path_str(&inv), "--retain", "100"]);
    assert_eq!(
        deploy(&["alarm", "list", path_str(&inv)]).status.code(),
        Some(0)
    );
    assert!(apply(&inv).contains("No changes."));
}

/// An inventory edit: etcd `version` and `[etcd] extra = { extra }`.
fn at(version: &'static str, extra: &'static str) -> impl Fn(String) -> String {
    move |s: String| {
        s.replace("version = \"3.5.1\"", &format!("version = \"{version}\""))
            .replace("[ssh]", &format!("[etcd]\nextra = {{ {extra} }}\n\n[ssh]"))
    }
}

/// Member `i` logged etcd's initial corruption check since it started as
/// `version`: etcd applied the feature gate (or its old key), not only read
/// it from the file.
fn assert_ran_initial_corruption_check(lab: &Lab, i: usize, version: &str) {
    let checks = lab.ssh(
        i,
        &format!(
            "journalctl -u etcd@etcd-{i} -o cat --no-pager | sed -n '/\"etcd-version\":\"{version}\"/,$p' | grep -c 'starting initial corruption check' || true"
        ),
    );
    assert_ne!(checks, "0", "etcd-{i} ran the check on {version}");
}

/// The inventory at `path` without the host blocks `drop` (1-based),
/// written beside it as `name`.
fn without_hosts(path: &std::path::Path, drop: &[usize], name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(path).expect("inventory");
    let kept: String = text
        .split("[[hosts]]\n")
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(i, part)| match i {
            0 => part.to_string(),
            _ => format!("[[hosts]]\n{part}"),
        })
        .collect();
    let out = path.with_file_name(name);
    std::fs::write(&out, kept).expect("write");
    out
}

fn status_text(inv: &std::path::Path) -> String {
    deploy_ok(&["status", path_str(inv)])
}

/// An inventory two minors ahead is refused by apply before anything
/// changes (every PID the same, nothing installed); `upgrade --to 3.7.4`
/// from 3.5.36 goes through 3.6.17 and then 3.7.4 in one command, each leg a
/// rolling upgrade with a client writing through every member (nothing
/// acknowledged lost), the cluster version seen to move between legs, and
/// the cluster and storage versions at 3.7 at the end.
#[test]
fn a_chained_minor_upgrade_from_3_5_to_3_7() {
    let lab = Lab::up(87, 3);
    // A setting under its 3.5 name, which 3.7 no longer takes: each leg
    // writes the name its binary reads.
    let inv = lab.inventory(
        3,
        at("3.5.36", "\"experimental-initial-corrupt-check\" = true"),
    );
    apply(&inv);
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let skips = lab.inventory(
        3,
        at("3.7.4", "\"feature-gates\" = \"InitialCorruptCheck=true\""),
    );
    let o = deploy(&["apply", path_str(&skips), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("etcd upgrades one minor version at a time"),
        "{}",
        text(&o)
    );
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());
    for i in 1..=3 {
        assert_eq!(lab.ssh(i, "ls /opt/etcd | grep -c 'v3.[67]' || true"), "0");
    }

    // The inventory file again as it was (the lab writes one file).
    let inv = lab.inventory(
        3,
        at("3.5.36", "\"experimental-initial-corrupt-check\" = true"),
    );
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let snapshots = lab.dir.path().join("snapshots");
    let writer = Writer::start(urls, "chain/", None);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = deploy_ok(&[
        "upgrade",
        path_str(&inv),
        "--to",
        "3.7.4",
        "--snapshot-dir",
        path_str(&snapshots),
    ]);
    let report = writer.stop();
    assert!(
        out.contains("Upgrade from 3.5.36 to 3.7.4 in 2 legs, one minor at a time as etcd requires: 3.6.17 → 3.7.4")
            && out.contains("The cluster version is 3.6: the next leg can start.")
            && out.contains("v2 store: no custom content"),
        "{out}"
    );
    assert_no_loss("upgrade 3.5.36 → 3.7.4", &lab.url(1), &report, "chain/");
    assert_versions(&skips, "3.7.4", "3.7.0");
    assert!(
        out.contains("etcd.extra: `experimental-initial-corrupt-check` is written as feature gate InitialCorruptCheck=true for etcd 3.7"),
        "{out}"
    );
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(
                i,
                &format!("grep -c 'feature-gates: \"InitialCorruptCheck=true\"' /etc/etcd/etcd-{i}.conf.yml")
            ),
            "1"
        );
        assert_ran_initial_corruption_check(&lab, i, "3.7.4");
    }
    let at_3_7 = lab.inventory(
        3,
        at("3.7.4", "\"feature-gates\" = \"InitialCorruptCheck=true\""),
    );
    assert!(apply(&at_3_7).contains("No changes."));
}

/// etcd's downgrade as the way back (issue 24), from 3.7.4 to 3.5.36 with a
/// client writing through every member, nothing acknowledged lost. On the
/// way: a downgrade killed (SIGKILL) once enabled is cancelled by `apply`
/// with the newer version (etcd's downgrade cancel, every member still on
/// 3.7.4); one killed after its first member ran 3.6.17 is resumed by
/// `downgrade --to 3.5.36`, which then goes on one minor at a time. The
/// settings follow each version's names: the 3.7 inventory's feature gate
/// and `compaction-batch-limit` are written under their 3.5 names, and 3.5
/// runs the initial corruption check on its start.
#[test]
fn downgrade_from_3_7_to_3_5_through_etcd_s_downgrade_api() {
    let lab = Lab::up(88, 3);
    let inv = lab.inventory(
        3,
        at(
            "3.7.4",
            "\"feature-gates\" = \"InitialCorruptCheck=true\", \"compaction-batch-limit\" = 500",
        ),
    );
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "down/", None);
    let snapshots = lab.dir.path().join("snapshots");
    let down = |to: &str| -> Vec<String> {
        ["downgrade", path_str(&inv), "--to", to, "--snapshot-dir"]
            .iter()
            .map(ToString::to_string)
            .chain([path_str(&snapshots).to_string()])
            .collect()
    };

    // Killed once the downgrade is enabled: apply at 3.7.4 cancels it.
    let (seen, hit) = kill_when(&down("3.6.17"), |l| {
        l.contains("every member's storage version is 3.6")
    });
    assert!(hit, "{seen}");
    let st = status_json(&inv);
    assert!(
        st.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["version"] == "3.7.4" && r["cluster_version"] == "3.6.0"),
        "{st}"
    );
    let out = apply(&inv);
    assert!(
        out.contains("etcd downgrade cancel (it is enabled to 3.6)"),
        "{out}"
    );
    assert_versions(&inv, "3.7.4", "3.7.0");

    // Killed after its first member ran 3.6.17: the chain down resumes.
    let (seen, hit) = kill_when(&down("3.6.17"), |l| {
        l.contains("runs etcd 3.6.17, healthy, caught up")
    });
    assert!(hit, "{seen}");
    let out = deploy_ok(
        &down("3.5.36")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let report = writer.stop();
    assert!(
        out.contains("Downgrade from 3.7.4 to 3.5.36 in 2 legs, one minor at a time as etcd requires: 3.6.17 → 3.5.36")
            && out.contains("etcd's downgrade to 3.6 is enabled already")
            && out.contains("etcd downgrade: enable 3.5"),
        "{out}"
    );
    assert_no_loss("downgrade 3.7.4 → 3.5.36", &lab.url(1), &report, "down/");
    let st = status_json(&inv);
    assert!(
        st.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["health"] == "healthy"
                && r["version"] == "3.5.36"
                && r["cluster_version"] == "3.5.0"),
        "{st}"
    );
    for i in 1..=3 {
        let config = lab.ssh(i, &format!("cat /etc/etcd/etcd-{i}.conf.yml"));
        assert!(
            config.contains("experimental-initial-corrupt-check: true")
                && config.contains("experimental-compaction-batch-limit: 500")
                && !config.contains("feature-gates"),
            "{config}"
        );
        assert_ran_initial_corruption_check(&lab, i, "3.5.36");
    }
    // The inventory written for 3.5: nothing left to do.
    let at_3_5 = lab.inventory(3, at("3.5.36", "\"experimental-initial-corrupt-check\" = true, \"experimental-compaction-batch-limit\" = 500"));
    assert!(apply(&at_3_5).contains("No changes."));
    // And forward again at once: the downgrade's end was made, so the new
    // minor's cluster version moves (a downgrade left enabled would pin it).
    deploy_ok(&[
        "upgrade",
        path_str(&at_3_5),
        "--to",
        "3.6.17",
        "--no-snapshot",
    ]);
    assert_versions(&at_3_5, "3.6.17", "3.6.0");
}

/// A 3.6 cluster made by hand with settings under their 3.6 names (a
/// feature gate, `compaction-batch-limit`): `init --from-cluster` describes
/// it with those names and version 3.6.17, `adopt` takes it over with a
/// client writing (nothing acknowledged lost, every ID kept), the settings
/// still in force afterwards, and apply has nothing to do.
#[test]
fn adopt_a_hand_made_3_6_cluster_with_renamed_settings() {
    use crate::brownfield::{etcd_service_of, from_cluster, ids, wait_until_up, with_mirror};
    let lab = Lab::up(89, 3);
    let cluster: Vec<String> = (1..=3)
        .map(|i| format!("infra{i}=http://{}:2380", lab.addr(i)))
        .collect();
    for i in 1..=3 {
        let a = lab.addr(i);
        etcd_service_of(
            &lab,
            i,
            "3.6.17",
            &format!(
                "--name infra{i} --data-dir /var/lib/etcd/infra{i}.etcd --initial-advertise-peer-urls http://{a}:2380 --listen-peer-urls http://{a}:2380 --listen-client-urls http://{a}:2379 --advertise-client-urls http://{a}:2379 --initial-cluster-token etcd-cluster-1 --initial-cluster {} --initial-cluster-state new --feature-gates=InitialCorruptCheck=true --compaction-batch-limit=500",
                cluster.join(",")
            ),
        );
    }
    wait_until_up(&lab, "hand-made 3.6");
    let found = lab.dir.path().join("found.toml");
    let args = from_cluster(&lab, &found, &lab.url(1));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = deploy_ok(&args);
    let text_of = std::fs::read_to_string(&found).expect("written");
    assert!(
        text_of.contains("version = \"3.6.17\"")
            && text_of.contains("feature-gates = \"InitialCorruptCheck=true\"")
            && text_of.contains("compaction-batch-limit = 500"),
        "{text_of}\n{said}"
    );
    let inv = with_mirror(&found);
    let before = ids(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "adopt36/", None);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = deploy_ok(&["adopt", path_str(&inv), "--yes"]);
    let report = writer.stop();
    assert_no_loss("adopt 3.6.17", &lab.url(1), &report, "adopt36/");
    assert!(
        out.contains("`etcd-deploy apply` has nothing to do"),
        "{out}"
    );
    assert_eq!(ids(&inv), before, "every member keeps its ID");
    for i in 1..=3 {
        let config = lab.ssh(i, &format!("cat /etc/etcd/infra{i}.conf.yml"));
        assert!(
            config.contains("feature-gates: \"InitialCorruptCheck=true\"")
                && config.contains("compaction-batch-limit: 500"),
            "{config}"
        );
        assert_eq!(
            lab.ssh(i, &format!("systemctl is-active etcd@infra{i}")),
            "active"
        );
    }
    assert_versions(&inv, "3.6.17", "3.6.0");
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));
}

/// The operations beyond a rolling upgrade, on 3.7.4: the metrics listener,
/// scheduled snapshots, the move of a running plain cluster to TLS, a CA
/// rotation's three passes, and the recovery from a lost quorum onto new
/// hosts. Keys written before the move are read back over TLS after each
/// step, from the recovered cluster last.
#[test]
fn etcd_3_7_tls_move_ca_rotation_recover_backup_and_metrics() {
    let lab = Lab::up(27, 5);
    let pki = lab.dir.path().join("pki");
    let at_3_7 = |s: String| {
        s.replace(
            "version = \"3.5.1\"",
            "version = \"3.7.4\"\nmetrics_port = 2381",
        )
        .replace(
            "[release]",
            "[backup]\nschedule = \"*:*:0/3\"\nkeep = 2\n\n[release]",
        )
    };
    let plain = lab.inventory(3, at_3_7);
    apply(&plain);
    assert_metrics_served(&lab, 3, 2381);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let o = deploy(&["snapshot", "list", path_str(&plain), "-o", "json"]);
        let listed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let n = listed.as_array().map_or(0, Vec::len);
        if n >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled snapshots on 3.7: {listed}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "before-tls/", None);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let before = writer.stop();

    // The move to TLS of the running cluster.
    let tls = lab.inventory(3, |s| with_tls("generate", &pki)(at_3_7(s)));
    let out = apply(&tls);
    assert!(out.contains("Apply complete"), "{out}");
    let https = |i: usize| lab.url(i).replace("http://", "https://");
    let operator = || Tls::from_dir(&pki, "operator").expect("identity");
    assert_no_loss_tls(
        "moved to TLS",
        &https(1),
        &before,
        "before-tls/",
        Some(&operator()),
    );
    assert_versions(&tls, "3.7.4", "3.7.0");

    // A CA rotation: three passes, then nothing to do.
    for pass in 1..=3 {
        let out = deploy_ok(&["certs", "rotate-ca", path_str(&tls), "--yes"]);
        assert!(out.contains("of 3"), "pass {pass}: {out}");
    }
    assert!(deploy_ok(&["plan", path_str(&tls)]).contains("No changes"));
    assert_no_loss_tls(
        "CA rotated",
        &https(2),
        &before,
        "before-tls/",
        Some(&operator()),
    );

    // Quorum lost for good: two hosts die; recovered onto hosts 4 and 5.
    lab.kill_host(2);
    lab.kill_host(3);
    let five = lab.inventory(5, |s| with_tls("generate", &pki)(at_3_7(s)));
    let recovery = without_hosts(&five, &[2, 3], "recovery.toml");
    let out = deploy_ok(&["recover", path_str(&recovery), "--yes"]);
    assert!(out.contains("Recovered from etcd-1"), "{out}");
    for i in [1, 4, 5] {
        assert_no_loss_tls(
            "recovered",
            &https(i),
            &before,
            "before-tls/",
            Some(&operator()),
        );
    }
    assert_versions(&recovery, "3.7.4", "3.7.0");
    assert!(deploy_ok(&["plan", path_str(&recovery)]).contains("No changes"));
}

/// etcd 3.6 refuses a v2 store with custom content. A 3.5 cluster that once
/// served the v2 API (enable-v2) and holds a v2 key: `upgrade --to 3.6.17`
/// stops the first member, finds the content with 3.5's `etcdutl check
/// v2store`, starts it again on 3.5.36 and refuses, naming the rule and
/// etcd's way out; the other members keep their PIDs, all run 3.5.36.
#[test]
fn a_v2_store_with_custom_content_refuses_the_upgrade_to_3_6() {
    let lab = Lab::up(32, 3);
    let with_v2 = lab.inventory(3, |s| {
        s.replace("version = \"3.5.1\"", "version = \"3.5.36\"")
            .replace("[ssh]", "[etcd]\nextra = { \"enable-v2\" = true }\n\n[ssh]")
    });
    apply(&with_v2);
    let put = sh(std::process::Command::new("curl").args([
        "-fsS",
        "-XPUT",
        &format!("{}/v2/keys/legacy", lab.url(1)),
        "-d",
        "value=from-the-v2-api",
    ]));
    assert!(put.status.success(), "{}", text(&put));
    // enable-v2 still set: refused before anything, every PID unchanged.
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let o = deploy(&[
        "upgrade",
        path_str(&with_v2),
        "--to",
        "3.6.17",
        "--no-snapshot",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "`enable-v2` is not a config key of etcd 3.6 (only of 3.4, 3.5: etcd 3.6 removed it)"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());
    let inv = lab.inventory(3, |s| {
        s.replace("version = \"3.5.1\"", "version = \"3.5.36\"")
    });
    apply(&inv);
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let o = deploy(&["upgrade", path_str(&inv), "--to", "3.6.17", "--no-snapshot"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains(
            "its v2 store holds custom (non-membership) content, which etcd 3.6 refuses to start on"
        ) && t.contains("detected custom")
            && t.contains(
                "It runs its previous release again, healthy; no other member was touched"
            ),
        "{t}"
    );
    let checked = (1..=3)
        .find(|i| t.contains(&format!("etcd-{i}: stop etcd to check its v2 store")))
        .expect("the member checked");
    for i in (1..=3).filter(|i| *i != checked) {
        assert_eq!(lab.etcd_pid(i), pids[i - 1], "etcd-{i} untouched");
    }
    let st = status_json(&inv);
    assert!(
        st.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["health"] == "healthy" && r["version"] == "3.5.36"),
        "{st}"
    );
}

/// etcd's preconditions for the next minor, each refused by apply with
/// every PID unchanged: members on different patches (an upgrade to 3.6.17
/// killed after its first member), then 3.6.8 members below etcd's 3.6.11
/// before 3.7. `upgrade --to 3.7.4` goes through the newest 3.6 patch first.
#[test]
fn minor_upgrade_preconditions_refuse_and_the_chain_goes_through_them() {
    let lab = Lab::up(34, 3);
    let inv = lab.inventory(3, |s| {
        s.replace("version = \"3.5.1\"", "version = \"3.6.8\"")
    });
    apply(&inv);
    let ahead = lab.dir.path().join("ahead.toml");
    std::fs::write(
        &ahead,
        std::fs::read_to_string(&inv)
            .expect("inventory")
            .replace("version = \"3.6.8\"", "version = \"3.7.4\""),
    )
    .expect("write");
    let pids = || (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>();
    let refused = |says: &str| {
        let before = pids();
        let o = deploy(&["apply", path_str(&ahead), "--yes"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
        assert_eq!(pids(), before, "every etcd keeps its PID");
    };
    refused("etcd requires every 3.6 member at 3.6.11 or later before 3.7");
    let args = ["upgrade", path_str(&inv), "--to", "3.6.17", "--no-snapshot"].map(String::from);
    let (seen, hit) = kill_when(&args, |l| {
        l.contains("runs etcd 3.6.17, healthy, caught up")
    });
    assert!(hit, "{seen}");
    refused("members run different versions");
    let out = deploy_ok(&["upgrade", path_str(&inv), "--to", "3.7.4", "--no-snapshot"]);
    assert!(
        out.contains("Upgrade from 3.6.8 to 3.7.4 in 2 legs, one minor at a time as etcd requires: 3.6.17 → 3.7.4"),
        "{out}"
    );
    assert_versions(&ahead, "3.7.4", "3.7.0");
}
