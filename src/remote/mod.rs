//! The host-level actions, the same whichever way members run: the etcd
//! user and directories, releases, the `current` link, config and TLS files,
//! data moved aside, a removed member retired, the host cleaned by
//! `destroy`, and the common part of the facts. Each is a script file beside
//! this one taking its values as arguments (see `script.rs`); what differs
//! between systemd and compose is in `runtime/`.
//!
//! Every script is idempotent and leaves nothing half-written: files go to
//! a temporary name and are renamed into place.

use crate::inventory::{Inventory, Member, Version};
use crate::layout;
use crate::script::{HOST_LOCK, IDLE, Script, flag};

/// The `etcd` system user, and the directories it owns.
pub(crate) fn prepare_host(inv: &Inventory, m: &Member) -> Script {
    Script::new(
        "etcd-deploy-prepare-host",
        include_str!("prepare_host.sh"),
        [
            layout::data_dir(m),
            inv.cluster.install_dir.as_str(),
            layout::CONFIG_DIR,
        ],
    )
    .under_path_rule()
}

/// Where the tarball comes from on the host.
pub(crate) enum Source<'a> {
    /// Sent on the script's stdin.
    Stdin,
    /// Downloaded by the host.
    Url(&'a str),
}

/// Receives or downloads a release tarball, checks its SHA256, and unpacks it
/// into the versioned directory. On a mismatch nothing is installed.
pub(crate) fn install_release(
    inv: &Inventory,
    version: Version,
    sha256: &str,
    source: Source,
) -> Script {
    // Pushed bytes were checked on the controller (`release.rs`); a download
    // by the host is checked there.
    let (source, checked) = match source {
        Source::Stdin => ("-", true),
        Source::Url(u) => (u, false),
    };
    Script::new(
        "etcd-deploy-install-release",
        include_str!("install_release.sh"),
        [
            layout::version_dir(inv, version),
            sha256.to_string(),
            version.to_string(),
            source.to_string(),
            flag(checked).to_string(),
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .after(IDLE, Vec::<String>::new())
    .under_path_rule()
}

/// Points the `current` link at a version (atomically) and links the binaries
/// into the operator's PATH.
pub(crate) fn use_version(inv: &Inventory, version: Version) -> Script {
    let mut args = vec![
        layout::current_link(inv),
        format!("etcd-v{version}"),
        layout::BIN_LINK_DIR.to_string(),
    ];
    args.extend(layout::BINARIES.iter().map(|b| b.to_string()));
    Script::new(
        "etcd-deploy-use-version",
        include_str!("use_version.sh"),
        args,
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .under_path_rule()
}

/// Writes the member's config file (from stdin).
pub(crate) fn write_config(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-write-config",
        include_str!("write_file.sh"),
        [layout::config_path(m), "0644".to_string()],
    )
}

/// Reads the member's config file as it is (empty when missing): what a
/// failed config change goes back to.
pub(crate) fn read_config(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-read-config",
        include_str!("read_file.sh"),
        [layout::config_path(m)],
    )
}

/// Writes one TLS file (from stdin) into the member's PKI directory, owned by
/// the etcd user so that only it (and root) can read the keys.
pub(crate) fn write_pki_file(m: &Member, name: &str, mode: &str) -> Script {
    Script::new(
        "etcd-deploy-write-pki-file",
        include_str!("write_pki_file.sh"),
        [layout::pki_dir(m), name.to_string(), mode.to_string()],
    )
}

/// Backs up the member's data directory to `<data_dir>.<suffix>` before
/// `recover`: copied for the seed (which keeps its data), moved for a
/// member that joins again with fresh data.
pub(crate) fn backup_data(m: &Member, suffix: &str, keep_in_place: bool) -> Script {
    Script::new(
        "etcd-deploy-backup-data",
        include_str!("backup_data.sh"),
        [
            layout::data_dir(m).to_string(),
            suffix.to_string(),
            if keep_in_place { "copy" } else { "move" }.to_string(),
        ],
    )
    .under_path_rule()
}

/// Moves a data directory from an earlier life aside (never deletes it) and
/// makes a fresh one.
pub(crate) fn move_data_aside(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-move-data-aside",
        include_str!("move_data_aside.sh"),
        [layout::data_dir(m)],
    )
    .under_path_rule()
}

/// Stops and disables a removed member's etcd, whichever way it ran (the
/// inventory no longer says); its data stays unless `wipe`.
pub(crate) fn retire(inv: &Inventory, m: &Member, wipe: bool) -> Script {
    Script::new(
        "etcd-deploy-retire",
        include_str!("retire.sh"),
        [
            layout::unit(m),
            layout::unit_drop_in(m),
            layout::container(inv, m),
            layout::config_path(m),
            flag(wipe).to_string(),
        ],
    )
    .under_path_rule()
}

/// The common part of `destroy` for one member: config and TLS files, data
/// if `wipe_data`; then, once nothing of etcd runs on the host any more, the
/// template unit, the releases and the binary links.
pub(crate) fn destroy_files(inv: &Inventory, m: &Member, wipe_data: bool) -> Script {
    let mut host = vec![
        layout::UNIT_PATH.to_string(),
        layout::CONFIG_DIR.to_string(),
        layout::current_link(inv),
        inv.cluster.install_dir.clone(),
        layout::BIN_LINK_DIR.to_string(),
    ];
    host.extend(layout::BINARIES.iter().map(|b| b.to_string()));
    Script::new(
        "etcd-deploy-destroy",
        include_str!("destroy_member.sh"),
        [
            layout::config_path(m),
            layout::pki_dir(m),
            layout::data_dir(m).to_string(),
            m.separate_wal_dir().unwrap_or_default().to_string(),
            flag(wipe_data).to_string(),
        ],
    )
    .then(include_str!("destroy_host.sh"), host)
    .after(HOST_LOCK, Vec::<String>::new())
    .under_path_rule()
}

/// The facts every member's host gives, whatever its runtime (the runtime's
/// own part follows).
pub(crate) fn facts(inv: &Inventory, m: &Member) -> Script {
    let mut args = vec![
        layout::config_path(m),
        layout::data_dir(m).to_string(),
        layout::pki_dir(m),
        inv.cluster.install_dir.clone(),
    ];
    args.extend(crate::backup::fact_paths(m));
    args.push(crate::backup::unit(m));
    args.extend(layout::PKI_FILES.iter().map(|f| f.to_string()));
    // The etcd processes named as the member go first: the common part
    // takes the rest of the arguments.
    Script::new("etcd-deploy-facts", ETCD_PROCESS, Vec::<String>::new())
        .then(
            include_str!("named_etcd.sh"),
            [
                m.name.clone(),
                layout::unit(m),
                layout::container(inv, m),
                m.peer_port.to_string(),
                m.client_port.to_string(),
            ],
        )
        .then(include_str!("facts.sh"), args)
}

/// What runs member `name` on a host etcd-deploy did not set up (`init
/// --from-cluster`): its process (a system service's or a container's,
/// listening on one of `ports`), unit, settings' source, data directory.
pub(crate) fn discover_member(name: &str, ports: [u16; 2]) -> Script {
    Script::new(
        "etcd-deploy-discover-member",
        ETCD_PROCESS,
        Vec::<String>::new(),
    )
    .then(
        include_str!("discover_member.sh"),
        [name.to_string(), ports[0].to_string(), ports[1].to_string()],
    )
}

/// Reads a file a member's process names (its TLS files), as the user that
/// process runs as: what it can read and nothing more, at most 64 KiB.
pub(crate) fn read_as(user: &str, path: &str) -> Script {
    Script::new(
        "etcd-deploy-read-as",
        include_str!("read_as.sh"),
        [user, path],
    )
}

/// `adopt`: stops and disables what runs the member now (`kind`: `unit`,
/// `container` or `none`; `who`: the unit or container), both left on disk,
/// and gives its data to the etcd user.
pub(crate) fn adopt_stop(m: &Member, kind: &str, who: &str) -> Script {
    Script::new(
        "etcd-deploy-adopt-stop",
        include_str!("adopt_stop.sh"),
        [
            kind,
            who,
            layout::data_dir(m),
            m.separate_wal_dir().unwrap_or_default(),
        ],
    )
    .under_path_rule()
}

/// `adopt`'s way back: the data to its previous owner and mode, what ran
/// the member before started again (`was`: enablement or restart policy).
pub(crate) fn adopt_back(
    m: &Member,
    kind: &str,
    who: &str,
    was: &str,
    owner: &str,
    mode: &str,
) -> Script {
    Script::new(
        "etcd-deploy-adopt-back",
        include_str!("adopt_back.sh"),
        [
            kind,
            who,
            was,
            owner,
            mode,
            layout::data_dir(m),
            m.separate_wal_dir().unwrap_or_default(),
        ],
    )
    .under_path_rule()
}

/// Part: functions reading a running etcd process's settings.
const ETCD_PROCESS: &str = include_str!("etcd_process.sh");

/// The first part of a restore: the snapshot received on stdin and checked,
/// the data directory moved aside. The runtime's part restores it.
pub(crate) fn receive_snapshot(m: &Member, sha256: &str, stamp: &str) -> Script {
    Script::new(
        "etcd-deploy-restore",
        include_str!("receive_snapshot.sh"),
        [sha256, layout::data_dir(m), stamp],
    )
    .under_path_rule()
}

/// The data directories set aside beside the member's (`set_aside.rs`
/// reads the output); `clear` removes the note of the restore that made its
/// data first (that restore has finished).
pub(crate) fn aside(m: &Member, clear: bool) -> Script {
    Script::new(
        "etcd-deploy-aside",
        include_str!("aside.sh"),
        [layout::data_dir(m), if clear { "yes" } else { "no" }],
    )
    .under_path_rule()
}

/// The last part of a restore: the restored data belongs to etcd.
pub(crate) const OWN_DATA: &str = include_str!("own_data.sh");

#[cfg(test)]
mod path_rule_tests;

#[cfg(test)]
mod tests {
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
}

#[cfg(test)]
mod facts_tests {
    use super::*;
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
        let s = facts(&inv, &inv.members[0]);
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
