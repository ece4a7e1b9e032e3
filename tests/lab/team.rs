//! Several operators, one cluster (issue 25): a controller that does not
//! hold the cluster's CA (a second machine with the same inventory and no
//! pki directory, or another CA) stops before anything changes and never
//! makes a CA of its own.

use crate::support::*;

/// The same inventory on a "second machine": its tls.dir empty. plan,
/// status and apply stop (exit 2) naming the cluster's CA fingerprint (as
/// openssl prints it); no CA is made there, every etcd keeps its PID. With
/// another CA in that directory, the same. With the pki copied over, plan
/// has nothing to do.
#[test]
fn a_second_controller_without_the_cluster_s_ca_never_forks_it() {
    let (lab, pki, inv, _urls) = tls_cluster(35);
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let fp = sh(std::process::Command::new("openssl").args([
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        path_str(&pki.join("ca.crt")),
    ]));
    let fp = String::from_utf8_lossy(&fp.stdout)
        .trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_string();
    assert_eq!(fp.len(), 95, "{fp}");

    let second = lab.dir.path().join("second");
    std::fs::create_dir_all(&second).expect("dir");
    let other_pki = second.join("pki");
    let inv2 = second.join("inventory.toml");
    std::fs::write(
        &inv2,
        std::fs::read_to_string(&inv)
            .expect("inventory")
            .replace(path_str(&pki), path_str(&other_pki)),
    )
    .expect("write");
    for args in [
        vec!["plan", path_str(&inv2)],
        vec!["status", path_str(&inv2)],
        vec!["apply", path_str(&inv2), "--yes"],
    ] {
        let o = deploy(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(
            t.contains(&format!(
                "this cluster's CA (fingerprint {fp}, trusted by etcd-"
            )) && t.contains("which holds no CA")
                && t.contains("copy the pki directory from the machine that made the cluster"),
            "{args:?}: {t}"
        );
        assert!(!other_pki.join("ca.crt").exists() && !other_pki.join("ca.key").exists());
    }
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());

    // Another CA in that directory: the same refusal, naming both.
    let fresh = Lab::up(36, 1);
    let other_inv = fresh.inventory(1, with_tls("generate", &other_pki));
    apply(&other_inv);
    let o = deploy(&["apply", path_str(&inv2), "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("whose CA is another ("), "{t}");
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());

    // The pki copied over: nothing to do.
    let copied = second.join("copied");
    std::fs::create_dir_all(&copied).expect("dir");
    for f in std::fs::read_dir(&pki).expect("pki") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, copied.join(f.file_name().expect("name"))).expect("copy");
    }
    let inv3 = second.join("copied.toml");
    std::fs::write(
        &inv3,
        std::fs::read_to_string(&inv)
            .expect("inventory")
            .replace(path_str(&pki), path_str(&copied)),
    )
    .expect("write");
    assert!(deploy_ok(&["plan", path_str(&inv3)]).contains("No changes"));
    // ETCD_DEPLOY_PKI names the shared copy where the inventory says another.
    let o = sh(std::process::Command::new(BIN)
        .args(["plan", path_str(&inv2)])
        .env("ETCD_DEPLOY_PKI", &copied));
    assert!(
        o.status.success() && text(&o).contains("No changes"),
        "{}",
        text(&o)
    );

    // The right CA but a client certificate the cluster does not accept
    // (the other cluster's): refused, saying so, not "no member answers".
    let wrong_id = second.join("wrong-id");
    std::fs::create_dir_all(&wrong_id).expect("dir");
    for f in std::fs::read_dir(&copied).expect("pki") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, wrong_id.join(f.file_name().expect("name"))).expect("copy");
    }
    for f in ["client.crt", "client.key"] {
        std::fs::copy(other_pki.join(f), wrong_id.join(f)).expect("copy");
    }
    let o = sh(std::process::Command::new(BIN)
        .args(["plan", path_str(&inv2)])
        .env("ETCD_DEPLOY_PKI", &wrong_id));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no member accepts this controller's client certificate")
            && t.contains("TLS handshake refused"),
        "{t}"
    );
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());
}

/// Another controller's inventory: `inv` with one setting changed.
fn with_snapshot_count(lab: &Lab, inv: &std::path::Path) -> std::path::PathBuf {
    let other = lab.dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(inv)
            .expect("inventory")
            .replace("[ssh]", "[etcd]\nsnapshot_count = 20000\n\n[ssh]"),
    )
    .expect("write");
    other
}

/// `command` run on a terminal (`script` gives it one), once it waits at
/// its consent prompt, never answered: a run holding the run lock.
fn at_consent(command: &str) -> std::process::Child {
    use std::io::Read;
    let mut child = std::process::Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Type the cluster name") {
        let n = out.read(&mut buf).expect("read");
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // Kept open: a closed pipe would end `script`, and the run with it.
    child.stdout = Some(out);
    child
}

/// One run at a time per cluster, whoever runs it. A first controller
/// takes the lock and waits at its consent prompt (a removal, on a
/// terminal); a second controller's apply is refused at once naming the
/// holder, and plan and status show it. The first controller is SIGKILLed;
/// the second, waiting with --lock-timeout, goes ahead once etcd lets the
/// dead run's lease expire (at most its 15 s TTL); the lock is given back
/// at the end.
#[test]
fn two_controllers_one_waits_and_a_killed_one_never_blocks_for_long() {
    let lab = Lab::up(41, 3);
    let inv = lab.inventory(3, with_version("3.5.0"));
    apply(&inv);
    // The first controller: etcd-3 out of the inventory, asked on a
    // terminal (`script` gives it one) and never answered.
    let without_3 = lab.inventory(2, with_version("3.5.0"));
    let mut first = at_consent(&format!("{BIN} apply {}", path_str(&without_3)));
    // The second controller: refused at once, naming the holder.
    let other = with_snapshot_count(&lab, &inv);
    let began = std::time::Instant::now();
    let o = deploy(&["apply", path_str(&other), "--yes"]);
    let t = text(&o);
    eprintln!("the second controller's apply:\n{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("another run holds this cluster's run lock (root@")
            && t.contains("etcd-deploy apply")
            && t.contains("Nothing was changed"),
        "{t}"
    );
    assert!(
        began.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    let plan = text(&deploy(&["plan", path_str(&other)]));
    assert!(
        plan.contains("the cluster's run lock is held by root@"),
        "{plan}"
    );
    let status = text(&deploy(&["status", path_str(&other)]));
    eprintln!("status meanwhile:\n{status}");
    assert!(status.contains("run lock: held by root@"), "{status}");

    // The first controller dies; the second waits for the lease and goes on.
    let _ = std::process::Command::new("pkill")
        .args([
            "-KILL",
            "-f",
            &format!("{BIN} apply {}", path_str(&without_3)),
        ])
        .status();
    let _ = first.kill();
    let _ = first.wait();
    let killed = std::time::Instant::now();
    let out = deploy_ok(&[
        "upgrade",
        path_str(&inv),
        "--to",
        "3.5.1",
        "--no-snapshot",
        "--lock-timeout",
        "60s",
    ]);
    let took = killed.elapsed();
    eprintln!("the second controller finished {took:?} after the first was killed");
    assert!(took < std::time::Duration::from_secs(45), "{took:?}\n{out}");
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1");
    }
    let status = text(&deploy(&["status", path_str(&inv)]));
    assert!(!status.contains("run lock"), "given back: {status}");
}

/// The cluster's name in a lab inventory.
fn cluster_name(inv: &std::path::Path) -> String {
    let t = std::fs::read_to_string(inv).expect("inventory");
    t.lines()
        .skip_while(|l| l.trim() != "[cluster]")
        .find_map(|l| l.trim().strip_prefix("name = "))
        .expect("cluster name")
        .trim_matches('"')
        .to_string()
}

/// State on the hosts. Every member's host keeps etcd-deploy's records
/// (root's, 0600, in a 0700 directory); records kept only on a controller
/// (as before) are moved there by the next apply, which plans it; a second
/// controller with no records of its own removes a member from the
/// inventory and stops its etcd on its host, under writes, losing none;
/// both controllers then have nothing to do.
#[test]
fn state_lives_on_the_hosts_and_any_controller_finds_a_removed_member() {
    let lab = Lab::up(65, 3);
    let inv = lab.inventory(3, with_version("3.5.0"));
    apply(&inv);
    let name = cluster_name(&inv);
    let file = format!("/var/lib/etcd-deploy/{name}.members.json");
    for i in 1..=3 {
        let out = lab.ssh(
            i,
            &format!("stat -c '%a %U %n' /var/lib/etcd-deploy {file}; cat {file}"),
        );
        assert!(
            out.contains("700 root /var/lib/etcd-deploy")
                && out.contains(&format!("600 root {file}"))
                && out.contains("\"etcd-3\":{\"address\":")
                && out.contains("\"made_by\":\"etcd-deploy "),
            "{out}"
        );
    }
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));

    // As an older etcd-deploy left things: the records only on the
    // controller, as a bare map. The plan moves them to the hosts.
    let cache = inv
        .parent()
        .expect("dir")
        .join(".etcd-deploy")
        .join(format!("{name}.members.json"));
    let now: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).expect("cache")).expect("json");
    std::fs::write(&cache, now["members"].to_string()).expect("legacy cache");
    for i in 1..=3 {
        lab.ssh(i, &format!("rm {file}"));
    }
    let plan = deploy_ok(&["plan", path_str(&inv)]);
    eprintln!("plan with the records on the controller only:\n{plan}");
    assert!(
        plan.contains("write etcd-deploy's records of its 3 member(s) to each host"),
        "{plan}"
    );
    apply(&inv);
    assert!(lab.ssh(2, &format!("cat {file}")).contains("\"etcd-3\""));
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));

    // A second controller: the inventory without etcd-3, no records.
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "team-state/", None);
    let second = lab.dir.path().join("second");
    std::fs::create_dir_all(&second).expect("dir");
    let two = lab.inventory(2, with_version("3.5.0"));
    let inv2 = second.join("inventory.toml");
    std::fs::copy(&two, &inv2).expect("copy");
    let plan = deploy_ok(&["plan", path_str(&inv2)]);
    eprintln!("the second controller's plan:\n{plan}");
    assert!(
        plan.contains("etcd-3") && !plan.contains("not in etcd-deploy's records"),
        "{plan}"
    );
    apply(&inv2);
    let report = writer.stop();
    assert_no_loss(
        "scale-in from a second controller",
        &lab.url(1),
        &report,
        "team-state/",
    );
    assert_eq!(lab.etcd_pid(3), "0", "etcd-3 stopped on its host");
    assert!(
        lab.ssh(3, "systemctl is-enabled etcd@etcd-3 || true")
            .contains("disabled")
    );
    for i in 1..=2 {
        let out = lab.ssh(i, &format!("cat {file}"));
        assert!(!out.contains("\"etcd-3\""), "{out}");
    }
    assert!(deploy_ok(&["plan", path_str(&inv2)]).contains("No changes"));
    // The first controller's cache is older than the hosts' copy: it loses.
    let two_here = inv.parent().expect("dir").join("two.toml");
    std::fs::copy(&two, &two_here).expect("copy");
    assert!(deploy_ok(&["plan", path_str(&two_here)]).contains("No changes"));
}

/// The run lock on the hosts, which is what a run has when no member
/// answers: a `destroy` waiting at its consent prompt holds it; another
/// controller's apply is refused at once naming the holder and the host,
/// plan shows it. The destroy is SIGKILLed: its lock goes with its
/// connection, and the next apply goes ahead at once.
#[test]
fn the_lock_on_the_hosts_refuses_a_second_run_and_dies_with_its_holder() {
    let lab = Lab::up(66, 3);
    let inv = lab.inventory(3, with_version("3.5.0"));
    apply(&inv);
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let mut first = at_consent(&format!("{BIN} destroy {}", path_str(&inv)));
    let other = with_snapshot_count(&lab, &inv);
    let o = deploy(&["apply", path_str(&other), "--yes"]);
    let t = text(&o);
    eprintln!("apply while a destroy holds the hosts' lock:\n{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("another run holds this cluster's run lock (root@")
            && t.contains("etcd-deploy destroy")
            && t.contains("on the host of etcd-")
            && t.contains("Nothing was changed"),
        "{t}"
    );
    let plan = text(&deploy(&["plan", path_str(&other)]));
    assert!(
        plan.contains("the cluster's run lock is held by root@") && plan.contains("destroy"),
        "{plan}"
    );
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());

    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &format!("{BIN} destroy {}", path_str(&inv))])
        .status();
    let _ = first.kill();
    let _ = first.wait();
    let killed = std::time::Instant::now();
    deploy_ok(&["apply", path_str(&other), "--yes", "--lock-timeout", "30s"]);
    let took = killed.elapsed();
    eprintln!("the next apply finished {took:?} after the destroy was killed");
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    assert!(
        lab.ssh(1, "cat /etc/etcd/etcd-1.conf.yml")
            .contains("snapshot-count: 20000")
    );
}

/// A personal operator certificate, the CA key kept offline: issued on the
/// machine that holds the CA key; with only that directory another machine
/// runs plan, status, a snapshot and a patch upgrade; what needs a new
/// certificate (certs rotate, another operator) says to run it where the
/// CA key is, exit 2, and changes nothing.
#[test]
fn an_operator_certificate_runs_everything_but_issuance_without_the_ca_key() {
    let lab = Lab::up(67, 3);
    let pki = lab.dir.path().join("pki");
    let tls = with_tls("generate", &pki);
    let inv = lab.inventory(3, |s| with_version("3.5.0")(tls(s)));
    apply(&inv);
    let alice = lab.dir.path().join("alice-pki");
    let out = deploy_ok(&[
        "certs",
        "operator",
        path_str(&inv),
        "alice",
        "--out",
        path_str(&alice),
    ]);
    eprintln!("certs operator:\n{out}");
    let mut names: Vec<String> = std::fs::read_dir(&alice)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.crt", "client.crt", "client.key"]);
    let subject = sh(std::process::Command::new("openssl").args([
        "x509",
        "-noout",
        "-subject",
        "-in",
        path_str(&alice.join("client.crt")),
    ]));
    assert!(text(&subject).contains("CN = alice"), "{}", text(&subject));
    assert!(pki.join("operators").join("alice.crt").is_file());

    let as_alice = |args: &[&str]| {
        sh(std::process::Command::new(BIN)
            .args(args)
            .env("ETCD_DEPLOY_PKI", &alice)
            .stdin(std::process::Stdio::null()))
    };
    let o = as_alice(&["plan", path_str(&inv)]);
    assert!(
        o.status.success() && text(&o).contains("No changes"),
        "{}",
        text(&o)
    );
    let o = as_alice(&["status", path_str(&inv)]);
    assert!(o.status.success(), "{}", text(&o));
    let snap = lab.dir.path().join("alice.db");
    let o = as_alice(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    assert!(o.status.success() && snap.is_file(), "{}", text(&o));
    let o = as_alice(&["upgrade", path_str(&inv), "--to", "3.5.1", "--no-snapshot"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = as_alice(&["status", path_str(&inv)]);
    let t = text(&o);
    assert!(
        o.status.success() && t.matches("  3.5.1  ").count() == 3,
        "{t}"
    );
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    for args in [
        vec!["certs", "rotate", path_str(&inv), "--yes"],
        vec!["certs", "operator", path_str(&inv), "bob"],
    ] {
        let o = as_alice(&args);
        let t = text(&o);
        eprintln!("{args:?} with alice's pki:\n{t}");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains("the machine that holds it"), "{args:?}: {t}");
    }
    assert!(!alice.join("ca.key").exists() && !alice.join("bob").exists());
    assert_eq!(pids, (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>());
}

/// The team's way of working (docs/team.md), end to end, under writes
/// through a TLS client. A pipeline with its own operator certificate
/// plans a merge request (`plan --out`, exit 2: changes); after review it
/// carries out exactly that plan (`apply --plan`, the etcd processes older
/// than the plan by then). Meanwhile the on-call engineer's `replace`
/// (from the team's shared pki, with the merged inventory) is refused
/// naming the pipeline's run, then waits for it (`--lock-timeout`) and
/// goes ahead. Nothing acknowledged is lost.
#[test]
fn ci_applies_a_reviewed_plan_while_on_call_waits_for_the_lock() {
    let lab = Lab::up(82, 4);
    let pki = lab.dir.path().join("pki");
    let tls = with_tls("generate", &pki);
    let inv = lab.inventory(3, &tls);
    apply(&inv);
    let ci = lab.dir.path().join("ci-pki");
    deploy_ok(&[
        "certs",
        "operator",
        path_str(&inv),
        "ci",
        "--out",
        path_str(&ci),
    ]);
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let client = Tls::from_dir(&pki, "client").expect("client files");
    let writer = Writer::start(urls, "team-ci/", Some(client.clone()));

    // The merge request: one setting changed; the pipeline plans it.
    let merged = |text: String| text.replace("[ssh]", "[etcd]\nsnapshot_count = 20000\n\n[ssh]");
    let mr = lab.dir.path().join("mr.toml");
    std::fs::write(
        &mr,
        merged(std::fs::read_to_string(&inv).expect("inventory")),
    )
    .expect("write");
    let saved = lab.dir.path().join("mr.plan.json");
    let as_ci = |args: &[&str]| {
        let mut c = std::process::Command::new(BIN);
        c.args(args)
            .env("ETCD_DEPLOY_PKI", &ci)
            .stdin(std::process::Stdio::null());
        c
    };
    let o = sh(&mut as_ci(&[
        "plan",
        path_str(&mr),
        "--out",
        path_str(&saved),
        "--detailed-exitcode",
    ]));
    eprintln!("the pipeline's plan:\n{}", text(&o));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    std::thread::sleep(std::time::Duration::from_secs(3));

    // Merged: the pipeline applies exactly that plan.
    let pipeline = as_ci(&["apply", path_str(&mr), "--plan", path_str(&saved), "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = text(&deploy(&["status", path_str(&inv)]));
        if status.contains("run lock: held by") {
            eprintln!("status while the pipeline applies:\n{status}");
            break;
        }
        assert!(std::time::Instant::now() < until, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // On call: etcd-3's host is to go; the merged inventory has etcd-4.
    let on_call = lab.inventory_of(&[1, 2, 4], "on-call");
    let text_of = |p: &std::path::Path| std::fs::read_to_string(p).expect("inventory");
    std::fs::write(&on_call, merged(tls(text_of(&on_call)))).expect("write");
    let replace = [
        "replace",
        path_str(&on_call),
        "etcd-3",
        "--with",
        "etcd-4",
        "--yes",
    ];
    let o = deploy(&replace);
    let t = text(&o);
    eprintln!("on call, while the pipeline runs:\n{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("another run holds this cluster's run lock (root@")
            && t.contains("--plan")
            && t.contains("Nothing was changed"),
        "{t}"
    );
    let waited = std::time::Instant::now();
    let mut with_wait = replace.to_vec();
    with_wait.extend(["--lock-timeout", "5m"]);
    let out = deploy_ok(&with_wait);
    eprintln!("on call, waiting ({:?}):\n{out}", waited.elapsed());
    let done = pipeline.wait_with_output().expect("pipeline");
    eprintln!("the pipeline's apply:\n{}", text(&done));
    assert!(
        done.status.success() && text(&done).contains("the saved plan was carried out"),
        "{}",
        text(&done)
    );
    let report = writer.stop();
    assert_no_loss_tls(
        "CI apply and on-call replace",
        &lab.url(1).replace("http://", "https://"),
        &report,
        "team-ci/",
        Some(&client),
    );
    for i in [1, 2, 4] {
        assert!(
            lab.ssh(i, &format!("cat /etc/etcd/etcd-{i}.conf.yml"))
                .contains("snapshot-count: 20000")
        );
    }
    assert_eq!(lab.etcd_pid(3), "0");
    assert!(deploy_ok(&["plan", path_str(&on_call)]).contains("No changes"));
}
