//! Plans after something went wrong or was done elsewhere: a recover, removal,
//! restore or certificate pass interrupted, members made by hand, scheduled
//! snapshot units missing, a lone voter, facts not ready yet. The next run
//! sees what was left and finishes it.

use super::common::*;

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
