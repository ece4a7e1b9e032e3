//! Tests of the host-level scripts run here, as the SSH layer would run
//! them there: streamed input checked whole, releases' entries and modes,
//! and (`facts`) what the common facts part reports.

use super::*;
use crate::files::sha256_hex;
use std::path::Path;
use std::process::Command;

/// Runs a script here, as the SSH layer would there, with `input` on stdin.
fn run_locally(s: &Script, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let argv = s.argv();
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sh");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    child.wait_with_output().expect("wait")
}

/// A file streamed from the controller is written only when it arrived
/// whole (issue 21: a controller killed mid-stream left a truncated
/// config installed): a short input writes nothing.
#[test]
fn a_short_input_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("etcd-1.conf.yml");
    let whole = b"name: etcd-1\nclient-transport-security:\n  cert-file: x\n";
    let script = || {
        Script::new(
            "etcd-deploy-write-config",
            include_str!("write_file.sh"),
            [path.display().to_string(), "0644".to_string()],
        )
        .after(include_str!("checked_input.sh"), [sha256_hex(whole)])
    };
    let short = run_locally(&script(), &whole[..20]);
    assert!(!short.status.success());
    assert!(!path.exists() && !dir.path().join("etcd-1.conf.yml.tmp").exists());
    let ok = run_locally(&script(), whole);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(std::fs::read(&path).expect("written"), whole);
}

/// A directory the path rule lets root manage (below /var/lib; the
/// tests run as root, as CI does).
pub(super) fn managed_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("etcd-deploy-test-")
        .tempdir_in("/var/lib")
        .expect("a temporary directory in /var/lib (run the tests as root)")
}

/// A release-shaped tarball of `dir`'s `etcd-v3.5.1-linux-amd64/`.
fn tarball(dir: &Path) -> Vec<u8> {
    let out = dir.join("release.tar.gz");
    let ok = Command::new("tar")
        .args(["-czf"])
        .arg(&out)
        .arg("-C")
        .arg(dir)
        .arg("etcd-v3.5.1-linux-amd64")
        .status()
        .expect("tar");
    assert!(ok.success());
    std::fs::read(out).expect("read tarball")
}

fn release_dir(dir: &Path) -> std::path::PathBuf {
    let top = dir.join("etcd-v3.5.1-linux-amd64");
    std::fs::create_dir_all(&top).expect("mkdir");
    std::fs::write(top.join("etcd"), "#!/bin/sh\n").expect("etcd");
    Command::new("chmod")
        .arg("+x")
        .arg(top.join("etcd"))
        .status()
        .expect("chmod");
    top
}

fn install(target: &Path, bytes: &[u8]) -> std::process::Output {
    let mut inv = crate::inventory::parse(
        Path::new("inventory.toml"),
        "[cluster]\nname = \"t\"\nversion = \"3.5.1\"\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n",
    )
    .expect("inventory");
    inv.cluster.install_dir = target.display().to_string();
    let v = inv.cluster.version;
    let mut s = install_release(&inv, v, &sha256_hex(bytes), Source::Stdin);
    // The host's own entry check (as for a download by the host): the
    // last argument.
    if let Some(last) = s.args.last_mut() {
        *last = "no".into();
    }
    // The host lock needs /run; the script's own logic is what is tested.
    s.body = s.body.replace(
        "/run/etcd-deploy.lock",
        &format!("{}/lock", target.display()),
    );
    std::fs::create_dir_all(target).expect("target");
    run_locally(&s, bytes)
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn a_release_of_files_and_directories_installs() {
    let t = managed_tempdir();
    release_dir(t.path());
    let out = install(&t.path().join("opt"), &tarball(t.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.path().join("opt/etcd-v3.5.1/etcd").is_file());
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn finding_6_a_symlink_in_the_tarball_fails_the_install_and_leaves_nothing() {
    let t = managed_tempdir();
    let top = release_dir(t.path());
    std::os::unix::fs::symlink("/etc/motd", top.join(".sha256")).expect("symlink");
    let out = install(&t.path().join("opt"), &tarball(t.path()));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other than files and directories"), "{err}");
    let left: Vec<_> = std::fs::read_dir(t.path().join("opt"))
        .expect("opt")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != "lock")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Issue 22, finding 4: a setuid copy of a shell in the release is
/// refused by the host's own check; pushed as checked (the controller's
/// check passed it), its modes are stripped all the same.
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn finding_4_a_setuid_entry_is_refused_or_stripped() {
    let t = managed_tempdir();
    let top = release_dir(t.path());
    std::fs::copy("/bin/sh", top.join("suidsh")).expect("copy");
    let chmod = |mode: &str, p: &Path| {
        assert!(
            Command::new("chmod")
                .arg(mode)
                .arg(p)
                .status()
                .expect("chmod")
                .success()
        );
    };
    chmod("4755", &top.join("suidsh"));
    chmod("2775", &top);
    let bytes = tarball(t.path());
    let out = install(&t.path().join("opt"), &bytes);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("setuid, setgid or sticky"), "{err}");
    assert!(!t.path().join("opt/etcd-v3.5.1").exists());
    // As pushed by the controller: unpacked, the bits gone.
    let mut inv = crate::inventory::parse(
        Path::new("inventory.toml"),
        "[cluster]\nname = \"t\"\nversion = \"3.5.1\"\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n",
    )
    .expect("inventory");
    inv.cluster.install_dir = t.path().join("opt").display().to_string();
    let mut s = install_release(
        &inv,
        inv.cluster.version,
        &sha256_hex(&bytes),
        Source::Stdin,
    );
    s.body = s.body.replace(
        "/run/etcd-deploy.lock",
        &t.path().join("lock").display().to_string(),
    );
    let out = run_locally(&s, &bytes);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let modes = Command::new("stat")
        .args(["-c", "%a %U"])
        .arg(t.path().join("opt/etcd-v3.5.1/suidsh"))
        .arg(t.path().join("opt/etcd-v3.5.1"))
        .output()
        .expect("stat");
    assert_eq!(
        String::from_utf8_lossy(&modes.stdout),
        "755 root\n755 root\n"
    );
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn finding_6_a_path_outside_the_release_directory_fails_the_install() {
    let t = managed_tempdir();
    release_dir(t.path());
    let out_file = t.path().join("evil.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&out_file)
        .arg("-C")
        .arg(t.path())
        .arg("--transform=s,^etcd-v3.5.1-linux-amd64/etcd$,etcd-v3.5.1-linux-amd64/../../escaped,")
        .arg("etcd-v3.5.1-linux-amd64")
        .status()
        .expect("tar");
    assert!(ok.success());
    let bytes = std::fs::read(&out_file).expect("read");
    let out = install(&t.path().join("opt"), &bytes);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside its directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!t.path().join("escaped").exists());
}

#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs root: scripts/test runs it (--features lab)"
)]
#[test]
fn a_tarball_that_does_not_match_its_checksum_installs_nothing() {
    let t = managed_tempdir();
    release_dir(t.path());
    let bytes = tarball(t.path());
    let inv = crate::inventory::parse(
        Path::new("inventory.toml"),
        "[cluster]\nname = \"t\"\nversion = \"3.5.1\"\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n",
    )
    .expect("inventory");
    let mut s = install_release(&inv, inv.cluster.version, &"0".repeat(64), Source::Stdin);
    let target = t.path().join("opt");
    std::fs::create_dir_all(&target).expect("target");
    s.body = s.body.replace(
        "/run/etcd-deploy.lock",
        &format!("{}/lock", target.display()),
    );
    s.args[0] = format!("{}/etcd-v3.5.1", target.display());
    let out = run_locally(&s, &bytes);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!target.join("etcd-v3.5.1").exists());
}

mod facts {
    use super::super::*;
    use std::path::Path;

    fn facts_of(data: &Path, install: &Path) -> String {
        // Directories the path rule would refuse: set after validation.
        let mut inv = crate::inventory::parse(
            Path::new("inventory.toml"),
            "[cluster]\nname = \"t\"\nversion = \"3.5.1\"\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n",
        )
        .expect("inventory");
        inv.cluster.install_dir = install.display().to_string();
        inv.members[0].data_dir = data.display().to_string();
        let no_runtime = Script::new("runtime", "", Vec::<String>::new());
        let s = facts(&inv, &inv.members[0], no_runtime);
        let out = std::process::Command::new(s.argv()[0])
            .args(&s.argv()[1..])
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn findings_2_and_3_directories_holding_others_files_are_reported() {
        let t = tempfile::tempdir().expect("tempdir");
        let (data, install) = (t.path().join("data"), t.path().join("install"));
        for d in [
            data.join("member"),
            data.join("lost+found"),
            install.join("etcd-v3.5.1"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::os::unix::fs::symlink("etcd-v3.5.1", install.join("current")).expect("link");
        let out = facts_of(&data, &install);
        assert!(!out.contains("_foreign="), "{out}");
        std::fs::write(data.join(".other app state"), "x").expect("write");
        std::fs::write(install.join("keep.txt"), "x").expect("write");
        let out = facts_of(&data, &install);
        assert!(out.contains("data_dir_foreign=.other app state\n"), "{out}");
        assert!(out.contains("install_dir_foreign=keep.txt\n"), "{out}");
        // Absent directories are new ones.
        let out = facts_of(&t.path().join("new-data"), &t.path().join("new-install"));
        assert!(!out.contains("_foreign="), "{out}");
    }
}
