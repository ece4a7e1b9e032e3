//! Password users (issue 26), on real hosts: a client that is who it is by
//! its password (its certificate only lets it connect), writing under its
//! role with auth on; its password changed from the inventory's file; and
//! neither password anywhere on the controller or the hosts: no file, no
//! process's arguments or environment, no log.

use crate::access::put_as;
use crate::support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const TABLES: &str = "[auth]\nenabled = true\n\n[[roles]]\nname = \"app1\"\npermissions = [{ prefix = \"/app1/\", access = \"readwrite\" }]\n\n[[roles]]\nname = \"app2\"\npermissions = [{ prefix = \"/app2/\", access = \"readwrite\" }]\n\n[[clients]]\nname = \"patroni\"\nroles = [\"app1\"]\npassword_file = \"secrets/patroni.pw\"\n\n";

/// 32 random hex digits: found only where it was put.
fn new_password() -> String {
    let bytes = std::fs::read("/proc/sys/kernel/random/uuid").expect("random");
    let more = std::fs::read("/proc/sys/kernel/random/uuid").expect("random");
    let text = String::from_utf8_lossy(&bytes).to_string() + &String::from_utf8_lossy(&more);
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect()
}

/// Watches every process on the machine (the controller's and, through
/// their PID namespaces, the hosts') for `secrets` in its arguments or
/// environment, until stopped.
struct ProcWatch {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl ProcWatch {
    fn start(secrets: Vec<String>) -> ProcWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut sweeps, mut hits) = (0usize, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let dir = e.path();
                    for what in ["cmdline", "environ"] {
                        let Ok(b) = std::fs::read(dir.join(what)) else {
                            continue;
                        };
                        let t = String::from_utf8_lossy(&b);
                        if secrets.iter().any(|s| t.contains(s.as_str())) {
                            hits.push(format!(
                                "{}/{what}: {}",
                                dir.display(),
                                t.replace('\0', " ")
                            ));
                        }
                    }
                }
                sweeps += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            (sweeps, hits)
        });
        ProcWatch { stop, handle }
    }

    fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("watch")
    }
}

/// patroni's put of `key` through `url`, with the transport certificate
/// and (when given) a password.
fn put_with(transport: &Tls, password: Option<&str>, url: &str, key: &str) -> Result<(), String> {
    let who = Tls {
        user: password.map(|p| ("patroni".to_string(), p.to_string())),
        ..transport.clone()
    };
    put_as(&who, url, key)
}

/// The files under `dir` that hold any of `secrets` (`grep -F -f`, the
/// secrets read from `needles`, so that no argument list carries them).
fn files_holding(needles: &std::path::Path, dir: &std::path::Path) -> Vec<String> {
    let o = sh(std::process::Command::new("grep")
        .args(["-rlaF", "-f"])
        .arg(needles)
        .arg(dir));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A password user writes under its prefix with auth on, every
/// acknowledged write read back; it is refused on `/app2/`, and its
/// certificate alone (no password) or a wrong password gets nothing. Its
/// password is changed in its file: the plan sees etcd refuse the old one
/// and sets it; the old one is then refused, the new one works, and a
/// re-run has no changes. Neither password appears in a file, an argument
/// list, an environment or a log on the controller or the hosts.
#[test]
fn a_password_user_works_and_its_password_is_nowhere_else() {
    let lab = Lab::up(26, 3);
    let pki = lab.dir.path().join("pki");
    let secrets = lab.dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("secrets");
    let pw_file = secrets.join("patroni.pw");
    let (first, second) = (new_password(), new_password());
    std::fs::write(&pw_file, format!("{first}\n")).expect("password");
    let tls = with_tls("generate", &pki);
    // etcd as people deploy it now.
    let inv = lab.inventory(3, |s| {
        with_version("3.7.4")(tls(s)).replacen("[[hosts]]", &format!("{TABLES}[[hosts]]"), 1)
    });
    // The watch sees what it looks for (a process of the test's own).
    let token = new_password();
    let control = ProcWatch::start(vec![token.clone()]);
    let seen = sh(std::process::Command::new("sh").args(["-c", "sleep 0.3", &token]));
    assert!(seen.status.success());
    assert!(!control.stop().1.is_empty(), "the watch sees arguments");
    let watch = ProcWatch::start(vec![first.clone(), second.clone()]);
    let mut said = Vec::new();

    let out = apply(&inv);
    eprintln!("first apply:\n{out}");
    assert!(
        out.contains("add user patroni (password from file") && out.contains("turn etcd's auth on"),
        "{out}"
    );
    said.push(out);
    let handed = lab.dir.path().join("patroni");
    said.push(deploy_ok(&[
        "certs",
        "client",
        path_str(&inv),
        "patroni",
        "--out",
        path_str(&handed),
    ]));
    eprintln!("handed over: {}", said[1]);
    assert!(said[1].contains("not among these files"), "{}", said[1]);
    let transport = Tls::from_dir(&handed, "patroni").expect("files");
    let cn = etcd_deploy::tls::cert_info(&transport.cert)
        .expect("cert")
        .common_name;
    assert_eq!(cn.as_deref(), Some("patroni (password)"));

    let urls: Vec<String> = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    let who = Tls {
        user: Some(("patroni".into(), first.clone())),
        ..transport.clone()
    };
    let writer = Writer::start(urls.clone(), "/app1/pw/", Some(who.clone()));
    std::thread::sleep(std::time::Duration::from_secs(3));
    let report = writer.stop();
    assert_no_loss_tls(
        "a password user's writes",
        &urls[0],
        &report,
        "/app1/pw/",
        Some(&who),
    );
    for url in &urls {
        let denied = put_with(&transport, Some(&first), url, "/app2/x");
        assert!(
            denied
                .as_ref()
                .is_err_and(|e| e.contains("permission denied")),
            "{url}: {denied:?}"
        );
        let bare = put_with(&transport, None, url, "/app1/bare");
        assert!(
            bare.as_ref()
                .is_err_and(|e| e.contains("permission denied")),
            "the certificate alone is nobody: {url}: {bare:?}"
        );
        let wrong = put_with(&transport, Some("not-the-password"), url, "/app1/x");
        assert!(
            wrong
                .as_ref()
                .is_err_and(|e| e.contains("authentication failed")),
            "{url}: {wrong:?}"
        );
    }

    // The password changes in its file: the plan sees etcd refuse it.
    std::fs::write(&pw_file, format!("{second}\n")).expect("password");
    let plan = deploy(&["plan", path_str(&inv)]);
    let shown = text(&plan);
    eprintln!("plan after the password changed:\n{shown}");
    assert!(
        shown.contains("set the password of user patroni (etcd refused the one from file"),
        "{shown}"
    );
    said.push(shown);
    said.push(text(&deploy(&["plan", path_str(&inv), "-o", "json"])));
    said.push(apply(&inv));
    assert_eq!(
        put_with(&transport, Some(&second), &urls[1], "/app1/second"),
        Ok(())
    );
    let old = put_with(&transport, Some(&first), &urls[2], "/app1/first");
    assert!(
        old.as_ref()
            .is_err_and(|e| e.contains("authentication failed")),
        "{old:?}"
    );
    let again = deploy_ok(&["plan", path_str(&inv)]);
    assert!(again.contains("No changes"), "{again}");
    said.push(again);
    said.push(text(&deploy(&["status", path_str(&inv)])));
    let (sweeps, hits) = watch.stop();
    eprintln!("{sweeps} sweeps of every process's arguments and environment");
    assert!(sweeps > 10, "the watch ran");
    assert!(hits.is_empty(), "a password in a process: {hits:?}");

    // What etcd-deploy printed, and every file it or the hosts wrote.
    for s in &said {
        assert!(!s.contains(&first) && !s.contains(&second), "printed: {s}");
    }
    let needles = tempfile::NamedTempFile::new().expect("needles");
    std::fs::write(needles.path(), format!("{first}\n{second}\n")).expect("needles");
    let controller = files_holding(needles.path(), lab.dir.path());
    assert_eq!(
        controller,
        vec![pw_file.display().to_string()],
        "on the controller, only where it was put"
    );
    for n in 1..=3 {
        let upper = std::path::PathBuf::from(format!(
            "/var/lib/etcd-deploy-lab/b{}/h{n}/upper",
            lab.block
        ));
        assert!(upper.join("var/lib").is_dir(), "{}", upper.display());
        let written = files_holding(needles.path(), &upper);
        assert!(written.is_empty(), "on host {n}'s disk: {written:?}");
        let volatile = lab.ssh(
            n,
            "find /run /tmp /var/tmp -xdev -type f -size -8M -exec cat {} + 2>/dev/null; journalctl --no-pager -o cat",
        );
        assert!(volatile.contains("etcd"), "host {n}: the journal was read");
        assert!(
            !volatile.contains(&first) && !volatile.contains(&second),
            "host {n}: in /run, /tmp or its journal"
        );
    }
}
