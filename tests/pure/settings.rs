//! The settings table (`inventory::etcd_settings`): what it says about
//! each key, checked against the behaviour the rest of the tool had before
//! the table was one (data-driven).

use crate::common::*;
use etcd_deploy::inventory::etcd_settings::{self, Adopt};

fn v(s: &str) -> Version {
    Version::parse(s).expect("version")
}

#[test]
fn the_keys_etcd_deploy_sets_itself_are_refused_in_extra() {
    let managed: Vec<&str> = etcd_settings::SETTINGS
        .iter()
        .filter(|s| s.managed())
        .map(|s| s.key)
        .collect();
    assert_eq!(
        managed,
        [
            "name",
            "data-dir",
            "listen-peer-urls",
            "listen-client-urls",
            "initial-advertise-peer-urls",
            "advertise-client-urls",
            "heartbeat-interval",
            "election-timeout",
            "snapshot-count",
            "quota-backend-bytes",
            "auto-compaction-mode",
            "auto-compaction-retention",
            "logger",
            "log-level",
            "log-outputs",
            "initial-cluster",
            "initial-cluster-token",
            "initial-cluster-state",
        ]
    );
    for key in managed {
        let text = format!("{GOOD}\n[etcd.extra]\n{key} = \"x\"\n");
        let e = err(&text).to_string();
        assert!(e.contains("is set by etcd-deploy itself"), "{key}: {e}");
    }
    // Allowed there (metrics only when `metrics_port` is not set).
    inv(&format!(
        "{GOOD}\n[etcd.extra]\nlisten-metrics-urls = \"http://127.0.0.1:2381\"\nmax-request-bytes = 2097152\n"
    ));
}

#[test]
fn etcd_s_defaults_follow_the_minor_version() {
    let cases = [
        ("snapshot-count", "3.4.23", Some("100000")),
        ("snapshot-count", "3.5.26", Some("100000")),
        ("snapshot-count", "3.6.0", Some("10000")),
        ("snapshot-count", "3.7.3", Some("10000")),
        ("heartbeat-interval", "3.6.5", Some("100")),
        ("max-request-bytes", "3.5.1", Some("1572864")),
        ("listen-metrics-urls", "3.5.1", None),
        ("no-such-key", "3.5.1", None),
    ];
    for (key, version, want) in cases {
        assert_eq!(
            etcd_settings::etcd_default(key, v(version)),
            want,
            "{key} in {version}"
        );
    }
}

#[test]
fn a_foreign_etcd_is_read_for_the_compared_and_checked_keys() {
    let read: Vec<&str> = etcd_settings::foreign_keys().collect();
    assert_eq!(read.len(), 16, "{read:?}");
    for key in ["wal-dir", "cert-file", "peer-cert-file"] {
        let s = etcd_settings::setting(key).expect("row");
        assert_eq!(s.adopt, Adopt::Checked, "{key}");
    }
}

#[test]
fn the_inventory_s_value_of_a_key_is_its_field_or_extra() {
    let plain = inv(GOOD);
    let m = &plain.members[0];
    let cases = [
        ("heartbeat-interval", Some("100")),
        ("listen-client-urls", Some("http://10.0.0.1:2379")),
        ("snapshot-count", None),
        ("logger", Some("zap")),
        ("log-outputs", Some("stderr")),
        ("max-request-bytes", None),
    ];
    for (key, want) in cases {
        assert_eq!(
            etcd_settings::inventory_value(m, key).as_deref(),
            want,
            "{key}"
        );
    }
    let extra = inv(&format!(
        "{GOOD}\n[etcd.extra]\nlisten-metrics-urls = \"http://127.0.0.1:2381\"\nmax-request-bytes = 2097152\n"
    ));
    let m = &extra.members[0];
    assert_eq!(
        etcd_settings::inventory_value(m, "listen-metrics-urls").as_deref(),
        Some("http://127.0.0.1:2381")
    );
    assert_eq!(
        etcd_settings::inventory_value(m, "max-request-bytes").as_deref(),
        Some("2097152")
    );
}

#[test]
fn init_from_cluster_fills_the_etcd_section_s_fields() {
    let described: Vec<(&str, &str, bool)> = etcd_settings::described_keys()
        .map(|(k, d)| (k, d.field, d.number))
        .collect();
    assert_eq!(
        described,
        [
            ("heartbeat-interval", "heartbeat_interval_ms", true),
            ("election-timeout", "election_timeout_ms", true),
            ("snapshot-count", "snapshot_count", true),
            ("quota-backend-bytes", "quota_backend_bytes", true),
            ("auto-compaction-mode", "auto_compaction_mode", false),
            (
                "auto-compaction-retention",
                "auto_compaction_retention",
                false
            ),
            ("log-level", "log_level", false),
        ]
    );
    // Each is a field of the inventory's [etcd] that takes such a value.
    for (_, field, number) in described {
        let value = match (field, number) {
            ("election_timeout_ms", _) => "5000".to_string(),
            ("heartbeat_interval_ms", _) => "50".to_string(),
            (_, true) => "500".to_string(),
            ("auto_compaction_mode", _) => "\"revision\"".to_string(),
            ("log_level", _) => "\"warn\"".to_string(),
            _ => "\"1h\"".to_string(),
        };
        inv(&format!("{GOOD}\n[etcd]\n{field} = {value}\n"));
    }
}

/// etcd supports its two newest minors: an inventory on an older line is
/// warned about by plan and apply; init proposes the newest release.
#[test]
fn the_support_policy_follows_the_key_table() {
    assert_eq!(etcd_deploy::inventory::supported_minors(), [6, 7]);
    assert_eq!(etcd_deploy::inventory::newest_release(), "3.7.4");
    let on = |version: &str| inv(&GOOD.replace("\"3.5.1\"", &format!("\"{version}\"")));
    let old = on("3.5.36").unsupported_line().expect("3.5 is unsupported");
    assert!(
        old.contains("etcd 3.5 is a line etcd no longer supports (it supports 3.6 and 3.7")
            && old.contains("`etcd-deploy upgrade --to 3.6.x`"),
        "{old}"
    );
    for current in ["3.6.8", "3.6.17", "3.7.4"] {
        assert_eq!(on(current).unsupported_line(), None, "{current}");
    }
}

/// `upgrade --to` plans another version than the inventory names: a
/// setting the target does not take refuses the version change, naming
/// its name there.
#[test]
fn a_setting_the_target_version_does_not_take_refuses_the_change() {
    let mut i = inv(&GOOD.replace("\"3.5.1\"", "\"3.6.17\"").replace(
        "[ssh]",
        "[etcd]\nextra = { \"experimental-compaction-batch-limit\" = 500 }\n\n[ssh]",
    ));
    assert_eq!(i.extra_refusal(), None);
    i.cluster.version = Version::parse("3.7.4").expect("version");
    let why = i.extra_refusal().expect("refused for 3.7");
    assert!(
        why.contains("etcd-1: etcd.extra: `experimental-compaction-batch-limit` is not a config key of etcd 3.7 (etcd 3.6 renamed it `compaction-batch-limit`); change the inventory's [etcd] extra first"),
        "{why}"
    );
}
