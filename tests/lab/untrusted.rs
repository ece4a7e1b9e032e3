//! Issue 22 on real hosts: root never acts on a path someone else chose.
//! Each test does the attacker's step as the issue found it (the inventory's
//! value, or the etcd user's link where a managed directory goes), runs the
//! command, and proves the target is untouched.

use crate::support::*;
use std::process::Command;

/// Finding 1: `wal-dir` naming a system directory is refused before any
/// host is contacted; a WAL directory the etcd user swapped for a link to
/// one, and a `member` link in the data directory, make `destroy
/// --wipe-data` delete nothing of the system's.
#[test]
fn finding_1_destroy_never_deletes_through_wal_dir_or_a_planted_link() {
    let lab = Lab::up(76, 1);
    let dpkg = "find /var/lib/dpkg/info -type f | wc -l";
    let before = lab.ssh(1, dpkg);
    let bad = lab.inventory(1, |s| {
        s.replace(
            "[ssh]",
            "[etcd]\nextra = { \"wal-dir\" = \"/var/lib/dpkg/info\" }\n\n[ssh]",
        )
    });
    for cmd in [
        &["apply", path_str(&bad), "--yes"][..],
        &["destroy", path_str(&bad), "--wipe-data", "--yes"],
    ] {
        let o = deploy(cmd);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("wal-dir"), "{}", text(&o));
    }
    // A WAL kept apart, in the etcd user's directory.
    let inv = lab.inventory(1, |s| {
        s.replace(
            "[ssh]",
            "[etcd]\nextra = { \"wal-dir\" = \"/srv/etcd/wal\" }\n\n[ssh]",
        )
    });
    apply(&inv);
    assert_eq!(
        lab.ssh(
            1,
            "stat -c %U /srv/etcd; ls /srv/etcd/wal | grep -c '\\.wal$'"
        ),
        "etcd\n1"
    );
    // The etcd user's step: its WAL directory and its data's `member` become
    // links to the system's (etcd is stopped first so that nothing writes).
    lab.ssh(1, "systemctl stop etcd@etcd-1");
    lab.ssh(
        1,
        "runuser -u etcd -- sh -c 'mv /srv/etcd/wal /srv/etcd/wal.real && ln -s /var/lib/dpkg/info /srv/etcd/wal \
         && mv /var/lib/etcd/member /var/lib/etcd/member.real && ln -s /var/lib/dpkg/info /var/lib/etcd/member'",
    );
    let o = deploy(&["destroy", path_str(&inv), "--wipe-data", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(lab.ssh(1, dpkg), before, "dpkg's files are all there");
    assert_eq!(lab.ssh(1, "stat -c '%U %a' /var/lib/dpkg/info"), "root 755");
    // The `member` link went (never what it points to); the WAL link is
    // left alone, as is what the etcd user moved away.
    assert_eq!(
        lab.ssh(
            1,
            "ls -A /srv/etcd; ls -A /var/lib/etcd; readlink /srv/etcd/wal"
        ),
        "wal\nwal.real\nmember.real\n/var/lib/dpkg/info"
    );
}

/// Finding 2: `[backup] dir` naming a system directory (through `/lib`, a
/// link to `usr/lib`) is refused before any host is contacted; where an
/// older etcd-deploy gave the backup directory to the etcd user and that
/// user put a link to the unit directory in place of its member's
/// directory, apply refuses it by name and the unit directory stays root's.
#[test]
fn finding_2_the_backup_directory_never_hands_a_system_directory_to_etcd() {
    let lab = Lab::up(77, 1);
    let backup = |dir: &str| {
        let line = format!("[backup]\nschedule = \"hourly\"\ndir = \"{dir}\"\n\n[release]");
        lab.inventory(1, move |s| s.replace("[release]", &line))
    };
    let o = deploy(&["apply", path_str(&backup("/lib/systemd/system")), "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("backup.dir: `/lib/systemd/system` is inside /lib"),
        "{}",
        text(&o)
    );
    let units = "stat -c '%U:%G %a' /usr/lib/systemd/system";
    assert_eq!(lab.ssh(1, units), "root:root 755");

    apply(&lab.inventory(1, |s| s));
    // What an older etcd-deploy left, and the etcd user's step.
    lab.ssh(
        1,
        "install -d -m 0700 -o etcd -g etcd /var/backups/etcd \
         && runuser -u etcd -- ln -s /usr/lib/systemd/system /var/backups/etcd/etcd-1",
    );
    let inv = backup("/var/backups/etcd");
    let o = deploy(&["apply", path_str(&inv), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "refusing backup.dir /var/backups/etcd/etcd-1 (which is /usr/lib/systemd/system): it is inside /usr/lib"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(lab.ssh(1, units), "root:root 755");
    // The link gone, the backup directory is root's and the member's etcd's.
    lab.ssh(1, "rm /var/backups/etcd/etcd-1");
    apply(&inv);
    assert_eq!(
        lab.ssh(
            1,
            "stat -c '%U %a' /var/backups/etcd /var/backups/etcd/etcd-1"
        ),
        "root 755\netcd 700"
    );
}

/// Finding 4: a hostile mirror serves a release (its checksum matching)
/// with a setuid-root copy of a shell in it. Fetched by the controller, it
/// is refused before anything reaches a host; fetched by the host, the
/// host's own check refuses it. Nothing is installed, no setuid file
/// appears.
#[test]
fn finding_4_a_release_with_a_setuid_entry_is_never_unpacked() {
    let lab = Lab::up(78, 1);
    let dir = lab.dir.path().join("mirror");
    hostile_release(&dir, |work| {
        std::fs::copy("/bin/sh", work.join("suidsh")).expect("copy");
        sh(Command::new("chmod").arg("4755").arg(work.join("suidsh")));
    });
    let port = "18178";
    let _server = Serving(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                port,
                "--directory",
            ])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("http.server"),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let cache = lab.dir.path().join("cache");
    for fetch in ["controller", "host"] {
        let inv = lab.inventory(1, |s| {
            s.replace("3.5.1", "3.5.2")
                .replace("fetch = \"controller\"\n", "")
                .replace(
                    "source = \"http://127.0.0.1:18080\"",
                    &format!(
                        "source = \"http://127.0.0.1:{port}\"\nfetch = \"{fetch}\"\ncache_dir = \"{}\"",
                        cache.display()
                    ),
                )
        });
        let o = deploy(&["apply", path_str(&inv), "--yes"]);
        assert_eq!(o.status.code(), Some(1), "{fetch}: {}", text(&o));
        assert!(
            text(&o).contains("setuid, setgid or sticky"),
            "{fetch}: {}",
            text(&o)
        );
        assert_eq!(
            lab.ssh(
                1,
                "ls -A /opt/etcd 2>/dev/null; find / -xdev -perm /6000 -name suidsh 2>/dev/null"
            ),
            "",
            "{fetch}: nothing installed"
        );
    }
}

/// A process killed when the test ends, however it ends.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Finding 5: the etcd user owns the snapshot directory and plants, newer
/// than the real snapshot, a link to a root-only file, an empty file and a
/// file with a database header that is no snapshot, each named like a saved
/// snapshot. `snapshot list` names each for what it is (exit 1); `restore
/// --latest` never reads the link's target, skips the fake after fetching
/// it, and restores the real snapshot.
#[test]
fn finding_5_planted_snapshots_are_named_skipped_and_never_followed() {
    let lab = Lab::up(79, 1);
    let inv = lab.inventory(1, |s| {
        s.replace("[release]", "[backup]\nschedule = \"hourly\"\n\n[release]")
    });
    apply(&inv);
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        for i in 0..10 {
            c.put(format!("kept/{i}"), "v", None).await.expect("put");
        }
    });
    lab.ssh(1, "systemctl start etcd-deploy-backup@etcd-1.service");
    let dir = "/var/backups/etcd/etcd-1";
    let real = lab.ssh(1, &format!("ls {dir}"));
    assert!(
        real.starts_with("lab79-etcd-1-") && !real.contains('\n'),
        "{real}"
    );
    lab.ssh(
        1,
        &format!(
            "echo TOPSECRET > /root/secret && chmod 600 /root/secret && sleep 1 && runuser -u etcd -- sh -c '\
             ln -s /root/secret {dir}/lab79-etcd-1-29990101T000000Z-rev100.db; \
             : > {dir}/lab79-etcd-1-29980101T000000Z-rev99.db; \
             head -c 8192 {dir}/{real} > {dir}/lab79-etcd-1-29970101T000000Z-rev98.db; \
             head -c 65536 /dev/zero >> {dir}/lab79-etcd-1-29970101T000000Z-rev98.db'"
        ),
    );
    let o = deploy(&["snapshot", "list", path_str(&inv)]);
    let listing = text(&o);
    eprintln!("$ etcd-deploy snapshot list inventory.toml\n{listing}");
    assert_eq!(o.status.code(), Some(1), "{listing}");
    assert!(listing.contains("skipped: a symbolic link"), "{listing}");
    assert!(
        listing.contains("not an etcd snapshot (too small)"),
        "{listing}"
    );
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        c.delete(
            "kept/",
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        )
        .await
        .expect("delete");
    });
    let o = deploy(&["restore", path_str(&inv), "--latest", "--yes"]);
    let out = text(&o);
    eprintln!("$ etcd-deploy restore inventory.toml --latest --yes\n{out}");
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("rev98.db does not check out") && out.contains("trying the next newest"),
        "{out}"
    );
    assert!(
        out.contains("fetched and checked: ") && out.contains(&real),
        "{out}"
    );
    let leaked = sh(Command::new("grep")
        .args(["-rl", "TOPSECRET"])
        .arg(lab.dir.path()));
    assert_eq!(
        text(&leaked).trim(),
        "",
        "the link's target never reached the controller"
    );
    let n = rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        c.get("kept/", Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .expect("get")
            .kvs()
            .len()
    });
    assert_eq!(n, 10, "the real snapshot was restored");
}

/// Finding 7: `plan` exits 1 when it is blocked (here: the only host cannot
/// be reached), with or without `--detailed-exitcode`; the docs say so.
#[test]
fn finding_7_a_blocked_plan_exits_1() {
    let lab = Lab::up(80, 1);
    let inv = lab.inventory(1, |s| s.replace("[ssh]", "[ssh]\nconnect_timeout_secs = 2"));
    apply(&inv);
    lab.kill_host(1);
    for args in [
        &["plan", path_str(&inv)][..],
        &["plan", path_str(&inv), "--detailed-exitcode"],
    ] {
        let o = deploy(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("cannot be reached"), "{}", text(&o));
    }
}

/// `destroy` keeps the data by default; `apply` of the same inventory then
/// brings the cluster back on it, its config files written first, and every
/// key it held is there (both ways of running members).
fn apply_after_destroy_brings_the_data_back(lab: &Lab, inv: &std::path::Path, prefix: &str) {
    apply(inv);
    let keys = rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        for i in 0..50 {
            c.put(format!("{prefix}{i}"), format!("v{i}"), None)
                .await
                .expect("put");
        }
        50
    });
    let o = deploy(&["destroy", path_str(inv), "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = text(&deploy(&["plan", path_str(inv)]));
    assert!(
        plan.contains("on the data they kept (config written first for etcd-1, etcd-2, etcd-3"),
        "{plan}"
    );
    apply(inv);
    assert_cluster(lab, 3);
    let n = rt().block_on(async {
        let mut c = client(&lab.url(2)).await;
        c.get(prefix, Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .expect("get")
            .kvs()
            .len()
    });
    assert_eq!(n, keys, "every key the cluster held is back");
    assert!(deploy_ok(&["plan", path_str(inv)]).contains("No changes"));
}

#[test]
fn apply_after_destroy_keeping_data_brings_the_cluster_back() {
    let lab = Lab::up(81, 3);
    let inv = lab.inventory(3, |s| s);
    apply_after_destroy_brings_the_data_back(&lab, &inv, "kept-systemd/");
}

#[test]
fn apply_after_destroy_keeping_data_brings_the_cluster_back_in_compose_mode() {
    let lab = Lab::up_docker(82, 3);
    let inv = lab.inventory(3, |s| {
        s.replace(
            "[release]",
            "mode = \"compose\"\nimage = \"release\"\n\n[release]",
        )
    });
    apply_after_destroy_brings_the_data_back(&lab, &inv, "kept-compose/");
}

/// Found beside finding 2: an older etcd-deploy gave each member's PKI
/// directory to the etcd user, who could put a link where root writes a
/// key's temporary file (`server.key.tmp` -> /etc/shadow). Rotating the
/// certificates now takes the directory back first (root's, group etcd,
/// 0750): /etc/shadow stays as it was, and the member serves on its new
/// certificate.
#[test]
fn a_link_in_the_pki_directory_is_never_written_through() {
    let lab = Lab::up(84, 3);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(3, with_tls("generate", &pki));
    apply(&inv);
    let shadow = "sha256sum /etc/shadow; stat -c '%U %a' /etc/shadow";
    let before = lab.ssh(1, shadow);
    lab.ssh(
        1,
        "chown etcd:etcd /etc/etcd/pki/etcd-1 && chmod 0700 /etc/etcd/pki/etcd-1 \
         && runuser -u etcd -- ln -s /etc/shadow /etc/etcd/pki/etcd-1/server.key.tmp",
    );
    let out = deploy_ok(&["certs", "rotate", path_str(&inv), "--yes"]);
    assert!(out.contains("etcd-1"), "{out}");
    assert_eq!(lab.ssh(1, shadow), before, "/etc/shadow untouched");
    assert_eq!(
        lab.ssh(1, "stat -c '%U:%G %a' /etc/etcd/pki/etcd-1; ls -A /etc/etcd/pki/etcd-1 | grep -c tmp || true"),
        "root:etcd 750\n0"
    );
    let st = status_json(&inv).to_string();
    assert_eq!(st.matches("\"health\":\"healthy\"").count(), 3, "{st}");
}
