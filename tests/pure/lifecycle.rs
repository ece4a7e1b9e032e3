//! The whole-cluster plans: `restore` and `destroy` (`plan::lifecycle`),
//! shown and agreed to before anything changes, with every decision the
//! executor carries out in them.

use crate::common::*;
use etcd_deploy::plan::lifecycle;

const STAMP: &str = "20261207T110000Z";

fn restore(i: &Inventory, f: &Facts) -> Plan {
    lifecycle::restore(
        i,
        f,
        &desired(i),
        Path::new("snap.db"),
        &"ab".repeat(32),
        STAMP,
    )
}

#[test]
fn a_restore_plan_holds_the_snapshot_the_new_token_and_the_membership() {
    let i = inv(GOOD);
    let p = restore(&i, &converged(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert!(p.prepare.is_empty(), "{p}");
    let [Step::Restore(r)] = p.steps.as_slice() else {
        panic!("{p}")
    };
    assert_eq!(r.members, ["etcd-1", "etcd-2", "etcd-3"]);
    assert_eq!(r.token, format!("{}-restore-{STAMP}", i.cluster.token));
    assert_eq!(
        r.initial_cluster,
        "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,etcd-3=http://10.0.0.3:2380"
    );
    let text = p.to_string();
    assert!(
        text.contains("~ etcd-1,etcd-2,etcd-3 restore snap.db (sha256 abababababab): stop every member, then move each data directory aside as <data_dir>.pre-restore-20261207T110000Z (kept)"),
        "{text}"
    );
    assert!(
        text.contains("restore: every member's data replaced by a snapshot"),
        "{text}"
    );
    assert_eq!(
        p.destructive(),
        [
            "replaces the data of every member (etcd-1, etcd-2, etcd-3) with snap.db; current data is moved aside, not deleted"
        ]
    );
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["steps"][0]["action"], "restore", "{json}");
    assert_eq!(json["steps"][0]["stamp"], STAMP, "{json}");
    assert_eq!(json["scope"]["command"], "restore", "{json}");
}

/// A fresh host gets what the inventory says before any member stops.
#[test]
fn a_restore_prepares_fresh_hosts_first() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    f.hosts.insert("etcd-3".into(), fresh());
    f.cluster = Default::default();
    let p = restore(&i, &f);
    assert!(p.blocked.is_none(), "{p}");
    let hosts: Vec<&str> = p.prepare.iter().map(|x| x.host.as_str()).collect();
    assert_eq!(hosts, ["etcd-3"], "{p}");
    assert_eq!(p.prepare[0].install, Some(i.cluster.version), "{p}");
    assert_eq!(step_names(&p), ["restore etcd-1,etcd-2,etcd-3"]);
}

/// A restore stopped half-way blocks apply, and restore is what finishes
/// it; a host that belongs to another cluster blocks the restore too.
#[test]
fn a_half_done_restore_is_finished_by_restore_and_another_cluster_s_host_blocks_it() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        h.active = false;
    }
    f.cluster = Default::default();
    f.hosts.get_mut("etcd-1").expect("host").restored_by = Some(STAMP.into());
    assert!(plan(&i, &f, &desired(&i)).blocked.is_some());
    let p = restore(&i, &f);
    assert!(p.blocked.is_none(), "{p}");
    f.hosts.get_mut("etcd-2").expect("host").config_cluster = Some("staging".into());
    let p = restore(&i, &f);
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("belongs to etcd cluster staging")),
        "{p}"
    );
    assert!(p.steps.is_empty());
}

#[test]
fn a_destroy_plan_says_whether_data_is_deleted() {
    let i = inv(GOOD);
    let f = converged(&i);
    let keep = lifecycle::destroy(&i, &f, false);
    assert_eq!(step_names(&keep), ["destroy etcd-1,etcd-2,etcd-3 Keep"]);
    assert!(keep.to_string().contains("data directories kept"), "{keep}");
    assert_eq!(
        keep.destructive(),
        [
            "stops etcd on etcd-1, etcd-2, etcd-3 and removes its units, configs and releases (data directories are kept)"
        ]
    );
    let wipe = lifecycle::destroy(&i, &f, true);
    assert_eq!(step_names(&wipe), ["destroy etcd-1,etcd-2,etcd-3 Wipe"]);
    assert!(
        wipe.to_string().contains("data directories DELETED"),
        "{wipe}"
    );
    let json = serde_json::to_value(&wipe).expect("json");
    assert_eq!(json["steps"][0]["action"], "destroy", "{json}");
    assert_eq!(json["steps"][0]["data"], "wipe", "{json}");
    // Another cluster's member on a host: destroying would remove its files.
    let mut f = f;
    f.hosts.get_mut("etcd-2").expect("host").config_cluster = Some("staging".into());
    assert!(lifecycle::destroy(&i, &f, true).blocked.is_some());
}
