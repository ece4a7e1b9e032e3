//! Issue 22's findings that validation closes, one data-driven test each:
//! the path rule on every directory etcd-deploy manages on a host, settings
//! only a recovery or a test should set, and the gaps in addresses, ports,
//! timeouts, mirror URLs and known_hosts (docs/security.md).

use crate::common::*;

/// GOOD with `line` added to the first host.
fn host_with(line: &str) -> String {
    GOOD.replace(
        "address = \"10.0.0.1\"",
        &format!("address = \"10.0.0.1\"\n{line}"),
    )
}

fn refused(text: &str, says: &str) {
    let e = err(text).to_string();
    assert!(e.contains(says), "{says:?} not in: {e}");
}

/// Findings 1 and 2: every managed directory is checked against the one
/// rule (paths the attack study used, as each field).
#[test]
fn no_managed_directory_is_a_system_home_or_shared_one() {
    let attacks = [
        "/root/.ssh",
        "/home/alice",
        "/var/lib/dpkg",
        "/var/lib/dpkg/info",
        "/var/spool/cron",
        "/bin/x",
        "/sbin/x",
        "/lib64/x",
        "/var/tmp/x",
        "/lib/systemd/system",
        "/usr/local",
        "/var/lib",
    ];
    for p in attacks {
        refused(&host_with(&format!("data_dir = \"{p}\"")), "data_dir");
        refused(
            &GOOD.replace(
                "version = \"3.5.1\"",
                &format!("version = \"3.5.1\"\ninstall_dir = \"{p}\""),
            ),
            "cluster.install_dir",
        );
        refused(
            &GOOD.replace(
                "[release]",
                &format!("[backup]\nschedule = \"hourly\"\ndir = \"{p}\"\n\n[release]"),
            ),
            "backup.dir",
        );
        refused(
            &host_with(&format!(
                "etcd = {{ extra = {{ \"wal-dir\" = \"{p}/wal\" }} }}"
            )),
            "wal-dir",
        );
    }
    // A data directory outside the dedicated roots is taken only where the
    // host shows etcd's data already (the plan checks); other kinds never.
    inv(&host_with("data_dir = \"/usr/local/docker/etcdd/data\""));
    refused(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\ninstall_dir = \"/usr/local/docker/etcd\"",
        ),
        "not below /var/lib",
    );
    // Nesting: a data directory inside the install directory (either set).
    refused(
        &host_with("data_dir = \"/opt/etcd/data\""),
        "must not contain one another",
    );
    refused(
        &host_with("etcd = { extra = { \"wal-dir\" = \"/opt/etcd/wal/x\" } }"),
        "must not contain one another",
    );
}

/// Finding 7: settings only a recovery or a test should set.
#[test]
fn recovery_and_test_settings_are_refused_in_extra() {
    for (key, value, says) in [
        ("force-new-cluster", "true", "etcd-deploy recover"),
        ("unsafe-no-fsync", "true", "lose acknowledged writes"),
        (
            "discovery",
            "\"https://discovery.etcd.io/x\"",
            "initial-cluster",
        ),
        ("discovery-srv", "\"example.com\"", "initial-cluster"),
        ("discovery-fallback", "\"exit\"", "initial-cluster"),
    ] {
        refused(
            &host_with(&format!("etcd = {{ extra = {{ \"{key}\" = {value} }} }}")),
            says,
        );
    }
}

/// Finding 7: addresses, ports, timeouts, mirror URLs.
#[test]
fn addresses_ports_timeouts_and_mirrors_that_mean_nothing_are_refused() {
    for a in ["1.2.3.4.5", "999.1.1.1", "-x", "a..b", "host-.x"] {
        refused(
            &GOOD.replace("address = \"10.0.0.1\"", &format!("address = \"{a}\"")),
            "hosts[0].address",
        );
    }
    for ok in ["etcd-1.example.com", "10.0.0.9", "fe80::1", "node1"] {
        inv(&GOOD.replace("address = \"10.0.0.1\"", &format!("address = \"{ok}\"")));
    }
    refused(&host_with("client_port = 22"), "privileged port");
    refused(
        &GOOD.replace("version = \"3.5.1\"", "version = \"3.5.1\"\npeer_port = 80"),
        "privileged port",
    );
    refused(
        &GOOD.replace(
            "user = \"root\"",
            "user = \"root\"\nconnect_timeout_secs = 0",
        ),
        "ssh.connect_timeout_secs",
    );
    refused(
        &GOOD.replace("http://127.0.0.1:18080", "http://u:pw@127.0.0.1:18080"),
        "user or password",
    );
    refused(
        &GOOD.replace("http://127.0.0.1:18080", "file:///etc"),
        "vX.Y.Z",
    );
}

/// Finding 6: a known_hosts file that is no regular file drops every key.
#[test]
fn known_hosts_must_be_a_regular_file() {
    for f in ["/dev/null", "/proc/version", "/tmp"] {
        refused(
            &GOOD.replace(
                "user = \"root\"",
                &format!("user = \"root\"\nknown_hosts_file = \"{f}\""),
            ),
            "not a regular file",
        );
    }
    refused(
        &GOOD.replace(
            "user = \"root\"",
            "user = \"root\"\nknown_hosts_file = \"/nonexistent-dir/known_hosts\"",
        ),
        "its directory must exist",
    );
    // Checking off on purpose: anything goes.
    inv(&GOOD.replace(
        "user = \"root\"",
        "user = \"root\"\nknown_hosts_file = \"/dev/null\"\nhost_key_policy = \"off\"",
    ));
}

/// The seed's cluster keeps its data in /usr/local/docker/etcdd/data: a data
/// directory outside the dedicated roots is used only where the host shows
/// etcd's data already; on a host without it the plan is blocked, naming
/// the rule.
#[test]
fn a_data_directory_elsewhere_must_already_hold_etcd_data() {
    let text = GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\ndata_dir = \"/usr/local/docker/etcdd/data\"",
    );
    let i = inv(&text);
    let mut f = Facts::default();
    for m in &i.members {
        f.hosts.insert(m.name.clone(), fresh());
    }
    let p = plan(&i, &f, &desired(&i));
    assert!(
        p.blocked.as_deref().is_some_and(|b| b
            .contains("data_dir /usr/local/docker/etcdd/data is not below /var/lib")
            && b.contains("holds none")),
        "{p}"
    );
    // Holding etcd's data, it is the member's, where it lives.
    let f = converged(&i);
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
}

/// Finding 3: an etcd process the host did not take for the member (run
/// from a user's session, say) is never the member: adopt and apply see no
/// foreign etcd there, and the plan names the process in a note, once per
/// host.
#[test]
fn an_untrusted_etcd_process_is_only_a_note() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    for name in ["etcd-1", "etcd-2"] {
        if let Some(h) = f.hosts.get_mut(name) {
            h.untrusted_etcd =
                vec!["4242 it runs as alice outside any system service or container".into()];
        }
    }
    let p = plan(&i, &f, &desired(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert!(p.is_empty(), "{p}");
    let notes: Vec<&String> = p.notes.iter().filter(|n| n.contains("4242")).collect();
    assert_eq!(
        notes,
        [
            "host 10.0.0.1: etcd process 4242 is not taken for any member: it runs as alice outside any system service or container",
            "host 10.0.0.2: etcd process 4242 is not taken for any member: it runs as alice outside any system service or container",
        ]
    );
}
