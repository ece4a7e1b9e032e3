//! Every kind of step says what it does to the members' service (read by the
//! plan-time quorum check) and whether the operator must agree to it. The
//! `kind` match below has no wildcard: a new kind of step does not compile
//! until this test says what it expects of it.

use crate::common::*;
use etcd_deploy::plan::auth::AuthChange;
use etcd_deploy::plan::{RestartReason, RestoreStep, Rollback, Rollout, Service, adopt, tls_move};

fn every_step() -> Vec<Step> {
    let order = vec!["a".to_string(), "b".to_string()];
    vec![
        Step::Bootstrap { host: "a".into() },
        Step::Start {
            hosts: order.clone(),
            configs: vec![],
        },
        Step::Promote {
            host: "a".into(),
            id: 1,
        },
        Step::Join {
            host: "a".into(),
            added: None,
            stale_data: false,
            running: false,
        },
        Step::restart("a", vec![RestartReason::ConfigChanged]),
        Step::restart("a", vec![RestartReason::CrashLooping]),
        Step::restart("a", vec![RestartReason::StaleConfig]),
        Step::Remove {
            name: "x".into(),
            id: 9,
            host: Some(former_member()),
            leader: false,
            alive: true,
            data: Data::Wipe,
        },
        Step::Retire {
            name: "x".into(),
            host: former_member(),
            data: Data::Keep,
        },
        Step::Record {
            members: vec!["a".into(), "b".into()],
            records: Default::default(),
        },
        Step::Access {
            changes: vec![AuthChange::EnableAuth],
        },
        Step::Access {
            changes: vec![
                AuthChange::AddRole { role: "app".into() },
                AuthChange::DeleteUser { name: "old".into() },
            ],
        },
        Step::Adopt {
            order: order.clone(),
            leader: None,
            previous: BTreeMap::from([(
                "a".to_string(),
                adopt::Previous::Unit {
                    unit: "etcd.service".into(),
                },
            )]),
        },
        Step::TlsMove {
            pass: tls_move::TlsPass::Peers,
            order: order.clone(),
            leader: Some("b".into()),
        },
        Step::Upgrade {
            rollout: Rollout {
                to: v("3.5.1"),
                order,
                leader: None,
                downgrade: false,
                etcd_downgrade: Default::default(),
                check_v2store: false,
            },
            from: BTreeMap::new(),
            snapshot_to: None,
            rollback: Rollback::PreviousVersion,
            configs: Default::default(),
        },
        Step::Restore(RestoreStep {
            snapshot: "s.db".into(),
            sha256: "0".repeat(64),
            members: vec!["a".into(), "b".into()],
            stamp: "20261207T000000Z".into(),
            token: "t-restore-20261207T000000Z".into(),
            initial_cluster: "a=http://a:2380,b=http://b:2380".into(),
        }),
        Step::Destroy {
            members: vec!["a".into(), "b".into()],
            data: Data::Keep,
        },
    ]
}

/// The kind's name; no wildcard arm.
fn kind(s: &Step) -> &'static str {
    match s {
        Step::Bootstrap { .. } => "bootstrap",
        Step::Start { .. } => "start",
        Step::Promote { .. } => "promote",
        Step::Join { .. } => "join",
        Step::Restart { .. } => "restart",
        Step::Remove { .. } => "remove",
        Step::Retire { .. } => "retire",
        Step::Record { .. } => "record",
        Step::Access { .. } => "access",
        Step::Adopt { .. } => "adopt",
        Step::TlsMove { .. } => "tls_move",
        Step::Upgrade { .. } => "upgrade",
        Step::Restore(_) => "restore",
        Step::Destroy { .. } => "destroy",
    }
}

#[test]
fn every_kind_of_step_says_what_it_stops_and_whether_it_needs_consent() {
    let cycles = |members: &[&'static str], back| Service::Cycles {
        members: members.to_vec(),
        back,
    };
    let want: Vec<(&str, Service<'static>, bool)> = vec![
        ("bootstrap", Service::Keeps, false),
        ("start", Service::Restores(vec!["a", "b"]), false),
        ("promote", Service::Keeps, false),
        ("join", Service::Keeps, false),
        ("restart", cycles(&["a"], false), false),
        ("restart", Service::Restores(vec!["a"]), false),
        ("restart", cycles(&["a"], true), false),
        ("remove", Service::Removes, true),
        ("retire", Service::Keeps, true),
        ("record", Service::Keeps, false),
        ("access", Service::Keeps, false),
        ("access", Service::Keeps, true),
        ("adopt", cycles(&["a", "b"], true), true),
        ("tls_move", cycles(&["a", "b"], true), false),
        ("upgrade", cycles(&["a", "b"], false), false),
        ("restore", Service::StopsAll(vec!["a", "b"]), true),
        ("destroy", Service::StopsAll(vec!["a", "b"]), true),
    ];
    let steps = every_step();
    let kinds: std::collections::BTreeSet<&str> = steps.iter().map(kind).collect();
    assert_eq!(kinds.len(), 14, "every kind of step is here");
    assert_eq!(steps.len(), want.len());
    for (s, (k, service, consent)) in steps.iter().zip(want) {
        assert_eq!(kind(s), k);
        assert_eq!(s.service(), service, "{k}");
        assert_eq!(s.destructive().is_some(), consent, "{k}");
    }
}

/// A restart's decisions follow from its reasons in the plan; the executor
/// reads only the decisions (never the reasons).
#[test]
fn a_restart_s_decisions_follow_from_its_reasons() {
    use RestartReason::*;
    let cases: [(&[RestartReason], bool, bool, bool); 7] = [
        (&[ConfigChanged], true, true, false),
        (&[UnitChanged], true, false, false),
        (&[CertificatesChanged], true, false, false),
        (&[CrashLooping], true, false, false),
        (&[StaleConfig], false, false, false),
        (&[StaleConfig, StaleCertificates], false, false, false),
        (&[ForceNewCluster, ConfigChanged], true, false, true),
    ];
    for (reasons, write, keep, lone) in cases {
        let Step::Restart {
            write_config,
            keep_for_rollback,
            lone_seed,
            ..
        } = Step::restart("a", reasons.to_vec())
        else {
            panic!("a restart")
        };
        assert_eq!(
            (write_config, keep_for_rollback, lone_seed),
            (write, keep, lone),
            "{reasons:?}"
        );
    }
}
