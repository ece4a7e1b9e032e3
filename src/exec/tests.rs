//! The executor's decisions against the in-process fake (`fake.rs`): given
//! a plan, which scripts run on which host in what order, what a failure
//! rolls back, what is refused. The lab tests show the same on real hosts.

use super::{Env, execute};
#[path = "../../tests/shared/golden.rs"]
mod golden;
use crate::access::Access;
use crate::error::Error;
use crate::etcd::EtcdApi;
use crate::facts::RecordedMember;
use crate::fake::{Fake, World};
use crate::inventory::{self, Inventory, Version};
use crate::plan::{Data, DowngradeCall, Plan, Rollback, Rollout, Step};
use crate::progress::Progress;
use crate::ssh::Host;
use crate::templates::Templates;
use golden::golden;
use std::collections::BTreeMap;
use std::path::Path;

fn v(s: &str) -> Version {
    Version::parse(s).expect("version")
}

fn inventory(hosts: &[usize]) -> Inventory {
    let mut text = String::from(
        "[cluster]\nname = \"prod\"\nversion = \"3.5.1\"\naccess = \"direct\"\n[ssh]\nuser = \"root\"\n",
    );
    for n in hosts {
        text.push_str(&format!(
            "[[hosts]]\nname = \"etcd-{n}\"\naddress = \"10.0.0.{n}\"\n"
        ));
    }
    inventory::parse(Path::new("inventory.toml"), &text).expect("inventory")
}

/// The world of a three-member cluster on `version`, etcd-1 leading.
fn three(version: &str) -> World {
    let v = v(version);
    World::cluster(&[
        ("etcd-1", "10.0.0.1", v),
        ("etcd-2", "10.0.0.2", v),
        ("etcd-3", "10.0.0.3", v),
    ])
}

/// Runs `steps` on the fake with every inventory member known to serve.
async fn run(inv: &Inventory, fake: &Fake, steps: Vec<Step>) -> Result<(), Error> {
    let hosts: BTreeMap<String, Host> = inv
        .members
        .iter()
        .map(|m| (m.name.clone(), fake.host(&m.name)))
        .collect();
    let access = Access::new(inv.cluster.access);
    let templates = Templates::load(inv).expect("templates");
    let progress = Progress::new(None).expect("progress");
    let env = Env {
        inv,
        etcd: fake,
        dial: fake,
        hosts: &hosts,
        access: &access,
        templates: &templates,
        progress: &progress,
    };
    let mut serving = Vec::new();
    for m in &inv.members {
        if fake.status(&m.client_url()).await.is_ok() {
            serving.push(m.name.clone());
        }
    }
    let plan = Plan {
        steps,
        serving,
        ..Plan::default()
    };
    execute(&env, &plan).await
}

/// Four running members; etcd-4 is the one that leaves.
fn four() -> World {
    let v = v("3.5.1");
    World::cluster(&[
        ("etcd-1", "10.0.0.1", v),
        ("etcd-2", "10.0.0.2", v),
        ("etcd-3", "10.0.0.3", v),
        ("etcd-4", "10.0.0.4", v),
    ])
}

fn remove_etcd_4(data: Data) -> Step {
    Step::Remove {
        name: "etcd-4".into(),
        id: 0x103,
        host: Some(RecordedMember {
            address: "10.0.0.4".into(),
            port: None,
            user: Some("root".into()),
            advertise: "10.0.0.4".into(),
            client_port: 2379,
            peer_port: 2380,
            peer_url: "http://10.0.0.4:2380".into(),
            adopted: false,
            made_by: String::new(),
        }),
        leader: false,
        alive: true,
        data,
    }
}

fn upgrade_step(to: &str, from: Option<&str>) -> Step {
    let order: Vec<String> = ["etcd-2", "etcd-3", "etcd-1"].map(String::from).to_vec();
    let from: BTreeMap<String, Version> = match from {
        Some(f) => order.iter().map(|n| (n.clone(), v(f))).collect(),
        None => BTreeMap::new(),
    };
    Step::Upgrade {
        rollout: Rollout {
            to: v(to),
            order,
            leader: Some("etcd-1".into()),
            downgrade: false,
            etcd_downgrade: DowngradeCall::None,
            check_v2store: false,
        },
        rollback: if from.is_empty() {
            Rollback::Stop
        } else {
            Rollback::PreviousVersion
        },
        from,
        snapshot_to: None,
        configs: Default::default(),
    }
}

fn log(fake: &Fake) -> Vec<String> {
    fake.with(|w| w.log.clone())
}

#[tokio::test]
async fn upgrade_goes_follower_first_and_moves_leadership_before_the_leader() {
    let inv = inventory(&[1, 2, 3]);
    let fake = Fake::new(three("3.5.0"));
    run(&inv, &fake, vec![upgrade_step("3.5.1", Some("3.5.0"))])
        .await
        .expect("upgrade");
    let log = log(&fake);
    let pos = |needle: &str| {
        log.iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} not in {log:#?}"))
    };
    let switch = |h: &str| {
        pos(&format!(
            "{h}: etcd-deploy-use-version /opt/etcd/current etcd-v3.5.1"
        ))
    };
    assert!(switch("etcd-2") < switch("etcd-3") && switch("etcd-3") < switch("etcd-1"));
    // Leadership goes to an upgraded member before the leader is touched.
    let moved = pos("etcd: move leader to");
    assert!(
        switch("etcd-3") < moved && moved < switch("etcd-1"),
        "{log:#?}"
    );
    let upgraded = fake.with(|w| w.members.iter().all(|m| m.version == v("3.5.1")));
    assert!(upgraded);
}

#[tokio::test]
async fn failed_upgrade_rolls_the_member_back_and_stops_the_rollout() {
    let inv = inventory(&[1, 2, 3]);
    let mut w = three("3.5.0");
    w.broken.insert(v("3.5.1"));
    let fake = Fake::new(w);
    let e = run(&inv, &fake, vec![upgrade_step("3.5.1", Some("3.5.0"))])
        .await
        .expect_err("the new version does not start");
    assert!(e.to_string().contains("rolled back to etcd 3.5.0"), "{e}");
    fake.with(|w| {
        assert_eq!(
            w.host_log("etcd-2")
                .iter()
                .filter(|l| l.starts_with("etcd-deploy-use-version"))
                .count(),
            2,
            "switched, then back: {:#?}",
            w.log
        );
        assert!(w.host_log("etcd-3").is_empty() && w.host_log("etcd-1").is_empty());
        let m = w.member("etcd-2").expect("etcd-2");
        assert!(m.running && m.version == v("3.5.0"));
    });
}

/// A minor upgrade whose last member fails after its start, once etcd
/// moved the cluster version (every member ran 3.6 for a moment): 3.5
/// cannot start under a 3.6 cluster version, so the way back enables etcd's
/// downgrade first, and says how the others follow.
#[tokio::test]
async fn a_minor_upgrade_failing_after_the_cluster_version_moved_goes_back_through_etcd_s_downgrade()
 {
    let inv = inventory(&[1, 2, 3]);
    let mut w = three("3.5.36");
    w.misreports.insert("etcd-1".into());
    let fake = Fake::new(w);
    let e = run(&inv, &fake, vec![upgrade_step("3.6.17", Some("3.5.36"))])
        .await
        .expect_err("the leader comes up wrong");
    let said = e.to_string();
    assert!(
        said.contains("rolled back to etcd 3.5.36 through etcd's downgrade: the cluster version had moved to 3.6.0")
            && said.contains("`etcd-deploy downgrade --to 3.5.36` takes them back too"),
        "{said}"
    );
    fake.with(|w| {
        assert_eq!(w.downgrade, Some((3, 5)), "{:#?}", w.log);
        let enabled = w.log.iter().position(|l| l.contains("Enable(\"3.5\")"));
        let back = w.log.iter().rposition(|l| {
            l.starts_with("etcd-1: etcd-deploy-use-version /opt/etcd/current etcd-v3.5.36")
        });
        assert!(enabled.is_some() && enabled < back, "{:#?}", w.log);
        let m = w.member("etcd-1").expect("etcd-1");
        assert!(m.running && m.version == v("3.5.36"));
    });
}

/// A minor downgrade as the plan gives it: etcd's validate and enable
/// before any member restarts, then each member onto the older release;
/// etcd ends the downgrade when the last one runs it.
#[tokio::test]
async fn a_minor_downgrade_enables_etcd_s_downgrade_before_the_first_restart() {
    let inv = inventory(&[1, 2, 3]);
    let fake = Fake::new(three("3.6.17"));
    let mut step = upgrade_step("3.5.36", Some("3.6.17"));
    if let Step::Upgrade { rollout, .. } = &mut step {
        rollout.downgrade = true;
        rollout.etcd_downgrade = DowngradeCall::Enable { major: 3, minor: 5 };
    }
    run(&inv, &fake, vec![step]).await.expect("downgrade");
    fake.with(|w| {
        let pos = |needle: &str| w.log.iter().position(|l| l.starts_with(needle));
        let validate = pos("etcd: downgrade Validate(\"3.5\")");
        let enable = pos("etcd: downgrade Enable(\"3.5\")");
        let first = pos("etcd-2: etcd-deploy-use-version /opt/etcd/current etcd-v3.5.36");
        assert!(
            validate.is_some() && validate < enable && enable < first,
            "{:#?}",
            w.log
        );
        assert!(
            w.members
                .iter()
                .all(|m| m.running && m.version == v("3.5.36"))
        );
        assert_eq!(w.downgrade, None, "etcd ended the downgrade");
    });
}

#[tokio::test]
async fn without_a_version_to_go_back_to_the_plan_says_stop() {
    let inv = inventory(&[1, 2, 3]);
    let mut w = three("3.5.0");
    w.broken.insert(v("3.5.1"));
    let fake = Fake::new(w);
    let e = run(&inv, &fake, vec![upgrade_step("3.5.1", None)])
        .await
        .expect_err("fails");
    assert!(!e.to_string().contains("rolled back"), "{e}");
    assert_eq!(
        fake.with(|w| w
            .host_log("etcd-2")
            .iter()
            .filter(|l| l.starts_with("etcd-deploy-use-version"))
            .count()),
        1
    );
}

#[tokio::test]
async fn join_resumes_after_the_answer_to_member_add_was_lost() {
    let inv = inventory(&[1, 2]);
    let mut w = World::cluster(&[("etcd-1", "10.0.0.1", v("3.5.1"))]);
    w.lose_add_answer = true;
    let join = Step::Join {
        host: "etcd-2".into(),
        added: None,
        stale_data: false,
        running: false,
    };
    let fake = Fake::new(w);
    run(&inv, &fake, vec![join]).await.expect("join");
    fake.with(|w| {
        assert_eq!(w.members.len(), 2, "added once: {:#?}", w.log);
        let m = w.member("etcd-2").expect("etcd-2");
        assert!(m.running && !m.learner, "{m:?}");
    });
}

#[tokio::test]
async fn removal_is_refused_when_quorum_would_be_lost_and_nothing_is_removed() {
    let inv = inventory(&[1, 2, 3]);
    let mut w = four();
    // Two of the three that stay are down: removing etcd-4 leaves 1 of 3.
    for h in ["etcd-2", "etcd-3"] {
        if let Some(m) = w.members.iter_mut().find(|m| m.host == h) {
            m.running = false;
        }
    }
    let fake = Fake::new(w);
    let e = run(&inv, &fake, vec![remove_etcd_4(Data::Keep)])
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("quorum needs 2"), "{e}");
    assert_eq!(fake.with(|w| w.members.len()), 4);
}

#[tokio::test]
async fn a_removal_wipes_data_only_when_the_plan_says_so() {
    for (data, flag) in [(Data::Keep, "no"), (Data::Wipe, "yes")] {
        let inv = inventory(&[1, 2, 3]);
        let fake = Fake::new(four());
        run(&inv, &fake, vec![remove_etcd_4(data)])
            .await
            .expect("removed");
        let retire = fake
            .with(|w| {
                w.host_log("etcd-4")
                    .iter()
                    .find(|l| l.starts_with("etcd-deploy-retire"))
                    .map(|l| l.to_string())
            })
            .expect("retire ran on etcd-4");
        assert!(retire.ends_with(&format!(" {flag}")), "{retire}");
        assert_eq!(fake.with(|w| w.members.len()), 3);
    }
}

#[tokio::test]
async fn finding_1_a_member_without_a_record_is_removed_but_its_host_never_contacted() {
    let inv = inventory(&[1, 2, 3]);
    let mut remove = remove_etcd_4(Data::Wipe);
    if let Step::Remove { host, .. } = &mut remove {
        *host = None;
    }
    let fake = Fake::new(four());
    run(&inv, &fake, vec![remove]).await.expect("removed");
    fake.with(|w| {
        assert_eq!(w.members.len(), 3, "left the cluster");
        assert!(
            w.host_log("etcd-4").is_empty(),
            "no script ran on its host: {:#?}",
            w.log
        );
    });
}

#[tokio::test]
async fn restarting_the_leader_hands_leadership_over_first() {
    let inv = inventory(&[1, 2, 3]);
    let restart = Step::restart("etcd-1", vec![crate::plan::RestartReason::ConfigChanged]);
    let fake = Fake::new(three("3.5.1"));
    run(&inv, &fake, vec![restart]).await.expect("restart");
    let log = log(&fake);
    let moved = log.iter().position(|l| l.starts_with("etcd: move leader"));
    let restarted = log
        .iter()
        .position(|l| l.starts_with("etcd-1: etcd-deploy-start"));
    assert!(
        moved.is_some() && moved < restarted,
        "leadership moved before the restart: {log:#?}"
    );
}

/// The remote actions a plan makes, as data: for each case (a plan's steps
/// and the world they meet), every script run on each host (its name and
/// arguments, the path rule's lists left out) and every change to the
/// cluster, in order, compared with `tests/golden/exec/CASE.txt`
/// (`UPDATE_GOLDEN=1` rewrites them). A change to what the executor sends
/// to hosts shows up here as a reviewable diff.
#[tokio::test]
async fn the_remote_actions_of_each_plan_are_as_recorded() {
    let join = Step::Join {
        host: "etcd-2".into(),
        added: None,
        stale_data: true,
        running: false,
    };
    let restart = Step::restart("etcd-1", vec![crate::plan::RestartReason::ConfigChanged]);
    let destroy = Step::Destroy {
        members: ["etcd-1", "etcd-2", "etcd-3"].map(String::from).to_vec(),
        data: Data::Wipe,
    };
    let cases: Vec<(&str, Vec<usize>, World, Vec<Step>)> = vec![
        (
            "upgrade",
            vec![1, 2, 3],
            three("3.5.0"),
            vec![upgrade_step("3.5.1", Some("3.5.0"))],
        ),
        (
            "join",
            vec![1, 2],
            World::cluster(&[("etcd-1", "10.0.0.1", v("3.5.1"))]),
            vec![join],
        ),
        (
            "remove-wipe",
            vec![1, 2, 3],
            four(),
            vec![remove_etcd_4(Data::Wipe)],
        ),
        (
            "restart-leader",
            vec![1, 2, 3],
            three("3.5.1"),
            vec![restart],
        ),
        ("destroy-wipe", vec![1, 2, 3], three("3.5.1"), vec![destroy]),
    ];
    for (name, hosts, world, steps) in cases {
        let inv = inventory(&hosts);
        let fake = Fake::new(world);
        run(&inv, &fake, steps)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut text = log(&fake).join("\n");
        text.push('\n');
        golden(&format!("exec/{name}.txt"), &text);
    }
}
