//! etcd-deploy's records of its members kept on the hosts (issue 25):
//! which copy wins, what the copies must become, and when the plan writes
//! them (`Step::Record`, first, only to the hosts whose copy differs).

use crate::common::*;
use etcd_deploy::plan::records;

fn copy(serial: u64, cluster: &str, names: &[&str]) -> Records {
    let i = inv(GOOD);
    Records {
        serial,
        cluster: cluster.into(),
        members: names
            .iter()
            .map(|n| {
                let m = i
                    .members
                    .iter()
                    .find(|m| m.name == *n)
                    .unwrap_or(&i.members[0]);
                let mut r = recorded(m);
                r.peer_url = format!("http://{n}:2380");
                (n.to_string(), r)
            })
            .collect(),
    }
}

#[test]
fn the_copy_with_the_highest_serial_wins_and_other_clusters_never_count() {
    // (copies as (serial, cluster), the serial of the winner or none)
    type Copies<'a> = &'a [(u64, &'a str)];
    let cases: [(Copies, Option<u64>); 5] = [
        (&[], None),
        (&[(1, "prod"), (3, "prod"), (2, "prod")], Some(3)),
        (&[(7, "other"), (2, "prod")], Some(2)),
        (&[(7, "other")], None),
        (&[(0, "prod"), (0, "prod")], Some(0)),
    ];
    for (copies, want) in cases {
        let copies: Vec<Records> = copies
            .iter()
            .map(|(s, c)| copy(*s, c, &["etcd-1"]))
            .collect();
        let got = Records::newest("prod", &copies).map(|r| r.serial);
        assert_eq!(got, want, "{copies:?}");
    }
    // On a tie the first (a host's, before the controller's cache) wins.
    let a = copy(4, "prod", &["etcd-1"]);
    let b = copy(4, "prod", &["etcd-1", "etcd-2"]);
    let both = [a.clone(), b];
    assert_eq!(Records::newest("prod", &both), Some(&a));
}

#[test]
fn an_old_controller_only_record_reads_as_serial_zero() {
    let i = inv(GOOD);
    let m = &i.members[0];
    let legacy = serde_json::json!({ m.name.clone(): {
        "address": "10.0.0.1", "port": null, "user": "root", "advertise": "10.0.0.1",
        "client_port": 2379, "peer_port": 2380, "peer_url": "http://10.0.0.1:2380"
    }, "$(reboot)": {
        "address": "10.0.0.9", "port": null, "user": null, "advertise": "10.0.0.9",
        "client_port": 2379, "peer_port": 2380, "peer_url": "http://10.0.0.9:2380"
    }});
    let r = Records::parse_legacy(&legacy.to_string(), "prod").expect("legacy");
    assert_eq!((r.serial, r.cluster.as_str()), (0, "prod"));
    assert_eq!(r.members.keys().collect::<Vec<_>>(), [&m.name]);
    assert!(
        Records::parse(&legacy.to_string()).is_none(),
        "not the new format"
    );
}

#[test]
fn the_serial_rises_only_when_the_members_change() {
    let i = inv(GOOD);
    let f = converged(&i);
    let same = records::desired(&i, &f);
    assert_eq!(same.serial, 1);
    assert_eq!(same.members, f.recorded);
    // A member added: recorded, the serial raised; a former member kept.
    let four = five();
    let mut f4 = converged(&i);
    f4.recorded.insert("etcd-9".into(), former_member());
    let grown = records::desired(&four, &f4);
    assert_eq!(grown.serial, 2);
    assert!(grown.members.contains_key("etcd-5") && grown.members.contains_key("etcd-9"));
    // A member running as someone else's etcd is recorded as adopted, and
    // stays so; who first recorded an entry stays as it was.
    let mut fa = converged(&i);
    fa.recorded.clear();
    fa.records_serial = 0;
    let mut h = running(&i, "etcd-2");
    h.foreign = Some(Default::default());
    fa.hosts.insert("etcd-2".into(), h);
    let r = records::desired(&i, &fa);
    assert_eq!(r.serial, 1);
    assert!(r.members["etcd-2"].adopted && !r.members["etcd-1"].adopted);
    let mut fb = converged(&i);
    fb.recorded.get_mut("etcd-1").expect("etcd-1").made_by = "etcd-deploy 0.0.9".into();
    fb.recorded.get_mut("etcd-2").expect("etcd-2").adopted = true;
    let kept = records::desired(&i, &fb);
    assert_eq!(kept.members["etcd-1"].made_by, "etcd-deploy 0.0.9");
    assert!(kept.members["etcd-2"].adopted);
    assert_eq!(kept.serial, 1, "nothing changed");
}

/// (what the facts are, the hosts the plan writes to, at which serial)
#[test]
fn the_plan_writes_the_records_first_and_only_where_they_differ() {
    let i = inv(GOOD);
    type Edit = fn(&Inventory, &mut Facts);
    let cases: [(&str, Edit, &[&str], u64); 6] = [
        ("converged", |_, _| {}, &[], 0),
        (
            "one host lost its copy",
            |_, f| {
                f.hosts.get_mut("etcd-2").expect("etcd-2").records = None;
            },
            &["etcd-2"],
            1,
        ),
        (
            "a host that was down holds an older copy",
            |i, f| {
                let h = f.hosts.get_mut("etcd-3").expect("etcd-3");
                let mut old = host_records(i);
                old.serial = 0;
                old.members.insert("etcd-9".into(), former_member());
                h.records = Some(old);
            },
            &["etcd-3"],
            1,
        ),
        (
            "only the controller's cache (an older release): every host",
            |_, f| {
                for h in f.hosts.values_mut() {
                    h.records = None;
                }
                f.records_serial = 0;
            },
            &["etcd-1", "etcd-2", "etcd-3"],
            1,
        ),
        (
            "a host down: not written, nothing blocked",
            |_, f| {
                f.hosts.remove("etcd-3");
                f.unreachable.insert("etcd-3".into(), "timed out".into());
                f.hosts.get_mut("etcd-1").expect("etcd-1").records = None;
            },
            &["etcd-1"],
            1,
        ),
        (
            "the cluster blocked: nothing at all",
            |_, f| {
                f.hosts.get_mut("etcd-1").expect("etcd-1").records = None;
                f.hosts.get_mut("etcd-1").expect("etcd-1").data_dir_foreign = Some("x".into());
                f.hosts.get_mut("etcd-1").expect("etcd-1").active = false;
                f.hosts.get_mut("etcd-1").expect("etcd-1").pid = None;
            },
            &[],
            0,
        ),
    ];
    for (what, edit, hosts, serial) in cases {
        let mut f = converged(&i);
        edit(&i, &mut f);
        let p = plan(&i, &f, &desired(&i));
        match p.steps.first() {
            Some(Step::Record { members, records }) => {
                assert_eq!(members, hosts, "{what}: {p}");
                assert_eq!(records.serial, serial, "{what}: {p}");
            }
            _ => assert!(hosts.is_empty(), "{what}: no record step: {p}"),
        }
        let more = p
            .steps
            .iter()
            .skip(1)
            .any(|s| matches!(s, Step::Record { .. }));
        assert!(!more, "{what}: one record step, first: {p}");
    }
}

/// Another command with nothing else to do writes nothing: only `apply`
/// (and `adopt`) move the records on their own.
#[test]
fn only_apply_writes_the_records_when_there_is_nothing_else_to_do() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.get_mut("etcd-1").expect("etcd-1").records = None;
    for (scope, writes) in [
        (Scope::Apply, true),
        (Scope::Upgrade, false),
        (Scope::CertsRotate, false),
        (Scope::PrepareUpgrade, false),
    ] {
        let opts = Options {
            scope: scope.clone(),
            ..Options::default()
        };
        let p = plan_with(&i, &f, &desired(&i), &opts);
        assert_eq!(!p.is_empty(), writes, "{scope:?}: {p}");
    }
}
