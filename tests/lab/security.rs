//! Lab tests of TLS: generated certificates end to end, rotation with writes
//! flowing, provided certificates checked before anything is pushed.

use crate::support::*;
use std::path::Path;
use std::process::Command;

/// etcdctl from the lab mirror's 3.5.1 release, unpacked on the controller.
fn etcdctl(dir: &Path) -> std::path::PathBuf {
    let o = sh(Command::new("tar")
        .args([
            "-xzf",
            "/var/cache/etcd-deploy-lab/mirror/v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz",
            "-C",
        ])
        .arg(dir)
        .args(["--strip-components=1", "etcd-v3.5.1-linux-amd64/etcdctl"]));
    assert!(o.status.success(), "{}", text(&o));
    dir.join("etcdctl")
}

#[test]
fn tls_generate_env_rotate_and_provided_checks() {
    let lab = Lab::up(24, 3);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(3, with_tls("generate", &pki));
    apply(&inv);
    assert!(apply(&inv).contains("No changes."));
    let key_mode = std::fs::metadata(pki.join("ca.key"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("ca.key");
    assert_eq!(key_mode, 0o600, "keys on the controller are 0600");

    // etcdctl with the printed environment reads and writes.
    let ctl = etcdctl(lab.dir.path());
    let env = deploy_ok(&["env", path_str(&inv)]);
    assert!(
        env.contains("ETCDCTL_ENDPOINTS=https://127.0.24.1:2379,"),
        "{env}"
    );
    let script = format!(
        "{env}\n{ctl} put secure yes >/dev/null && {ctl} get --print-value-only secure",
        ctl = ctl.display()
    );
    let o = sh(Command::new("sh").arg("-c").arg(&script));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "yes",
        "{}",
        text(&o)
    );

    // Without a client certificate: refused. Plain http: not served.
    let ca = pki.join("ca.crt");
    let o = sh(Command::new(&ctl).args([
        "--endpoints",
        &lab.url(1).replace("http://", "https://"),
        "--cacert",
        path_str(&ca),
        "--dial-timeout",
        "2s",
        "get",
        "secure",
    ]));
    assert!(
        !o.status.success(),
        "a client without a certificate must be refused: {}",
        text(&o)
    );
    let o = sh(Command::new(&ctl).args([
        "--endpoints",
        &lab.url(1),
        "--dial-timeout",
        "2s",
        "--command-timeout",
        "3s",
        "get",
        "secure",
    ]));
    assert!(
        !o.status.success(),
        "plain http must not be served: {}",
        text(&o)
    );

    // On the hosts: keys 0600, owned by etcd, in a directory only root
    // writes; never in the config or the journal.
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(
                i,
                &format!("cd /etc/etcd/pki/etcd-{i} && stat -c '%U %a' . server.key peer.key")
            ),
            "root 750\netcd 600\netcd 600"
        );
    }
    // Issue 11, finding 9: a key loosened on a host is put right by apply,
    // without a restart.
    let pid = lab.etcd_pid(2);
    lab.ssh(2, "chmod 0644 /etc/etcd/pki/etcd-2/server.key");
    let out = apply(&inv);
    assert!(
        out.contains("+ etcd-2       write TLS certificates"),
        "{out}"
    );
    assert_eq!(
        lab.ssh(2, "stat -c '%a' /etc/etcd/pki/etcd-2/server.key"),
        "600"
    );
    assert_eq!(lab.etcd_pid(2), pid, "no restart for a mode");

    // Rotation with writes flowing: every member restarted with new certificates, nothing lost.
    let before = std::fs::read_to_string(pki.join("etcd-2.server.crt")).expect("cert");
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let tls = Tls::from_dir(&pki, "operator").expect("operator identity");
    let writer = Writer::start(urls.clone(), "rotate/", Some(tls.clone()));
    let out = deploy_ok(&["certs", "rotate", path_str(&inv)]);
    let report = writer.stop();
    assert!(out.contains("restart (certificates changed)"), "{out}");
    assert_ne!(
        before,
        std::fs::read_to_string(pki.join("etcd-2.server.crt")).expect("cert"),
        "new certificate"
    );
    assert_no_loss_tls("certs rotate", &urls[0], &report, "rotate/", Some(&tls));
    assert!(apply(&inv).contains("No changes."));

    // Provided certificates whose SANs miss a member's address: refused before any push.
    let provided = lab.dir.path().join("provided");
    sh(Command::new("cp").arg("-r").arg(&pki).arg(&provided));
    let moved = lab.inventory(3, |s| {
        with_tls("provided", &provided)(s).replace(
            "address = \"127.0.24.3\"",
            "address = \"127.0.24.3\"\nadvertise = \"127.0.24.33\"",
        )
    });
    let o = deploy(&["apply", path_str(&moved)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("etcd-3.server.crt: the certificate does not cover 127.0.24.33"),
        "{}",
        text(&o)
    );
    assert_eq!(
        lab.ssh(3, "grep -c 127.0.24.33 /etc/etcd/etcd-3.conf.yml || true"),
        "0",
        "nothing was pushed"
    );

    // The cluster runs https: an inventory without [tls] (and so without
    // the certificates to reach it while it moves back) is refused, not applied.
    let plain = lab.inventory(3, |s| s);
    let o = deploy(&["apply", path_str(&plain)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o)
            .contains("moving the cluster back to plain HTTP needs the certificates it runs with"),
        "{}",
        text(&o)
    );
}

/// Issue 11, finding 1: a member joined by hand with a name that is a shell
/// command, advertising another inventory host's client URL, is removed by
/// the next apply; no command of its name runs anywhere, and no host is
/// contacted for it (etcd-deploy has no record of it), the output says what
/// to stop by hand.
#[test]
fn finding_1_a_hand_joined_member_named_like_a_command_is_removed_without_running_it() {
    let lab = Lab::up(33, 3);
    let inv = lab.inventory(3, |s| s);
    apply(&inv);
    let (a1, a2) = (lab.addr(1), lab.addr(2));
    // A second etcd on host 1, added by hand as a learner, named with a
    // command, its client URL pointing at host 2's etcd.
    let evil = "x;touch /tmp/PWNED;";
    let added = lab.ssh(
        1,
        &format!(
            "for i in $(seq 100); do etcdctl --endpoints http://{a1}:2379 member add --learner 'evil' --peer-urls=http://{a1}:12380 >/dev/null 2>&1 && echo added && break; sleep 0.2; done"
        ),
    );
    assert_eq!(added, "added");
    let initial = lab.ssh(
        1,
        &format!(
            "etcdctl --endpoints http://{a1}:2379 member list -w simple | awk -F', ' '{{ if ($3 == \"\") n=\"{evil}\"; else n=$3; printf \"%s%s=%s\", (NR>1?\",\":\"\"), n, $4 }}'"
        ),
    );
    let start = format!(
        "systemd-run --unit=evil-etcd /opt/etcd/current/etcd --name '{evil}' --data-dir /tmp/evil-data \
         --listen-peer-urls http://{a1}:12380 --initial-advertise-peer-urls http://{a1}:12380 \
         --listen-client-urls http://{a1}:12379 --advertise-client-urls http://{a2}:2379 \
         --initial-cluster '{initial}' --initial-cluster-state existing >/dev/null && echo started"
    );
    assert_eq!(lab.ssh(1, &start), "started", "{start}");
    // Wait until it has joined under its name.
    let mut joined = false;
    for _ in 0..100 {
        let list = lab.ssh(
            1,
            &format!("etcdctl --endpoints http://{a1}:2379 member list"),
        );
        if list.contains("PWNED") {
            joined = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(joined, "the hand-made member never started");

    let plan = deploy_ok(&["plan", path_str(&inv)]);
    println!("{plan}");
    assert!(
        plan.contains("its host is not in etcd-deploy's records") && !plan.contains("PWNED"),
        "the plan names it by ID and says what to do: {plan}"
    );
    let out = apply(&inv);
    assert!(out.contains("stop and disable etcd there by hand"), "{out}");
    for h in 1..=3 {
        assert_eq!(
            lab.ssh(h, "test -e /tmp/PWNED && echo yes || echo no"),
            "no",
            "host {h} ran the name"
        );
    }
    // It left the cluster (its etcd then exits by itself, as etcd does).
    let list = lab.ssh(
        1,
        &format!("etcdctl --endpoints http://{a1}:2379 member list"),
    );
    assert!(!list.contains("12380"), "{list}");
    lab.ssh(
        1,
        "systemctl stop evil-etcd 2>/dev/null; rm -rf /tmp/evil-data",
    );
    assert_cluster(&lab, 3);
}

/// Issue 11, findings 2 and 3: a data or install directory that holds other
/// software's files is refused before anything changes (its owner and mode
/// stay); `destroy --wipe-data` deletes only what etcd-deploy put there.
#[test]
fn findings_2_and_3_others_directories_are_refused_and_destroy_deletes_only_its_own() {
    let lab = Lab::up(36, 1);
    lab.ssh(1, "mkdir -p /srv/shared /srv/tools && echo keep > /srv/shared/other.txt && echo keep > /srv/tools/tool");
    for (key, dir) in [("data_dir", "/srv/shared"), ("install_dir", "/srv/tools")] {
        let inv = lab.inventory(1, |s| {
            s.replace("version = ", &format!("{key} = \"{dir}\"\nversion = "))
        });
        let o = deploy(&["apply", path_str(&inv), "--yes"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("{key} {dir} holds `")),
            "{}",
            text(&o)
        );
        assert_eq!(
            lab.ssh(1, &format!("stat -c '%U %a' {dir}; ls {dir}")),
            if key == "data_dir" {
                "root 755\nother.txt"
            } else {
                "root 755\ntool"
            },
            "untouched"
        );
    }
    // A cluster of its own, then a file of someone else's beside it.
    let inv = lab.inventory(1, |s| s);
    apply(&inv);
    lab.ssh(
        1,
        "echo keep > /opt/etcd/notes.txt && echo keep > /var/lib/etcd/notes.txt",
    );
    deploy_ok(&["destroy", path_str(&inv), "--yes", "--wipe-data"]);
    assert_eq!(
        lab.ssh(
            1,
            "ls -A /opt/etcd; ls -A /var/lib/etcd; pgrep -x etcd | wc -l"
        ),
        "notes.txt\nnotes.txt\n0",
        "only etcd-deploy's releases and etcd's data were deleted"
    );
}

/// Issue 11, finding 6: a release tarball that matches its checksum but
/// holds a symlink (here `.sha256` pointing at /etc/motd, which root used to
/// overwrite) fails the install on the host, and nothing is left behind.
#[test]
fn finding_6_a_release_holding_a_symlink_is_not_installed() {
    let lab = Lab::up(38, 1);
    let dir = lab.dir.path().join("mirror");
    hostile_release(&dir, |work| {
        std::os::unix::fs::symlink("/etc/motd", work.join(".sha256")).expect("symlink");
    });
    let cache = lab.dir.path().join("cache");
    let inv = lab.inventory(1, |s| {
        s.replace("3.5.1", "3.5.2").replace(
            "source = \"http://127.0.0.1:18080\"",
            &format!(
                "source = \"file://{}\"\ncache_dir = \"{}\"",
                dir.display(),
                cache.display()
            ),
        )
    });
    let motd = lab.ssh(1, "sha256sum /etc/motd 2>/dev/null || echo none");
    let o = deploy(&["apply", path_str(&inv), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("entries other than files and directories"),
        "{}",
        text(&o)
    );
    assert_eq!(
        lab.ssh(1, "sha256sum /etc/motd 2>/dev/null || echo none"),
        motd
    );
    assert_eq!(
        lab.ssh(1, "ls -A /opt/etcd 2>/dev/null"),
        "",
        "nothing left"
    );
}

/// A generated certificate within `tls.renew_before_days` of its expiry is
/// renewed by `apply` and rolled out like a rotation (only that member
/// restarts, writes flowing); `plan` says so first. The expiring one is made
/// here, signed by the cluster's own CA, valid for 10 more days.
#[test]
fn a_certificate_near_its_expiry_is_renewed_by_apply() {
    let lab = Lab::up(68, 3);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(3, with_tls("generate", &pki));
    apply(&inv);
    let who = pki.join("etcd-2.server.crt");
    let short = {
        let ca_key =
            rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki.join("ca.key")).expect("ca.key"))
                .expect("ca key");
        let issuer = rcgen::Issuer::from_ca_cert_pem(
            &std::fs::read_to_string(pki.join("ca.crt")).expect("ca.crt"),
            &ca_key,
        )
        .expect("issuer");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec![
            "etcd-2".to_string(),
            lab.addr(2),
            "localhost".into(),
            "127.0.0.1".into(),
        ])
        .expect("params");
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(10);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        std::fs::write(pki.join("etcd-2.server.key"), key.serialize_pem()).expect("key");
        cert.pem()
    };
    std::fs::write(&who, &short).expect("write cert");
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let tls = Tls::from_dir(&pki, "operator").expect("operator identity");
    let writer = Writer::start(urls.clone(), "renew/", Some(tls.clone()));
    let out = apply(&inv);
    let report = writer.stop();
    assert!(
        out.contains("etcd-2.server.crt expires in 9 days")
            || out.contains("etcd-2.server.crt expires in 10 days"),
        "{out}"
    );
    let restarted: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("~ ") && l.contains("restart"))
        .collect();
    assert_eq!(restarted.len(), 1, "only etcd-2 restarts: {out}");
    assert!(restarted[0].contains("etcd-2"), "{out}");
    let renewed = std::fs::read_to_string(&who).expect("read");
    assert_ne!(renewed, short, "renewed on the controller");
    let on_host = lab.ssh(2, "cat /etc/etcd/pki/etcd-2/server.crt");
    assert_eq!(on_host.trim(), renewed.trim(), "and on the host");
    assert_no_loss_tls("renewal", &urls[0], &report, "renew/", Some(&tls));
    assert!(apply(&inv).contains("No changes"));
}

/// A running plain-HTTP cluster moved to TLS by turning `[tls]` on: two
/// rolling passes in one apply (peer certificates; then each member's peer
/// URL to https with `member update` and its final config), with a client
/// writing throughout over whichever of each member's http and https URLs
/// answers: nothing acknowledged lost. Afterwards every peer and client URL
/// is https, plain HTTP is refused, and apply has nothing to do.
#[test]
fn a_plain_cluster_moves_to_tls_with_writes_flowing() {
    let lab = Lab::up(73, 3);
    let pki = lab.dir.path().join("pki");
    // Each inventory in a file of its own (`Lab::inventory` writes one path).
    let copy = |name: &str, edit: &dyn Fn(String) -> String| {
        let text = std::fs::read_to_string(lab.inventory(3, |s| s)).expect("inventory");
        let path = lab.dir.path().join(name);
        std::fs::write(&path, edit(text)).expect("write");
        path
    };
    let plain = copy("plain.toml", &|s| s);
    let moving = copy("tls.toml", &with_tls("generate", &pki));
    let back = copy("back.toml", &with_tls("off", &pki));
    apply(&plain);
    let plan = deploy_ok(&["plan", path_str(&moving)]);
    assert!(plan.contains("move to TLS, pass 1"), "{plan}");
    // apply makes the PKI first thing; the writer starts once the operator's
    // identity is there, long before the first member changes. That apply is
    // killed (SIGKILL) in pass 2, just after the second member's peer URL
    // became https and before its restart: it runs a config older than its
    // file, unreachable to its peers. The next apply restarts it first, then
    // finishes the move.
    let args = ["apply", path_str(&moving), "--yes"].map(String::from);
    let watch = std::thread::spawn(move || {
        let mut updates = 0;
        kill_when(&args, |l| {
            updates += usize::from(l.contains("member update: peer URL https://"));
            updates == 2
        })
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !pki.join("operator.key").exists() {
        assert!(std::time::Instant::now() < deadline, "no PKI made");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let tls = Tls::from_dir(&pki, "operator").expect("operator identity");
    let urls: Vec<String> = (1..=3)
        .flat_map(|i| [lab.url(i), lab.url(i).replace("http://", "https://")])
        .collect();
    let writer = Writer::start(urls.clone(), "to-tls/", Some(tls.clone()));
    let (seen, hit) = watch.join().expect("watch");
    assert!(
        hit && seen.contains("peer certificate in its config"),
        "{seen}"
    );
    let out = apply(&moving);
    let report = writer.stop();
    assert!(out.contains("move to TLS, pass 2"), "{out}");
    assert!(
        !out.contains("restart (runs an older config than its file)"),
        "the move restarts the member it left mid-way itself: {out}"
    );
    assert_no_loss_tls("move to TLS", &urls[1], &report, "to-tls/", Some(&tls));
    let ctl = etcdctl(lab.dir.path());
    let o = sh(Command::new(&ctl)
        .args(["member", "list", "--endpoints", &urls[1]])
        .arg(format!("--cacert={}", pki.join("ca.crt").display()))
        .arg(format!("--cert={}", pki.join("operator.crt").display()))
        .arg(format!("--key={}", pki.join("operator.key").display())));
    let members = text(&o);
    assert!(o.status.success(), "{members}");
    assert_eq!(
        members.matches("https://").count(),
        6,
        "peer and client URLs: {members}"
    );
    assert!(!members.contains("http://"), "{members}");
    let o = sh(Command::new("curl").args(["-fs", &format!("{}/health", lab.url(2))]));
    assert!(!o.status.success(), "plain http refused now");
    assert!(deploy_ok(&["plan", path_str(&moving)]).contains("No changes"));

    // And back: `[tls]` off, its directory kept (the controller's identity
    // reaches the members still on TLS); the same writer setup.
    let o = deploy(&["plan", path_str(&plain)]);
    assert!(
        text(&o).contains("needs the certificates it runs with"),
        "{}",
        text(&o)
    );
    let writer = Writer::start(urls.clone(), "from-tls/", Some(tls.clone()));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = apply(&back);
    let report = writer.stop();
    assert!(out.contains("move back to plain HTTP"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("~ ") && l.contains("restart (config changed)"))
            .count(),
        3,
        "peer certificates dropped: {out}"
    );
    assert_no_loss("move back to plain HTTP", &lab.url(1), &report, "from-tls/");
    let o = sh(Command::new(&ctl).args(["member", "list", "--endpoints", &lab.url(1)]));
    let members = text(&o);
    assert!(o.status.success(), "{members}");
    assert_eq!(members.matches("http://").count(), 6, "{members}");
    assert!(deploy_ok(&["plan", path_str(&back)]).contains("No changes"));
}

/// `certs rotate-ca`, three runs with clients given the new files between
/// them, as an operator would: a writer over TLS throughout each pass (with
/// the CA bundle and certificate it has at that point), nothing lost; at
/// the end every member trusts only the new CA, a certificate from the old
/// one is refused, and apply has nothing to do.
#[test]
fn ca_rotation_in_three_passes_with_writes_flowing() {
    let (lab, pki, inv, urls) = tls_cluster(74);
    let old_ca = std::fs::read_to_string(pki.join("ca.crt")).expect("ca");
    let old_identity = Tls::from_dir(&pki, "operator").expect("identity");
    let pass = |prefix: &str, tls: Tls, says: &str| {
        let writer = Writer::start(urls.clone(), prefix, Some(tls.clone()));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let out = deploy_ok(&["certs", "rotate-ca", path_str(&inv), "--yes"]);
        let report = writer.stop();
        assert!(out.contains(says), "{out}");
        assert_no_loss_tls(prefix, &urls[0], &report, prefix, Some(&tls));
        out
    };
    pass(
        "ca-pass-1/",
        old_identity.clone(),
        "Pass 1 of 3 (every member trusts the old and the new CA) done",
    );
    let bundle = std::fs::read_to_string(pki.join("ca.crt")).expect("ca");
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(
        lab.ssh(2, "cat /etc/etcd/pki/etcd-2/ca.crt").trim(),
        bundle.trim()
    );
    // Clients get the bundle; their certificate is still the old CA's.
    let with_bundle = Tls {
        ca: bundle.clone(),
        ..old_identity.clone()
    };
    pass(
        "ca-pass-2/",
        with_bundle,
        "Pass 2 of 3 (every certificate signed by the new CA) done",
    );
    let new_identity = Tls::from_dir(&pki, "operator").expect("identity");
    assert_ne!(new_identity.cert, old_identity.cert, "reissued");
    pass(
        "ca-pass-3/",
        new_identity.clone(),
        "Pass 3 of 3 (the old CA trusted nowhere) done",
    );
    let new_ca = std::fs::read_to_string(pki.join("ca.crt")).expect("ca");
    assert_eq!(new_ca.matches("BEGIN CERTIFICATE").count(), 1);
    assert_ne!(new_ca.trim(), old_ca.trim());
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, &format!("cat /etc/etcd/pki/etcd-{i}/ca.crt"))
                .trim(),
            new_ca.trim()
        );
    }
    // The old CA's client certificate is refused now; the new one is served.
    let ctl = etcdctl(lab.dir.path());
    let dir = lab.dir.path();
    std::fs::write(dir.join("old.crt"), &old_identity.cert).expect("write");
    std::fs::write(dir.join("old.key"), &old_identity.key).expect("write");
    let health = |cert: &Path, key: &Path| {
        sh(Command::new(&ctl)
            .args([
                "endpoint",
                "health",
                "--command-timeout=3s",
                "--endpoints",
                &urls[1],
            ])
            .arg(format!("--cacert={}", pki.join("ca.crt").display()))
            .arg(format!("--cert={}", cert.display()))
            .arg(format!("--key={}", key.display())))
        .status
        .success()
    };
    assert!(
        !health(&dir.join("old.crt"), &dir.join("old.key")),
        "old CA refused"
    );
    assert!(health(&pki.join("operator.crt"), &pki.join("operator.key")));
    assert!(deploy_ok(&["plan", path_str(&inv)]).contains("No changes"));
}
