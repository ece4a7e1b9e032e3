//! Lab tests of the cluster's life around apply: snapshot and disaster
//! recovery, `env`, `destroy`.

use crate::support::*;

#[test]
fn snapshot_restore_env_destroy() {
    let lab = Lab::up(23, 3);
    let inv = lab.inventory(3, |s| s);
    apply(&inv);
    rt().block_on(async {
        let mut c = client(&lab.url(1)).await;
        for i in 0..1000 {
            c.put(format!("k/{i:04}"), format!("v{i}"), None)
                .await
                .expect("put");
        }
    });
    let snap = lab.dir.path().join("backup.db");
    let out = deploy_ok(&["snapshot", "save", path_str(&inv), "--out", path_str(&snap)]);
    assert!(out.contains("SHA256 of the database checked"), "{out}");
    let mode = std::fs::metadata(&snap)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("snapshot file");
    assert_eq!(mode, 0o600);

    // A disaster: every member stopped, its data gone.
    for i in 1..=3 {
        lab.ssh(
            i,
            &format!("systemctl stop etcd@etcd-{i}; rm -rf /var/lib/etcd"),
        );
    }
    let o = deploy(&["restore", path_str(&inv), path_str(&snap)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "no terminal, no --yes: refused\n{}",
        text(&o)
    );
    assert!(text(&o).contains("pass --yes to confirm"), "{}", text(&o));
    // The plan is shown before consent; --dry-run stops there.
    assert!(
        text(&o).contains("restore: stop every member")
            || text(&o).contains(": stop every member, then move each data directory aside"),
        "{}",
        text(&o)
    );
    let dry = deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--dry-run"]);
    assert!(dry.contains("--dry-run: nothing was changed."), "{dry}");
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "ls -d /var/lib/etcd /var/lib/etcd.* 2>/dev/null | wc -l"),
            "0"
        );
    }
    deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    assert_cluster(&lab, 3);
    assert_keys_everywhere(&lab, 3, "k/", 1000);
    rt().block_on(async {
        let r = client(&lab.url(3))
            .await
            .get("k/0999", None)
            .await
            .expect("get");
        assert_eq!(r.kvs()[0].value(), b"v999");
    });
    // A second restore moves the current data aside rather than deleting it.
    deploy_ok(&["restore", path_str(&inv), path_str(&snap), "--yes"]);
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "ls -d /var/lib/etcd.pre-restore-* | wc -l"),
            "1",
            "host {i} keeps its old data aside"
        );
    }
    assert!(apply(&inv).contains("No changes."));

    // env: etcdctl on a host, with the printed variables.
    let env = deploy_ok(&["env", path_str(&inv)]);
    assert!(
        env.contains(&format!(
            "export ETCDCTL_ENDPOINTS={},{},{}",
            lab.url(1),
            lab.url(2),
            lab.url(3)
        )),
        "{env}"
    );
    let vars: String = env
        .lines()
        .filter(|l| l.starts_with("export "))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(lab.ssh(2, &format!("{vars}; etcdctl put via-env yes >/dev/null && etcdctl get --print-value-only via-env")), "yes");

    // destroy: shown first (--dry-run changes nothing), then nothing runs,
    // no unit; data kept, then wiped.
    let dry = deploy_ok(&["destroy", path_str(&inv), "--dry-run", "--wipe-data"]);
    assert!(dry.contains("data directories DELETED"), "{dry}");
    assert_cluster(&lab, 3);
    deploy_ok(&["destroy", path_str(&inv), "--yes"]);
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(
                i,
                "pgrep -x etcd | wc -l; ls /etc/systemd/system/etcd@.service /opt/etcd /etc/etcd 2>/dev/null | wc -l; ls /var/lib/etcd"
            ),
            "0\n0\nmember"
        );
    }
    deploy_ok(&["destroy", path_str(&inv), "--yes", "--wipe-data"]);
    for i in 1..=3 {
        assert_eq!(
            lab.ssh(i, "ls -d /var/lib/etcd 2>/dev/null | wc -l"),
            "0",
            "host {i}: data wiped"
        );
    }
}
