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

/// One run at a time per cluster, whoever runs it. A first controller
/// takes the lock and waits at its consent prompt (a removal, on a
/// terminal); a second controller's apply is refused at once naming the
/// holder, and plan and status show it. The first controller is SIGKILLed;
/// the second, waiting with --lock-timeout, goes ahead once etcd lets the
/// dead run's lease expire (at most its 15 s TTL); the lock is given back
/// at the end.
#[test]
fn two_controllers_one_waits_and_a_killed_one_never_blocks_for_long() {
    use std::io::Read;
    let lab = Lab::up(41, 3);
    let inv = lab.inventory(3, with_version("3.5.0"));
    apply(&inv);
    // The first controller: etcd-3 out of the inventory, asked on a
    // terminal (`script` gives it one) and never answered.
    let without_3 = lab.inventory(2, with_version("3.5.0"));
    let mut first = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!("{BIN} apply {}", path_str(&without_3)),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = first.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Type the cluster name") {
        let n = out.read(&mut buf).expect("read");
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // The second controller: refused at once, naming the holder.
    let other = lab.dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&inv)
            .expect("inventory")
            .replace("[ssh]", "[etcd]\nsnapshot_count = 20000\n\n[ssh]"),
    )
    .expect("write");
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
