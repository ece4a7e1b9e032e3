//! Compose mode: inventory, compose file, and plans for compose hosts.

use super::common::*;

#[test]
fn compose_inventory_defaults_to_the_official_image_and_host_network() {
    let i = inv(&GOOD.replace(
        "version = \"3.5.1\"",
        "version = \"3.5.1\"\nmode = \"compose\"",
    ));
    let m = &i.members[0];
    let c = m.compose().expect("compose member");
    assert_eq!(
        c.image,
        Image::Registry("gcr.io/etcd-development/etcd:v{version}".into())
    );
    assert_eq!(
        c.image.reference(v("3.5.1")),
        "gcr.io/etcd-development/etcd:v3.5.1"
    );
    assert_eq!(c.network, Network::Host);
    assert_eq!(
        m.data_dir, "/var/lib/etcd/etcd-1",
        "one bind-mounted data directory per member"
    );
    assert_eq!(
        (m.peer_url(), m.listen_peer_url()),
        ("http://10.0.0.1:2380".into(), "http://10.0.0.1:2380".into())
    );
    // Per host: back to systemd.
    let i = inv(&GOOD
        .replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"compose\"",
        )
        .replace(
            "address = \"10.0.0.3\"",
            "address = \"10.0.0.3\"\nmode = \"systemd\"",
        ));
    assert!(i.members[2].compose().is_none() && i.members[1].compose().is_some());
}

#[test]
fn compose_members_sharing_a_host_get_a_bridge_and_peer_by_name() {
    let i = inv(&pseudo_cluster());
    let m = &i.members[1];
    assert_eq!(
        m.compose().map(|c| c.network),
        Some(Network::Bridge {
            peers_by_name: true
        })
    );
    assert_eq!(m.peer_url(), "http://etcd-2:3380");
    assert_eq!(m.client_url(), "http://10.0.0.1:3379");
    assert_eq!(
        (m.listen_peer_url(), m.listen_client_url()),
        ("http://0.0.0.0:3380".into(), "http://0.0.0.0:3379".into())
    );
    let r = member_config::render(&i, m, None).expect("render");
    golden("compose.yml", &host_file(&i, m).text);
    assert!(
        r.config
            .contains("listen-client-urls: \"http://0.0.0.0:3379\""),
        "{}",
        r.config
    );
    // One file per host; each member's service digest is its own.
    let (h0, h1) = (host_file(&i, &i.members[0]), host_file(&i, m));
    assert_eq!(h0.digest, h1.digest);
    assert_ne!(h0.service_digest, h1.service_digest);
}

#[test]
fn compose_inventory_errors_name_the_field() {
    let compose = |extra: &str| {
        GOOD.replace(
            "version = \"3.5.1\"",
            &format!("version = \"3.5.1\"\nmode = \"compose\"\n{extra}"),
        )
    };
    assert_err(
        &compose("image = \"quay.io/coreos/etcd:latest\""),
        6,
        9,
        "cluster.image: `quay.io/coreos/etcd:latest`: expected \"release\"",
    );
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nimage = \"release\"",
        ),
        5,
        9,
        "cluster.image: an image is only used in compose mode",
    );
    assert_err(
        &GOOD.replace(
            "version = \"3.5.1\"",
            "version = \"3.5.1\"\nmode = \"docker\"",
        ),
        5,
        8,
        "cluster.mode: `docker`: expected one of \"systemd\", \"compose\"",
    );
    // Two modes on one host.
    let mixed = GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.1\"\nclient_port = 3379\npeer_port = 3380\nmode = \"compose\"",
    );
    assert_err(
        &mixed,
        21,
        8,
        "hosts[1].mode: `etcd-1` on the same host runs in systemd mode; members sharing a host use one mode",
    );
    // A bridge on a loopback address cannot reach peers on other hosts.
    let text = pseudo_cluster().replace("10.0.0.", "127.0.0.")
        + "\n[[hosts]]\nname = \"etcd-4\"\naddress = \"127.0.0.9\"\n";
    let e = err(&text).to_string();
    assert!(
        e.contains(
            "is a loopback address, which containers on the bridge of a shared host cannot reach"
        ),
        "{e}"
    );
}

#[test]
fn compose_plan_fresh_builds_the_release_image_and_writes_the_compose_file() {
    let i = inv(&pseudo_cluster());
    let hosts = i.members.iter().map(|m| {
        (
            m.name.clone(),
            HostFacts {
                compose: Some("docker-compose".into()),
                engine: Some("20.10.24".into()),
                ..fresh()
            },
        )
    });
    let facts = Facts {
        hosts: hosts.collect(),
        cluster: ClusterFacts::default(),
        ..Facts::default()
    };
    let p = plan(&i, &facts, &desired(&i));
    assert!(
        p.prepare.iter().all(|x| x.link.is_none()
            && x.image == Some(ImageStep::Build("etcd-deploy/etcd:v3.5.1".into()))),
        "{p}"
    );
    assert_eq!(
        step_names(&p),
        ["bootstrap etcd-1", "join etcd-2", "join etcd-3"]
    );
    assert!(p.to_string().contains("+ etcd-1       install etcd 3.5.1, build image etcd-deploy/etcd:v3.5.1, write compose file"), "{p}");
}

#[test]
fn compose_plan_recreates_only_the_changed_service() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    assert!(
        plan(&i, &f, &desired(&i)).is_empty(),
        "re-apply recreates nothing"
    );
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.service_digest = Some("an older service".into());
    }
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(step_names(&p), ["restart etcd-2"], "{p}");
    assert!(
        p.to_string()
            .contains("restart (container definition changed)"),
        "{p}"
    );
}

#[test]
fn plan_refuses_to_switch_a_running_member_between_systemd_and_compose() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.other_runtime_active = true;
        h.active = false;
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert!(
        b.starts_with("etcd-2 runs as a systemd unit, and the inventory says mode = \"compose\""),
        "{b}"
    );
}

#[test]
fn compose_plan_is_blocked_without_compose_or_engine() {
    let i = inv(&pseudo_cluster());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-1") {
        h.compose = None;
    }
    let p = plan(&i, &f, &desired(&i));
    assert_eq!(
        p.blocked.as_deref(),
        Some(
            "host 10.0.0.1 (members etcd-1, etcd-2, etcd-3): neither `docker compose` nor `docker-compose` is installed on this host, and compose mode needs one of them (or set mode = \"systemd\" for this host)"
        )
    );
    assert!(p.steps.is_empty() && p.prepare.is_empty());
    let mut f = compose_converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-3") {
        h.engine = None;
    }
    assert!(
        plan(&i, &f, &desired(&i))
            .blocked
            .is_some_and(|b| b.contains("the Docker engine does not answer"))
    );
}

#[test]
fn plan_refuses_to_change_a_running_members_peer_url() {
    let i = inv(GOOD);
    let edited = inv(&GOOD.replace(
        "address = \"10.0.0.2\"",
        "address = \"10.0.0.2\"\npeer_port = 2390",
    ));
    let mut f = converged(&i);
    // The old entry no longer matches by peer URL: it is one of the others, and it answers.
    f.cluster.others.insert(0x101, Some(status(0x101)));
    let p = plan(&edited, &f, &desired(&edited));
    let b = p.blocked.expect("blocked");
    assert!(b.starts_with("etcd-2 runs with peer URL http://10.0.0.2:2380, and the inventory gives it http://10.0.0.2:2390"), "{b}");
    assert!(p.steps.is_empty());
}

#[test]
fn plan_refuses_files_of_another_cluster() {
    let i = inv(GOOD);
    let mut f = converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-2") {
        h.config_cluster = Some("staging".into());
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert_eq!(
        b,
        "etcd-2 on host 10.0.0.2: /etc/etcd/etcd-2.conf.yml belongs to etcd cluster staging, not prod; member names must be unique on a host across clusters: rename this member, or use another host (if this is cluster staging renamed: set cluster.name back, the name is its identity on the hosts)"
    );
    let mut f = converged(&i);
    if let Some(h) = f.hosts.get_mut("etcd-3") {
        h.unit_cluster = Some("staging".into());
    }
    let b = plan(&i, &f, &desired(&i)).blocked.expect("blocked");
    assert!(
        b.starts_with(
            "host 10.0.0.3: /etc/systemd/system/etcd@.service runs members of etcd cluster staging"
        ),
        "{b}"
    );
    // Our own files are ours.
    let mut f = converged(&i);
    for h in f.hosts.values_mut() {
        (h.config_cluster, h.unit_cluster) = (Some("prod".into()), Some("prod".into()));
    }
    assert!(plan(&i, &f, &desired(&i)).is_empty());
}
