//! Plans computed from inventory + facts: fresh, converged, resumed, grown, shrunk, upgraded, blocked.

use super::common::*;

#[test]
fn plan_fresh_cluster() {
    let i = inv(GOOD);
    let facts = Facts {
        hosts: i
            .members
            .iter()
            .map(|m| (m.name.clone(), fresh()))
            .collect(),
        cluster: ClusterFacts::default(),
        ..Facts::default()
    };
    let p = plan(&i, &facts, &desired(&i));
    assert_eq!(p.prepare.len(), 3);
    assert!(p.prepare.iter().all(|x| x.install == Some(v("3.5.1"))
        && x.link == Some(v("3.5.1"))
        && x.host_file.is_some()));
    assert_eq!(
        step_names(&p),
        ["bootstrap etcd-1", "join etcd-2", "join etcd-3"]
    );
    let text = p.to_string();
    assert!(
        text.contains("+ etcd-1       bootstrap: start as the first member"),
        "{text}"
    );
    assert!(text.ends_with("Plan: 6 steps.\n"), "{text}");
}

#[test]
fn plan_converged_cluster_is_empty() {
    let i = inv(GOOD);
    let p = plan(&i, &converged(&i), &desired(&i));
    assert!(p.is_empty(), "{p}");
    assert_eq!(
        p.to_string(),
        "No changes. The cluster matches the inventory.\n"
    );
}

#[test]
fn plan_partially_joined_cluster_resumes() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    // etcd-2 was added as a learner but never started; etcd-3 not added yet.
    f.hosts.insert(
        "etcd-2".into(),
        HostFacts {
            active: false,
            has_data: false,
            pid: None,
            config_digest: None,
            ..running(&i, "etcd-2")
        },
    );
    f.hosts.insert("etcd-3".into(), fresh());
    let members = f.cluster.members.as_mut().expect("members");
    members[1] = entry(&i, 1, false, true);
    members.pop();
    f.cluster.status.retain(|k, _| k == "etcd-1");
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["resume etcd-2", "join etcd-3"]);
    assert_eq!(
        p.prepare
            .iter()
            .map(|x| x.host.as_str())
            .collect::<Vec<_>>(),
        ["etcd-3"]
    );
    assert!(
        p.to_string()
            .contains("join: resume member 101 (already added)"),
        "{p}"
    );
}

#[test]
fn plan_started_learner_is_promoted() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.cluster.members.as_mut().expect("members")[2].is_learner = true;
    assert_eq!(step_names(&plan(&i, &f, &desired(&i))), ["promote etcd-3"]);
}

#[test]
fn plan_config_change_restarts_only_changed_members() {
    let i = inv(GOOD);
    let f = converged(&i);
    let changed = inv(&GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.2\"\netcd = { snapshot_count = 5000 }",
    ));
    let p = plan(&changed, &f, &desired(&changed));
    assert_eq!(step_names(&p), ["restart etcd-2"]);
    assert!(p.prepare.is_empty());
    assert!(
        p.to_string()
            .contains("~ etcd-2       restart (config changed), wait until healthy"),
        "{p}"
    );
    let everywhere = inv(&GOOD.replace("[ssh]", "[etcd]\nelection_timeout_ms = 1500\n\n[ssh]"));
    // etcd-1 leads: it restarts last.
    assert_eq!(
        step_names(&plan(&everywhere, &f, &desired(&everywhere))),
        ["restart etcd-2", "restart etcd-3", "restart etcd-1"]
    );
}

#[test]
fn plan_grows_cluster() {
    let one =
        inv(&GOOD
            .replace("[[hosts]]\nname = \"etcd-2\"\naddress = \"10.0.0.2\"\n\n[[hosts]]\nname = \"etcd-3\"\naddress = \"10.0.0.3\"\n", ""));
    assert_eq!(one.members.len(), 1);
    let three = inv(GOOD);
    let mut f = converged(&one);
    f.hosts.insert("etcd-2".into(), fresh());
    f.hosts.insert(
        "etcd-3".into(),
        HostFacts {
            has_data: true,
            ..fresh()
        },
    );
    let p = plan(&three, &f, &desired(&three));
    assert_eq!(step_names(&p), ["join etcd-2", "join etcd-3"]);
    assert!(
        matches!(
            &p.steps[1],
            Step::Join {
                stale_data: true,
                ..
            }
        ),
        "old data on etcd-3 is moved aside"
    );
}

#[test]
fn plan_stopped_member_is_started() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-3").expect("etcd-3").active = false;
    f.cluster.status.remove("etcd-3");
    assert_eq!(step_names(&plan(&i, &f, &desired(&i))), ["start etcd-3"]);
}

#[test]
fn plan_all_stopped_starts_members_with_data_and_replans() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.active = false;
    }
    f.cluster = ClusterFacts::default();
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["start etcd-1,etcd-2,etcd-3"]);
    assert!(p.replan);
}

#[test]
fn plan_refuses_when_running_members_do_not_answer() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.cluster = ClusterFacts::default();
    let p = plan(&i, &f, &desired(&i));
    assert!(
        p.blocked.as_deref().is_some_and(
            |b| b.contains("etcd runs on etcd-1, etcd-2, etcd-3 but no member answers")
        ),
        "{p}"
    );
}

#[test]
fn plan_version_change_is_a_rolling_upgrade_leader_last() {
    let i = inv(&GOOD.replace("3.5.1", "3.5.2"));
    let opts = Options {
        snapshot_dir: Some("/var/backups/etcd".into()),
        ..Options::default()
    };
    let p = plan_with(&i, &converged(&inv(GOOD)), &desired(&i), &opts);
    // etcd-1 (0x100) is the leader in these facts.
    assert_eq!(step_names(&p), ["upgrade etcd-2,etcd-3,etcd-1 to 3.5.2"]);
    assert!(
        p.prepare
            .iter()
            .all(|x| x.install == Some(v("3.5.2")) && x.link.is_none()),
        "{p}"
    );
    let text = p.to_string();
    assert!(
        text.contains("upgrade 3.5.1 → 3.5.2, one member at a time: snapshot to /var/backups/etcd first, then etcd-2, etcd-3, etcd-1 (etcd-1 is the leader"),
        "{text}"
    );
    let text = plan(&i, &converged(&inv(GOOD)), &desired(&i)).to_string();
    assert!(
        text.contains("one member at a time: etcd-2, etcd-3, etcd-1"),
        "--no-snapshot says so: {text}"
    );
}

#[test]
fn plan_upgrade_refusals_block_before_anything() {
    let i = inv(&GOOD.replace("3.5.1", "3.7.0"));
    let p = plan(&i, &converged(&inv(GOOD)), &desired(&i));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("one minor version at a time")),
        "{p}"
    );
    let older = inv(&GOOD.replace("3.5.1", "3.5.0"));
    let p = plan(&older, &converged(&inv(GOOD)), &desired(&older));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("--allow-downgrade")),
        "{p}"
    );
    let mut f = converged(&inv(GOOD));
    f.cluster.alarms.push("NOSPACE on 101".into());
    let next = inv(&GOOD.replace("3.5.1", "3.5.2"));
    let p = plan(&next, &f, &desired(&next));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("alarms are raised (NOSPACE on 101)")),
        "{p}"
    );
}

#[test]
fn plan_resumes_interrupted_upgrade() {
    let i = inv(&GOOD.replace("3.5.1", "3.5.2"));
    let mut f = converged(&inv(GOOD));
    // etcd-2 already runs 3.5.2; etcd-3's link was switched but it still runs 3.5.1.
    f.cluster.status.get_mut("etcd-2").expect("etcd-2").version = "3.5.2".into();
    let h2 = f.hosts.get_mut("etcd-2").expect("etcd-2");
    h2.current = Some(v("3.5.2"));
    h2.installed.push(v("3.5.2"));
    let h3 = f.hosts.get_mut("etcd-3").expect("etcd-3");
    h3.current = Some(v("3.5.2"));
    h3.installed.push(v("3.5.2"));
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["upgrade etcd-3,etcd-1 to 3.5.2"]);
    assert_eq!(
        p.prepare
            .iter()
            .map(|x| x.host.as_str())
            .collect::<Vec<_>>(),
        ["etcd-1"]
    );
}

#[test]
fn plan_scale_in_removes_members_after_everything_else() {
    let f = converged(&five());
    let mut f3 = f.clone();
    f3.hosts
        .retain(|k, _| ["etcd-1", "etcd-2", "etcd-3"].contains(&k.as_str()));
    for id in [0x103, 0x104] {
        f3.cluster.others.insert(id, Some(status(id)));
    }
    f3.cluster
        .status
        .retain(|k, _| ["etcd-1", "etcd-2", "etcd-3"].contains(&k.as_str()));
    let three = inv(GOOD);
    let p = plan(&three, &f3, &desired(&three));
    assert_eq!(step_names(&p), ["remove etcd-4", "remove etcd-5"]);
    let text = p.to_string();
    assert!(
        text.contains(
            "- etcd-4       remove member 103, stop and disable its etcd on 10.0.0.4 (data kept)"
        ),
        "{text}"
    );
}

#[test]
fn plan_replace_joins_new_before_removing_old_leader() {
    // etcd-1 (the leader, 0x100) is replaced by etcd-4.
    let (replaced, f2) = replaced_leader();
    let p = plan(&replaced, &f2, &desired(&replaced));
    assert_eq!(step_names(&p), ["join etcd-4", "remove etcd-1"]);
    assert!(
        p.to_string()
            .contains("- etcd-1       move leadership to another member, remove member 100"),
        "{p}"
    );
}

#[test]
fn plan_replace_with_wipe_says_the_data_is_deleted() {
    let (i, f) = replaced_leader();
    let opts = Options {
        scope: Scope::Replace {
            old: "etcd-1".into(),
            new: "etcd-4".into(),
        },
        wipe_removed: true,
        ..Options::default()
    };
    let p = plan_with(&i, &f, &desired(&i), &opts);
    assert!(p.blocked.is_none(), "{p}");
    assert!(
        p.steps.iter().any(|s| matches!(
            s,
            Step::Remove {
                data: Data::Wipe,
                ..
            }
        )),
        "{p:?}"
    );
    let text = p.to_string();
    assert!(
        text.contains("stop and disable its etcd on 10.0.0.1, DELETE its data directory")
            && text.ends_with("Plan: 3 steps (replace etcd-1 with etcd-4).\n"),
        "{text}"
    );
    assert_eq!(
        p.destructive(),
        ["removes member etcd-1 from the cluster, stops its etcd and DELETES its data directory"],
        "what the operator is asked to agree to"
    );
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["steps"][1]["data"], "wipe", "{json}");
    assert_eq!(json["scope"]["command"], "replace", "{json}");
}

#[test]
fn plan_scope_refuses_more_than_the_command_does() {
    let (i, f) = replaced_leader();
    // `upgrade` on a cluster that also needs a replacement: refused whole.
    let up = Options {
        scope: Scope::Upgrade,
        ..Options::default()
    };
    let p = plan_with(&i, &f, &desired(&i), &up);
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("differs from the inventory in other ways too")),
        "{p}"
    );
    // `certs rotate` accepts restarts for certificates only.
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-2").expect("etcd-2").config_digest = Some("old".into());
    let certs = Options {
        scope: Scope::CertsRotate,
        ..Options::default()
    };
    assert!(plan_with(&i, &f, &desired(&i), &certs).blocked.is_some());
    assert!(
        plan_with(&i, &f, &desired(&i), &Options::default())
            .blocked
            .is_none()
    );
}

#[test]
fn plan_prepare_only_keeps_the_host_steps_and_restarts_nothing() {
    let i = inv(&GOOD.replace("3.5.1", "3.5.2"));
    let opts = Options {
        scope: Scope::PrepareUpgrade,
        ..Options::default()
    };
    let p = plan_with(&i, &converged(&inv(GOOD)), &desired(&i), &opts);
    assert!(p.steps.is_empty() && !p.replan, "{p}");
    assert_eq!(p.prepare.len(), 3, "{p}");
    assert!(
        p.to_string()
            .contains("--prepare-only: the hosts are prepared, no member is restarted"),
        "{p}"
    );
}

#[test]
fn plan_removes_two_dead_learners_from_a_healthy_cluster() {
    // Regression: dead learners were counted as voters (and underflowed).
    let i = inv(GOOD);
    let mut f = converged(&i);
    let list = f.cluster.members.as_mut().expect("members");
    for id in [0x200, 0x201] {
        list.push(MemberInfo {
            id,
            name: format!("old-{id:x}"),
            peer_urls: vec![format!("http://10.0.9.{}:2380", id - 0x200)],
            client_urls: vec![],
            is_learner: true,
        });
        f.cluster.others.insert(id, None);
    }
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(step_names(&p), ["remove old-200", "remove old-201"]);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("(3 healthy of 3 remaining voters)")),
        "{p}"
    );
}

#[test]
fn plan_removes_dead_member_first_only_with_quorum() {
    let three = inv(GOOD);
    let replaced = inv(&GOOD.replace(
        "name = \"etcd-2\"\naddress = \"10.0.0.2\"",
        "name = \"etcd-4\"\naddress = \"10.0.0.4\"",
    ));
    let mut f = converged(&three);
    f.hosts.remove("etcd-2");
    f.hosts.insert("etcd-4".into(), fresh());
    f.cluster.status.remove("etcd-2");
    f.cluster.others.insert(0x101, None);
    let p = plan(&replaced, &f, &desired(&replaced));
    assert_eq!(step_names(&p), ["remove etcd-2", "join etcd-4"]);
    assert!(
        p.notes.iter().any(|n| n
            .contains("removed first, since quorum allows it (2 healthy of 2 remaining voters)")),
        "{p}"
    );
    // With etcd-3 down too, removing etcd-2 would leave 2 voters with 1 healthy.
    f.cluster.status.remove("etcd-3");
    let p = plan(&replaced, &f, &desired(&replaced));
    assert!(
        p.blocked.as_deref().is_some_and(
            |b| b.contains("1 healthy member(s) would remain of 2 voters; quorum needs 2")
        ),
        "{p}"
    );
}

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

#[test]
fn initial_cluster_names_unstarted_members_from_inventory() {
    let i = inv(GOOD);
    let list = vec![entry(&i, 0, true, false), entry(&i, 1, false, true)];
    assert_eq!(
        initial_cluster(&list, &i, &i.members[1]),
        "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380"
    );
}

#[test]
fn initial_cluster_leaves_out_what_etcd_deploy_would_never_write() {
    let i = inv(GOOD);
    let mut hostile = entry(&i, 2, true, false);
    hostile.name = "x,evil=http://10.6.6.6:2380".into();
    let mut bad_url = entry(&i, 2, true, false);
    bad_url.name = "etcd-9".into();
    bad_url.peer_urls = vec!["http://10.0.0.9:2380,evil=http://10.6.6.6:2380".into()];
    let list = vec![entry(&i, 0, true, false), hostile, bad_url];
    assert_eq!(
        initial_cluster(&list, &i, &i.members[1]),
        "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380"
    );
}

#[test]
fn urls_names_and_addresses_from_etcd_are_checked() {
    use etcd_deploy::inventory::{valid_address, valid_name, valid_url};
    for ok in [
        "http://10.0.0.1:2379",
        "https://[::1]:2379",
        "http://etcd-2:3380",
    ] {
        assert!(valid_url(ok), "{ok}");
    }
    for bad in [
        "http://10.0.0.1",
        "ftp://10.0.0.1:21",
        "http://-oProxyCommand=x:22",
        "http://a b:2379",
        "http://10.0.0.1:0",
        "http://x;touch /tmp/p:2379",
    ] {
        assert!(!valid_url(bad), "{bad}");
    }
    assert!(valid_address("10.0.0.1") && valid_address("::1") && valid_address("db-1.example"));
    assert!(!valid_address("-oProxyCommand=x") && !valid_address("root@h") && !valid_address(""));
    assert!(
        valid_name("etcd-1") && !valid_name("x;touch /tmp/PWNED;") && !valid_name("a\u{1b}[2K")
    );
}

#[test]
fn a_saved_plan_holds_while_only_raft_progress_changes() {
    use etcd_deploy::plan::SavedPlan;
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-2").expect("etcd-2").config_digest = Some("old".into());
    let p = plan(&i, &f, &desired(&i));
    let saved = SavedPlan::new("inv-digest".into(), &f, p.clone());
    let json = serde_json::to_string(&saved).expect("json");
    let back: SavedPlan = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, saved);
    // Writes move raft indexes and sizes, a restart moves a PID: still the same cluster.
    let mut moved = f.clone();
    for s in moved.cluster.status.values_mut() {
        s.raft_index += 1000;
        s.raft_applied_index += 1000;
        s.db_size *= 2;
    }
    moved.hosts.get_mut("etcd-1").expect("etcd-1").pid = Some(4242);
    assert_eq!(back.check("inv-digest", &moved), Ok(()));
    // Another leader, a member gone, another inventory: refused.
    let mut led = f.clone();
    for s in led.cluster.status.values_mut() {
        s.leader = 0x101;
    }
    assert!(back.check("inv-digest", &led).is_err());
    let mut stopped = f.clone();
    stopped.hosts.get_mut("etcd-3").expect("etcd-3").active = false;
    assert!(back.check("inv-digest", &stopped).is_err());
    assert_eq!(
        back.check("other", &f),
        Err("the inventory file changed since".into())
    );
}

/// `recover` (issue 12, defect 4): refused while any member follows a
/// leader; otherwise the survivor with the highest revision seeds, every
/// other member's role says what it loses.
#[test]
fn recover_seeds_from_the_most_data_and_never_while_quorum_exists() {
    use etcd_deploy::plan::recover::{Role, Survey, decide};
    let i = inv(GOOD);
    let with_quorum = converged(&i);
    let e = decide(&i, &with_quorum, &BTreeMap::new()).expect_err("quorum");
    assert!(e.contains("it has quorum"), "{e}");

    // etcd-1's host is gone; etcd-2 ran without a leader; etcd-3 stopped earlier.
    let mut f = converged(&i);
    f.cluster.status.clear();
    f.hosts.remove("etcd-1");
    f.unreachable.insert(
        "etcd-1".into(),
        "connect to host 10.0.0.1 port 22: No route to host".into(),
    );
    for h in f.hosts.values_mut() {
        h.has_data = true;
    }
    let survey = BTreeMap::from([
        (
            "etcd-2".to_string(),
            Survey {
                revision: 420,
                raft_index: Some(431),
                learner: false,
            },
        ),
        (
            "etcd-3".to_string(),
            Survey {
                revision: 222,
                raft_index: None,
                learner: false,
            },
        ),
    ]);
    let r = decide(&i, &f, &survey).expect("recovery");
    assert_eq!(r.seed, "etcd-2");
    let roles: Vec<&Role> = r.members.iter().map(|m| &m.role).collect();
    assert_eq!(
        roles,
        [
            &Role::Unreachable {
                why: "No route to host".into()
            },
            &Role::Seed { revision: 420 },
            &Role::Rejoin {
                revision: Some(222),
                behind: Some(198)
            },
        ]
    );
    assert_eq!(
        r.to_string(),
        "wait    etcd-1       its host cannot be reached (No route to host): it joins once it is back; or replace it in the inventory\n\
         seed    etcd-2       revision 420: the most data; its data is copied aside, then it starts once with force-new-cluster as a one-member cluster and keeps every key it has\n\
         rejoin  etcd-3       revision 222 (198 behind the seed, which has all it has): its data is moved aside (kept), it joins with fresh data\n"
    );
    // A learner never seeds, even with more; nothing readable: refused.
    let learner = BTreeMap::from([(
        "etcd-3".to_string(),
        Survey {
            revision: 999,
            raft_index: None,
            learner: true,
        },
    )]);
    assert!(decide(&i, &f, &learner).is_err());
}

/// Defect 7 (issue 12): a replace killed after `member remove` left the old
/// member's etcd running, enabled, on its host. etcd-deploy's record of the
/// member remains (it is dropped only once etcd is stopped), so the next
/// plan stops it there, with consent.
#[test]
fn a_member_removed_by_an_interrupted_run_is_retired_from_its_record() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.recorded.insert("etcd-9".into(), former_member());
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["retire etcd-9"]);
    assert_eq!(
        p.destructive(),
        ["stops the etcd of former member etcd-9 on 10.0.0.9"]
    );
    assert!(
        p.to_string()
            .contains("- etcd-9       no longer a member (an earlier run removed it): stop and disable its etcd on 10.0.0.9 (data kept)"),
        "{p}"
    );
    // Recorded and still in the inventory or in the cluster: nothing to do.
    for m in &i.members {
        f.recorded.insert(m.name.clone(), recorded(m));
    }
    f.recorded.remove("etcd-9");
    assert!(plan(&i, &f, &desired(&i)).is_empty());
}

/// `[backup]`'s files are part of the plan like the unit: written when
/// missing, changed or when the timer stopped; removed when `[backup]`
/// leaves the inventory; nothing when they match and the timer runs.
#[test]
fn scheduled_snapshots_are_written_restarted_and_removed() {
    use etcd_deploy::plan::BackupStep;
    let i = inv(GOOD);
    let mut want = desired(&i);
    for d in want.values_mut() {
        d.backup_digest = Some("b".repeat(64));
    }
    let backup_of = |p: &Plan, host: &str| {
        p.prepare
            .iter()
            .find(|x| x.host == host)
            .and_then(|x| x.backup)
    };
    let mut f = converged(&i);
    let p = plan(&i, &f, &want);
    assert_eq!(backup_of(&p, "etcd-1"), Some(BackupStep::Write), "{p}");
    assert!(
        p.to_string()
            .contains("write and start scheduled snapshots"),
        "{p}"
    );
    assert!(p.steps.is_empty(), "no member restarts for it: {p}");
    for h in f.hosts.values_mut() {
        h.backup_digest = Some("b".repeat(64));
        h.backup_active = true;
    }
    assert!(plan(&i, &f, &want).is_empty());
    f.hosts.get_mut("etcd-2").expect("etcd-2").backup_active = false;
    let p = plan(&i, &f, &want);
    assert_eq!(backup_of(&p, "etcd-2"), Some(BackupStep::Write), "{p}");
    assert_eq!(backup_of(&p, "etcd-1"), None, "{p}");
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(backup_of(&p, "etcd-3"), Some(BackupStep::Remove), "{p}");
    assert!(p.to_string().contains("saved ones kept"), "{p}");
}

/// A member whose host holds etcd data etcd-deploy never set up (no config
/// file of its own, no record here) is someone else's: nothing is planned.
/// A new member joining onto old data (not in the member list) is not.
#[test]
fn members_made_by_hand_are_not_started_over() {
    let i = inv(GOOD);
    let by_hand = |h: &mut HostFacts| {
        h.active = false;
        h.has_data = true;
        h.config_digest = None;
        h.config_cluster = None;
    };
    let mut f = converged(&i);
    f.cluster = ClusterFacts::default();
    f.recorded.clear();
    f.hosts.values_mut().for_each(by_hand);
    let p = plan(&i, &f, &desired(&i));
    assert!(
        p.blocked.as_deref().is_some_and(|b| b.contains(
            "etcd-1, etcd-2, etcd-3 hold etcd data, but etcd-deploy did not set them up"
        )),
        "{p}"
    );
    assert!(p.steps.is_empty() && p.prepare.is_empty(), "{p}");
    // etcd-deploy's own record: its members, stopped.
    let mut ours = f.clone();
    ours.recorded = converged(&i).recorded;
    assert!(plan(&i, &ours, &desired(&i)).blocked.is_none());
    // An etcd named as a member runs while etcd-deploy's does not (in a
    // container, data elsewhere): refused whatever the data.
    let mut elsewhere = ours.clone();
    elsewhere
        .hosts
        .get_mut("etcd-2")
        .expect("etcd-2")
        .named_etcd = vec![4242];
    elsewhere.hosts.get_mut("etcd-2").expect("etcd-2").has_data = false;
    let p = plan(&i, &elsewhere, &desired(&i));
    assert!(
        p.blocked.as_deref().is_some_and(
            |b| b.contains("an etcd that etcd-deploy did not start runs as etcd-2 (PID 4242)")
        ),
        "{p}"
    );
    // etcd-deploy's own running member is named so too: nothing to say.
    let mut running = converged(&i);
    running.hosts.get_mut("etcd-2").expect("etcd-2").named_etcd = vec![100];
    assert!(plan(&i, &running, &desired(&i)).blocked.is_none());
}

/// A member running an older config than its file (a run stopped between
/// writing it and the restart) is restarted first, on that config; during a
/// move to TLS the move restarts the members it names itself.
#[test]
fn a_member_that_has_not_read_its_config_is_restarted_first() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-2").expect("host").config_stale = true;
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["restart etcd-2"], "{p}");
    assert!(
        p.to_string()
            .contains("restart (runs an older config than its file)"),
        "{p}"
    );

    let tls = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.config_peer_certs = true;
    }
    f.hosts.get_mut("etcd-2").expect("host").config_stale = true;
    let p = plan(&tls, &f, &desired(&tls));
    assert_eq!(
        step_names(&p),
        ["tls Certificates etcd-2"],
        "its peer certificate is not loaded: {p}"
    );
}

/// Issue 21, defect 1: a `recover` stopped after its seed started on the
/// one-off config. While the seed runs alone, the plan restarts it on its
/// normal config before anything joins (its quorum is itself); a plan with
/// the forced config never says "No changes"; a stopped seed with it is
/// left to `recover` (which keeps its choice of seed).
#[test]
fn an_interrupted_recover_is_finished_by_the_plan() {
    let i = inv(GOOD);
    // The seed alone in the cluster, the others fresh (their data moved aside).
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-1").expect("host").config_forced = true;
    for n in ["etcd-2", "etcd-3"] {
        f.hosts.insert(n.into(), fresh());
        f.cluster.status.remove(n);
    }
    if let Some(list) = f.cluster.members.as_mut() {
        list.truncate(1);
    }
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(
        step_names(&p),
        ["restart etcd-1", "join etcd-2", "join etcd-3"],
        "{p}"
    );
    assert!(
        p.to_string().contains(
            "finish recover: its config still holds force-new-cluster; restart on its normal config"
        ),
        "{p}"
    );
    // Killed after its normal config was written, before the restart: it
    // runs an older config than its file, and as the only voter it restarts
    // once the others have joined (the kill matrix found it blocked before).
    let mut g = f.clone();
    let h = g.hosts.get_mut("etcd-1").expect("host");
    h.config_forced = false;
    h.config_stale = true;
    let p = plan(&i, &g, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(step_names(&p), ["join etcd-2", "join etcd-3"], "{p}");
    assert!(p.replan, "{p}");
    assert!(
        p.to_string()
            .contains("as the cluster's only voter it restarts once the others have joined"),
        "{p}"
    );
    // With the others joined already (the defect's "No changes").
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-1").expect("host").config_forced = true;
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["restart etcd-1"], "{p}");
    assert!(!p.is_empty());
    // Stopped with the forced config: only recover may start it.
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.active = false;
    }
    f.cluster.members = None;
    f.cluster.status.clear();
    f.hosts.get_mut("etcd-2").expect("host").config_forced = true;
    let p = plan(&i, &f, &desired(&i));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("a recover stopped before it finished: etcd-2's config")),
        "{p}"
    );
    // recover keeps the seed it chose, whatever the survey says now.
    use etcd_deploy::plan::recover::{Survey, decide};
    let survey: BTreeMap<String, Survey> = ["etcd-1", "etcd-2"]
        .iter()
        .enumerate()
        .map(|(k, n)| {
            (
                n.to_string(),
                Survey {
                    revision: 100 - k as i64,
                    raft_index: None,
                    learner: false,
                },
            )
        })
        .collect();
    let r = decide(&i, &f, &survey).expect("recovery");
    assert_eq!(r.seed, "etcd-2");
}

/// Issue 21, defect 2: a member that runs older TLS files than its host
/// holds (a pass of a CA rotation interrupted between writing the files
/// and its restart) is restarted on them, by any command, before anything
/// else.
#[test]
fn a_member_that_has_not_loaded_its_certificates_is_restarted_first() {
    let i = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.config_tls = true;
        h.config_peer_certs = true;
    }
    let d = desired(&i);
    for (n, h) in f.hosts.iter_mut() {
        h.pki_digest = d[n].pki_digest.clone();
    }
    f.hosts.get_mut("etcd-3").expect("host").pki_stale = true;
    let p = plan(&i, &f, &d);
    assert_eq!(step_names(&p), ["restart etcd-3"], "{p}");
    assert!(
        p.to_string()
            .contains("restart (runs older TLS files than its host holds)"),
        "{p}"
    );
    let p = plan_with(
        &i,
        &f,
        &d,
        &Options {
            scope: Scope::CertsRotate,
            ..Default::default()
        },
    );
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(step_names(&p), ["restart etcd-3"], "{p}");
}

/// Issue 21, defect 6: a restore stopped half-way (some members hold the
/// data it made, the others their old data) is blocked by name: started,
/// the two sets would be two clusters.
#[test]
fn a_half_done_restore_blocks_the_plan_by_name() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.active = false;
    }
    f.cluster = Default::default();
    f.hosts.get_mut("etcd-1").expect("host").restored_by = Some("20261207T014012Z".into());
    let p = plan(&i, &f, &desired(&i));
    assert!(
        p.blocked.as_deref().is_some_and(|b| b.contains(
            "a restore stopped before it finished: etcd-1 hold(s) the data restore 20261207T014012Z made, etcd-2, etcd-3 not"
        )),
        "{p}"
    );
    // Every member restored: they start as the restored cluster.
    for h in f.hosts.values_mut() {
        h.restored_by = Some("20261207T014012Z".into());
    }
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
}

/// A cluster of one member: a config change restarts its only voter (the
/// cluster pauses; nothing else would change it) and the plan says so.
#[test]
fn a_one_member_cluster_restarts_its_only_voter_with_a_note() {
    let text = GOOD
        .replace("[[hosts]]\nname = \"etcd-2\"\naddress = \"10.0.0.2\"\n", "")
        .replace("[[hosts]]\nname = \"etcd-3\"\naddress = \"10.0.0.3\"\n", "");
    let i = inv(&text);
    assert_eq!(i.members.len(), 1);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-1").expect("etcd-1").config_digest = Some("old".into());
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(step_names(&p), ["restart etcd-1"]);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("the cluster has one voter")),
        "{p}"
    );
}

/// Whether the facts are ready to plan on: a started voter whose etcd runs
/// but has not answered is still coming up (the run waits); one that has
/// not read its config, or crash-loops, or answers, is not.
#[test]
fn readiness_of_the_facts() {
    use etcd_deploy::plan::readiness::{replace_mismatch, settling, unreached};
    let i = inv(GOOD);
    let f = converged(&i);
    assert!(!settling(&i, &f));
    type Edit = fn(&mut Facts);
    let cases: [(&str, Edit, bool); 4] = [
        (
            "not answering yet",
            |f| {
                f.cluster.status.remove("etcd-2");
            },
            true,
        ),
        (
            "not answering, config unread",
            |f| {
                f.cluster.status.remove("etcd-2");
                f.hosts.get_mut("etcd-2").expect("host").config_stale = true;
            },
            false,
        ),
        (
            "not answering, crash-looping",
            |f| {
                f.cluster.status.remove("etcd-2");
                f.hosts.get_mut("etcd-2").expect("host").crash_looping = true;
            },
            false,
        ),
        (
            "no member list, etcd running",
            |f| {
                f.cluster.members = None;
            },
            true,
        ),
    ];
    for (what, edit, want) in cases {
        let mut f = converged(&i);
        edit(&mut f);
        assert_eq!(settling(&i, &f), want, "{what}");
    }
    // replace: OLD out of the inventory, NEW in it, OLD a member.
    let replaced = inv(&GOOD.replace(
        "name = \"etcd-3\"\naddress = \"10.0.0.3\"",
        "name = \"etcd-4\"\naddress = \"10.0.0.4\"",
    ));
    let f = converged(&i);
    assert_eq!(replace_mismatch(&replaced, &f, "etcd-3", "etcd-4"), None);
    assert!(replace_mismatch(&i, &f, "etcd-3", "etcd-4").is_some_and(|w| w.contains("still in")));
    assert!(
        replace_mismatch(&replaced, &f, "etcd-9", "etcd-4")
            .is_some_and(|w| w.contains("not a member"))
    );
    assert_eq!(unreached(&f), None);
}
