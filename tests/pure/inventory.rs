//! Inventory validation: one test per error kind, with message and position; defaults and overrides.

use super::common::*;

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
