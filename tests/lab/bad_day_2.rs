//! Lab tests of issue 21 (the bad day, second round): multi-phase commands
//! killed at the wrong moment leave only states the facts see, and the next
//! run finishes them; writes flow throughout and every acknowledged key is
//! read back afterwards.

use crate::support::*;
use std::time::Duration;

/// The members' configs on hosts `hosts` that still hold recover's one-off flag.
fn forced_configs(lab: &Lab, hosts: &[usize]) -> Vec<usize> {
    hosts
        .iter()
        .copied()
        .filter(|h| {
            lab.ssh(
                *h,
                "grep -l '^force-new-cluster' /etc/etcd/*.conf.yml || true",
            )
            .contains("conf.yml")
        })
        .collect()
}

/// Defect 1: `recover` killed a second after the seed started on its
/// force-new-cluster config. Before: the re-run was refused, `plan` said
/// "No changes" and the next restart of the seed made it a one-member
/// cluster again, losing every write since. Now `plan` shows the finish, a
/// re-run of `recover` finishes it, no config keeps the flag, and a restart
/// of the seed afterwards loses nothing.
#[test]
fn defect_1_an_interrupted_recover_is_finished_and_loses_nothing_later() {
    let lab = Lab::up(51, 6);
    let three = lab.inventory_of(&[1, 2, 3], "three");
    apply(&three);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls.clone(), "before-loss/", None);
    std::thread::sleep(Duration::from_secs(2));
    let before = writer.stop();
    lab.kill_host(2);
    lab.kill_host(3);

    let inv = lab.inventory_of(&[1, 4, 5], "recovery");
    let args = ["recover", path_str(&inv), "--yes"].map(String::from);
    let (seen, hit) = kill_after(
        &args,
        |l| l.contains("start once with force-new-cluster"),
        Duration::from_secs(1),
    );
    assert!(hit, "recover never started the seed:\n{seen}");
    assert_eq!(forced_configs(&lab, &[1]), [1], "the kill left the flag");

    let plan = deploy(&["plan", path_str(&inv)]);
    let shown = text(&plan);
    eprintln!("plan after the kill:\n{shown}");
    assert!(!shown.contains("No changes"), "{shown}");
    assert!(
        shown.contains("finish recover") || shown.contains("a recover stopped before it finished"),
        "{shown}"
    );

    let out = deploy_ok(&["recover", path_str(&inv), "--yes"]);
    eprintln!("recover again:\n{out}");
    assert!(out.contains("Recovered from etcd-1"), "{out}");
    assert!(forced_configs(&lab, &[1, 4, 5]).is_empty(), "no flag left");
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));

    let after_urls: Vec<String> = [1, 4, 5].iter().map(|i| lab.url(*i)).collect();
    let writer = Writer::start(after_urls.clone(), "after-recover/", None);
    std::thread::sleep(Duration::from_secs(2));
    // The restart that used to split the cluster (any reboot of the seed).
    lab.ssh(1, "systemctl restart etcd@etcd-1");
    std::thread::sleep(Duration::from_secs(2));
    let after = writer.stop();
    for url in &after_urls {
        assert_no_loss("before the quorum loss", url, &before, "before-loss/");
        assert_no_loss(
            "after recover, seed restarted",
            url,
            &after,
            "after-recover/",
        );
    }
    let list = rt().block_on(async {
        let mut c = client(&after_urls[1]).await;
        let l = c.member_list().await.expect("member list");
        let mut n: Vec<String> = l.members().iter().map(|m| m.name().to_string()).collect();
        n.sort();
        n
    });
    assert_eq!(list, ["etcd-1", "etcd-4", "etcd-5"]);

    // Again, killed while the seed serves on the one-off config (healthy,
    // its normal config not yet written): `plan` shows the finish and a
    // plain `apply` does it before anything joins.
    lab.kill_host(4);
    lab.kill_host(5);
    let two = lab.inventory_of(&[1, 6], "second");
    let args = ["recover", path_str(&two), "--yes"].map(String::from);
    // Killed while it waits for the seed to come up on the one-off config
    // (that wait lasts as long as etcd's start, far longer than the kill
    // takes to land; the line after it writes the normal config at once).
    let mut forced_start = false;
    let (seen, hit) = kill_when(&args, |l| {
        forced_start |= l.contains("start once with force-new-cluster");
        forced_start && l.contains("wait until healthy")
    });
    assert!(hit, "recover never started the seed:\n{seen}");
    assert_eq!(forced_configs(&lab, &[1]), [1]);
    let shown = deploy_ok(&["plan", path_str(&two)]);
    eprintln!("plan with the seed serving on force-new-cluster:\n{shown}");
    assert!(
        shown.contains("finish recover: its config still holds force-new-cluster"),
        "{shown}"
    );
    apply(&two);
    assert!(forced_configs(&lab, &[1, 6]).is_empty(), "no flag left");
    let urls: Vec<String> = [1, 6].iter().map(|i| lab.url(*i)).collect();
    lab.ssh(1, "systemctl restart etcd@etcd-1");
    for url in &urls {
        assert_no_loss("before the first loss", url, &before, "before-loss/");
        assert_no_loss("between the losses", url, &after, "after-recover/");
    }
    assert!(deploy_ok(&["plan", path_str(&two)]).contains("No changes"));
}

/// Defect 2: `certs rotate-ca` killed during pass 1 once one member has
/// restarted. Before: the re-run wrote pass 2's files while two members
/// trusted only the old CA, and every later command blamed the members.
/// Now the facts see the members that have not loaded their files, the
/// re-run finishes pass 1 (and proves it by probing every member with a
/// client certificate of the new CA) and stops there; passes 2 and 3
/// follow; writes flow throughout, nothing lost.
#[test]
fn defect_2_an_interrupted_ca_rotation_pass_is_finished_before_the_next() {
    let (_lab, pki, inv, urls) = tls_cluster(52);
    let old = Tls::from_dir(&pki, "operator").expect("identity");
    let writer = Writer::start(urls.clone(), "rotation/", Some(old.clone()));
    std::thread::sleep(Duration::from_millis(500));
    let args = ["certs", "rotate-ca", path_str(&inv), "--yes"].map(String::from);
    let (seen, hit) = kill_when(&args, |l| l.contains("restarted (certificates changed)"));
    assert!(hit, "no member restarted:\n{seen}");

    let plan = deploy_ok(&["plan", path_str(&inv)]);
    assert!(
        plan.contains("runs older TLS files than its host holds"),
        "{plan}"
    );
    let out = deploy_ok(&["certs", "rotate-ca", path_str(&inv), "--yes"]);
    eprintln!("rotate-ca again:\n{out}");
    assert!(out.contains("Finished pass 1 of 3"), "{out}");
    assert!(!out.contains("pass 2 of 3 (every certificate signed by the new CA): files written"));
    let first = writer.stop();
    // Clients get the bundle, then pass 2, then their new certificates and pass 3.
    let bundle = Tls {
        ca: std::fs::read_to_string(pki.join("ca.crt")).expect("ca"),
        ..old
    };
    assert_no_loss_tls(
        "pass 1, interrupted and finished",
        &urls[0],
        &first,
        "rotation/",
        Some(&bundle),
    );
    let writer = Writer::start(urls.clone(), "rotation-2/", Some(bundle.clone()));
    let out = deploy_ok(&["certs", "rotate-ca", path_str(&inv), "--yes"]);
    assert!(
        out.contains("Pass 2 of 3 (every certificate signed by the new CA) done"),
        "{out}"
    );
    let second = writer.stop();
    assert_no_loss_tls("pass 2", &urls[0], &second, "rotation-2/", Some(&bundle));
    let new = Tls::from_dir(&pki, "operator").expect("identity");
    let writer = Writer::start(urls.clone(), "rotation-3/", Some(new.clone()));
    let out = deploy_ok(&["certs", "rotate-ca", path_str(&inv), "--yes"]);
    assert!(
        out.contains("Pass 3 of 3 (the old CA trusted nowhere) done"),
        "{out}"
    );
    let third = writer.stop();
    let new = Tls::from_dir(&pki, "operator").expect("identity");
    assert_no_loss_tls("pass 3", &urls[0], &third, "rotation-3/", Some(&new));
    assert!(!pki.join("ca-rotation").exists() && !pki.join("ca-old.key").exists());
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));
}

/// Defect 3: a partition made between the leader and the next follower
/// right after the first member of an upgrade is done. Before: the
/// cut-off member was restarted, its start hung on systemd's start timeout
/// (2 min), its rollback 2 more, and the error quoted only systemd. Now the
/// start is not waited out: once the member is not healthy past a normal
/// start, its log is read, and the run stops quoting etcd's own line about
/// the leader it cannot reach. Healed, the upgrade finishes; nothing lost.
#[test]
fn defect_3_a_partition_during_an_upgrade_is_named_within_seconds() {
    let lab = Lab::up(53, 3);
    for n in 1..=3 {
        own_etcd_user(&lab, n);
    }
    let inv = lab.inventory(3, |s| s.replace("\"3.5.1\"", "\"3.5.0\""));
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "bad-day-3/", None);
    let leader = lab.leader(&inv);
    let mut child = std::process::Command::new(BIN)
        .args(["upgrade", path_str(&inv), "--to", "3.5.1", "--no-snapshot"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    let mut partition = None;
    let mut cut_at = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.unwrap_or_default();
        seen.push_str(&line);
        seen.push('\n');
        if partition.is_none() && line.contains("runs etcd 3.5.1, healthy, caught up") {
            let first: usize = (1..=3)
                .find(|n| line.contains(&format!("etcd-{n}:")))
                .expect("a member");
            let next = (1..=3).find(|n| *n != first && *n != leader).expect("next");
            partition = Some(Partition::between(&lab, leader, next));
            cut_at = Some(std::time::Instant::now());
        }
    }
    let status = child.wait().expect("wait");
    let took = cut_at.expect("the first member was upgraded").elapsed();
    eprintln!("upgrade with a partition:\n{seen}\nstopped {took:?} after the cut");
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("cannot reach the leader; etcd says:"),
        "the cause is etcd's own line: {seen}"
    );
    drop(partition);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !deploy(&["status", path_str(&inv)]).status.success() {
        assert!(std::time::Instant::now() < deadline, "never healthy again");
        std::thread::sleep(Duration::from_millis(500));
    }
    deploy_ok(&["upgrade", path_str(&inv), "--to", "3.5.1", "--no-snapshot"]);
    let report = writer.stop();
    assert_no_loss(
        "partition during an upgrade",
        &lab.url(leader),
        &report,
        "bad-day-3/",
    );
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1");
    }
}

/// Defects 4 and 7: a host that drops packets (powered off on a real
/// network: no refusal, no answer). Before: `status` took the SSH connect
/// timeout plus ~9 s more waiting on etcd at the dead address (19.4 s with
/// 10 s), `plan`, `snapshot save`, `apply` 13-14 s. Now every probe of a
/// member that met silence once fails at once for the rest of the run:
/// each command returns within the connect timeout plus the one etcd
/// connect timeout, and the table says "no answer within". A member that is
/// merely stopped while nothing answers is "down", not "not a member".
#[test]
fn defect_4_a_silent_host_costs_one_timeout_and_defect_7_a_stopped_member_is_down() {
    let lab = Lab::up(55, 3);
    let inv = lab.inventory(3, |s| {
        s.replacen("[ssh]\n", "[ssh]\nconnect_timeout_secs = 3\n", 1)
    });
    apply(&inv);
    let drop_rule = ["OUTPUT", "-d", &lab.addr(3), "-j", "DROP"].map(String::from);
    let o = sh(std::process::Command::new("iptables")
        .arg("-I")
        .args(&drop_rule));
    assert!(o.status.success(), "{}", text(&o));
    let timed = |args: &[&str]| {
        let t = std::time::Instant::now();
        let o = deploy(args);
        (t.elapsed(), text(&o))
    };
    let snap = lab.dir.path().join("s.db");
    let runs = [
        vec!["status", path_str(&inv)],
        vec!["plan", path_str(&inv)],
        vec!["snapshot", "save", path_str(&inv), "--out", path_str(&snap)],
        vec!["apply", path_str(&inv), "--yes"],
    ];
    let mut figures = Vec::new();
    for args in &runs {
        let (took, out) = timed(args);
        figures.push(format!("{} {:.2} s", args[0], took.as_secs_f64()));
        if args[0] == "status" {
            assert!(out.contains("no answer within"), "{out}");
        }
        // Connect timeout 3 s + one etcd connect timeout; generous slack
        // for a loaded machine (the figures are printed and documented).
        assert!(
            took < Duration::from_secs(12),
            "{args:?} took {took:?}:\n{out}"
        );
    }
    let _ = std::process::Command::new("iptables")
        .arg("-D")
        .args(&drop_rule)
        .output();
    eprintln!(
        "with etcd-3's host dropping packets: {}",
        figures.join(", ")
    );

    for n in 1..=3 {
        lab.ssh(n, &format!("systemctl stop etcd@etcd-{n}"));
    }
    let out = text(&deploy(&["status", path_str(&inv)]));
    assert!(!out.contains("not a member"), "{out}");
    assert_eq!(
        out.matches("down (etcd is not running)").count(),
        3,
        "{out}"
    );
    apply(&inv);
}

/// Defect 5: a full disk while `recover` copies the seed's data aside.
/// Before: the survivor stayed stopped with a partial `.tmp` copy beside
/// its data, and the message said neither. Now the copy is refused before
/// it starts (or removed if it fails half-way), nothing else is touched,
/// the seed runs again on its own data and the message says so; with room
/// made, recover goes through and nothing acknowledged is lost.
#[test]
fn defect_5_a_full_disk_during_recover_puts_the_survivor_back() {
    let lab = Lab::up(56, 5);
    // etcd-1's data (and the copy's place) on a file system of its own;
    // once the data is there, all but 10 MB of it is taken (what etcd
    // preallocates differs from run to run: a fixed size would fit a copy
    // in one run and not in another).
    lab.ssh(
        1,
        "mkdir -p /srv/etcd && mount -t tmpfs -o size=400m,mode=0755 tmpfs /srv/etcd",
    );
    let with_dir = |s: String| {
        s.replacen(
            "[cluster]\n",
            "[cluster]\ndata_dir = \"/srv/etcd/data\"\n",
            1,
        )
    };
    let three = lab.inventory(3, with_dir);
    apply(&three);
    // 30 MB of values: the data is bigger than the room left below,
    // whatever etcd preallocates.
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        let big = vec![b'x'; 1_000_000];
        for i in 0..30 {
            c.put(format!("big-{i}"), big.clone(), None)
                .await
                .expect("put");
        }
    });
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "before-loss/", None);
    std::thread::sleep(Duration::from_secs(2));
    let before = writer.stop();
    lab.kill_host(2);
    lab.kill_host(3);
    lab.ssh(
        1,
        "free=$(df -Pk /srv/etcd | awk 'NR == 2 { print $4 }') && fallocate -l \"$((free - 10240))K\" /srv/etcd/filler",
    );
    let all = lab.inventory(5, with_dir);
    let text5 = std::fs::read_to_string(&all).expect("inventory");
    let recovery = lab.dir.path().join("recovery.toml");
    // Hosts 1, 4 and 5 (2 and 3 are dead).
    let mut parts = text5.split("[[hosts]]\n");
    let mut out = parts.next().expect("header").to_string();
    for (k, block) in parts.enumerate() {
        if [0, 3, 4].contains(&k) {
            out.push_str("[[hosts]]\n");
            out.push_str(block);
        }
    }
    std::fs::write(&recovery, out).expect("write");
    let o = deploy(&["recover", path_str(&recovery), "--yes"]);
    let said = text(&o);
    eprintln!("recover on a full disk:\n{said}");
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("not enough space to copy"), "{said}");
    assert!(
        said.contains("it was started again on its own data"),
        "{said}"
    );
    // Running again (without quorum it never tells systemd it is ready).
    let state = lab.ssh(1, "systemctl is-active etcd@etcd-1");
    assert!(
        ["active", "activating"].contains(&state.as_str()),
        "{state}"
    );
    assert_eq!(
        lab.ssh(1, "ls -d /srv/etcd/data.pre-recover-* 2>/dev/null | wc -l"),
        "0"
    );
    for h in [4, 5] {
        assert_eq!(
            lab.ssh(h, "ls /srv/etcd/data 2>/dev/null | wc -l"),
            "0",
            "untouched"
        );
    }
    lab.ssh(1, "rm /srv/etcd/filler");
    let said = deploy_ok(&["recover", path_str(&recovery), "--yes"]);
    assert!(said.contains("Recovered from etcd-1"), "{said}");
    for h in [1, 4, 5] {
        assert_no_loss(
            "before the quorum loss",
            &lab.url(h),
            &before,
            "before-loss/",
        );
    }
}

/// Defect 6: `restore` killed once a member's data was restored, then run
/// again. Before: the re-run named only the newest `.pre-restore-*`
/// directory, which on that member held the killed run's restored data,
/// not the original: the documented undo would bring back the wrong data.
/// Now a restore's data carries a note until the restore has finished
/// everywhere; a half-done restore blocks `plan` by name; and the re-run
/// lists every directory set aside, oldest first, saying what each holds.
#[test]
fn defect_6_an_interrupted_restore_names_every_directory_it_set_aside() {
    let lab = Lab::up(57, 3);
    let inv = lab.inventory(3, |s| s);
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls.clone(), "in-snapshot/", None);
    std::thread::sleep(Duration::from_secs(1));
    let in_snapshot = writer.stop();
    let snap = lab.dir.path().join("s.db");
    deploy_ok(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    let args = ["restore", path_str(&inv), path_str(&snap), "--yes"].map(String::from);
    let (seen, hit) = kill_when(&args, |l| {
        l.contains("snapshot restored, old data moved aside")
    });
    assert!(hit, "no member was restored:\n{seen}");
    let first = (1..=3)
        .find(|n| {
            seen.lines()
                .any(|l| l.contains(&format!("etcd-{n}: snapshot restored")))
        })
        .expect("a member");
    let plan = text(&deploy(&["plan", path_str(&inv)]));
    eprintln!("plan after the kill:\n{plan}");
    let out = deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    eprintln!("restore again:\n{out}");
    let listing: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Data directories set aside"))
        .collect();
    let mine: Vec<&&str> = listing
        .iter()
        .skip_while(|l| !l.contains(&format!("etcd-{first} ")))
        .take(2)
        .collect();
    assert!(
        mine[0].contains(".pre-restore-") && mine[0].contains("the data it had when restore"),
        "{out}"
    );
    assert!(
        mine[1].contains("made from snapshot") && mine[1].contains("never finished"),
        "{out}"
    );
    for url in &urls {
        assert_no_loss("in the snapshot", url, &in_snapshot, "in-snapshot/");
    }
    assert_eq!(
        lab.ssh(first, "ls /var/lib/etcd"),
        "member",
        "the note is gone"
    );
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));
}

/// Defect 8: replacing the leader stalled a client on a surviving follower
/// for its whole request timeout (2.1 s in 4 of 5 rounds), where the same
/// change by hand stalled 0.02-0.03 s. Clients on every member, each bound
/// to its member with a 5 s timeout: every stall is printed, and none may
/// reach the timeout (a hang).
#[test]
fn defect_8_replacing_the_leader_hangs_no_client() {
    let lab = Lab::up(58, 4);
    let three = lab.inventory_of(&[1, 2, 3], "three");
    apply(&three);
    let leader = lab.leader(&three);
    let timeout = Duration::from_secs(5);
    let writers: Vec<(usize, Writer)> = (1..=3)
        .filter(|n| *n != leader)
        .map(|n| {
            let w = Writer::start_with(vec![lab.url(n)], &format!("on-{n}/"), None, timeout);
            (n, w)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let mut hosts: Vec<usize> = (1..=3).filter(|n| *n != leader).collect();
    hosts.push(4);
    let four = lab.inventory_of(&hosts, "replaced");
    let out = deploy_ok(&[
        "replace",
        path_str(&four),
        &format!("etcd-{leader}"),
        "--with",
        "etcd-4",
        "--yes",
    ]);
    eprintln!("{out}");
    std::thread::sleep(Duration::from_secs(1));
    for (n, w) in writers {
        let r = w.stop();
        eprintln!(
            "client on etcd-{n}: longest stall {:?} (ended {:?} after start)",
            r.longest_gap, r.longest_gap_end
        );
        assert_no_loss(
            "replace of the leader",
            &lab.url(n),
            &r,
            &format!("on-{n}/"),
        );
        assert!(
            r.longest_gap < Duration::from_secs(2),
            "a hang: {:?}",
            r.longest_gap
        );
    }
}
