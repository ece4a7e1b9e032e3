//! Plans and files for TLS: https URLs and the config's sections, the move of a
//! running cluster to TLS in two passes, certificates generated or provided, and
//! `init` writing a TLS inventory.

use super::common::*;

#[test]
fn tls_inventory_makes_https_urls_and_config() {
    let i = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    assert!(
        matches!(&i.tls, etcd_deploy::inventory::TlsMode::Generate { dir, .. } if dir.ends_with("pki"))
    );
    assert_eq!(i.members[0].peer_url(), "https://10.0.0.1:2380");
    let r = member_config::render(&i, &i.members[0], None).expect("render");
    golden("etcd-tls.conf.yml", &r.config);
    assert_err(
        &GOOD.replace("[ssh]", "[tls]\nmode = \"provided\"\n\n[ssh]"),
        10,
        8,
        "tls.dir: provided certificates need a directory",
    );
    assert_err(
        &GOOD.replace("[ssh]", "[tls]\nmode = \"yes\"\n\n[ssh]"),
        10,
        8,
        "tls.mode: `yes`",
    );
}

/// `[tls]` turned on under a running plain cluster: the move to TLS, pass 1
/// (peer certificates) for every member, the leader last; once every config
/// has them, pass 2 (peer URLs to https); a host down blocks it; turning TLS
/// off under a TLS cluster is refused.
#[test]
fn plan_moves_a_running_cluster_to_tls_in_two_passes() {
    let plain = inv(GOOD);
    let tls = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    let mut f = converged(&plain);
    let p = plan(&tls, &f, &desired(&tls));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(
        step_names(&p),
        ["tls Certificates etcd-2,etcd-3,etcd-1"],
        "{p}"
    );
    assert!(p.replan, "pass 2 follows in the same run");
    assert!(
        p.prepare.iter().all(|x| x.certs),
        "certificates written first: {p}"
    );
    assert!(
        !p.steps.iter().any(|s| matches!(s, Step::Restart { .. })),
        "no separate config restarts: {p}"
    );

    for h in f.hosts.values_mut() {
        h.config_peer_certs = true;
    }
    let p = plan(&tls, &f, &desired(&tls));
    assert_eq!(step_names(&p), ["tls Peers etcd-2,etcd-3,etcd-1"], "{p}");
    assert!(
        p.to_string().contains("peer URL to https (member update)"),
        "{p}"
    );

    f.unreachable
        .insert("etcd-3".into(), "Connection refused".into());
    let p = plan(&tls, &f, &desired(&tls));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("moving the cluster to TLS needs every member")),
        "{p}"
    );

    let mut back = converged(&tls);
    for h in back.hosts.values_mut() {
        h.config_tls = true;
    }
    let p = plan(&plain, &back, &desired(&plain));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("etcd-1 runs with https, and the inventory says http")),
        "{p}"
    );
    // With the certificates' directory kept: the move back, leader last.
    let off = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"off\"\ndir = \"pki\"\n\n[ssh]"));
    let p = plan(&off, &back, &desired(&off));
    assert_eq!(step_names(&p), ["tls Back etcd-2,etcd-3,etcd-1"], "{p}");
}

#[test]
fn generated_certificates_cover_members_and_provided_ones_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with = |mode: &str, extra: &str| {
        inv(&GOOD
            .replace(
                "[ssh]",
                &format!(
                    "[tls]\nmode = \"{mode}\"\ndir = \"{}\"\n\n[ssh]",
                    dir.path().display()
                ),
            )
            .replace(
                "address = \"10.0.0.3\"",
                &format!("address = \"10.0.0.3\"{extra}"),
            ))
    };
    let generated = with("generate", "");
    etcd_deploy::tls::prepare(&generated, false).expect("generate");
    let files = etcd_deploy::tls::member_files(&generated, &generated.members[2])
        .expect("files")
        .expect("tls on");
    let info = etcd_deploy::tls::cert_info(&files.server_cert).expect("parse");
    for san in ["etcd-3", "10.0.0.3", "127.0.0.1", "localhost"] {
        assert!(
            info.sans.iter().any(|s| s == san),
            "{san} in {:?}",
            info.sans
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("etcd-3.server.key"))
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Nothing changes on a second run; rotation re-issues member certificates only.
    etcd_deploy::tls::prepare(&generated, false).expect("again");
    assert_eq!(
        etcd_deploy::tls::member_files(&generated, &generated.members[2]).expect("files"),
        Some(files.clone())
    );
    let ca = std::fs::read(dir.path().join("ca.crt")).expect("ca");
    etcd_deploy::tls::prepare(&generated, true).expect("rotate");
    assert_ne!(
        etcd_deploy::tls::member_files(&generated, &generated.members[2]).expect("files"),
        Some(files)
    );
    assert_eq!(std::fs::read(dir.path().join("ca.crt")).expect("ca"), ca);
    // The same files, provided, for a member that moved: refused, naming the address.
    assert!(etcd_deploy::tls::prepare(&with("provided", ""), false).is_ok());
    let e = etcd_deploy::tls::prepare(&with("provided", "\nadvertise = \"10.9.9.9\""), false)
        .expect_err("SAN missing");
    assert!(
        e.to_string()
            .contains("etcd-3.server.crt: the certificate does not cover 10.9.9.9"),
        "{e}"
    );
    // A key that does not belong to its certificate.
    std::fs::copy(
        dir.path().join("etcd-1.server.key"),
        dir.path().join("etcd-2.server.key"),
    )
    .expect("swap key");
    let e = etcd_deploy::tls::prepare(&with("provided", ""), false).expect_err("key mismatch");
    assert!(
        e.to_string()
            .contains("etcd-2.server.key does not belong to"),
        "{e}"
    );
}

#[test]
fn init_writes_a_valid_inventory_with_tls() {
    let text = etcd_deploy::commands::init::render(
        "prod",
        "3.5.17",
        &["a=10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
        Some("ops"),
        true,
    );
    let i = inv(&text);
    assert_eq!(
        i.members
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["a", "etcd-2", "etcd-3"]
    );
    assert!(matches!(
        i.tls,
        etcd_deploy::inventory::TlsMode::Generate { .. }
    ));
    assert_eq!(i.members[0].ssh.user.as_deref(), Some("ops"));
    assert!(i.members[0].ssh.become_root);
}
