//! Who may touch which keys (issue 26), on real hosts: roles and client
//! certificates from the inventory, etcd's auth turned on under load.

use crate::support::*;

/// Two roles, each for its own prefix, and a client holding one.
const ACCESS: &str = "[[roles]]\nname = \"app1\"\npermissions = [{ prefix = \"/app1/\", access = \"readwrite\" }]\n\n[[roles]]\nname = \"app2\"\npermissions = [{ prefix = \"/app2/\", access = \"readwrite\" }]\n\n[[clients]]\nname = \"app1\"\nroles = [\"app1\"]\n\n";
/// etcd's auth on.
const AUTH_ON: &str = "[auth]\nenabled = true\n\n";
/// A second client, for the second role.
const APP2: &str = "[[clients]]\nname = \"app2\"\nroles = [\"app2\"]\n\n";

/// `text` with `tables` put before its first `[[hosts]]`.
fn before_hosts(text: String, tables: &str) -> String {
    text.replacen("[[hosts]]", &format!("{tables}[[hosts]]"), 1)
}

/// A client's files from etcd-deploy's pki (`clients/NAME.crt`).
fn client(pki: &std::path::Path, name: &str) -> Tls {
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).expect("client file");
    Tls {
        ca: read(pki.join("ca.crt")),
        cert: read(pki.join("clients").join(format!("{name}.crt"))),
        key: read(pki.join("clients").join(format!("{name}.key"))),
        user: None,
    }
}

/// The roles and the client's user are made with auth still off; the
/// client writes under `/app1/` with its own certificate while auth goes
/// on: it is never refused and every acknowledged write reads back. Then
/// it is refused on `/app2/`, and a re-run, `plan` and `status` work with
/// auth on (etcd-deploy is `root` by its certificate).
#[test]
fn a_role_limits_a_client_and_auth_goes_on_under_load() {
    let lab = Lab::up(83, 3);
    let pki = lab.dir.path().join("pki");
    let tls = with_tls("generate", &pki);
    // etcd as people deploy it now (3.6; the password test runs 3.7).
    let v = with_version("3.6.17");
    let off = lab.inventory(3, |s| before_hosts(v(tls(s)), &format!("{ACCESS}{APP2}")));
    let out = apply(&off);
    eprintln!("apply with roles and clients, auth off:\n{out}");
    assert!(
        out.contains("add role app1") && out.contains("give user root role root"),
        "{out}"
    );
    assert!(!out.contains("turn etcd's auth on"), "{out}");

    let app1 = client(&pki, "app1");
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let writer = Writer::start(urls.clone(), "/app1/w/", Some(app1.clone()));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let on = lab.inventory(3, |s| {
        before_hosts(v(tls(s)), &format!("{AUTH_ON}{ACCESS}{APP2}"))
    });
    let out = apply(&on);
    eprintln!("apply turning auth on:\n{out}");
    assert!(out.contains("turn etcd's auth on"), "{out}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    let report = writer.stop();
    assert_no_loss_tls(
        "auth turned on under load",
        &urls[0],
        &report,
        "/app1/w/",
        Some(&app1),
    );
    assert!(
        report
            .failures
            .iter()
            .all(|(_, _, e)| !e.contains("permission denied")),
        "{:?}",
        report.failures
    );

    // The same client is refused outside its prefix, by every member.
    for url in &urls {
        let denied = rt().block_on(async {
            let opts = crate::writer::options(
                Some(&app1),
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(5),
            );
            let mut c = etcd_client::Client::connect([url.as_str()], Some(opts))
                .await
                .expect("connect");
            c.put("/app2/x", "no", None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        assert!(
            denied
                .as_ref()
                .is_err_and(|e| e.contains("permission denied")),
            "{url}: {denied:?}"
        );
    }
    assert!(deploy_ok(&["plan", path_str(&on)]).contains("No changes"));
    let status = deploy(&["status", path_str(&on)]);
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(
        put_as(&client(&pki, "app2"), &urls[0], "/app2/before"),
        Ok(())
    );

    // app2 leaves the inventory: its certificate is revoked (the list is
    // written to every member, no restart) and its user deleted, while
    // app1 keeps writing; app2 is then refused by every member.
    let app2 = client(&pki, "app2");
    // A connection app2 opened before (etcd checks the list only when a
    // connection is made): its user's deletion ends what it may do.
    let held = rt();
    let mut open = held
        .block_on(async {
            let opts = crate::writer::options(
                Some(&app2),
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(5),
            );
            let mut c = etcd_client::Client::connect([urls[2].as_str()], Some(opts)).await?;
            c.put("/app2/open", "v", None).await.map(|_| c)
        })
        .expect("app2's connection");
    let pids: Vec<String> = (1..=3).map(|i| lab.etcd_pid(i)).collect();
    let writer = Writer::start(urls.clone(), "/app1/r/", Some(app1.clone()));
    let without = lab.inventory(3, |s| {
        before_hosts(v(tls(s)), &format!("{AUTH_ON}{ACCESS}"))
    });
    let out = apply(&without);
    eprintln!("apply without app2:\n{out}");
    assert!(
        out.contains("write the client revocation list") && out.contains("delete user app2"),
        "{out}"
    );
    let report = writer.stop();
    eprintln!("failures while app2 was revoked: {:?}", report.failures);
    assert_no_loss_tls("app2 revoked", &urls[0], &report, "/app1/r/", Some(&app1));
    assert_eq!(
        pids,
        (1..=3).map(|i| lab.etcd_pid(i)).collect::<Vec<_>>(),
        "no restart"
    );
    for url in &urls {
        let refused = put_as(&app2, url, "/app2/after");
        eprintln!("app2 on {url}: {refused:?}");
        // Refused at the connection (the revocation list), before any
        // request could be checked against its (deleted) user.
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| !e.contains("permission denied")),
            "{url}: {refused:?}"
        );
        assert_eq!(put_as(&app1, url, "/app1/still"), Ok(()), "{url}");
    }
    let still_open = held.block_on(open.put("/app2/open", "again", None));
    eprintln!("app2 on the connection it held: {still_open:?}");
    assert!(
        still_open.is_err_and(|e| e.to_string().contains("permission denied")),
        "the connection app2 held"
    );
    assert!(deploy_ok(&["plan", path_str(&without)]).contains("No changes"));
}

/// A put of `key` as the client `tls` on `url` alone.
pub(crate) fn put_as(tls: &Tls, url: &str, key: &str) -> Result<(), String> {
    rt().block_on(async {
        let opts = crate::writer::options(
            Some(tls),
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(5),
        );
        let mut c = etcd_client::Client::connect([url], Some(opts))
            .await
            .map_err(|e| e.to_string())?;
        c.put(key, "v", None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// Kubernetes' external etcd: `certs client --layout kubeadm` writes the
/// files kubeadm expects (modes included) and prints kube-apiserver's
/// flags; etcdctl on a host, with exactly those paths under
/// /etc/kubernetes/pki, writes under /registry/ with auth on and is refused
/// elsewhere.
#[test]
fn a_kube_apiserver_style_client_connects_with_the_kubeadm_layout() {
    let lab = Lab::up(70, 3);
    let pki = lab.dir.path().join("pki");
    let tls = with_tls("generate", &pki);
    let access = "[auth]\nenabled = true\n\n[[roles]]\nname = \"kube\"\npermissions = [{ prefix = \"/registry/\", access = \"readwrite\" }]\n\n[[clients]]\nname = \"kube-apiserver\"\nroles = [\"kube\"]\n\n";
    let inv = lab.inventory(3, |s| before_hosts(tls(s), access));
    apply(&inv);
    let out = lab.dir.path().join("k8s");
    let said = deploy_ok(&[
        "certs",
        "client",
        path_str(&inv),
        "kube-apiserver",
        "--out",
        path_str(&out),
        "--layout",
        "kubeadm",
    ]);
    eprintln!("certs client --layout kubeadm:\n{said}");
    assert!(
        said.contains("--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt")
            && said.contains("keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key"),
        "{said}"
    );
    let k = "/etc/kubernetes/pki";
    let mut put = format!("set -e\nmkdir -p {k}/etcd\n");
    for (f, mode) in [
        ("etcd/ca.crt", 0o644),
        ("apiserver-etcd-client.crt", 0o644),
        ("apiserver-etcd-client.key", 0o600),
    ] {
        let p = out.join(f);
        let m = std::fs::metadata(&p).expect("file");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
            mode,
            "{f}"
        );
        let text = std::fs::read_to_string(&p).expect("read");
        put.push_str(&format!("cat > {k}/{f} <<'PEM'\n{text}PEM\n"));
    }
    lab.ssh(1, &put);
    let endpoints: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let etcdctl = format!(
        "ETCDCTL_API=3 etcdctl --endpoints={} --cacert={k}/etcd/ca.crt --cert={k}/apiserver-etcd-client.crt --key={k}/apiserver-etcd-client.key",
        endpoints.join(",")
    );
    let ok = lab.ssh(
        1,
        &format!("{etcdctl} put /registry/pods/p1 v 2>&1 || true"),
    );
    assert_eq!(ok, "OK", "{ok}");
    let denied = lab.ssh(1, &format!("{etcdctl} put /app1/x v 2>&1 || true"));
    assert!(denied.contains("permission denied"), "{denied}");
}

/// etcd-deploy keeps working with auth on, as `root` by its certificate:
/// a rolling upgrade, a snapshot, defrag and compact under a role-limited
/// writer (nothing lost), status, then a restore of that snapshot (auth and
/// users come back with it) and a plan with nothing to do.
#[test]
fn every_command_works_with_auth_on() {
    let lab = Lab::up(71, 3);
    let pki = lab.dir.path().join("pki");
    let tls = with_tls("generate", &pki);
    let inv = lab.inventory(3, |s| {
        with_version("3.5.0")(before_hosts(tls(s), &format!("{AUTH_ON}{ACCESS}")))
    });
    apply(&inv);
    let app1 = client(&pki, "app1");
    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let writer = Writer::start(urls.clone(), "/app1/cmd/", Some(app1.clone()));
    deploy_ok(&[
        "upgrade",
        path_str(&inv),
        "--to",
        "3.5.1",
        "--no-snapshot",
        "--yes",
    ]);
    let snap = lab.dir.path().join("auth.db");
    deploy_ok(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    deploy_ok(&["defrag", path_str(&inv)]);
    deploy_ok(&["compact", path_str(&inv), "--retain", "100"]);
    let status = deploy(&["status", path_str(&inv)]);
    assert!(status.status.success(), "{}", text(&status));
    let report = writer.stop();
    assert_no_loss_tls(
        "commands with auth on",
        &urls[0],
        &report,
        "/app1/cmd/",
        Some(&app1),
    );
    deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    assert_eq!(put_as(&app1, &urls[1], "/app1/after-restore"), Ok(()));
    assert!(put_as(&app1, &urls[1], "/app2/x").is_err_and(|e| e.contains("permission denied")));
    // The inventory at the version the upgrade reached: nothing to do.
    let now = lab.inventory(3, |s| before_hosts(tls(s), &format!("{AUTH_ON}{ACCESS}")));
    let plan = deploy_ok(&["plan", path_str(&now)]);
    assert!(plan.contains("No changes"), "{plan}");
}
