//! Plans computed from inventory + facts: fresh, converged, resumed, grown, shrunk, upgraded, replaced, scoped, blocked; the inputs a plan takes from etcd checked; a saved plan.

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
    assert!(text.ends_with("Plan: 7 steps.\n"), "{text}");
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
            acting(&p)[1],
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
            && text.ends_with("Plan: 4 steps (replace etcd-1 with etcd-4).\n"),
        "{text}"
    );
    assert_eq!(
        p.destructive(),
        ["removes member etcd-1 from the cluster, stops its etcd and DELETES its data directory"],
        "what the operator is asked to agree to"
    );
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["steps"][2]["data"], "wipe", "{json}");
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
