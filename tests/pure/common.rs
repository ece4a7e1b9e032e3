//! What the pure tests share: the reference inventory, inventory and error
//! helpers, golden files, and facts of clusters in typical states.

#![allow(dead_code)]

pub use etcd_deploy::facts::{
    ClusterFacts, Facts, HostFacts, MemberInfo, MemberStatus, RecordedMember, Records,
};
pub use etcd_deploy::inventory::{
    Image, Inventory, InventoryError, Member, Network, Version, parse,
};
pub use etcd_deploy::member_config::{self, Bootstrap, Rendered};
pub use etcd_deploy::plan::{
    Data, Desired, ImageStep, Options, Plan, Scope, Step, initial_cluster, plan, plan_with,
};
pub use etcd_deploy::runtime::{self, HostFile};
pub use etcd_deploy::templates::Templates;
pub use std::collections::BTreeMap;
pub use std::path::Path;

#[path = "../shared/golden.rs"]
mod golden_file;
pub(crate) use golden_file::golden;

pub const GOOD: &str = r#"
[cluster]
name = "prod"
version = "3.5.1"

[release]
source = "http://127.0.0.1:18080"

[ssh]
user = "root"

[[hosts]]
name = "etcd-1"
address = "10.0.0.1"

[[hosts]]
name = "etcd-2"
address = "10.0.0.2"

[[hosts]]
name = "etcd-3"
address = "10.0.0.3"
"#;

pub fn inv(text: &str) -> Inventory {
    parse(Path::new("inventory.toml"), text).expect("valid inventory")
}

pub fn err(text: &str) -> InventoryError {
    parse(Path::new("inventory.toml"), text).expect_err("invalid inventory")
}

pub fn assert_err(text: &str, line: usize, col: usize, contains: &str) {
    let e = err(text);
    assert_eq!(e.position, Some((line, col)), "position of: {e}");
    let s = e.to_string();
    assert!(
        s.starts_with(&format!("inventory.toml:{line}:{col}: ")),
        "{s}"
    );
    assert!(s.contains(contains), "{s:?} should contain {contains:?}");
}

pub fn v(s: &str) -> Version {
    Version::parse(s).expect("version")
}

pub fn desired(i: &Inventory) -> BTreeMap<String, Desired> {
    i.members
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                to_desired(
                    member_config::render(i, m, None).expect("render"),
                    host_file(i, m),
                ),
            )
        })
        .collect()
}

pub fn to_desired(r: Rendered, h: HostFile) -> Desired {
    Desired {
        config_digest: r.config_digest,
        host_file_digest: h.digest,
        service_digest: h.service_digest,
        pki_digest: None,
        backup_digest: None,
        crl_digest: None,
    }
}

pub fn running(i: &Inventory, name: &str) -> HostFacts {
    let d = &desired(i)[name];
    HostFacts {
        arch: "x86_64".into(),
        installed: vec![v("3.5.1")],
        current: Some(v("3.5.1")),
        config_digest: Some(d.config_digest.clone()),
        host_file_digest: Some(d.host_file_digest.clone()),
        active: true,
        enabled: true,
        pid: Some(100),
        has_data: true,
        ..HostFacts::default()
    }
}

pub fn fresh() -> HostFacts {
    HostFacts {
        arch: "x86_64".into(),
        ..HostFacts::default()
    }
}

pub fn entry(i: &Inventory, idx: usize, started: bool, learner: bool) -> MemberInfo {
    let m = &i.members[idx];
    MemberInfo {
        id: 0x100 + idx as u64,
        name: if started {
            m.name.clone()
        } else {
            String::new()
        },
        peer_urls: vec![m.peer_url()],
        client_urls: if started {
            vec![m.client_url()]
        } else {
            vec![]
        },
        is_learner: learner,
    }
}

pub fn status(id: u64) -> MemberStatus {
    MemberStatus {
        revision: 0,
        db_size_in_use: 16384,
        id,
        version: "3.5.1".into(),
        leader: 0x100,
        raft_term: 2,
        cluster_id: 1,
        raft_index: 10,
        raft_applied_index: 10,
        db_size: 20480,
        is_learner: false,
        errors: vec![],
        storage_version: String::new(),
        downgrade_target: String::new(),
    }
}

/// etcd-deploy's records of every inventory member, as each host keeps them.
pub fn host_records(i: &Inventory) -> Records {
    Records {
        serial: 1,
        cluster: i.cluster.name.clone(),
        members: i
            .members
            .iter()
            .map(|m| (m.name.clone(), recorded(m)))
            .collect(),
    }
}

pub fn converged(i: &Inventory) -> Facts {
    let records = host_records(i);
    Facts {
        hosts: i
            .members
            .iter()
            .map(|m| {
                let mut h = running(i, &m.name);
                h.records = Some(records.clone());
                (m.name.clone(), h)
            })
            .collect(),
        unreachable: BTreeMap::new(),
        cluster: ClusterFacts {
            members: Some(
                (0..i.members.len())
                    .map(|k| entry(i, k, true, false))
                    .collect(),
            ),
            status: i
                .members
                .iter()
                .enumerate()
                .map(|(k, m)| (m.name.clone(), status(0x100 + k as u64)))
                .collect(),
            cluster_version: Some("3.5.0".into()),
            alarms: vec![],
            others: BTreeMap::new(),
            silent: BTreeMap::new(),
            auth: None,
            auth_unread: None,
        },
        recorded: records.members.clone(),
        records_serial: records.serial,
    }
}

/// etcd-deploy's record of a member it set up (as `records::remember` writes it).
/// etcd-deploy's record of a former member at 10.0.0.9.
pub fn former_member() -> RecordedMember {
    RecordedMember {
        address: "10.0.0.9".into(),
        port: None,
        user: None,
        advertise: "10.0.0.9".into(),
        client_port: 2379,
        peer_port: 2380,
        peer_url: "http://10.0.0.9:2380".into(),
        adopted: false,
        made_by: String::new(),
    }
}

pub fn recorded(m: &Member) -> RecordedMember {
    RecordedMember::of(m)
}

/// The plan's steps but for `Step::Record` (see `step_names`).
pub fn acting(p: &Plan) -> Vec<&Step> {
    p.steps
        .iter()
        .filter(|s| !matches!(s, Step::Record { .. }))
        .collect()
}

/// The plan's steps by kind and member, but for `Step::Record` (which only
/// writes etcd-deploy's records, and comes first whenever a host's copy
/// differs: checked on its own in `records.rs`).
pub fn step_names(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .filter(|s| !matches!(s, Step::Record { .. }))
        .map(|s| match s {
            Step::Bootstrap { host } => format!("bootstrap {host}"),
            Step::Start { hosts, .. } => format!("start {}", hosts.join(",")),
            Step::Promote { host, .. } => format!("promote {host}"),
            Step::Join {
                host, added: None, ..
            } => format!("join {host}"),
            Step::Join {
                host,
                added: Some(_),
                ..
            } => format!("resume {host}"),
            Step::Restart { host, .. } => format!("restart {host}"),
            Step::Upgrade { rollout, .. } => {
                format!("upgrade {} to {}", rollout.order.join(","), rollout.to)
            }
            Step::Remove { name, .. } => format!("remove {name}"),
            Step::Retire { name, .. } => format!("retire {name}"),
            Step::Record { members, .. } => format!("record {}", members.join(",")),
            Step::Access { changes } => format!("access {}", changes.len()),
            Step::Adopt { order, .. } => format!("adopt {}", order.join(",")),
            Step::TlsMove { pass, order, .. } => format!("tls {pass:?} {}", order.join(",")),
            Step::Restore(r) => format!("restore {}", r.members.join(",")),
            Step::Destroy { members, data } => format!("destroy {} {data:?}", members.join(",")),
        })
        .collect()
}

pub fn five() -> Inventory {
    inv(&format!(
        "{GOOD}\n[[hosts]]\nname = \"etcd-4\"\naddress = \"10.0.0.4\"\n\n[[hosts]]\nname = \"etcd-5\"\naddress = \"10.0.0.5\"\n"
    ))
}

/// The facts of `plan_replace_joins_new_before_removing_old_leader`.
pub fn replaced_leader() -> (Inventory, Facts) {
    let f = converged(&inv(GOOD));
    let replaced = inv(&GOOD.replace(
        "name = \"etcd-1\"\naddress = \"10.0.0.1\"",
        "name = \"etcd-4\"\naddress = \"10.0.0.4\"",
    ));
    let mut f2 = f.clone();
    f2.hosts.remove("etcd-1");
    f2.hosts.insert("etcd-4".into(), fresh());
    let s1 = f2.cluster.status.remove("etcd-1").expect("etcd-1");
    f2.cluster.others.insert(0x100, Some(s1));
    (replaced, f2)
}

/// Three members on one host in compose mode: the single-machine pseudo-cluster.
pub fn pseudo_cluster() -> String {
    let mut text = GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\nmode = \"compose\"\nimage = \"release\"",
    );
    for (k, port) in [(2, 3379), (3, 4379)] {
        text = text.replace(
            &format!("address = \"10.0.0.{k}\""),
            &format!(
                "address = \"10.0.0.1\"\nclient_port = {port}\npeer_port = {}",
                port + 1
            ),
        );
    }
    text
}

/// A compose host that runs `name` as the desired state says.
pub fn compose_running(i: &Inventory, name: &str) -> HostFacts {
    let d = &desired(i)[name];
    HostFacts {
        service_digest: d.service_digest.clone(),
        compose: Some("docker compose".into()),
        engine: Some("20.10.24".into()),
        ..running(i, name)
    }
}

pub fn compose_converged(i: &Inventory) -> Facts {
    let mut f = converged(i);
    for m in &i.members {
        let mut h = compose_running(i, &m.name);
        h.records = Some(host_records(i));
        f.hosts.insert(m.name.clone(), h);
    }
    f
}

/// The host file (unit or compose file) of a member, as its runtime renders it.
pub fn host_file(i: &Inventory, m: &Member) -> HostFile {
    let t = Templates::load(i).expect("templates");
    runtime::of(m)
        .host_file(&t, i, m, &|_| i.cluster.version)
        .expect("render host file")
}
