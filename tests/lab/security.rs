//! Lab tests of TLS: generated certificates end to end, rotation with writes
//! flowing, provided certificates checked before anything is pushed.

use crate::support::*;
use std::path::Path;
use std::process::Command;

fn with_tls(mode: &str, dir: &Path) -> impl Fn(String) -> String {
    let section = format!(
        "[tls]\nmode = \"{mode}\"\ndir = \"{}\"\n\n[[hosts]]",
        dir.display()
    );
    move |s: String| s.replacen("[[hosts]]", &section, 1)
}

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

    // On the hosts: keys 0600, owned by etcd; never in the config or the journal.
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(
                i,
                &format!("cd /etc/etcd/pki/etcd-{i} && stat -c '%U %a' . server.key peer.key")
            ),
            "etcd 700\netcd 600\netcd 600"
        );
    }

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

    // The cluster runs https: an inventory without [tls] is refused, not applied.
    let plain = lab.inventory(3, |s| s);
    let o = deploy(&["apply", path_str(&plain)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o)
            .contains("switching a running cluster between http and https is not supported yet"),
        "{}",
        text(&o)
    );
}
