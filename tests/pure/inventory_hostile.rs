//! Inventory values a typo or an attacker would write (issue 11's findings and
//! friends): each refused before any connection, with file:line:col and the
//! field, and nothing it names reaches a shell, a path or YAML unchecked.

use super::common::*;

/// Refused with a position and a message naming `contains`.
fn refused(text: &str, contains: &str) {
    let e = err(text);
    assert!(e.position.is_some(), "no position: {e}");
    assert!(
        e.to_string().contains(contains),
        "{e} should say {contains:?}"
    );
}

#[test]
fn finding_8_address_starting_with_a_dash_is_refused() {
    refused(
        &GOOD.replace(
            "address = \"10.0.0.2\"",
            "address = \"-oProxyCommand=touch /tmp/x\"",
        ),
        "hosts[1].address: `-oProxyCommand=touch /tmp/x` is not a host name",
    );
}

#[test]
fn finding_8_advertise_with_shell_or_url_characters_is_refused() {
    for bad in ["10.0.0.2;reboot", "10.0.0.2:2379", "a b"] {
        refused(
            &GOOD.replace(
                "address = \"10.0.0.2\"",
                &format!("address = \"10.0.0.2\"\nadvertise = \"{bad}\""),
            ),
            "hosts[1].advertise",
        );
    }
    // IPv6 literals are addresses.
    inv(&GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.2\"\nadvertise = \"fd00::2\"",
    ));
}

#[test]
fn finding_8_port_zero_is_refused() {
    refused(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nclient_port = 0",
        ),
        "cluster.client_port: port 0",
    );
    refused(
        &GOOD.replace(
            "address = \"10.0.0.2\"",
            "address = \"10.0.0.2\"\npeer_port = 0",
        ),
        "hosts[1].peer_port: port 0",
    );
    refused(
        &GOOD.replace("user = \"root\"", "user = \"root\"\nport = 0"),
        "ssh.port",
    );
}

#[test]
fn finding_8_heartbeat_that_overflows_the_five_times_check_is_refused() {
    refused(
        &GOOD.replace(
            "[ssh]",
            "[etcd]\nheartbeat_interval_ms = 4294967295\nelection_timeout_ms = 1000\n\n[ssh]",
        ),
        "must be at least 5 times",
    );
    refused(
        &GOOD.replace("[ssh]", "[etcd]\nelection_timeout_ms = 60000\n\n[ssh]"),
        "above etcd's maximum of 50000",
    );
}

#[test]
fn finding_8_compaction_retention_must_be_a_number_or_duration() {
    refused(
        &GOOD.replace(
            "[ssh]",
            "[etcd]\nauto_compaction_retention = \"banana\"\n\n[ssh]",
        ),
        "etcd.auto_compaction_retention: `banana`",
    );
    for ok in ["1", "72", "1h", "30m", "1h30m", "2.5h"] {
        inv(&GOOD.replace(
            "[ssh]",
            &format!("[etcd]\nauto_compaction_retention = \"{ok}\"\n\n[ssh]"),
        ));
    }
}

#[test]
fn finding_8_missing_templates_dir_and_identity_file_are_refused() {
    refused(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\ntemplates_dir = \"/nonexistent/templates\"",
        ),
        "cluster.templates_dir: /nonexistent/templates is not a directory",
    );
    refused(
        &GOOD.replace(
            "user = \"root\"",
            "user = \"root\"\nidentity_file = \"/nonexistent/key\"",
        ),
        "ssh.identity_file: /nonexistent/key is not a file",
    );
}

#[test]
fn finding_8_release_source_must_name_a_host_or_a_directory() {
    for bad in [
        "https://",
        "http:///path",
        "file:///etc/passwd",
        "file://relative",
    ] {
        refused(
            &GOOD.replace("\"http://127.0.0.1:18080\"", &format!("\"{bad}\"")),
            "release.source",
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mirror = GOOD.replace(
        "\"http://127.0.0.1:18080\"",
        &format!("\"file://{}\"", dir.path().display()),
    );
    // Laid out like the release pages: a vX.Y.Z directory per release.
    refused(&mirror, "a vX.Y.Z directory per release");
    std::fs::create_dir(dir.path().join("v3.5.1")).expect("mkdir");
    inv(&mirror);
    inv(&GOOD.replace("\"http://127.0.0.1:18080\"", "\"http://[::1]:18080/etcd\""));
}

#[test]
fn finding_8_install_dir_with_spaces_or_percent_is_refused() {
    for bad in ["/opt/my etcd", "/opt/etcd%i", "/opt/./etcd", "/opt//etcd"] {
        refused(
            &GOOD.replace(
                "version = \"3.5.1\"",
                &format!("version = \"3.5.1\"\ninstall_dir = \"{bad}\""),
            ),
            "cluster.install_dir",
        );
    }
}

#[test]
fn finding_8_a_version_with_a_v_is_refused() {
    refused(
        &GOOD.replace("\"3.5.1\"", "\"v3.5.1\""),
        "`v3.5.1` is not a release version",
    );
}

#[test]
fn finding_8_echoed_values_are_bounded_and_escaped() {
    let long = "a".repeat(100_000);
    let e = err(&GOOD.replace("name = \"etcd-2\"", &format!("name = \"{long}\"")));
    assert!(e.to_string().len() < 400, "{} bytes", e.to_string().len());
    let e = err(&GOOD.replace("name = \"etcd-2\"", "name = \"x\\u001b[2Ky\""));
    assert!(!e.to_string().contains('\u{1b}'), "{e:?}");
}

#[test]
fn finding_8_a_huge_inventory_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("inventory.toml");
    let mut text = GOOD.to_string();
    text.push_str(&format!("# {}\n", "x".repeat(2 << 20)));
    std::fs::write(&path, text).expect("write");
    let e = Inventory::load(&path).expect_err("too large");
    assert!(e.to_string().contains("too large for an inventory"), "{e}");
}

#[test]
fn findings_2_and_3_system_directories_are_refused_for_data_and_install() {
    for (key, dir) in [
        ("install_dir", "/usr"),
        ("install_dir", "/usr/local/share"),
        ("install_dir", "/"),
        ("data_dir", "/etc"),
        ("data_dir", "/"),
        ("data_dir", "/var/lib"),
        ("data_dir", "/etc/etcd/data"),
        ("data_dir", "/home"),
    ] {
        refused(
            &GOOD.replace(
                "version = \"3.5.1\"",
                &format!("version = \"3.5.1\"\n{key} = \"{dir}\""),
            ),
            &format!("cluster.{key}"),
        );
    }
    refused(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\ninstall_dir = \"/srv/etcd\"\ndata_dir = \"/srv/etcd/data\"",
        ),
        "must not contain one another",
    );
    inv(&GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\ninstall_dir = \"/srv/etcd-bin\"\ndata_dir = \"/srv/etcd-data\"",
    ));
}

#[test]
fn finding_5_extra_keys_cannot_inject_yaml_or_respell_managed_keys() {
    for key in [
        "a\\ndata-dir: /etc",
        "Data-Dir",
        "data-dir ",
        "data_dir",
        "DATA-DIR",
    ] {
        let e = err(&GOOD.replace(
            "[ssh]",
            &format!("[etcd]\nextra = {{ \"{key}\" = \"/etc\" }}\n\n[ssh]"),
        ));
        assert!(
            e.to_string().contains("etcd.extra") && e.position.is_some(),
            "{key}: {e}"
        );
    }
}

#[test]
fn finding_7_an_unusable_known_hosts_file_is_refused_unless_checking_is_off() {
    refused(
        &GOOD.replace(
            "user = \"root\"",
            "user = \"root\"\nknown_hosts_file = \"/nonexistent/dir/known_hosts\"",
        ),
        "ssh.known_hosts_file",
    );
    inv(&GOOD.replace(
        "user = \"root\"",
        "user = \"root\"\nknown_hosts_file = \"/nonexistent/dir/known_hosts\"\nhost_key_policy = \"off\"",
    ));
}

#[test]
fn finding_4_env_output_survives_eval_with_spaces_quotes_and_dollars() {
    let dir = "/tmp/a b/it's $(touch /tmp/etcd-deploy-env-pwned) `x`";
    let i = inv(&GOOD.replace(
        "[ssh]",
        &format!(
            "[tls]\nmode = \"generate\"\ndir = \"{}\"\n\n[ssh]",
            dir.replace('\\', "\\\\")
        ),
    ));
    let text = etcd_deploy::commands::lifecycle::env_text(&i);
    let script = format!("{text}\nprintf '%s\\n' \"$ETCDCTL_CACERT\" \"$ETCDCTL_ENDPOINTS\"");
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed,
        format!(
            "{dir}/ca.crt\nhttps://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379\n"
        ),
        "{text}"
    );
    assert!(!Path::new("/tmp/etcd-deploy-env-pwned").exists());
}

#[test]
fn finding_5_extra_keys_are_etcds_own_for_the_version_with_their_types() {
    let with = |version: &str, extra: &str| {
        GOOD.replace("\"3.5.1\"", &format!("\"{version}\""))
            .replace("[ssh]", &format!("[etcd]\nextra = {{ {extra} }}\n\n[ssh]"))
    };
    inv(&with(
        "3.5.1",
        "\"max-request-bytes\" = 2097152, \"enable-log-rotation\" = false",
    ));
    refused(
        &with("3.5.1", "\"max-requests-bytes\" = 1"),
        "not a key of etcd's config file",
    );
    refused(
        &with("3.5.1", "\"max-request-bytes\" = \"2MB\""),
        "takes a whole number",
    );
    refused(
        &with("3.5.1", "\"enable-v2\" = \"yes\""),
        "takes true or false",
    );
    refused(
        &with("3.5.1", "\"grpc-keepalive-min-time\" = \"5s\""),
        "whole number of nanoseconds",
    );
    refused(
        &with("3.4.23", "\"enable-log-rotation\" = true"),
        "not a config key of etcd 3.4 (only of 3.5, 3.6, 3.7)",
    );
    // Issue 24: keys per minor, and a renamed key named in the other
    // version's spelling.
    refused(
        &with("3.7.4", "\"enable-v2\" = true"),
        "not a config key of etcd 3.7 (only of 3.4, 3.5: etcd 3.6 removed it)",
    );
    refused(
        &with("3.7.4", "\"experimental-compaction-batch-limit\" = 500"),
        "not a config key of etcd 3.7 (etcd 3.6 renamed it `compaction-batch-limit`)",
    );
    refused(
        &with("3.7.4", "\"experimental-initial-corrupt-check\" = true"),
        "etcd 3.6 made it a feature gate: feature-gates = \"InitialCorruptCheck=true\"",
    );
    refused(
        &with("3.5.36", "\"compaction-batch-limit\" = 500"),
        "not a config key of etcd 3.5 (before 3.6 its name is `experimental-compaction-batch-limit`)",
    );
    inv(&with(
        "3.7.4",
        "\"compaction-batch-limit\" = 500, \"feature-gates\" = \"InitialCorruptCheck=true\"",
    ));
    // 3.6 still takes the old name: a warning names the new one.
    let i = inv(&with(
        "3.6.17",
        "\"experimental-compaction-batch-limit\" = 500",
    ));
    assert!(
        i.warnings.iter().any(|w| w.contains(
            "`experimental-compaction-batch-limit` is deprecated since etcd 3.6 and gone in a later minor; use `compaction-batch-limit`"
        )),
        "{:?}",
        i.warnings
    );
    // Issue 12: a URL list etcd would refuse at start is refused here.
    inv(&with(
        "3.5.1",
        "\"listen-metrics-urls\" = \"http://127.0.0.1:2381, http://10.0.0.1:2381\"",
    ));
    refused(
        &with("3.5.1", "\"listen-metrics-urls\" = \"nonsense://m2\""),
        "takes comma-separated http:// or https:// URLs",
    );
}

#[test]
fn finding_8_an_image_docker_would_read_as_an_option_is_refused() {
    refused(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"compose\"\nimage = \"--privileged={version}\"",
        ),
        "cluster.image",
    );
}
