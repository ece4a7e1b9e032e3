//! Tests of the pure parts, no hosts needed: inventory validation (one test
//! per error kind, with message and position), plan computation from facts,
//! and rendered templates against golden files (`UPDATE_GOLDEN=1` rewrites them).

use etcd_deploy::facts::{ClusterFacts, Facts, HostFacts, MemberInfo, MemberStatus};
use etcd_deploy::inventory::{Image, Inventory, InventoryError, Network, Version, parse};
use etcd_deploy::plan::{
    Data, Desired, ImageStep, Options, Plan, Scope, Step, initial_cluster, plan, plan_with,
};
use etcd_deploy::templates::{Bootstrap, Rendered, Templates};
use std::collections::BTreeMap;
use std::path::Path;

const GOOD: &str = r#"
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

fn inv(text: &str) -> Inventory {
    parse(Path::new("inventory.toml"), text).expect("valid inventory")
}

fn err(text: &str) -> InventoryError {
    parse(Path::new("inventory.toml"), text).expect_err("invalid inventory")
}

fn assert_err(text: &str, line: usize, col: usize, contains: &str) {
    let e = err(text);
    assert_eq!(e.position, Some((line, col)), "position of: {e}");
    let s = e.to_string();
    assert!(
        s.starts_with(&format!("inventory.toml:{line}:{col}: ")),
        "{s}"
    );
    assert!(s.contains(contains), "{s:?} should contain {contains:?}");
}

// --- inventory ---------------------------------------------------------------

#[test]
fn good_inventory_has_defaults() {
    let i = inv(GOOD);
    assert_eq!(
        i.cluster.version,
        Version {
            major: 3,
            minor: 5,
            patch: 1
        }
    );
    assert_eq!(i.cluster.token, "etcd-deploy-prod");
    assert_eq!(i.members.len(), 3);
    let m = &i.members[1];
    assert_eq!(m.advertise, "10.0.0.2");
    assert_eq!(m.peer_url(), "http://10.0.0.2:2380");
    assert_eq!(m.client_url(), "http://10.0.0.2:2379");
    assert_eq!(m.data_dir, "/var/lib/etcd");
    assert_eq!(m.ssh.user.as_deref(), Some("root"));
    assert!(i.warnings.is_empty());
}

#[test]
fn example_inventory_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inventory.example.toml"
    ))
    .expect("example exists");
    let i = parse(Path::new("inventory.example.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(i.members.len(), 3);
}

#[test]
fn unknown_key_is_refused_with_position() {
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\ncolour = \"blue\"",
        ),
        5,
        1,
        "unknown field `colour`",
    );
}

#[test]
fn unknown_key_in_host_is_refused() {
    assert_err(
        &GOOD.replace("address = \"10.0.0.2\"", "adress = \"10.0.0.2\""),
        18,
        1,
        "unknown field `adress`",
    );
}

#[test]
fn duplicate_host_name_is_refused() {
    assert_err(
        &GOOD.replace("name = \"etcd-3\"", "name = \"etcd-1\""),
        21,
        8,
        "hosts[2].name: `etcd-1` is already used by the host on line 13",
    );
}

#[test]
fn duplicate_address_is_refused() {
    assert_err(
        &GOOD.replace("address = \"10.0.0.3\"", "address = \"10.0.0.1\""),
        22,
        11,
        "10.0.0.1:2379 (client_port) is already used by host `etcd-1`",
    );
}

#[test]
fn malformed_version_is_refused() {
    assert_err(
        &GOOD.replace("\"3.5.1\"", "\"3.5\""),
        4,
        11,
        "cluster.version: `3.5` is not a release version like 3.5.17",
    );
    assert_err(
        &GOOD.replace("\"3.5.1\"", "\"3.5.x\""),
        4,
        11,
        "is not a release version",
    );
    assert_err(
        &GOOD.replace("\"3.5.1\"", "\"2.3.8\""),
        4,
        11,
        "etcd 2.3.8 is not supported",
    );
}

#[test]
fn empty_host_list_is_refused() {
    let text = "[cluster]\nname = \"a\"\nversion = \"3.5.1\"\nhosts = []\n";
    let e = err(text);
    assert!(
        e.to_string().contains("unknown field `hosts`")
            || e.to_string().contains("host list is empty"),
        "{e}"
    );
    let text = "hosts = []\n[cluster]\nname = \"a\"\nversion = \"3.5.1\"\n";
    assert_err(text, 1, 9, "hosts: the host list is empty");
}

#[test]
fn missing_required_field_is_refused() {
    let e = err(&GOOD.replace("version = \"3.5.1\"\n", ""));
    assert!(e.to_string().contains("missing field `version`"), "{e}");
    assert!(e.position.is_some(), "{e}");
}

#[test]
fn bad_release_source_is_refused() {
    assert_err(
        &GOOD.replace("\"http://127.0.0.1:18080\"", "\"ftp://x\""),
        7,
        10,
        "release.source: `ftp://x`: expected",
    );
}

#[test]
fn bad_enum_values_are_refused() {
    assert_err(
        &GOOD.replace(
            "user = \"root\"",
            "user = \"root\"\nhost_key_policy = \"yolo\"",
        ),
        11,
        19,
        "ssh.host_key_policy: `yolo`",
    );
    assert_err(
        &GOOD.replace("[ssh]", "[ssh]\nbecome = \"yes\""),
        10,
        10,
        "invalid type",
    );
}

#[test]
fn toml_syntax_error_has_position() {
    assert_err(&GOOD.replace("name = \"prod\"", "name = prod"), 3, 8, "");
}

#[test]
fn relative_data_dir_is_refused() {
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\ndata_dir = \"var/lib/etcd\"",
        ),
        5,
        12,
        "cluster.data_dir: `var/lib/etcd` must be an absolute path",
    );
}

#[test]
fn same_client_and_peer_port_is_refused() {
    assert_err(
        &GOOD.replace(
            "address = \"10.0.0.2\"",
            "address = \"10.0.0.2\"\npeer_port = 2379",
        ),
        19,
        13,
        "hosts[1].peer_port: client and peer port are both 2379",
    );
}

#[test]
fn bad_member_name_is_refused() {
    assert_err(
        &GOOD.replace("name = \"etcd-2\"", "name = \"etcd 2\""),
        17,
        8,
        "hosts[1].name: `etcd 2` is not a valid name",
    );
}

#[test]
fn extra_setting_cannot_override_managed_key() {
    assert_err(
        &GOOD.replace(
            "[ssh]",
            "[etcd]\nextra = { \"data-dir\" = \"/x\" }\n\n[ssh]",
        ),
        10,
        9,
        "etcd.extra: `data-dir` is set by etcd-deploy itself",
    );
}

#[test]
fn members_may_share_a_host_with_their_own_ports_and_data() {
    let shared = GOOD
        .replace("address = \"10.0.0.2\"", "address = \"10.0.0.1\"\nclient_port = 3379\npeer_port = 3380\ndata_dir = \"/var/lib/etcd-2\"")
        .replace("address = \"10.0.0.3\"", "address = \"10.0.0.1\"\nclient_port = 4379\npeer_port = 4380\ndata_dir = \"/var/lib/etcd-3\"");
    let i = inv(&shared);
    assert!(i.members.iter().all(|m| m.ssh.address == "10.0.0.1"));
    let facts = Facts {
        hosts: i
            .members
            .iter()
            .map(|m| (m.name.clone(), fresh()))
            .collect(),
        cluster: ClusterFacts::default(),
    };
    let text = plan(&i, &facts, &desired(&i)).to_string();
    assert!(
        text.starts_with("host 10.0.0.1: members etcd-1, etcd-2, etcd-3\n"),
        "{text}"
    );
    assert_eq!(i.members[2].client_url(), "http://10.0.0.1:4379");
    // Same data directory on the same host: refused.
    assert_err(
        &shared.replace(
            "data_dir = \"/var/lib/etcd-3\"",
            "data_dir = \"/var/lib/etcd-2\"",
        ),
        28,
        12,
        "hosts[2].data_dir: /var/lib/etcd-2 is already the data directory of `etcd-2` on the same host",
    );
    // Same port on the same address: refused.
    assert_err(
        &shared.replace("client_port = 4379", "client_port = 3379"),
        25,
        11,
        "10.0.0.1:3379 (client_port) is already used by host `etcd-2`",
    );
}

#[test]
fn even_member_count_warns() {
    let text = GOOD.replace("[[hosts]]\nname = \"etcd-3\"\naddress = \"10.0.0.3\"\n", "");
    let i = inv(&text);
    assert_eq!(i.members.len(), 2);
    assert_eq!(i.warnings.len(), 1);
    assert!(
        i.warnings[0].contains("2 members tolerate 0 failures"),
        "{}",
        i.warnings[0]
    );
    let text = format!("{GOOD}\n[[hosts]]\nname = \"etcd-4\"\naddress = \"10.0.0.4\"\n");
    assert!(inv(&text).warnings[0].contains("4 members tolerate 1 failure, the same as 3"));
}

#[test]
fn per_host_overrides_apply() {
    let text = GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"jump-2\"\nadvertise = \"10.1.0.2\"\nclient_port = 12379\ndata_dir = \"/srv/etcd\"\nssh = { user = \"ops\", become = true }\netcd = { log_level = \"warn\" }",
    );
    let i = inv(&text);
    let m = &i.members[1];
    assert_eq!(m.ssh.address, "jump-2");
    assert_eq!(m.client_url(), "http://10.1.0.2:12379");
    assert_eq!(m.data_dir, "/srv/etcd");
    assert_eq!(m.ssh.user.as_deref(), Some("ops"));
    assert!(m.ssh.become_root);
    assert_eq!(m.settings.log_level, "warn");
    assert_eq!(i.members[0].settings.log_level, "info");
}

// --- templates ---------------------------------------------------------------

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

#[test]
fn templates_render_golden() {
    let text = GOOD.replace("[ssh]", "[etcd]\nsnapshot_count = 50000\nauto_compaction_mode = \"periodic\"\nauto_compaction_retention = \"1h\"\nextra = { \"max-request-bytes\" = 1572864, \"experimental-initial-corrupt-check\" = true }\n\n[ssh]");
    let i = inv(&text);
    let t = Templates::load(&i).expect("templates");
    let b = Bootstrap {
        initial_cluster: "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380".into(),
        state: "existing",
    };
    let r = t.render(&i, &i.members[1], Some(&b)).expect("render");
    golden("etcd.conf.yml", &r.config);
    golden("etcd.service", &r.host_file);
}

#[test]
fn settings_digest_ignores_bootstrap_fields() {
    let i = inv(GOOD);
    let t = Templates::load(&i).expect("templates");
    let m = &i.members[0];
    let a = t
        .render(
            &i,
            m,
            Some(&Bootstrap {
                initial_cluster: "etcd-1=http://10.0.0.1:2380".into(),
                state: "new",
            }),
        )
        .expect("render");
    let b = t
        .render(
            &i,
            m,
            Some(&Bootstrap {
                initial_cluster: "x=y".into(),
                state: "existing",
            }),
        )
        .expect("render");
    assert_ne!(a.config, b.config);
    assert_eq!(a.config_digest, b.config_digest);
    let changed = inv(&GOOD.replace("[ssh]", "[etcd]\nheartbeat_interval_ms = 150\n\n[ssh]"));
    let c = Templates::load(&changed)
        .expect("templates")
        .render(&changed, &changed.members[0], None)
        .expect("render");
    assert_ne!(a.config_digest, c.config_digest);
    assert_eq!(a.host_file_digest, c.host_file_digest);
}

#[test]
fn template_override_directory_and_strict_undefined() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("etcd.service.j2"),
        "[Service]\nExecStart={{ paths.binary }} # {{ cluster.name }}\n",
    )
    .expect("write");
    let text = GOOD.replace(
        "version = \"3.5.1\"",
        &format!(
            "version = \"3.5.1\"\ntemplates_dir = \"{}\"",
            dir.path().display()
        ),
    );
    let i = inv(&text);
    let r = Templates::load(&i)
        .expect("templates")
        .render(&i, &i.members[0], None)
        .expect("render");
    assert_eq!(
        r.host_file,
        "[Service]\nExecStart=/opt/etcd/current/etcd # prod\n"
    );
    // The unit is shared by the members of a host: member variables are not defined there.
    std::fs::write(dir.path().join("etcd.service.j2"), "{{ member.name }}\n").expect("write");
    let e = Templates::load(&i)
        .expect("templates")
        .render(&i, &i.members[0], None)
        .expect_err("undefined variable");
    assert!(e.to_string().contains("etcd.service.j2"), "{e}");
}

// --- plan --------------------------------------------------------------------

fn v(s: &str) -> Version {
    Version::parse(s).expect("version")
}

fn desired(i: &Inventory) -> BTreeMap<String, Desired> {
    let t = Templates::load(i).expect("templates");
    i.members
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                to_desired(t.render(i, m, None).expect("render")),
            )
        })
        .collect()
}

fn to_desired(r: Rendered) -> Desired {
    Desired {
        config_digest: r.config_digest,
        host_file_digest: r.host_file_digest,
        service_digest: r.service_digest,
        pki_digest: None,
    }
}

fn running(i: &Inventory, name: &str) -> HostFacts {
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

fn fresh() -> HostFacts {
    HostFacts {
        arch: "x86_64".into(),
        ..HostFacts::default()
    }
}

fn entry(i: &Inventory, idx: usize, started: bool, learner: bool) -> MemberInfo {
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

fn status(id: u64) -> MemberStatus {
    MemberStatus {
        id,
        version: "3.5.1".into(),
        leader: 0x100,
        raft_term: 2,
        raft_index: 10,
        raft_applied_index: 10,
        db_size: 20480,
        is_learner: false,
        errors: vec![],
    }
}

fn converged(i: &Inventory) -> Facts {
    Facts {
        hosts: i
            .members
            .iter()
            .map(|m| (m.name.clone(), running(i, &m.name)))
            .collect(),
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
        },
    }
}

fn step_names(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| match s {
            Step::Bootstrap { host } => format!("bootstrap {host}"),
            Step::Start { hosts } => format!("start {}", hosts.join(",")),
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
        })
        .collect()
}

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
    f.cluster.alarms.push("Nospace on 101".into());
    let next = inv(&GOOD.replace("3.5.1", "3.5.2"));
    let p = plan(&next, &f, &desired(&next));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("alarms are raised (Nospace on 101)")),
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

fn five() -> Inventory {
    inv(&format!(
        "{GOOD}\n[[hosts]]\nname = \"etcd-4\"\naddress = \"10.0.0.4\"\n\n[[hosts]]\nname = \"etcd-5\"\naddress = \"10.0.0.5\"\n"
    ))
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
            "- etcd-4       remove member 103 (10.0.0.4), stop and disable its etcd (data kept)"
        ),
        "{text}"
    );
}

#[test]
fn plan_replace_joins_new_before_removing_old_leader() {
    let three = inv(GOOD);
    let f = converged(&three);
    // etcd-1 (the leader, 0x100) is replaced by etcd-4.
    let replaced = inv(&GOOD.replace(
        "name = \"etcd-1\"\naddress = \"10.0.0.1\"",
        "name = \"etcd-4\"\naddress = \"10.0.0.4\"",
    ));
    let mut f2 = f.clone();
    f2.hosts.remove("etcd-1");
    f2.hosts.insert("etcd-4".into(), fresh());
    let s1 = f2.cluster.status.remove("etcd-1").expect("etcd-1");
    f2.cluster.others.insert(0x100, Some(s1));
    let p = plan(&replaced, &f2, &desired(&replaced));
    assert_eq!(step_names(&p), ["join etcd-4", "remove etcd-1"]);
    assert!(
        p.to_string()
            .contains("- etcd-1       move leadership to another member, remove member 100"),
        "{p}"
    );
}

/// The facts of `plan_replace_joins_new_before_removing_old_leader`.
fn replaced_leader() -> (Inventory, Facts) {
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
        text.contains("stop and disable its etcd, DELETE its data directory")
            && text.ends_with("Plan: 3 steps (replace etcd-1 with etcd-4).\n"),
        "{text}"
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
            |b| b.contains("1 healthy members would remain of 2 voters; quorum needs 2")
        ),
        "{p}"
    );
}

#[test]
fn tls_inventory_makes_https_urls_and_config() {
    let i = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    assert!(
        matches!(&i.tls, etcd_deploy::inventory::TlsMode::Generate { dir } if dir.ends_with("pki"))
    );
    assert_eq!(i.members[0].peer_url(), "https://10.0.0.1:2380");
    let r = Templates::load(&i)
        .expect("templates")
        .render(&i, &i.members[0], None)
        .expect("render");
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

#[test]
fn plan_refuses_switching_a_running_cluster_to_tls() {
    let plain = inv(GOOD);
    let f = converged(&plain);
    let tls = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    let p = plan(&tls, &f, &desired(&tls));
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("etcd-1 runs with http, and the inventory says https")),
        "{p}"
    );
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

// --- compose mode --------------------------------------------------------------

/// Three members on one host in compose mode: the single-machine pseudo-cluster.
fn pseudo_cluster() -> String {
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
fn compose_running(i: &Inventory, name: &str) -> HostFacts {
    let d = &desired(i)[name];
    HostFacts {
        service_digest: d.service_digest.clone(),
        compose: Some("docker compose".into()),
        engine: Some("20.10.24".into()),
        ..running(i, name)
    }
}

fn compose_converged(i: &Inventory) -> Facts {
    let mut f = converged(i);
    for m in &i.members {
        f.hosts.insert(m.name.clone(), compose_running(i, &m.name));
    }
    f
}

#[test]
fn compose_inventory_defaults_to_the_official_image_and_host_network() {
    let i = inv(&GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\nmode = \"compose\"",
    ));
    let m = &i.members[0];
    let c = m.compose().expect("compose member");
    assert_eq!(
        c.image,
        Image::Registry("gcr.io/etcd-development/etcd:v{version}".into())
    );
    assert_eq!(
        c.image.reference(v("3.5.1")),
        "gcr.io/etcd-development/etcd:v3.5.1"
    );
    assert_eq!(c.network, Network::Host);
    assert_eq!(
        m.data_dir, "/var/lib/etcd/etcd-1",
        "one bind-mounted data directory per member"
    );
    assert_eq!(
        (m.peer_url(), m.listen_peer_url()),
        ("http://10.0.0.1:2380".into(), "http://10.0.0.1:2380".into())
    );
    // Per host: back to systemd.
    let i = inv(&GOOD
        .replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"compose\"",
        )
        .replace(
            "address = \"10.0.0.3\"",
            "address = \"10.0.0.3\"\nmode = \"systemd\"",
        ));
    assert!(i.members[2].compose().is_none() && i.members[1].compose().is_some());
}

#[test]
fn compose_members_sharing_a_host_get_a_bridge_and_peer_by_name() {
    let i = inv(&pseudo_cluster());
    let m = &i.members[1];
    assert_eq!(
        m.compose().map(|c| c.network),
        Some(Network::Bridge {
            peers_by_name: true
        })
    );
    assert_eq!(m.peer_url(), "http://etcd-2:3380");
    assert_eq!(m.client_url(), "http://10.0.0.1:3379");
    assert_eq!(
        (m.listen_peer_url(), m.listen_client_url()),
        ("http://0.0.0.0:3380".into(), "http://0.0.0.0:3379".into())
    );
    let t = Templates::load(&i).expect("templates");
    let r = t.render(&i, m, None).expect("render");
    golden("compose.yml", &r.host_file);
    assert!(
        r.config
            .contains("listen-client-urls: \"http://0.0.0.0:3379\""),
        "{}",
        r.config
    );
    // One file per host; each member's service digest is its own.
    let r0 = t.render(&i, &i.members[0], None).expect("render");
    assert_eq!(r0.host_file_digest, r.host_file_digest);
    assert_ne!(r0.service_digest, r.service_digest);
}

#[test]
fn compose_inventory_errors_name_the_field() {
    let compose = |extra: &str| {
        GOOD.replace(
            "version = \"3.5.1\"",
            &format!("version = \"3.5.1\"\nmode = \"compose\"\n{extra}"),
        )
    };
    assert_err(
        &compose("image = \"quay.io/coreos/etcd:latest\""),
        6,
        9,
        "cluster.image: `quay.io/coreos/etcd:latest`: expected \"release\"",
    );
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nimage = \"release\"",
        ),
        5,
        9,
        "cluster.image: an image is only used in compose mode",
    );
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"docker\"",
        ),
        5,
        8,
        "cluster.mode: `docker`: expected one of \"systemd\", \"compose\"",
    );
    // Two modes on one host.
    let mixed = GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.1\"\nclient_port = 3379\npeer_port = 3380\nmode = \"compose\"",
    );
    assert_err(
        &mixed,
        21,
        8,
        "hosts[1].mode: `etcd-1` on the same host runs in systemd mode; members sharing a host use one mode",
    );
    // A bridge on a loopback address cannot reach peers on other hosts.
    let text = pseudo_cluster().replace("10.0.0.", "127.0.0.")
        + "\n[[hosts]]\nname = \"etcd-4\"\naddress = \"127.0.0.9\"\n";
    let e = err(&text).to_string();
    assert!(
        e.contains(
            "is a loopback address, which containers on the bridge of a shared host cannot reach"
        ),
        "{e}"
    );
}

#[test]
fn compose_plan_fresh_builds_the_release_image_and_writes_the_compose_file() {
    let i = inv(&pseudo_cluster());
    let hosts = i.members.iter().map(|m| {
        (
            m.name.clone(),
            HostFacts {
                compose: Some("docker-compose".into()),
                engine: Some("20.10.24".into()),
                ..fresh()
            },
        )
    });
    let facts = Facts {
        hosts: hosts.collect(),
        cluster: ClusterFacts::default(),
    };
    let p = plan(&i, &facts, &desired(&i));
    assert!(
        p.prepare.iter().all(|x| x.link.is_none()
            && x.image == Some(ImageStep::Build("etcd-deploy/etcd:v3.5.1".into()))),
        "{p}"
    );
    assert_eq!(
        step_names(&p),
        ["bootstrap etcd-1", "join etcd-2", "join etcd-3"]
    );
    assert!(p.to_string().contains("+ etcd-1       install etcd 3.5.1, build image etcd-deploy/etcd:v3.5.1, write compose file"), "{p}");
}

#[test]
fn compose_plan_recreates_only_the_changed_service() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    assert!(
        plan(&i, &f, &desired(&i)).is_empty(),
        "re-apply recreates nothing"
    );
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.service_digest = Some("an older service".into());
    }
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["restart etcd-2"], "{p}");
    assert!(
        p.to_string()
            .contains("restart (container definition changed)"),
        "{p}"
    );
}

#[test]
fn plan_refuses_to_switch_a_running_member_between_systemd_and_compose() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.other_runtime_active = true;
        h.active = false;
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert!(
        b.starts_with("etcd-2 runs as a systemd unit, and the inventory says mode = \"compose\""),
        "{b}"
    );
}

#[test]
fn compose_plan_is_blocked_without_compose_or_engine() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-1") {
        h.compose = None;
    }
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(
        p.blocked.as_deref(),
        Some(
            "host 10.0.0.1 (members etcd-1, etcd-2, etcd-3): neither `docker compose` nor `docker-compose` is installed on this host, and compose mode needs one of them (or set mode = \"systemd\" for this host)"
        )
    );
    assert!(p.steps.is_empty() && p.prepare.is_empty());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-3") {
        h.engine = None;
    }
    assert!(
        plan(&i, &f, &desired(&i))
            .blocked
            .is_some_and(|b| b.contains("the Docker engine does not answer"))
    );
}

#[test]
fn plan_refuses_to_change_a_running_members_peer_url() {
    let i = inv(GOOD);
    let edited = inv(&GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.2\"\npeer_port = 2390",
    ));
    let mut f = converged(&i);
    // The old entry no longer matches by peer URL: it is one of the others, and it answers.
    f.cluster.others.insert(0x101, Some(status(0x101)));
    let p = plan(&edited, &f, &desired(&edited));
    let b = p.blocked.expect("blocked");
    assert!(b.starts_with("etcd-2 runs with peer URL http://10.0.0.2:2380, and the inventory gives it http://10.0.0.2:2390"), "{b}");
    assert!(p.steps.is_empty());
}

#[test]
fn plan_refuses_files_of_another_cluster() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.config_cluster = Some("staging".into());
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert_eq!(
        b,
        "etcd-2 on host 10.0.0.2: /etc/etcd/etcd-2.conf.yml belongs to etcd cluster staging, not prod; member names must be unique on a host across clusters: rename this member, or use another host (if this is cluster staging renamed: set cluster.name back, the name is its identity on the hosts)"
    );
    let mut f = converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-3") {
        h.unit_cluster = Some("staging".into());
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert!(
        b.starts_with(
            "host 10.0.0.3: /etc/systemd/system/etcd@.service runs members of etcd cluster staging"
        ),
        "{b}"
    );
    // Our own files are ours.
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        (h.config_cluster, h.unit_cluster) = (Some("prod".into()), Some("prod".into()));
    }
    assert!(plan(&i, &f, &desired(&i)).is_empty());
}
