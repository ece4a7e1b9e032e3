//! Clusters etcd-deploy did not make: `init --from-cluster` describes a
//! cluster made by hand the way etcd's clustering guide does it (a systemd
//! unit with flags, binaries in /usr/local/bin, data where its author chose),
//! or with a compose file per host; the reading and maintenance commands work
//! with what it wrote, apply refuses to start its own etcd over them, and
//! `adopt` takes them over with writes flowing (nothing acknowledged lost),
//! after which apply has nothing to do and upgrade works.

use crate::support::*;
use std::process::Command;

/// The hand-made clusters run 3.5.0, so that an upgrade after adopting has
/// somewhere to go (`current_etcd.rs` makes one on 3.6).
const VERSION: &str = "3.5.0";
const RELEASE: &str = "etcd-v3.5.0-linux-amd64";

/// `infra1=http://A1:2380,...`: the initial cluster of the three members.
fn initial_cluster(lab: &Lab) -> String {
    (1..=3)
        .map(|i| format!("infra{i}=http://{}:2380", lab.addr(i)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `cmd` on host `i` with the 3.5.0 release tarball on its stdin.
fn with_release(lab: &Lab, i: usize, cmd: &str) {
    with_release_of(lab, i, VERSION, cmd)
}

/// Runs `cmd` on host `i` with the lab mirror's tarball of `version` on its stdin.
fn with_release_of(lab: &Lab, i: usize, version: &str, cmd: &str) {
    let tarball =
        format!("/var/cache/etcd-deploy-lab/mirror/v{version}/etcd-v{version}-linux-amd64.tar.gz");
    let o = sh(Command::new(lab_script())
        .args([
            "ssh",
            &i.to_string(),
            "--block",
            &lab.block.to_string(),
            cmd,
        ])
        .stdin(std::fs::File::open(tarball).expect("tarball")));
    assert!(o.status.success(), "{}", text(&o));
}

/// Waits until all three members answer `/health`.
pub(super) fn wait_until_up(lab: &Lab, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(1..=3).all(|i| {
        sh(Command::new("curl").args(["-fs", &format!("{}/health", lab.url(i))]))
            .status
            .success()
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the {what} cluster did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `init OUT --from-cluster URL`, reaching the hosts as root with the lab's
/// key and known_hosts file.
pub(super) fn from_cluster(lab: &Lab, out: &std::path::Path, url: &str) -> Vec<String> {
    [
        "init",
        path_str(out),
        "--from-cluster",
        url,
        "--user",
        "root",
        "--identity-file",
        "/var/cache/etcd-deploy-lab/ssh/id_ed25519",
        "--known-hosts-file",
        &format!("/var/lib/etcd-deploy-lab/b{}/known_hosts", lab.block),
    ]
    .map(String::from)
    .to_vec()
}

/// Host `i` runs etcd by hand, as etcd's clustering guide does: the
/// release's etcd and etcdctl in /usr/local/bin, started by `etcd.service`
/// with `flags`.
pub(super) fn etcd_service(lab: &Lab, i: usize, flags: &str) {
    etcd_service_of(lab, i, VERSION, flags)
}

/// `etcd_service` with the release of `version`.
pub(super) fn etcd_service_of(lab: &Lab, i: usize, version: &str, flags: &str) {
    let release = format!("etcd-v{version}-linux-amd64");
    with_release_of(
        lab,
        i,
        version,
        &format!(
            "tar -xzf - -C /usr/local/bin --strip-components=1 {release}/etcd {release}/etcdctl"
        ),
    );
    let unit = format!(
        "[Unit]\nDescription=etcd\n[Service]\nExecStart=/usr/local/bin/etcd {flags}\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"
    );
    lab.ssh(
        i,
        &format!(
            "cat >/etc/systemd/system/etcd.service <<'UNIT'\n{unit}UNIT\nsystemctl daemon-reload && systemctl enable -q --now etcd"
        ),
    );
}

/// Three members `infra1..3` started by hand with flags in `etcd.service`.
fn hand_made(lab: &Lab) {
    let cluster = initial_cluster(lab);
    for i in 1..=3 {
        let a = lab.addr(i);
        etcd_service(
            lab,
            i,
            &format!(
                "--name infra{i} --data-dir /var/lib/etcd/infra{i}.etcd --initial-advertise-peer-urls http://{a}:2380 --listen-peer-urls http://{a}:2380 --listen-client-urls http://{a}:2379 --advertise-client-urls http://{a}:2379 --initial-cluster-token etcd-cluster-1 --initial-cluster {cluster} --initial-cluster-state new"
            ),
        );
    }
    wait_until_up(lab, "hand-made");
}

#[test]
fn init_from_cluster_describes_a_hand_made_cluster() {
    // Host 4 runs a one-member cluster of its own (made by hand too).
    let lab = Lab::up(69, 4);
    hand_made(&lab);
    let out = lab.dir.path().join("found.toml");
    let mut args = from_cluster(&lab, &out, &lab.url(2));
    args.extend(["--name".to_string(), "handmade".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = deploy_ok(&args);
    let inv = std::fs::read_to_string(&out).expect("written");
    assert!(
        inv.contains("name = \"handmade\"") && inv.contains("version = \"3.5.0\""),
        "{inv}"
    );
    for i in 1..=3 {
        assert!(
            inv.contains(&format!(
                "name = \"infra{i}\"\naddress = \"{}\"\ndata_dir = \"/var/lib/etcd/infra{i}.etcd\"",
                lab.addr(i)
            )),
            "{inv}"
        );
    }
    assert!(
        inv.contains("settings from flags, unit etcd.service, binary /usr/local/bin/etcd"),
        "{inv}\n{said}"
    );
    assert!(
        inv.contains("`etcd-deploy adopt` takes its members over"),
        "{inv}"
    );
    // Not again over it without --force; a TLS URL is refused before anything.
    assert_eq!(deploy(&args).status.code(), Some(2));
    let o = deploy(&[
        "init",
        "/tmp/x.toml",
        "--from-cluster",
        "https://127.0.69.1:2379",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // The reading and maintenance commands work with it.
    let st = status_json(&out);
    assert_eq!(st.as_array().map(Vec::len), Some(3), "{st}");
    assert!(st.to_string().contains("\"health\":\"healthy\""), "{st}");
    let snap = lab.dir.path().join("hand.db");
    deploy_ok(&["snapshot", "save", path_str(&out), "--out", path_str(&snap)]);
    assert!(snap.is_file());
    assert_eq!(
        deploy(&["alarm", "list", path_str(&out)]).status.code(),
        Some(0)
    );
    let said = deploy_ok(&["defrag", path_str(&out), "--all"]);
    assert!(said.contains("Defragmented 3 member(s)"), "{said}");

    // apply on it changes nothing: refused by name, every etcd keeps its PID.
    let pids = || -> Vec<String> {
        (1..=3)
            .map(|i| lab.ssh(i, "systemctl show -p MainPID --value etcd"))
            .collect()
    };
    let before = pids();
    // `args` fails (exit 1) saying `says`, and every member keeps its PID.
    let refused = |args: &[&str], says: &str| {
        let o = deploy(args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
        assert_eq!(pids(), before, "every etcd keeps its PID");
    };
    refused(
        &["apply", path_str(&out), "--yes"],
        "an etcd that etcd-deploy did not start runs as infra1 (PID",
    );
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "ls /opt/etcd 2>/dev/null | wc -l").trim(),
            "0",
            "nothing installed"
        );
    }

    // adopt: refused before anything changes when the inventory's data
    // directory is not the one the member runs with.
    let inv = with_mirror(&out);
    let wrong = lab.dir.path().join("wrong.toml");
    let text_of = std::fs::read_to_string(&inv).expect("inventory");
    std::fs::write(
        &wrong,
        text_of.replace("/var/lib/etcd/infra2.etcd", "/var/lib/etcd/other"),
    )
    .expect("write");
    refused(
        &["adopt", path_str(&wrong), "--yes"],
        "infra2: its etcd keeps its data in /var/lib/etcd/infra2.etcd, and the inventory says data_dir /var/lib/etcd/other",
    );
    // ... and when the inventory names members of two clusters.
    with_release(
        &lab,
        4,
        &format!("tar -xzf - -C /usr/local/bin --strip-components=1 {RELEASE}/etcd"),
    );
    let a4 = lab.addr(4);
    lab.ssh(
        4,
        &format!(
            "systemd-run -q --unit etcd /usr/local/bin/etcd --name other1 --data-dir /var/lib/etcd/other1.etcd --listen-peer-urls http://{a4}:2380 --initial-advertise-peer-urls http://{a4}:2380 --listen-client-urls http://{a4}:2379 --advertise-client-urls http://{a4}:2379 --initial-cluster other1=http://{a4}:2380"
        ),
    );
    let mixed = lab.dir.path().join("mixed.toml");
    std::fs::write(
        &mixed,
        format!(
            "{text_of}\n[[hosts]]\nname = \"other1\"\naddress = \"{a4}\"\ndata_dir = \"/var/lib/etcd/other1.etcd\"\n"
        ),
    )
    .expect("write");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !sh(Command::new("curl").args(["-fs", &format!("{}/health", lab.url(4))]))
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "other1 did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    refused(
        &["adopt", path_str(&mixed), "--yes"],
        "the inventory names members of different clusters",
    );
    // What it found, and the plan; nothing changed.
    let said = deploy_ok(&["adopt", path_str(&inv), "--dry-run"]);
    assert!(said.contains("infra1: found etcd.service (PID"), "{said}");
    assert!(said.contains("take over one member at a time"), "{said}");
    assert_eq!(pids(), before);

    // etcd-deploy's etcd refuses to start (a setting etcd rejects: key files
    // that do not exist): the first member goes back to its own unit, its
    // data to its owner, and the run stops; the others are untouched.
    let bad = lab.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text_of.replace(
            "\n[ssh]\n",
            "\n[etcd]\nextra = { \"auth-token\" = \"jwt,pub-key=/nonexistent.pub,priv-key=/nonexistent.key,sign-method=RS256\" }\n\n[ssh]\n",
        ),
    )
    .expect("write");
    let o = deploy(&["adopt", path_str(&bad), "--yes"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("its previous unit runs it again and it is healthy; the run stopped here"),
        "{t}"
    );
    let first = (1..=3)
        .find(|i| t.contains(&format!("infra{i}: take over")))
        .expect("the member that went back");
    assert_eq!(
        lab.ssh(
            first,
            &format!("systemctl is-active etcd etcd@infra{first}; systemctl is-enabled etcd; stat -c %U /var/lib/etcd/infra{first}.etcd/member/wal")
        ),
        "active\ninactive\nenabled\nroot"
    );
    let after = pids();
    for i in (1..=3).filter(|i| *i != first) {
        assert_eq!(after[i - 1], before[i - 1], "infra{i} untouched");
    }
    assert!(
        status_json(&inv)
            .to_string()
            .contains("\"health\":\"healthy\"")
    );

    // Killed once right after the first member's old unit was stopped.
    adopt_with_writes(&lab, &inv, "adopt-systemd/", Some("infra2: start etcd"));
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, &format!("systemctl is-active etcd@infra{i}")),
            "active"
        );
        // The old unit: disabled, stopped, left on disk.
        assert_eq!(
            lab.ssh(i, "systemctl is-enabled etcd; systemctl is-active etcd; test -f /etc/systemd/system/etcd.service && echo kept"),
            "disabled\ninactive\nkept"
        );
        assert_eq!(
            lab.ssh(
                i,
                &format!("stat -c %U /var/lib/etcd/infra{i}.etcd/member/wal")
            ),
            "etcd"
        );
        // The binaries installed by hand stay as they were (the old unit
        // runs them); etcd-deploy links only the name nobody had taken.
        assert_eq!(
            lab.ssh(
                i,
                "stat -c %F /usr/local/bin/etcd /usr/local/bin/etcdctl; readlink /usr/local/bin/etcdutl"
            ),
            "regular file\nregular file\n/opt/etcd/current/etcdutl"
        );
    }
}

/// The inventory `init --from-cluster` wrote, with the lab's release mirror
/// (and compose images made from it: the lab reaches no registry).
pub(super) fn with_mirror(found: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(found).expect("inventory").replace(
        "mode = \"compose\"\n",
        "mode = \"compose\"\nimage = \"release\"\n",
    );
    let path = found.with_file_name("adopt.toml");
    std::fs::write(
        &path,
        text.replace(
            "\n[ssh]\n",
            "\n[release]\nsource = \"http://127.0.0.1:18080\"\nfetch = \"controller\"\n\n[ssh]\n",
        ),
    )
    .expect("write");
    path
}

/// Member IDs by name, as `status` shows them.
pub(super) fn ids(inv: &std::path::Path) -> Vec<(String, String)> {
    let st = status_json(inv);
    let mut out: Vec<(String, String)> = st
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["name"].to_string(), r["id"].to_string()))
        .collect();
    out.sort();
    out
}

/// `adopt` with a client writing throughout: nothing acknowledged is lost,
/// every member keeps its ID, apply then has nothing to do, and an upgrade
/// (3.5.0 → 3.5.1) works on the adopted cluster. With `kill_at`, a first
/// adopt is killed (SIGKILL) when its progress shows that line, and the
/// second one finishes the work.
fn adopt_with_writes(lab: &Lab, inv: &std::path::Path, prefix: &str, kill_at: Option<&str>) {
    let before = ids(inv);
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, prefix, None);
    std::thread::sleep(std::time::Duration::from_secs(1));
    if let Some(at) = kill_at {
        let args = ["adopt", path_str(inv), "--yes"].map(String::from);
        let (seen, hit) = kill_when(&args, |l| l.contains(at));
        assert!(hit, "{seen}");
    }
    let said = deploy_ok(&["adopt", path_str(inv), "--yes"]);
    let report = writer.stop();
    assert_no_loss("adopt", &lab.url(1), &report, prefix);
    assert!(
        said.contains("`etcd-deploy apply` has nothing to do"),
        "{said}"
    );
    assert_eq!(ids(inv), before, "every member keeps its ID");
    // Each host's records say the members were adopted, not made here.
    for i in 1..=3 {
        let r = lab.ssh(i, "cat /var/lib/etcd-deploy/*.members.json");
        assert_eq!(r.matches("\"adopted\":true").count(), 3, "{r}");
    }
    assert!(deploy_ok(&["plan", path_str(inv)]).contains("No changes"));
    assert!(deploy_ok(&["adopt", path_str(inv)]).contains("Nothing to adopt"));
    deploy_ok(&[
        "upgrade",
        path_str(inv),
        "--to",
        "3.5.1",
        "--no-snapshot",
        "--yes",
    ]);
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1");
    }
}

/// The same with a compose file per host (`network_mode: host`, the image
/// made from the release binaries with `docker import`, data in a bind
/// mount): each member is recognised as running in a container, its
/// in-container data directory is not taken for the host's, and apply is
/// refused by name, every container left as it was.
#[test]
fn init_from_cluster_describes_a_compose_made_cluster_and_apply_refuses() {
    let lab = Lab::up_docker(72, 3);
    let cluster = initial_cluster(&lab);
    for i in 1..=3 {
        with_release(
            &lab,
            i,
            &format!(
                "mkdir -p /tmp/r && tar -xzf - -C /tmp/r --strip-components=1 {RELEASE}/etcd && cd /tmp/r && tar -c etcd | docker import - handmade/etcd:3.5.0 >/dev/null"
            ),
        );
        let a = lab.addr(i);
        let compose = format!(
            "services:\n  etcd:\n    image: handmade/etcd:3.5.0\n    network_mode: host\n    restart: unless-stopped\n    volumes: [\"/usr/local/docker/etcdd/data:/data\"]\n    entrypoint: [\"/etcd\", \"--name\", \"infra{i}\", \"--data-dir\", \"/data\", \"--initial-advertise-peer-urls\", \"http://{a}:2380\", \"--listen-peer-urls\", \"http://{a}:2380\", \"--listen-client-urls\", \"http://{a}:2379\", \"--advertise-client-urls\", \"http://{a}:2379\", \"--initial-cluster\", \"{cluster}\", \"--initial-cluster-state\", \"new\"]\n"
        );
        lab.ssh(
            i,
            &format!(
                "mkdir -p /usr/local/docker/etcdd && cat >/usr/local/docker/etcdd/docker-compose.yml <<'YML'\n{compose}YML\ncd /usr/local/docker/etcdd && docker compose up -d --quiet-pull 2>/dev/null"
            ),
        );
    }
    wait_until_up(&lab, "compose-made");
    let out = lab.dir.path().join("found.toml");
    let args = from_cluster(&lab, &out, &lab.url(1));
    deploy_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let inv = std::fs::read_to_string(&out).expect("written");
    for i in 1..=3 {
        assert!(inv.contains("# found: runs in container "), "{inv}");
        assert!(
            inv.contains(&format!(
                "name = \"infra{i}\"\naddress = \"{}\"\ndata_dir = \"/usr/local/docker/etcdd/data\"\nmode = \"compose\"\n",
                lab.addr(i)
            )),
            "the host side of the data mount, not the path inside: {inv}"
        );
    }
    assert!(
        inv.contains(
            "(data /usr/local/docker/etcdd/data on the host, /data inside it), settings from flags"
        ),
        "{inv}"
    );
    assert!(
        status_json(&out)
            .to_string()
            .contains("\"health\":\"healthy\"")
    );

    let pids = || -> Vec<String> {
        (1..=3)
            .map(|i| lab.ssh(i, "docker inspect -f '{{.State.Pid}}' etcdd-etcd-1"))
            .collect()
    };
    let before = pids();
    let o = deploy(&["apply", path_str(&out), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("an etcd that etcd-deploy did not start runs as infra1 (PID"),
        "{}",
        text(&o)
    );
    assert_eq!(pids(), before, "every container as it was");

    let usr_local =
        "find /usr/local -xdev ! -path '/usr/local/docker/etcdd/data/*' | sort | md5sum";
    let before_local: Vec<String> = (1..=3).map(|i| lab.ssh(i, usr_local)).collect();
    let inv = with_mirror(&out);
    adopt_with_writes(&lab, &inv, "adopt-compose/", None);
    for i in 1..=3 {
        // The old container: stopped, kept, not restarted by Docker.
        assert_eq!(
            lab.ssh(i, "docker inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' etcdd-etcd-1"),
            "false no"
        );
        assert_eq!(
            lab.ssh(
                i,
                &format!("docker inspect -f '{{{{.State.Running}}}}' etcd-etcd-infra{i}")
            ),
            "true"
        );
    }
    // Issue 22: the data where it lives (/usr/local/docker/etcdd/data, the
    // seed's layout) was taken over; destroying the cluster removes etcd's
    // files there and nothing else under /usr/local.
    deploy_ok(&["destroy", path_str(&inv), "--wipe-data", "--yes"]);
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "ls -A /usr/local/docker/etcdd/data"),
            "",
            "host {i}"
        );
        assert_eq!(
            lab.ssh(i, usr_local),
            before_local[i - 1],
            "host {i}: /usr/local as it was"
        );
    }
}
