//! Compose mode on real Docker engines inside the lab hosts: the
//! single-machine pseudo-cluster on a bridge (with `docker compose` v2), three
//! hosts on host networking with a rolling upgrade and a replacement under
//! writes (with `docker-compose` v1 only), and a host without compose.

use crate::support::*;

/// `docker ps` of the cluster's containers on host `n`: `name id` lines, sorted.
fn containers(lab: &Lab, n: usize) -> String {
    lab.ssh(n, "docker ps -a --filter label=io.etcd-deploy.member --format '{{.Names}} {{.ID}} {{.State}}' | sort")
}

#[test]
fn compose_pseudo_cluster_on_one_host() {
    let lab = Lab::up_docker(26, 1);
    let inv = lab.inventory(1, |s| {
        lab.three_on_host_1(s, "m", |_| String::new()).replace(
            "[release]",
            "mode = \"compose\"\nimage = \"release\"\n\n[release]",
        )
    });
    let plan = deploy_ok(&["plan", path_str(&inv)]);
    assert!(
        plan.contains("host 127.0.26.1: members m0, m1, m2"),
        "{plan}"
    );
    assert!(
        plan.contains("build image etcd-deploy/etcd:v3.5.1, write compose file"),
        "{plan}"
    );
    apply(&inv);
    let file = lab.ssh(1, "cat /etc/etcd/compose/lab26/compose.yml");
    assert!(
        file.contains("networks: [etcd]")
            && file.contains("\"127.0.26.1:3379:3379\"")
            && !file.contains("network_mode"),
        "{file}"
    );
    let before = containers(&lab, 1);
    assert_eq!(
        before.lines().filter(|l| l.ends_with(" running")).count(),
        3,
        "{before}"
    );
    assert_eq!(
        lab.ssh(
            1,
            "docker network ls --format '{{.Name}} {{.Driver}}' | grep etcd"
        ),
        "etcd-lab26 bridge"
    );
    let urls: Vec<String> = (0..3)
        .map(|k| format!("http://127.0.26.1:{}", 2379 + 1000 * k))
        .collect();
    rt().block_on(async {
        for u in &urls {
            let mut c = client(u).await;
            let mut n: Vec<(String, Vec<String>)> = c
                .member_list()
                .await
                .expect("list")
                .members()
                .iter()
                .map(|m| (m.name().to_string(), m.peer_urls().to_vec()))
                .collect();
            n.sort();
            let want: Vec<(String, Vec<String>)> = (0..3)
                .map(|k| {
                    (
                        format!("m{k}"),
                        vec![format!("http://m{k}:{}", 2380 + 1000 * k)],
                    )
                })
                .collect();
            assert_eq!(n, want, "peers reach each other by name on the bridge");
        }
        client(&urls[0])
            .await
            .put("pseudo", "cluster", None)
            .await
            .expect("put");
        for u in &urls[1..] {
            let r = client(u).await.get("pseudo", None).await.expect("get");
            assert_eq!(r.kvs()[0].value(), b"cluster");
        }
    });
    // Re-apply: no container recreated or restarted.
    assert!(apply(&inv).contains("No changes."));
    assert_eq!(containers(&lab, 1), before, "re-apply recreates nothing");
    // An edit to one member recreates that member's container only.
    let edited = std::fs::read_to_string(&inv).expect("read").replace(
        "name = \"m1\"\n",
        "name = \"m1\"\netcd = { log_level = \"warn\" }\n",
    );
    std::fs::write(&inv, edited).expect("write");
    let out = apply(&inv);
    assert!(
        out.contains("m1: restarted (config changed), healthy")
            || out.contains("restart (config changed)"),
        "{out}"
    );
    let after = containers(&lab, 1);
    let line = |s: &str, name: &str| s.lines().find(|l| l.contains(name)).map(str::to_string);
    assert_eq!(line(&after, "-m0 "), line(&before, "-m0 "));
    assert_eq!(line(&after, "-m2 "), line(&before, "-m2 "));
    assert_ne!(
        line(&after, "-m1 "),
        line(&before, "-m1 "),
        "m1 was recreated"
    );
    // A bad setting makes etcd exit at start: apply says so within seconds (no
    // 60 s health timeout), naming member and step and quoting etcd's reason;
    // m2 gets its previous config back and is healthy again (issue 12); the
    // other two keep quorum; undoing the edit converges.
    let good = std::fs::read_to_string(&inv).expect("read");
    let bad = good.replace(
        "name = \"m2\"\n",
        // (well-typed, so validation lets it through; the key files are
        // missing on the host, so etcd refuses to start)
        "name = \"m2\"\netcd = { extra = { \"auth-token\" = \"jwt,pub-key=/nonexistent.pub,priv-key=/nonexistent.key,sign-method=RS256\" } }\n",
    );
    std::fs::write(&inv, bad).expect("write");
    let started = std::time::Instant::now();
    let o = deploy(&["apply", path_str(&inv)]);
    let t = text(&o);
    eprintln!(
        "a member whose etcd exits at start: apply failed after {:?}",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("m2: wait until healthy: etcd keeps exiting in its container")
            && t.contains("its previous config is back and it is healthy again"),
        "{t}"
    );
    assert!(
        t.contains("cause, from its log: discovery failed: auth: invalid auth options")
            && t.contains("--- last lines of the etcd container log on m2 ---"),
        "{t}"
    );
    rt().block_on(async {
        client(&urls[0])
            .await
            .put("during-failure", "ok", None)
            .await
            .expect("quorum kept");
        assert_eq!(
            client(&urls[1])
                .await
                .get("during-failure", None)
                .await
                .expect("get")
                .kvs()[0]
                .value(),
            b"ok"
        );
    });
    std::fs::write(&inv, good).expect("write");
    apply(&inv);
    assert!(apply(&inv).contains("No changes."));
    // `down` removes the containers; the bind-mounted data survives and apply brings them back.
    lab.ssh(
        1,
        "cd /etc/etcd/compose/lab26 && docker compose -p etcd-lab26 -f compose.yml down 2>&1",
    );
    assert_eq!(containers(&lab, 1), "");
    apply(&inv);
    rt().block_on(async {
        let r = client(&urls[2])
            .await
            .get("pseudo", None)
            .await
            .expect("get");
        assert_eq!(r.kvs()[0].value(), b"cluster", "data survived down/up");
    });
    // Scheduled snapshots on a compose host: the systemd timer on the Docker
    // host, every 3 s here, for each of the three members.
    let with_backup = std::fs::read_to_string(&inv).expect("read").replace(
        "[release]",
        "[backup]\nschedule = \"*:*:0/3\"\nkeep = 2\n\n[release]",
    );
    std::fs::write(&inv, with_backup).expect("write");
    assert!(apply(&inv).contains("write and start scheduled snapshots"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let o = deploy(&["snapshot", "list", path_str(&inv), "-o", "json"]);
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let saved = |m: &str| {
            rows.as_array()
                .is_some_and(|r| r.iter().any(|r| r["host"] == m))
        };
        if ["m0", "m1", "m2"].iter().all(|m| saved(m)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled snapshot of every member: {rows}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    deploy_ok(&["destroy", path_str(&inv), "--wipe-data", "--yes"]);
    assert_eq!(
        lab.ssh(1, "docker ps -aq | wc -l; docker network ls | grep -c etcd; docker image ls -q | wc -l; ls -A /etc/etcd /var/lib/etcd 2>/dev/null | grep -c ."),
        "0\n0\n0\n1",
        "containers, network, built images, files and data gone (`ls` prints only the empty data directory's header)"
    );
}

#[test]
fn compose_three_hosts_upgrade_and_replace_with_writes() {
    let lab = Lab::up_docker_v1(27, 4);
    assert_eq!(
        lab.ssh(1, "docker compose version >/dev/null 2>&1 || echo v1-only"),
        "v1-only"
    );
    let inv = lab.inventory(3, |s| {
        s.replace("version = \"3.5.1\"", "version = \"3.5.0\"")
            .replace(
                "[release]",
                "mode = \"compose\"\nimage = \"release\"\n\n[release]",
            )
    });
    apply(&inv);
    assert_cluster(&lab, 3);
    let file = lab.ssh(2, "cat /etc/etcd/compose/lab27/compose.yml");
    assert!(
        file.contains("network_mode: host") && file.contains("image: \"etcd-deploy/etcd:v3.5.0\""),
        "{file}"
    );
    assert!(apply(&inv).contains("No changes."));
    // --prepare-only: the new image on every host, no container touched.
    let before: Vec<String> = (1..=3).map(|i| containers(&lab, i)).collect();
    let out = deploy_ok(&["upgrade", path_str(&inv), "--to", "3.5.1", "--prepare-only"]);
    assert!(out.contains("Prepared: every host has etcd 3.5.1"), "{out}");
    for i in 1..=3 {
        assert_eq!(
            containers(&lab, i),
            before[i - 1],
            "host {i}: nothing restarted"
        );
        assert_eq!(
            lab.ssh(i, "docker image ls -q etcd-deploy/etcd:v3.5.1 | wc -l"),
            "1",
            "host {i}: the image is there"
        );
    }
    let urls: Vec<String> = (1..=3).map(|i| lab.url(i)).collect();
    let writer = Writer::start(urls, "compose-upgrade/", None);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = deploy_ok(&["upgrade", path_str(&inv), "--to", "3.5.1", "--no-snapshot"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let report = writer.stop();
    assert!(out.contains("upgrade 3.5.0 → 3.5.1"), "{out}");
    assert_no_loss(
        "compose upgrade 3.5.0 → 3.5.1",
        &lab.url(1),
        &report,
        "compose-upgrade/",
    );
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1", "member {i}");
        let image = lab.ssh(
            i,
            &format!("docker inspect -f '{{{{.Config.Image}}}}' etcd-lab27-etcd-{i}"),
        );
        assert_eq!(image, "etcd-deploy/etcd:v3.5.1", "host {i}");
    }
    let edited = std::fs::read_to_string(&inv)
        .expect("read")
        .replace("version = \"3.5.0\"", "version = \"3.5.1\"");
    std::fs::write(&inv, edited).expect("write");
    assert!(
        apply(&inv).contains("No changes."),
        "the inventory at 3.5.1 matches"
    );
    assert_cluster(&lab, 3);
    // Replace etcd-2 by etcd-4 on the fourth host, writes still flowing.
    let replaced = lab.inventory_of(&[1, 4, 3], "compose-replaced");
    let edited = std::fs::read_to_string(&replaced).expect("read").replace(
        "[release]",
        "mode = \"compose\"\nimage = \"release\"\n\n[release]",
    );
    std::fs::write(&replaced, edited).expect("write");
    let urls: Vec<String> = [1, 3].iter().map(|i| lab.url(*i)).collect();
    let writer = Writer::start(urls, "compose-replace/", None);
    let out = deploy_ok(&[
        "replace",
        path_str(&replaced),
        "etcd-2",
        "--with",
        "etcd-4",
        "--yes",
    ]);
    let report = writer.stop();
    assert!(
        out.contains("etcd-4: joined, healthy, voting")
            && out.contains("etcd-2: removed from the cluster"),
        "{out}"
    );
    assert_no_loss(
        "compose replace etcd-2 → etcd-4",
        &lab.url(1),
        &report,
        "compose-replace/",
    );
    assert_eq!(
        lab.ssh(2, "docker ps -aq | wc -l"),
        "0",
        "the old member's container is gone"
    );
    assert_eq!(
        lab.ssh(
            4,
            "docker inspect -f '{{.State.Running}}' etcd-lab27-etcd-4"
        ),
        "true"
    );
    assert!(apply(&replaced).contains("No changes."));
}

#[test]
fn clashes_missing_compose_and_other_clusters_are_refused() {
    let lab = Lab::up(28, 1);
    let untouched =
        "id etcd >/dev/null 2>&1 && echo user; ls /etc/etcd /opt/etcd 2>/dev/null | wc -l";
    // Two members of one host on the same client port: refused before any SSH connection.
    let clash = lab.inventory(1, |s| {
        let one = "[[hosts]]\nname = \"etcd-1\"\naddress = \"127.0.28.1\"\n";
        let two = format!(
            "{one}\n[[hosts]]\nname = \"etcd-2\"\naddress = \"127.0.28.1\"\npeer_port = 3380\n"
        );
        s.replace(one, &two)
            .replace("[release]", "mode = \"compose\"\n\n[release]")
    });
    let o = deploy(&["apply", path_str(&clash)]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(":2")
            && t.contains(
                "hosts[1].address: 127.0.28.1:2379 (client_port) is already used by host `etcd-1`"
            ),
        "{t}"
    );
    assert_eq!(lab.ssh(1, untouched), "0", "nothing was touched");
    // No compose on the host: refused after the facts, before any change, naming the host.
    let inv = lab.inventory(1, |s| {
        s.replace("[release]", "mode = \"compose\"\n\n[release]")
    });
    let o = deploy(&["apply", path_str(&inv)]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("host 127.0.28.1 (member etcd-1): neither `docker compose` nor `docker-compose` is installed on this host"),
        "the host is named: {t}"
    );
    assert_eq!(lab.ssh(1, untouched), "0", "nothing was touched");
    // In systemd mode it runs; a second cluster's apply on that host is refused
    // whether its member has the same name (its config) or not (the unit).
    let ours = lab.inventory(1, |s| s);
    apply(&ours);
    for (name, why) in [
        (
            "etcd-1",
            "/etc/etcd/etcd-1.conf.yml belongs to etcd cluster lab28, not other",
        ),
        ("x-1", "runs members of etcd cluster lab28"),
    ] {
        let other = lab.dir.path().join(format!("other-{name}.toml"));
        let body = std::fs::read_to_string(&ours).expect("read").replace("name = \"lab28\"", "name = \"other\"").replace(
            "name = \"etcd-1\"",
            &format!("name = \"{name}\"\nclient_port = 3379\npeer_port = 3380\ndata_dir = \"/var/lib/etcd-other\""),
        );
        std::fs::write(&other, body).expect("write");
        let o = deploy(&["apply", path_str(&other)]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains(why), "{t}");
    }
    assert!(
        apply(&ours).contains("No changes."),
        "the first cluster is untouched"
    );
}

#[test]
fn compose_registry_image_is_pulled_or_found_on_the_host() {
    let lab = Lab::up_docker(29, 1);
    // The default, the official image: planned (a plan contacts no registry).
    let official = lab.inventory(1, |s| {
        s.replace("[release]", "mode = \"compose\"\n\n[release]")
    });
    let plan = deploy_ok(&["plan", path_str(&official)]);
    assert!(
        plan.contains(
            "+ etcd-1       pull image gcr.io/etcd-development/etcd:v3.5.1, write compose file"
        ),
        "{plan}"
    );
    // A registry on a loopback port where nothing listens (tests never reach
    // the internet): the pull fails, named by host and step.
    let inv = lab.inventory(1, |s| {
        s.replace(
            "[release]",
            "mode = \"compose\"\nimage = \"127.0.0.1:5999/etcd:v{version}\"\n\n[release]",
        )
    });
    let o = deploy(&["apply", path_str(&inv)]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("error: etcd-1: pull image: ") && t.contains("127.0.0.1:5999"),
        "{t}"
    );
    // The same image loaded by other means (here: built from the mirror's release) is used as it is.
    lab.ssh(
        1,
        "set -e; d=$(mktemp -d); curl -fsS http://127.0.0.1:18080/v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz | tar -xz -C $d --strip-components=1; \
         mkdir $d/b; cp $d/etcd $d/etcdctl $d/b/; printf 'FROM scratch\\nCOPY b/ /usr/local/bin/\\n' > $d/Dockerfile; \
         docker build -q -t 127.0.0.1:5999/etcd:v3.5.1 $d >/dev/null",
    );
    let plan = deploy_ok(&["plan", path_str(&inv)]);
    assert!(
        !plan.contains("pull image"),
        "the image is found on the host: {plan}"
    );
    apply(&inv);
    assert!(apply(&inv).contains("No changes."));
    assert_eq!(versions(&lab.url(1)).0, "3.5.1");
    assert_eq!(
        lab.ssh(1, "docker inspect -f '{{.Config.Image}}' etcd-lab29-etcd-1"),
        "127.0.0.1:5999/etcd:v3.5.1"
    );
}

#[test]
fn compose_broken_release_is_rolled_back() {
    let lab = Lab::up_docker(30, 3);
    let (inv, _, report) = failed_upgrade_to_broken_release(&lab, |s| {
        s.replace(
            "[release]",
            "mode = \"compose\"\nimage = \"release\"\n\n[release]",
        )
    });
    for i in 1..=3 {
        assert_eq!(versions(&lab.url(i)).0, "3.5.1", "member {i}");
        let image = lab.ssh(
            i,
            &format!("docker inspect -f '{{{{.Config.Image}}}}' etcd-lab30-etcd-{i}"),
        );
        assert_eq!(image, "etcd-deploy/etcd:v3.5.1", "host {i}");
    }
    assert_cluster(&lab, 3);
    assert_no_loss("failed compose upgrade", &lab.url(1), &report, "w/");
    // The inventory, still at 3.5.1: the compose files (written for 3.5.2 while
    // the hosts were prepared) are written back; no container is touched.
    let before: Vec<String> = (1..=3).map(|i| containers(&lab, i)).collect();
    let out = apply(&inv);
    assert!(
        out.contains("write compose file") && !out.contains("restart"),
        "{out}"
    );
    assert_eq!(
        (1..=3).map(|i| containers(&lab, i)).collect::<Vec<_>>(),
        before
    );
    assert!(apply(&inv).contains("No changes."));
}

#[test]
fn compose_tls_pseudo_cluster_rotate_snapshot_restore() {
    let lab = Lab::up_docker(31, 1);
    let pki = lab.dir.path().join("pki");
    let inv = lab.inventory(1, |s| {
        lab.three_on_host_1(s, "t", |_| String::new()).replace(
            "[release]",
            &format!("mode = \"compose\"\nimage = \"release\"\n\n[tls]\nmode = \"generate\"\ndir = \"{}\"\n\n[release]", pki.display()),
        )
    });
    apply(&inv);
    let urls: Vec<String> = (0..3)
        .map(|k| format!("https://127.0.31.1:{}", 2379 + 1000 * k))
        .collect();
    let tls = Tls::from_dir(&pki, "operator").expect("operator identity");
    let config = lab.ssh(1, "cat /etc/etcd/t1.conf.yml");
    assert!(
        config.contains("initial-advertise-peer-urls: \"https://t1:3380\"")
            && config.contains("client-cert-auth: true"),
        "{config}"
    );
    // Rotation with writes flowing: peers by name over TLS keep working.
    let writer = Writer::start(urls.clone(), "rotate/", Some(tls.clone()));
    let out = deploy_ok(&["certs", "rotate", path_str(&inv)]);
    let report = writer.stop();
    assert!(out.contains("restart (certificates changed)"), "{out}");
    assert_no_loss_tls(
        "compose certs rotate",
        &urls[0],
        &report,
        "rotate/",
        Some(&tls),
    );
    // Snapshot, a disaster (containers and data gone), restore with the member's image.
    let snap = lab.dir.path().join("backup.db");
    deploy_ok(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    lab.ssh(
        1,
        "docker rm -f etcd-lab31-t0 etcd-lab31-t1 etcd-lab31-t2 >/dev/null; rm -rf /var/lib/etcd/t0 /var/lib/etcd/t1 /var/lib/etcd/t2",
    );
    deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    let lost = rt()
        .block_on(crate::writer::lost_writes(
            &urls[2],
            &report,
            "rotate/",
            Some(&tls),
        ))
        .expect("read back");
    assert!(
        lost.is_empty() && !report.acked.is_empty(),
        "every write acknowledged before the snapshot is back: {} lost",
        lost.len()
    );
    assert!(apply(&inv).contains("No changes."));
}
