//! A TLS cluster made by hand (`openssl` certificates, client certificates
//! required): `init --from-cluster https://...` with a client identity
//! describes it and copies its certificates into `pki/`, and `adopt` takes it
//! over with a client writing over TLS. The helpers are `brownfield.rs`'s.

use super::brownfield::{etcd_service, from_cluster, ids, with_mirror};
use crate::support::*;
use std::process::Command;

/// A TLS cluster made by hand (certificates from `openssl`, the same pair
/// for clients and peers, client certificates required): `init
/// --from-cluster https://...` with a client identity reads it, copies each
/// member's certificates and their CA from its host into `pki/` (provided
/// mode), and `adopt` takes it over with a client writing over TLS: nothing
/// lost, apply has nothing to do.
#[test]
fn a_hand_made_tls_cluster_is_described_and_adopted() {
    let lab = Lab::up(75, 3);
    let certs = lab.dir.path().join("handmade-certs");
    std::fs::create_dir_all(&certs).expect("dir");
    let openssl = |args: &str| {
        let o = sh(Command::new("sh")
            .arg("-c")
            .arg(format!("cd {} && openssl {args}", certs.display())));
        assert!(o.status.success(), "openssl {args}: {}", text(&o));
    };
    openssl(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=handmade-ca 2>/dev/null",
    );
    let sign = |who: &str, ext: &str| {
        openssl(&format!(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {who}.key -out {who}.csr -subj /CN={who} 2>/dev/null"
        ));
        std::fs::write(certs.join(format!("{who}.ext")), ext).expect("ext");
        openssl(&format!(
            "x509 -req -in {who}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out {who}.crt -days 30 -extfile {who}.ext 2>/dev/null"
        ));
    };
    sign("root", "extendedKeyUsage=clientAuth\n");
    let cluster = (1..=3)
        .map(|i| format!("infra{i}=https://{}:2380", lab.addr(i)))
        .collect::<Vec<_>>()
        .join(",");
    let file = |f: &str| std::fs::read_to_string(certs.join(f)).expect("cert");
    for i in 1..=3 {
        let a = lab.addr(i);
        let who = format!("infra{i}");
        sign(
            &who,
            &format!(
                "subjectAltName=DNS:{who},IP:{a},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
            ),
        );
        lab.ssh(
            i,
            &format!(
                "mkdir -p /etc/ssl/etcd && cat >/etc/ssl/etcd/ca.pem <<'X'\n{}X\ncat >/etc/ssl/etcd/member.pem <<'X'\n{}X\ncat >/etc/ssl/etcd/member-key.pem <<'X'\n{}X\nchmod 600 /etc/ssl/etcd/member-key.pem",
                file("ca.crt"),
                file(&format!("{who}.crt")),
                file(&format!("{who}.key"))
            ),
        );
        etcd_service(
            &lab,
            i,
            &format!(
                "--name {who} --data-dir /var/lib/etcd/{who} --initial-advertise-peer-urls https://{a}:2380 --listen-peer-urls https://{a}:2380 --listen-client-urls https://{a}:2379 --advertise-client-urls https://{a}:2379 --initial-cluster {cluster} --initial-cluster-state new --cert-file /etc/ssl/etcd/member.pem --key-file /etc/ssl/etcd/member-key.pem --trusted-ca-file /etc/ssl/etcd/ca.pem --client-cert-auth --peer-cert-file /etc/ssl/etcd/member.pem --peer-key-file /etc/ssl/etcd/member-key.pem --peer-trusted-ca-file /etc/ssl/etcd/ca.pem --peer-client-cert-auth"
            ),
        );
    }
    let tls = Tls {
        ca: std::fs::read_to_string(certs.join("ca.crt")).expect("ca"),
        cert: std::fs::read_to_string(certs.join("root.crt")).expect("cert"),
        key: std::fs::read_to_string(certs.join("root.key")).expect("key"),
        user: None,
    };
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Access control made by hand: a certificate user, a password user, a
    // role for a prefix, auth on (etcd-deploy reads it with the root pair).
    let made = lab.ssh(
        1,
        &format!(
            "cat >/etc/ssl/etcd/root.pem <<'X'\n{}X\ncat >/etc/ssl/etcd/root-key.pem <<'X'\n{}X\nset -e; e() {{ etcdctl --endpoints https://{}:2379 --cacert /etc/ssl/etcd/ca.pem --cert /etc/ssl/etcd/root.pem --key /etc/ssl/etcd/root-key.pem \"$@\"; }}; e user add root --no-password; e user grant-role root root; e role add app1; e role grant-permission app1 readwrite /app1/ --prefix; e user add app1 --no-password; e user grant-role app1 app1; e user add patroni:hand-made-secret --interactive=false; e user grant-role patroni app1; e auth enable",
            file("root.crt"),
            file("root.key"),
            lab.addr(1)
        ),
    );
    assert!(made.contains("Authentication Enabled"), "{made}");
    // Issue 22, finding 3: an unprivileged user on host 2 runs a process
    // named `etcd` that calls itself infra2, names /etc/shadow as its CA
    // (and through a link, as its peer CA) and its own data directory.
    lab.ssh(
        2,
        "useradd -m alice && install -d -o alice /home/alice/data && cp /usr/bin/perl /home/alice/etcd          && ln -s /etc/shadow /home/alice/ca.pem          && runuser -u alice -- sh -c 'setsid /home/alice/etcd -e sleep+600 -- --name infra2 --data-dir /home/alice/data             --trusted-ca-file /etc/shadow --peer-trusted-ca-file /home/alice/ca.pem             --cert-file /home/alice/x.pem --key-file /home/alice/x.key </dev/null >/dev/null 2>&1 &'",
    );
    let fake = lab.ssh(2, "pgrep -u alice -x etcd");
    assert!(!fake.is_empty(), "the fake etcd runs");

    let out = lab.dir.path().join("found.toml");
    let mut args = from_cluster(&lab, &out, &urls[0]);
    for (flag, f) in [
        ("--cacert", "ca.crt"),
        ("--cert", "root.crt"),
        ("--key", "root.key"),
    ] {
        args.push(flag.into());
        args.push(path_str(&certs.join(f)).into());
    }
    let o = deploy(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("Wrote the members' certificates"), "{said}");
    assert!(
        said.contains(&format!(
            "infra2: etcd process {fake} on {} is not taken for the member: it runs as alice",
            lab.addr(2)
        )),
        "{said}"
    );
    let text_of = std::fs::read_to_string(&out).expect("inventory");
    assert!(
        text_of.contains("[tls]\nmode = \"provided\"\ndir = \"pki\""),
        "{text_of}"
    );
    eprintln!("init --from-cluster:\n{said}\n{text_of}");
    // Its access control, read into the inventory: the password user is
    // told apart (etcd says so only with auth on).
    for part in [
        "[auth]\nenabled = true\n",
        "[[roles]]\nname = \"app1\"\npermissions = [{ prefix = \"/app1/\", access = \"readwrite\" }]\n",
        "[[clients]]\nname = \"app1\"\nroles = [\"app1\"]\n",
        "[[clients]]\nname = \"patroni\"\nroles = [\"app1\"]\n# it logs in with a password: etcd-deploy checks it against $ETCD_PASSWORD_PATRONI (or give password_file)\npassword_env = \"ETCD_PASSWORD_PATRONI\"\n",
    ] {
        assert!(text_of.contains(part), "{part} in:\n{text_of}");
    }
    let pki = lab.dir.path().join("pki");
    // The real CA, never the shadow file; the directory private.
    assert_eq!(
        std::fs::read_to_string(pki.join("ca.crt"))
            .expect("ca")
            .trim(),
        std::fs::read_to_string(certs.join("ca.crt"))
            .expect("ca")
            .trim()
    );
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    };
    assert_eq!(mode(&pki), 0o700);
    assert_eq!(mode(&pki.join("infra2.peer.key")), 0o600);
    assert!(
        text_of.contains("data_dir = \"/var/lib/etcd/infra2\"") && !text_of.contains("alice"),
        "{text_of}"
    );
    assert_eq!(
        std::fs::read_to_string(pki.join("infra2.peer.crt"))
            .expect("copied")
            .trim(),
        std::fs::read_to_string(certs.join("infra2.crt"))
            .expect("made")
            .trim()
    );
    let inv = with_mirror(&out);
    let before = ids(&inv);
    let writer = Writer::start(urls.clone(), "adopt-tls/", Some(tls.clone()));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let said = deploy_ok(&["adopt", path_str(&inv), "--yes"]);
    let report = writer.stop();
    assert_no_loss_tls(
        "adopt over TLS",
        &urls[0],
        &report,
        "adopt-tls/",
        Some(&tls),
    );
    assert!(
        said.contains("`etcd-deploy apply` has nothing to do"),
        "{said}"
    );
    assert_eq!(ids(&inv), before, "every member keeps its ID");
    assert_eq!(lab.ssh(2, "systemctl is-active etcd@infra2"), "active");
    let plan = deploy_ok(&["plan", path_str(&inv)]);
    assert!(plan.contains("No changes"), "{plan}");
    assert!(
        plan.contains("the password of user patroni could not be read"),
        "{plan}"
    );
    // With the password given, etcd takes it: nothing to do; a wrong one
    // is planned to be set.
    let plan_with = |pw: &str| {
        let o = sh(Command::new(BIN)
            .args(["plan", path_str(&inv)])
            .env("ETCD_PASSWORD_PATRONI", pw));
        text(&o)
    };
    let right = plan_with("hand-made-secret");
    assert!(
        right.contains("No changes") && !right.contains("patroni"),
        "{right}"
    );
    // Provided mode: clients bring their own certificates; only users and
    // roles are managed (no certificate is issued).
    let more = std::fs::read_to_string(&inv).expect("inventory").replacen(
        "\n[[hosts]]",
        "\n[[clients]]\nname = \"coredns\"\nroles = [\"app1\"]\n\n[[hosts]]",
        1,
    );
    std::fs::write(&inv, more).expect("inventory");
    let out = apply(&inv);
    assert!(
        out.contains("~ access       add user coredns (its certificate's CN, no password); give user coredns role app1"),
        "{out}"
    );
    assert!(!pki.join("clients").exists(), "no certificate issued");
    let wrong = plan_with("another");
    assert!(
        wrong.contains(
            "set the password of user patroni (etcd refused the one from $ETCD_PASSWORD_PATRONI)"
        ),
        "{wrong}"
    );
}
