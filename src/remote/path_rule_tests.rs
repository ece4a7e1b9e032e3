//! `path_rule.sh` run here as root, against the attacks issue 22 names: a
//! symlink planted where a managed directory goes, a directory above it
//! that another user owns or can write, a data directory outside the
//! dedicated roots with and without etcd's data.

use crate::script::Script;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

/// `checked WHAT PATH KIND` on this machine: Ok(resolved) or Err(message).
fn checked(path: &Path, kind: &str) -> Result<String, String> {
    let s = Script::new(
        "etcd-deploy-test-path-rule",
        "checked test \"$1\" \"$2\"\n",
        [path.display().to_string(), kind.to_string()],
    )
    .under_path_rule();
    let argv = s.argv();
    let out = Command::new(argv[0]).args(&argv[1..]).output().expect("sh");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn chown(path: &Path, uid: u32) {
    let ok = Command::new("chown")
        .arg(uid.to_string())
        .arg(path)
        .status()
        .expect("chown");
    assert!(ok.success());
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn a_dedicated_path_is_used_as_resolved() {
    let t = super::tests::managed_tempdir();
    let new = t.path().join("etcd/m1");
    assert_eq!(checked(&new, "dedicated"), Ok(new.display().to_string()));
    // A link inside a root-owned directory, to another dedicated one.
    std::fs::create_dir(t.path().join("real")).expect("mkdir");
    symlink(t.path().join("real"), t.path().join("via")).expect("link");
    assert_eq!(
        checked(&t.path().join("via/data"), "dedicated"),
        Ok(t.path().join("real/data").display().to_string())
    );
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn a_link_to_a_system_directory_is_refused() {
    let t = super::tests::managed_tempdir();
    for target in ["/etc", "/usr/lib/systemd/system", "/root", "/var/lib/dpkg"] {
        let link = t.path().join("data");
        let _ = std::fs::remove_file(&link);
        symlink(target, &link).expect("link");
        let e = checked(&link, "data").expect_err("refused");
        assert!(e.contains(&format!("(which is {target})")), "{target}: {e}");
    }
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn a_directory_above_that_another_user_owns_or_can_write_is_refused() {
    let t = super::tests::managed_tempdir();
    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    chown(&theirs, 65534);
    let e = checked(&theirs.join("data"), "dedicated").expect_err("refused");
    assert!(e.contains("is not root's alone"), "{e}");
    let shared = t.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    let e = checked(&shared.join("data"), "dedicated").expect_err("refused");
    assert!(e.contains("is not root's alone"), "{e}");
    // The managed directory itself may be another user's (etcd's data).
    std::fs::create_dir(t.path().join("data")).expect("mkdir");
    chown(&t.path().join("data"), 65534);
    assert!(checked(&t.path().join("data"), "data").is_ok());
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn elsewhere_only_a_data_directory_holding_etcd_data() {
    let t = tempfile::Builder::new()
        .prefix("etcd-deploy-test-")
        .tempdir_in("/usr/local")
        .expect("a temporary directory in /usr/local (run the tests as root)");
    let data = t.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let e = checked(&data, "data").expect_err("no etcd data yet");
    assert!(e.contains("holds no etcd data"), "{e}");
    std::fs::create_dir(data.join("member")).expect("mkdir");
    assert_eq!(checked(&data, "data"), Ok(data.display().to_string()));
    let e = checked(&data, "dedicated").expect_err("not for other directories");
    assert!(e.contains("not below /var/lib"), "{e}");
}

/// The rule is stated once (`inventory::path_rule`) and applied twice: the
/// host's shell verdict agrees with the Rust one on every kind of path.
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn the_host_s_verdict_is_the_inventory_s() {
    use crate::inventory::path_rule::{Verdict, verdict};
    let paths = [
        "/var/lib/etcd",
        "/var/lib",
        "/var",
        "/",
        "/opt/etcd",
        "/opt",
        "/srv/etcd/wal",
        "/data/etcd",
        "/mnt/ssd/etcd",
        "/var/backups/etcd",
        "/var/lib/dpkg/info",
        "/var/lib/dpkg-etcd",
        "/lib/systemd/system",
        "/usr/local/docker/etcdd/data",
        "/usr/local",
        "/usr/local/bin/x",
        "/home/alice",
        "/root/.ssh",
        "/tmp/x",
        "/var/tmp/x",
        "/etc/etcd",
        "/etcd-data",
    ];
    for p in paths {
        let s = Script::new(
            "etcd-deploy-test-path-rule",
            "rule_verdict \"$1\"\n",
            [p.trim_end_matches('/').to_string()],
        )
        .under_path_rule();
        let argv = s.argv();
        let out = Command::new(argv[0]).args(&argv[1..]).output().expect("sh");
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let rust = match verdict(p) {
            Verdict::Dedicated => "dedicated".to_string(),
            Verdict::EtcdsOnly => "etcds".to_string(),
            Verdict::Never(why) => format!("never:{why}"),
        };
        assert_eq!(shell, rust, "{p}");
    }
}
