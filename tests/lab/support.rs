//! Shared pieces of the lab tests: a block of lab hosts, the etcd-deploy
//! binary, cluster assertions, and a writer that keeps writing during rolling
//! operations and reports what was acknowledged.

#![allow(dead_code)]

use etcd_client::Client;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_etcd-deploy");

pub fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/lab")
}

pub fn sh(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A block of lab hosts, removed when dropped.
pub struct Lab {
    pub block: u8,
    pub hosts: usize,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn up(block: u8, hosts: usize) -> Lab {
        Lab::boot(block, hosts, &[])
    }

    /// Hosts that each run their own Docker engine, with `docker compose` (v2)
    /// and `docker-compose` (v1): etcd-deploy uses v2.
    pub fn up_docker(block: u8, hosts: usize) -> Lab {
        Lab::boot(block, hosts, &["--docker"])
    }

    /// Docker hosts with `docker-compose` (v1) only: etcd-deploy's fallback.
    pub fn up_docker_v1(block: u8, hosts: usize) -> Lab {
        Lab::boot(block, hosts, &["--docker-v1"])
    }

    fn boot(block: u8, hosts: usize, extra: &[&str]) -> Lab {
        let o = sh(Command::new(lab_script())
            .args(["up", &hosts.to_string(), "--block", &block.to_string()])
            .args(extra));
        assert!(o.status.success(), "lab up failed: {}", text(&o));
        Lab {
            block,
            hosts,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The lab's inventory for the first `n` hosts, edited by `edit`.
    pub fn inventory(&self, n: usize, edit: impl FnOnce(String) -> String) -> PathBuf {
        assert!(n <= self.hosts);
        let o = sh(Command::new(lab_script()).args([
            "inventory",
            &n.to_string(),
            "--block",
            &self.block.to_string(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
        let path = self.dir.path().join(format!("inventory-{n}.toml"));
        std::fs::write(&path, edit(String::from_utf8_lossy(&o.stdout).into_owned()))
            .expect("write inventory");
        path
    }

    /// An inventory holding only the given hosts (1-based), in that order.
    pub fn inventory_of(&self, hosts: &[usize], name: &str) -> PathBuf {
        let all = self.inventory(self.hosts, |s| s);
        let text = std::fs::read_to_string(&all).expect("read inventory");
        let mut parts = text.split("[[hosts]]\n");
        let mut out = parts.next().expect("header").to_string();
        let blocks: Vec<&str> = parts.collect();
        for h in hosts {
            out.push_str("[[hosts]]\n");
            out.push_str(blocks[h - 1]);
        }
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, out).expect("write inventory");
        path
    }

    /// Rewrites the lab inventory's single host entry into three members
    /// `{prefix}0..2` on host 1, with client ports 2379, 3379, 4379 (peer port
    /// +1); `extra(k)` adds lines to member k's entry.
    pub fn three_on_host_1(
        &self,
        inventory: String,
        prefix: &str,
        extra: impl Fn(usize) -> String,
    ) -> String {
        let one = format!(
            "[[hosts]]\nname = \"etcd-1\"\naddress = \"{}\"\n",
            self.addr(1)
        );
        let three: String = (0..3)
            .map(|k| {
                format!(
                    "[[hosts]]\nname = \"{prefix}{k}\"\naddress = \"{}\"\nclient_port = {}\npeer_port = {}\n{}\n",
                    self.addr(1),
                    2379 + 1000 * k,
                    2380 + 1000 * k,
                    extra(k)
                )
            })
            .collect();
        inventory.replace(&one, &three)
    }

    /// Host numbers (1-based) of the current leader, from `status`.
    pub fn leader(&self, inv: &Path) -> usize {
        let rows = status_json(inv);
        let row = rows
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["leader"] == true)
            .expect("a leader")
            .clone();
        let url = row["client_url"].as_str().expect("url").to_string();
        (1..=self.hosts)
            .find(|i| url == self.url(*i))
            .expect("leader is a lab host")
    }

    pub fn addr(&self, n: usize) -> String {
        format!("127.0.{}.{n}", self.block)
    }

    pub fn url(&self, n: usize) -> String {
        format!("http://{}:2379", self.addr(n))
    }

    /// Runs a command on host `n` as root; returns stdout.
    pub fn ssh(&self, n: usize, cmd: &str) -> String {
        let o = sh(Command::new(lab_script()).args([
            "ssh",
            &n.to_string(),
            "--block",
            &self.block.to_string(),
            cmd,
        ]));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    pub fn etcd_pid(&self, n: usize) -> String {
        self.ssh(
            n,
            &format!("systemctl show -p MainPID --value etcd@etcd-{n}.service"),
        )
    }

    pub fn kill_host(&self, n: usize) {
        let o = sh(Command::new(lab_script()).args([
            "kill",
            &n.to_string(),
            "--block",
            &self.block.to_string(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
    }
}

impl Lab {
    /// Boots host `n` again after `kill_host` (its disk is kept).
    pub fn start_host(&self, n: usize) {
        let o = sh(Command::new(lab_script()).args([
            "start",
            &n.to_string(),
            "--block",
            &self.block.to_string(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(lab_script())
            .args(["down", "--block", &self.block.to_string()])
            .output();
    }
}

/// Runs etcd-deploy with `args` and kills it (SIGKILL) at the first line of
/// its progress for which `at` says so: the lines up to it, and whether it
/// came (the run may end first).
pub fn kill_when(args: &[String], at: impl FnMut(&str) -> bool) -> (String, bool) {
    kill_after(args, at, Duration::ZERO)
}

/// `kill_when`, `delay` after the line came (a controller dying a moment
/// after it began a step).
pub fn kill_after(
    args: &[String],
    mut at: impl FnMut(&str) -> bool,
    delay: Duration,
) -> (String, bool) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn etcd-deploy");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    let mut hit = false;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.unwrap_or_default();
        seen.push_str(&line);
        seen.push('\n');
        if at(&line) {
            hit = true;
            break;
        }
    }
    if hit {
        std::thread::sleep(delay);
    }
    let _ = child.kill();
    let _ = child.wait();
    (seen, hit)
}

pub fn deploy(args: &[&str]) -> Output {
    sh(Command::new(BIN).args(args).stdin(Stdio::null()))
}

/// `apply --yes`: the tests that remove members say so in their plans and
/// outputs; `scale_in_from_5_to_3_with_writes_flowing` checks the refusal
/// without `--yes`.
pub fn apply(inv: &Path) -> String {
    let o = deploy(&["apply", inv.to_str().expect("utf-8 path"), "--yes"]);
    let t = text(&o);
    assert!(o.status.success(), "apply failed:\n{t}");
    t
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub async fn client(url: &str) -> Client {
    let opts = etcd_client::ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(5));
    Client::connect([url], Some(opts)).await.expect("connect")
}

/// Asserts that every member lists the same `n` started voting members, and
/// that a key written through one is read through each of the others. A
/// member's list is its own applied state (not a linearizable read): one a
/// few milliseconds behind a promotion is asked again, for up to 5 s.
pub fn assert_cluster(lab: &Lab, n: usize) {
    rt().block_on(async {
        let want: Vec<(String, bool)> = (1..=n).map(|i| (format!("etcd-{i}"), false)).collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut lists = Vec::new();
            for i in 1..=n {
                let mut c = client(&lab.url(i)).await;
                let list = c.member_list().await.expect("member list");
                let mut names: Vec<(String, bool)> = list
                    .members()
                    .iter()
                    .map(|m| (m.name().to_string(), m.is_learner()))
                    .collect();
                names.sort();
                lists.push(names);
            }
            if lists.iter().all(|l| *l == want) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "member lists: {lists:?}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let key = format!("probe-{}", std::process::id());
        client(&lab.url(1))
            .await
            .put(key.as_str(), "written-on-1", None)
            .await
            .expect("put");
        for i in 2..=n {
            let r = client(&lab.url(i))
                .await
                .get(key.as_str(), None)
                .await
                .expect("get");
            assert_eq!(
                r.kvs().first().map(|kv| kv.value().to_vec()),
                Some(b"written-on-1".to_vec()),
                "read on member {i}"
            );
        }
    });
}

/// Asserts that each of the first `n` members holds `count` keys under
/// `prefix` (a restore brought every key back everywhere).
pub fn assert_keys_everywhere(lab: &Lab, n: usize, prefix: &str, count: usize) {
    rt().block_on(async {
        for i in 1..=n {
            let r = client(&lab.url(i))
                .await
                .get(prefix, Some(etcd_client::GetOptions::new().with_prefix()))
                .await
                .expect("get");
            assert_eq!(r.kvs().len(), count, "every key back on member {i}");
        }
    });
}

pub fn status_json(inv: &Path) -> serde_json::Value {
    let o = deploy(&["status", inv.to_str().expect("utf-8"), "--output", "json"]);
    assert!(o.status.success(), "status: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("status json")
}

/// Runs etcd-deploy with `args`; asserts success; returns its output.
pub fn deploy_ok(args: &[&str]) -> String {
    let o = deploy(args);
    let t = text(&o);
    assert!(o.status.success(), "etcd-deploy {args:?} failed:\n{t}");
    t
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `(etcdserver, etcdcluster)` from a member's `/version`.
pub fn versions(url: &str) -> (String, String) {
    rt().block_on(async {
        let body = reqwest::get(format!("{url}/version"))
            .await
            .expect("GET /version")
            .bytes()
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        (
            v["etcdserver"].as_str().unwrap_or_default().to_string(),
            v["etcdcluster"].as_str().unwrap_or_default().to_string(),
        )
    })
}

pub use crate::writer::{Tls, WriteReport, Writer};

/// Asserts that no acknowledged write was lost, and prints the figures.
pub fn assert_no_loss(what: &str, url: &str, report: &WriteReport, prefix: &str) {
    assert_no_loss_tls(what, url, report, prefix, None)
}

pub fn assert_no_loss_tls(
    what: &str,
    url: &str,
    report: &WriteReport,
    prefix: &str,
    tls: Option<&Tls>,
) {
    let lost = rt()
        .block_on(crate::writer::lost_writes(url, report, prefix, tls))
        .expect("read back");
    eprintln!(
        "{what}: {} writes acknowledged, {} failed attempts, longest gap between acknowledged writes {:?}, {} lost",
        report.acked.len(),
        report.failed_attempts,
        report.longest_gap,
        lost.len()
    );
    for (at, url, err) in &report.failures {
        eprintln!("  {what}: failed write at {at:?} on {url}: {err}");
    }
    assert!(report.acked.len() > 10, "the writer made progress");
    assert!(
        lost.is_empty(),
        "{what}: acknowledged writes lost: {:?}",
        &lost[..lost.len().min(10)]
    );
}

/// Applies the lab's 3-host inventory (edited by `edit`) from a mirror that
/// also has a broken 3.5.2, then tries the upgrade to it with writes flowing.
/// Asserts it fails naming the member and step and rolls back to 3.5.1;
/// returns the inventory, etcd-deploy's output and the writes' report.
pub fn failed_upgrade_to_broken_release(
    lab: &Lab,
    edit: impl FnOnce(String) -> String,
) -> (PathBuf, String, WriteReport) {
    let mirror = mirror_with_broken(&lab.dir.path().join("mirror"), &["3.5.1"], "3.5.2");
    let cache = lab.dir.path().join("cache");
    let inv = lab.inventory(3, |s| {
        edit(s.replace(
            "source = \"http://127.0.0.1:18080\"",
            &format!("source = \"{mirror}\"\ncache_dir = \"{}\"", cache.display()),
        ))
    });
    apply(&inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "w/", None);
    let o = deploy(&["upgrade", path_str(&inv), "--to", "3.5.2", "--no-snapshot"]);
    let report = writer.stop();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("error: etcd-") && t.contains(": upgrade to 3.5.2: "),
        "the host and the step are named: {t}"
    );
    assert!(
        t.contains("rolled back to etcd 3.5.1; the member is healthy on 3.5.1"),
        "{t}"
    );
    (inv, t, report)
}

/// A file:// release mirror in `dir` with the lab's real releases and
/// `broken`, a release whose etcd exits at once.
pub fn mirror_with_broken(dir: &Path, real: &[&str], broken: &str) -> String {
    let src = Path::new("/var/cache/etcd-deploy-lab/mirror");
    for v in real {
        let d = dir.join(format!("v{v}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        for f in [
            format!("etcd-v{v}-linux-amd64.tar.gz"),
            "SHA256SUMS".to_string(),
        ] {
            std::fs::copy(src.join(format!("v{v}")).join(&f), d.join(&f)).expect("copy release");
        }
    }
    let name = format!("etcd-v{broken}-linux-amd64");
    let work = dir.join("work").join(&name);
    std::fs::create_dir_all(&work).expect("mkdir");
    for b in ["etcd", "etcdctl", "etcdutl"] {
        std::fs::write(
            work.join(b),
            "#!/bin/sh\necho 'this etcd is broken on purpose' >&2\nexit 1\n",
        )
        .expect("write");
        sh(Command::new("chmod").arg("755").arg(work.join(b)));
    }
    let d = dir.join(format!("v{broken}"));
    std::fs::create_dir_all(&d).expect("mkdir");
    let o = sh(Command::new("tar")
        .arg("-C")
        .arg(dir.join("work"))
        .arg("-czf")
        .arg(d.join(format!("{name}.tar.gz")))
        .arg(&name));
    assert!(o.status.success());
    let o = sh(Command::new("sh").arg("-c").arg(format!(
        "cd {} && sha256sum {name}.tar.gz > SHA256SUMS",
        d.display()
    )));
    assert!(o.status.success());
    format!("file://{}", dir.display())
}

/// A release mirror in `dir` (laid out like the release pages) serving an
/// etcd 3.5.2 tarball that matches its SHA256SUMS, made of stub binaries
/// and whatever `plant` puts into its top directory.
pub fn hostile_release(dir: &Path, plant: impl FnOnce(&Path)) {
    let name = "etcd-v3.5.2-linux-amd64";
    let work = dir.join("work").join(name);
    std::fs::create_dir_all(&work).expect("mkdir");
    for b in ["etcd", "etcdctl", "etcdutl"] {
        std::fs::write(work.join(b), "#!/bin/sh\nexit 0\n").expect("write");
        sh(Command::new("chmod").arg("755").arg(work.join(b)));
    }
    plant(&work);
    let v = dir.join("v3.5.2");
    std::fs::create_dir_all(&v).expect("mkdir");
    let o = sh(Command::new("tar")
        .arg("-C")
        .arg(dir.join("work"))
        .arg("-czf")
        .arg(v.join(format!("{name}.tar.gz")))
        .arg(name));
    assert!(o.status.success());
    let o = sh(Command::new("sh").arg("-c").arg(format!(
        "cd {} && sha256sum {name}.tar.gz > SHA256SUMS",
        v.display()
    )));
    assert!(o.status.success());
}

/// An inventory edit turning TLS on (`mode`, certificates in `dir`).
pub fn with_tls(mode: &str, dir: &Path) -> impl Fn(String) -> String {
    let section = format!(
        "[tls]\nmode = \"{mode}\"\ndir = \"{}\"\n\n[[hosts]]",
        dir.display()
    );
    move |s: String| s.replacen("[[hosts]]", &section, 1)
}

/// Cuts peer traffic between two lab hosts, both ways, while alive. Lab
/// hosts share one network namespace and every peer connection leaves from
/// 127.0.0.1, so addresses cannot tell members apart; their etcd users can:
/// each host's etcd runs as its own UID (made before the first apply), and
/// iptables drops what that UID sends to the other's peer port. The rules
/// match only this test's UIDs and addresses and are removed when dropped.
pub struct Partition {
    rules: Vec<Vec<String>>,
}

pub fn etcd_uid(lab: &Lab, n: usize) -> String {
    (40000 + usize::from(lab.block) * 10 + n).to_string()
}

/// Makes host `n`'s etcd user with the UID `Partition` matches on.
pub fn own_etcd_user(lab: &Lab, n: usize) {
    let uid = etcd_uid(lab, n);
    lab.ssh(
        n,
        &format!(
            "groupadd --system --gid {uid} etcd && useradd --system --uid {uid} --gid {uid} --no-create-home --home-dir /var/lib/etcd --shell /usr/sbin/nologin etcd"
        ),
    );
}

impl Partition {
    pub fn between(lab: &Lab, a: usize, b: usize) -> Partition {
        let rule = |from: usize, to: usize| {
            let uid = etcd_uid(lab, from);
            let dst = lab.addr(to);
            [
                "OUTPUT",
                "-m",
                "owner",
                "--uid-owner",
                &uid,
                "-d",
                &dst,
                "-p",
                "tcp",
                "--dport",
                "2380",
                "-j",
                "DROP",
            ]
            .map(String::from)
            .to_vec()
        };
        let rules = vec![rule(a, b), rule(b, a)];
        for r in &rules {
            let o = sh(Command::new("iptables").arg("-I").args(r));
            assert!(o.status.success(), "iptables: {}", text(&o));
        }
        Partition { rules }
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        for r in &self.rules {
            let _ = Command::new("iptables").arg("-D").args(r).output();
        }
    }
}

/// A TLS cluster of three lab hosts of block `block` (generated
/// certificates in the lab's `pki/`), applied: the lab, the PKI directory,
/// the inventory and the members' https client URLs.
pub fn tls_cluster(block: u8) -> (Lab, PathBuf, PathBuf, Vec<String>) {
    let lab = Lab::up(block, 3);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(3, with_tls("generate", &pki));
    apply(&inv);
    let urls = (1..=3)
        .map(|i| lab.url(i).replace("http://", "https://"))
        .collect();
    (lab, pki, inv, urls)
}

/// Every one of the first `n` lab hosts serves etcd's metrics on plain
/// HTTP at `port`, with a leader.
pub fn assert_metrics_served(lab: &Lab, n: usize, port: u16) {
    for i in 1..=n {
        let body =
            sh(Command::new("curl")
                .args(["-fsS", &format!("http://{}:{port}/metrics", lab.addr(i))]));
        assert!(
            String::from_utf8_lossy(&body.stdout).contains("etcd_server_has_leader 1"),
            "{}",
            text(&body)
        );
    }
}

/// An inventory edit: etcd `v` instead of the lab's 3.5.1.
pub fn with_version(v: &'static str) -> impl Fn(String) -> String {
    move |s| s.replace("version = \"3.5.1\"", &format!("version = \"{v}\""))
}
