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
        ..Facts::default()
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
        "hosts[2].data_dir: its data directory /var/lib/etcd-2 and /var/lib/etcd-2 of `etcd-2` on the same host must not contain one another",
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

/// Issue 14: with no inventory argument, $ETCD_DEPLOY_INVENTORY, else
/// ./inventory.toml (restore, with two positionals, still needs it).
#[test]
fn the_inventory_argument_defaults_like_other_tools() {
    use clap::Parser;
    use etcd_deploy::cli::{Cli, Command};
    if std::env::var_os("ETCD_DEPLOY_INVENTORY").is_some() {
        return;
    }
    let cli = Cli::try_parse_from(["etcd-deploy", "plan"]).expect("parses");
    match cli.command {
        Command::Plan { inventory, .. } => {
            assert_eq!(inventory, std::path::PathBuf::from("inventory.toml"))
        }
        other => panic!("{other:?}"),
    }
    assert!(Cli::try_parse_from(["etcd-deploy", "restore", "snap.db"]).is_err());
}

/// clap's own consistency checks over every subcommand (an optional
/// positional before a required one panics only when that command runs).
#[test]
fn the_command_line_is_consistent() {
    use clap::CommandFactory;
    etcd_deploy::cli::Cli::command().debug_assert();
}

#[test]
fn metrics_port_gives_a_plain_http_listener_and_clashes_are_refused() {
    let i = inv(&GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\nmetrics_port = 2381",
    ));
    let m = &i.members[0];
    assert_eq!(m.metrics_port, Some(2381));
    assert_eq!(m.metrics_url().as_deref(), Some("http://10.0.0.1:2381"));
    let r = member_config::render(&i, m, None).expect("render");
    assert!(
        r.config
            .contains("listen-metrics-urls: \"http://10.0.0.1:2381\""),
        "{}",
        r.config
    );
    // Off by default: the config is as before (no restart on upgrade of the tool).
    let plain = inv(GOOD);
    assert_eq!(plain.members[0].metrics_port, None);
    let r = member_config::render(&plain, &plain.members[0], None).expect("render");
    assert!(!r.config.contains("listen-metrics-urls"));
    // A host's own port wins; the same as its client port is refused.
    let e = err(&GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.2\"\nmetrics_port = 2379",
    ));
    assert!(e.to_string().contains("hosts[1].metrics_port"), "{e}");
    assert!(e.to_string().contains("client or peer port"), "{e}");
    // Not both ways.
    let e = err(&GOOD
        .replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmetrics_port = 2381",
        )
        .replace(
            "[release]",
            "[etcd]\nextra = { \"listen-metrics-urls\" = \"http://0.0.0.0:9000\" }\n\n[release]",
        ));
    assert!(e.to_string().contains("also set in etcd.extra"), "{e}");
}

#[test]
fn renewal_window_is_checked() {
    let with = |days: &str| {
        GOOD.replace(
            "[ssh]",
            &format!("[tls]\nmode = \"generate\"\nrenew_before_days = {days}\n\n[ssh]"),
        )
    };
    let i = inv(&with("60"));
    assert!(matches!(
        i.tls,
        etcd_deploy::inventory::TlsMode::Generate {
            renew_before_days: 60,
            ..
        }
    ));
    for bad in ["0", "825"] {
        let e = err(&with(bad));
        assert!(e.to_string().contains("tls.renew_before_days"), "{e}");
        assert!(e.to_string().contains("between 1 and 824"), "{e}");
    }
    // The default: 30 days.
    let i = inv(&GOOD.replace("[ssh]", "[tls]\nmode = \"generate\"\n\n[ssh]"));
    assert!(matches!(
        i.tls,
        etcd_deploy::inventory::TlsMode::Generate {
            renew_before_days: 30,
            ..
        }
    ));
}

#[test]
fn scheduled_snapshots_need_the_release_on_compose_hosts() {
    let compose = GOOD
        .replace("[release]", "[backup]\nschedule = \"hourly\"\n\n[release]")
        .replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"compose\"",
        );
    let e = err(&compose).to_string();
    assert!(e.contains("backup: etcd-1 runs a registry image"), "{e}");
    inv(&compose.replace(
        "mode = \"compose\"",
        "mode = \"compose\"\nimage = \"release\"",
    ));
}
