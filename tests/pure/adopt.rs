//! The adopt plan (`plan::adopt`): which members are taken over in what
//! order, and every case refused before anything changes.

use super::common::*;
use etcd_deploy::facts::ForeignEtcd;
use etcd_deploy::plan::adopt::Previous;

/// Three members run by hand (`etcd.service`, data where the inventory
/// says), etcd-1 the leader; nothing of etcd-deploy's on the hosts.
fn hand_made(i: &Inventory) -> Facts {
    let mut f = converged(i);
    f.recorded.clear();
    for m in &i.members {
        f.hosts.insert(
            m.name.clone(),
            HostFacts {
                arch: "x86_64".into(),
                named_etcd: vec![87],
                foreign: Some(ForeignEtcd {
                    unit: Some("etcd.service".into()),
                    container: None,
                    data_dir: Some(m.data_dir.clone()),
                    has_data: true,
                    settings: [
                        ("heartbeat-interval", "100".to_string()),
                        ("listen-client-urls", m.client_url()),
                        ("advertise-client-urls", m.client_url()),
                        ("listen-peer-urls", m.peer_url()),
                        ("initial-advertise-peer-urls", m.peer_url()),
                    ]
                    .map(|(k, v)| (k.to_string(), v))
                    .into(),
                }),
                ..HostFacts::default()
            },
        );
    }
    f
}

fn adopt(i: &Inventory, f: &Facts) -> Plan {
    let opts = Options {
        scope: Scope::Adopt,
        ..Options::default()
    };
    plan_with(i, f, &desired(i), &opts)
}

fn foreign<'a>(f: &'a mut Facts, name: &str) -> &'a mut ForeignEtcd {
    f.hosts
        .get_mut(name)
        .and_then(|h| h.foreign.as_mut())
        .expect("foreign etcd")
}

fn blocked(p: &Plan) -> String {
    p.blocked
        .clone()
        .unwrap_or_else(|| panic!("not blocked:\n{p}"))
}

#[test]
fn adopt_takes_followers_first_and_the_leader_last() {
    let i = inv(GOOD);
    let p = adopt(&i, &hand_made(&i));
    assert!(p.blocked.is_none(), "{p}");
    assert_eq!(step_names(&p), ["adopt etcd-2,etcd-3,etcd-1"]);
    let Step::Adopt {
        leader, previous, ..
    } = acting(&p)[0]
    else {
        panic!("{p}")
    };
    assert_eq!(leader.as_deref(), Some("etcd-1"));
    assert_eq!(
        previous["etcd-2"],
        Previous::Unit {
            unit: "etcd.service".into()
        }
    );
    // Each host gets the release, the link and the unit first.
    assert_eq!(p.prepare.len(), 3);
    assert!(p.prepare.iter().all(|x| x.install == Some(v("3.5.1"))));
    let text = p.to_string();
    assert!(
        text.contains("note: etcd-1: found etcd.service (PID 87), data /var/lib/etcd"),
        "{text}"
    );
    assert!(
        text.contains("(etcd-1 is the leader: leadership moves off it first)"),
        "{text}"
    );
    // Taking over someone else's etcd needs consent.
    assert_eq!(p.destructive().len(), 1, "{text}");
}

#[test]
fn apply_on_a_hand_made_cluster_points_at_adopt() {
    let i = inv(GOOD);
    let p = plan(&i, &hand_made(&i), &desired(&i));
    assert!(
        blocked(&p).contains("`etcd-deploy adopt` takes such members over"),
        "{p}"
    );
}

#[test]
fn adopt_says_which_settings_change() {
    let i = inv(GOOD);
    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-2")
        .settings
        .insert("heartbeat-interval".into(), "250".into());
    let text = adopt(&i, &f).to_string();
    assert_eq!(text.matches("settings that change").count(), 1, "{text}");
    assert!(
        text.contains("note: etcd-2: settings that change with the takeover (found → inventory): heartbeat-interval 250 → 100\n"),
        "{text}"
    );
}

#[test]
fn adopt_refuses_members_of_two_clusters() {
    let i = inv(GOOD);
    let mut f = hand_made(&i);
    f.cluster
        .status
        .get_mut("etcd-3")
        .expect("status")
        .cluster_id = 2;
    let why = blocked(&adopt(&i, &f));
    assert!(why.contains("the inventory names members of different clusters (etcd-1, etcd-2 in cluster 1; etcd-3 in cluster 2)"), "{why}");
}

#[test]
fn adopt_refuses_a_missing_or_other_data_directory() {
    let i = inv(GOOD);
    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-2").data_dir = None;
    assert!(
        blocked(&adopt(&i, &f))
            .contains("etcd-2: the data directory of its etcd (PID 87) was not found")
    );

    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-2").has_data = false;
    assert!(blocked(&adopt(&i, &f)).contains("holds no member data"));

    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-3").data_dir = Some("/srv/etcd".into());
    let why = blocked(&adopt(&i, &f));
    assert!(why.contains("etcd-3: its etcd keeps its data in /srv/etcd, and the inventory says data_dir /var/lib/etcd"), "{why}");
}

#[test]
fn adopt_refuses_what_it_cannot_keep() {
    let i = inv(GOOD);
    // A member the inventory does not name.
    let mut f = hand_made(&i);
    let mut extra = entry(&i, 0, true, false);
    extra.id = 0x999;
    extra.name = "etcd-9".into();
    extra.peer_urls = vec!["http://10.0.0.9:2380".into()];
    f.cluster.members.as_mut().expect("list").push(extra);
    assert!(blocked(&adopt(&i, &f)).contains("the cluster has member etcd-9"));
    // Another version than the inventory's.
    let mut f = hand_made(&i);
    f.cluster.status.get_mut("etcd-1").expect("status").version = "3.5.0".into();
    assert!(
        blocked(&adopt(&i, &f)).contains("etcd-1 runs etcd 3.5.0, and the inventory says 3.5.1")
    );
    // TLS on one side only.
    let mut f = hand_made(&i);
    for e in f.cluster.members.as_mut().expect("list") {
        e.peer_urls = e
            .peer_urls
            .iter()
            .map(|u| u.replace("http://", "https://"))
            .collect();
        e.client_urls = e
            .client_urls
            .iter()
            .map(|u| u.replace("http://", "https://"))
            .collect();
    }
    assert!(
        blocked(&adopt(&i, &f))
            .contains("etcd-1: it serves TLS, and the inventory says plain HTTP")
    );
    // A process no service runs.
    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-1").unit = None;
    assert!(blocked(&adopt(&i, &f)).contains("runs in no systemd service or container"));
    // A container in systemd mode.
    let mut f = hand_made(&i);
    foreign(&mut f, "etcd-1").container = Some("a".repeat(64));
    assert!(blocked(&adopt(&i, &f)).contains("set mode = \"compose\" for it"));
    // An unhealthy member: each is restarted, so the cluster must be healthy.
    let mut f = hand_made(&i);
    f.cluster.status.get_mut("etcd-2").expect("status").leader = 0;
    assert!(blocked(&adopt(&i, &f)).contains("etcd-2 is not healthy"));
    // A member whose etcd does not run.
    let mut f = hand_made(&i);
    let h = f.hosts.get_mut("etcd-3").expect("host");
    h.named_etcd.clear();
    h.foreign = None;
    assert!(blocked(&adopt(&i, &f)).contains("etcd-3: no etcd runs as this member"));
}

#[test]
fn adopt_resumes_after_an_interruption() {
    let i = inv(GOOD);
    let mut f = hand_made(&i);
    // etcd-2 was taken over; etcd-3's old unit was stopped, then the run died.
    f.hosts.insert("etcd-2".into(), running(&i, "etcd-2"));
    let mut h = running(&i, "etcd-3");
    h.active = false;
    f.hosts.insert("etcd-3".into(), h);
    f.cluster.status.remove("etcd-3");
    let p = adopt(&i, &f);
    assert_eq!(step_names(&p), ["adopt etcd-3,etcd-1"], "{p}");
    let Step::Adopt { previous, .. } = acting(&p)[0] else {
        panic!("{p}")
    };
    assert_eq!(previous["etcd-3"], Previous::Stopped);
    // A member left stopped comes first even when a follower before it in
    // the inventory is still to be taken over.
    let mut f = hand_made(&i);
    let mut h = running(&i, "etcd-3");
    h.active = false;
    f.hosts.insert("etcd-3".into(), h);
    f.cluster.status.remove("etcd-3");
    let p = adopt(&i, &f);
    assert_eq!(step_names(&p), ["adopt etcd-3,etcd-2,etcd-1"], "{p}");
    // Everything taken over: nothing to do.
    let done = adopt(&i, &converged(&i));
    assert!(done.is_empty() && done.blocked.is_none(), "{done}");
}
