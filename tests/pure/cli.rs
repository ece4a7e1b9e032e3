//! The command line as users of etcdctl, terraform and ansible expect it:
//! completions, the man page, `-o json` on the reading commands that need
//! no hosts, the unit's drop-in, and bad input refused before any host.

use crate::common::*;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-deploy");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run etcd-deploy")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    // The script is valid bash and knows the subcommands and options.
    let check = Command::new("bash")
        .args(["-n", "-c", &stdout(&bash)])
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for word in [
        "apply",
        "upgrade",
        "snapshot",
        "--detailed-exitcode",
        "--output",
    ] {
        assert!(stdout(&bash).contains(word), "{word}");
    }
    for shell in ["zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert!(
            o.status.success() && stdout(&o).contains("recover"),
            "{shell}"
        );
    }
}

#[test]
fn man_page_names_every_command() {
    let o = run(&["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(page.contains(".TH etcd-deploy 1"), "{page}");
    for c in [
        "plan", "apply", "status", "upgrade", "replace", "restore", "recover", "env",
    ] {
        assert!(
            page.contains(&format!("etcd\\-deploy\\-{c}")) || page.contains(c),
            "{c}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(&["man", "--dir", dir.path().to_str().expect("utf-8")]);
    assert!(o.status.success());
    for f in [
        "etcd-deploy.1",
        "etcd-deploy-apply.1",
        "etcd-deploy-snapshot-list.1",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

fn write_inventory(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("inventory.toml");
    std::fs::write(&p, text).expect("write inventory");
    p
}

#[test]
fn env_as_json_and_snapshot_list_need_no_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = write_inventory(dir.path(), GOOD);
    let inv_s = inv.to_str().expect("utf-8");
    let o = run(&["env", inv_s, "-o", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ETCDCTL_API"], "3");
    assert_eq!(
        v["ETCDCTL_ENDPOINTS"],
        "http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379"
    );

    // No snapshots yet: an empty list, exit 0.
    let o = run(&["snapshot", "list", inv_s, "-o", "json"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "[]");
    // A damaged file is listed with why it does not check out, exit 1.
    std::fs::create_dir(dir.path().join("snapshots")).expect("mkdir");
    std::fs::write(
        dir.path().join("snapshots/prod-20261202T070000Z-rev42.db"),
        vec![7u8; 100],
    )
    .expect("write");
    let o = run(&["snapshot", "list", inv_s, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["revision"], 42, "{v}");
    assert_eq!(v[0]["bytes"], 100, "{v}");
    assert_ne!(v[0]["check"], "ok", "{v}");
    let o = run(&["snapshot", "list", inv_s]);
    assert!(stdout(&o).starts_with("HOST "), "{}", stdout(&o));
}

#[test]
fn a_changing_command_with_bad_input_ends_with_its_json_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = write_inventory(
        dir.path(),
        &GOOD.replace("version = \"3.5.1\"", "version = \"x\""),
    );
    let o = run(&["apply", inv.to_str().expect("utf-8"), "-o", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["command"], "apply");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["changed"], false);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("inventory.toml:")),
        "{v}"
    );
    // -q and -v together make no sense: refused by the parser.
    assert_eq!(run(&["plan", "-q", "-v"]).status.code(), Some(2));
}

#[test]
fn unit_drop_in_names_what_the_member_writes() {
    let i = inv(GOOD);
    assert_eq!(
        runtime::unit_drop_in(&i.members[0]).as_deref(),
        Some(
            "# etcd-deploy: what etcd member etcd-1 may write (the unit makes the rest read-only).\n[Service]\nReadWritePaths=/var/lib/etcd\n"
        )
    );
    // Data moved; a separate WAL: its parent.
    let moved = inv(&GOOD.replace(
        "address = \"10.0.0.1\"",
        "address = \"10.0.0.1\"\ndata_dir = \"/data/etcd\"\netcd = { extra = { \"wal-dir\" = \"/srv/etcd/wal\" } }",
    ));
    let d = runtime::unit_drop_in(&moved.members[0]).expect("systemd");
    assert!(d.contains("ReadWritePaths=/data/etcd /srv/etcd\n"), "{d}");
    // A WAL inside the data directory needs nothing more.
    let i = inv(&GOOD.replace(
        "address = \"10.0.0.1\"",
        "address = \"10.0.0.1\"\netcd = { extra = { \"wal-dir\" = \"/var/lib/etcd/wal\" } }",
    ));
    let d = runtime::unit_drop_in(&i.members[0]).expect("systemd");
    assert!(d.contains("ReadWritePaths=/var/lib/etcd\n"), "{d}");
    // The digest the facts compare covers the drop-in: moved data or WAL
    // rewrite the host file.
    let plain = inv(GOOD);
    let t = Templates::load(&plain).expect("templates");
    let digest = |i: &Inventory| {
        runtime::of(&i.members[0])
            .host_file(&t, i, &i.members[0], &|_| i.cluster.version)
            .expect("render")
            .digest
    };
    assert_eq!(digest(&plain), digest(&i));
    assert_ne!(digest(&plain), digest(&moved));
}

#[test]
fn wal_dir_is_a_plain_path_whose_parent_etcd_may_own() {
    let with = |wal: &str| {
        GOOD.replace(
            "address = \"10.0.0.1\"",
            &format!("address = \"10.0.0.1\"\netcd = {{ extra = {{ \"wal-dir\" = \"{wal}\" }} }}"),
        )
    };
    inv(&with("/srv/etcd/wal"));
    for (bad, says) in [
        ("/srv/etcd wal", "absolute path"),
        ("wal", "absolute path"),
        ("/srv/wal", "parent `/srv`"),
        ("/var/lib/wal", "parent `/var/lib`"),
        ("/var/lib/dpkg/info", "parent `/var/lib/dpkg`"),
        ("/usr/local/x/wal", "parent `/usr/local/x`"),
        ("/etc", "parent ``"),
    ] {
        let e = err(&with(bad)).to_string();
        assert!(e.contains("wal-dir") && e.contains(says), "{bad}: {e}");
    }
}
