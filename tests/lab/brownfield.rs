//! Clusters etcd-deploy did not make: `init --from-cluster` describes a
//! cluster made by hand the way etcd's clustering guide does it (a systemd
//! unit with flags, binaries in /usr/local/bin, data where its author chose),
//! and the reading and maintenance commands work with what it wrote.

use crate::support::*;
use std::process::Command;

const TARBALL: &str = "/var/cache/etcd-deploy-lab/mirror/v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz";

/// `infra1=http://A1:2380,...`: the initial cluster of the three members.
fn initial_cluster(lab: &Lab) -> String {
    (1..=3)
        .map(|i| format!("infra{i}=http://{}:2380", lab.addr(i)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `cmd` on host `i` with the 3.5.1 release tarball on its stdin.
fn with_release(lab: &Lab, i: usize, cmd: &str) {
    let o = sh(Command::new(lab_script())
        .args([
            "ssh",
            &i.to_string(),
            "--block",
            &lab.block.to_string(),
            cmd,
        ])
        .stdin(std::fs::File::open(TARBALL).expect("tarball")));
    assert!(o.status.success(), "{}", text(&o));
}

/// Waits until all three members answer `/health`.
fn wait_until_up(lab: &Lab, what: &str) {
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
fn from_cluster(lab: &Lab, out: &std::path::Path, url: &str) -> Vec<String> {
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

/// Three members `infra1..3` started by hand with flags in `etcd.service`.
fn hand_made(lab: &Lab) {
    let cluster = initial_cluster(lab);
    for i in 1..=3 {
        with_release(
            lab,
            i,
            "tar -xzf - -C /usr/local/bin --strip-components=1 etcd-v3.5.1-linux-amd64/etcd etcd-v3.5.1-linux-amd64/etcdctl",
        );
        let a = lab.addr(i);
        let unit = format!(
            "[Unit]\nDescription=etcd\n[Service]\nExecStart=/usr/local/bin/etcd --name infra{i} --data-dir /var/lib/etcd/infra{i}.etcd --initial-advertise-peer-urls http://{a}:2380 --listen-peer-urls http://{a}:2380 --listen-client-urls http://{a}:2379 --advertise-client-urls http://{a}:2379 --initial-cluster-token etcd-cluster-1 --initial-cluster {cluster} --initial-cluster-state new\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"
        );
        lab.ssh(
            i,
            &format!(
                "cat >/etc/systemd/system/etcd.service <<'UNIT'\n{unit}UNIT\nsystemctl daemon-reload && systemctl enable -q --now etcd"
            ),
        );
    }
    wait_until_up(lab, "hand-made");
}

#[test]
fn init_from_cluster_describes_a_hand_made_cluster() {
    let lab = Lab::up(69, 3);
    hand_made(&lab);
    let out = lab.dir.path().join("found.toml");
    let mut args = from_cluster(&lab, &out, &lab.url(2));
    args.extend(["--name".to_string(), "handmade".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let said = deploy_ok(&args);
    let inv = std::fs::read_to_string(&out).expect("written");
    assert!(
        inv.contains("name = \"handmade\"") && inv.contains("version = \"3.5.1\""),
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
    assert!(inv.contains("do not run apply on it"), "{inv}");
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
    let pids: Vec<String> = (1..=3)
        .map(|i| lab.ssh(i, "systemctl show -p MainPID --value etcd"))
        .collect();
    let o = deploy(&["apply", path_str(&out), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("an etcd that etcd-deploy did not start runs as infra1 (PID"),
        "{}",
        text(&o)
    );
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "systemctl show -p MainPID --value etcd"),
            pids[i - 1]
        );
        assert_eq!(
            lab.ssh(i, "ls /opt/etcd 2>/dev/null | wc -l").trim(),
            "0",
            "nothing installed"
        );
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
            "mkdir -p /tmp/r && tar -xzf - -C /tmp/r --strip-components=1 etcd-v3.5.1-linux-amd64/etcd && cd /tmp/r && tar -c etcd | docker import - handmade/etcd:3.5.1 >/dev/null",
        );
        let a = lab.addr(i);
        let compose = format!(
            "services:\n  etcd:\n    image: handmade/etcd:3.5.1\n    network_mode: host\n    restart: unless-stopped\n    volumes: [\"/srv/etcd:/data\"]\n    entrypoint: [\"/etcd\", \"--name\", \"infra{i}\", \"--data-dir\", \"/data\", \"--initial-advertise-peer-urls\", \"http://{a}:2380\", \"--listen-peer-urls\", \"http://{a}:2380\", \"--listen-client-urls\", \"http://{a}:2379\", \"--advertise-client-urls\", \"http://{a}:2379\", \"--initial-cluster\", \"{cluster}\", \"--initial-cluster-state\", \"new\"]\n"
        );
        lab.ssh(
            i,
            &format!(
                "mkdir -p /srv/handmade && cat >/srv/handmade/compose.yml <<'YML'\n{compose}YML\ndocker compose -f /srv/handmade/compose.yml up -d --quiet-pull 2>/dev/null"
            ),
        );
    }
    wait_until_up(&lab, "compose-made");
    let out = lab.dir.path().join("found.toml");
    let args = from_cluster(&lab, &out, &lab.url(1));
    deploy_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let inv = std::fs::read_to_string(&out).expect("written");
    for i in 1..=3 {
        assert!(
            inv.contains(&format!(
                "# found: runs in a container (data /data inside it; its host path is the container's mount), settings from flags\nname = \"infra{i}\"\naddress = \"{}\"\n",
                lab.addr(i)
            )),
            "{inv}"
        );
    }
    assert!(
        !inv.contains("data_dir ="),
        "no in-container path as the host's: {inv}"
    );
    assert!(
        status_json(&out)
            .to_string()
            .contains("\"health\":\"healthy\"")
    );

    let pids = || -> Vec<String> {
        (1..=3)
            .map(|i| lab.ssh(i, "docker inspect -f '{{.State.Pid}}' handmade-etcd-1"))
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
}
