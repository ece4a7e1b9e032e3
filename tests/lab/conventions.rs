//! Lab tests of what users of etcdctl, terraform and ansible expect: the
//! hardened systemd unit checked on a real start, `-o json` summaries,
//! `-q` and `-v`, and the unit rewritten (rolling) when an older one is found.

use crate::support::*;

#[test]
fn hardened_unit_json_summary_quiet_and_verbose() {
    let lab = Lab::up(50, 3);
    // Data moved (the drop-in names it) and the WAL in a directory of its own.
    let inv = lab.inventory(3, |s| {
        s.replace(
            "address = \"127.0.50.1\"",
            "address = \"127.0.50.1\"\ndata_dir = \"/data/etcd-data\"\netcd = { extra = { \"wal-dir\" = \"/srv/etcd/wal\" } }",
        )
    });
    let inv_s = path_str(&inv);

    // A changing command with -o json: one JSON object on stdout.
    let o = deploy(&["apply", inv_s, "-o", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary json");
    assert_eq!(summary["command"], "apply", "{summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["changed"], true, "{summary}");
    assert_eq!(summary["exit_code"], 0, "{summary}");
    assert!(
        summary["plans"][0]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{summary}"
    );
    assert!(
        summary["messages"].as_array().is_some_and(|m| m
            .iter()
            .any(|l| l == "Apply complete: the cluster matches the inventory.")),
        "{summary}"
    );

    // The unit's hardening, on the running etcd.
    let show = lab.ssh(
        1,
        "systemctl show etcd@etcd-1 -p Restart -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp -p IOSchedulingClass -p IOSchedulingPriority -p LimitNOFILE -p After",
    );
    for want in [
        "Restart=always",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "IOSchedulingClass=2",
        "IOSchedulingPriority=0",
        "LimitNOFILE=65536",
    ] {
        assert!(show.contains(want), "{want} in:\n{show}");
    }
    assert!(
        show.contains("time-sync.target") && show.contains("network-online.target"),
        "{show}"
    );
    let pid = lab.etcd_pid(1);
    let inside = lab.ssh(
        1,
        &format!(
            "grep -E '^(NoNewPrivs|CapEff)' /proc/{pid}/status; ionice -p {pid}; \
             nsenter -t {pid} -m sh -c 'touch /etc/edtest 2>&1; touch /data/etcd-data/edtest && echo data-writable; touch /srv/etcd/wal/edtest && echo wal-writable; touch /srv/edtest 2>&1; true'"
        ),
    );
    for want in [
        "NoNewPrivs:\t1",
        "CapEff:\t0000000000000000",
        "best-effort: prio 0",
        "/etc/edtest': Read-only file system",
        "data-writable",
        "wal-writable",
        "/srv/edtest': Read-only file system",
    ] {
        assert!(inside.contains(want), "{want} in:\n{inside}");
    }
    lab.ssh(1, "rm -f /data/etcd-data/edtest /srv/etcd/wal/edtest");
    // etcd really writes its WAL there.
    assert!(
        lab.ssh(1, "ls /srv/etcd/wal").contains(".wal"),
        "wal files in /srv/etcd/wal"
    );

    // -q: nothing on stderr but the outcome on stdout; -o json -q: only JSON.
    let o = deploy(&["apply", inv_s, "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("No changes."));
    let o = deploy(&["-o", "json", "-q", "apply", inv_s]);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary json");
    assert_eq!(summary["changed"], false, "{summary}");

    // -v: every remote script, its host and time; -vv: its arguments.
    let o = deploy(&["plan", inv_s, "-v"]);
    let t = text(&o);
    assert!(
        t.contains("etcd-1: ran etcd-deploy-facts (")
            && t.contains(" s, ok)")
            && t.contains("etcd-1: the facts script ran ")
            && t.contains(" ms on the host"),
        "{t}"
    );
    let o = deploy(&["plan", inv_s, "-vv"]);
    assert!(
        text(&o).contains("etcd-deploy-facts (")
            && text(&o).contains(" with etcd-1 etcd@etcd-1.service"),
        "{}",
        text(&o)
    );

    // An older unit without the hardening (as etcd-deploy wrote it before):
    // apply writes the new one with the member's drop-in and restarts it
    // (the other members' units are unchanged: they keep running).
    lab.ssh(
        1,
        "sed -i '/^NoNewPrivileges/,/^RestrictAddressFamilies/d' /etc/systemd/system/etcd@.service; \
         rm -r /etc/systemd/system/etcd@etcd-1.service.d; systemctl daemon-reload",
    );
    let others = (lab.etcd_pid(2), lab.etcd_pid(3));
    let plan = text(&deploy(&["plan", inv_s]));
    assert!(
        plan.contains("etcd-1       restart (unit changed)") && plan.contains("Plan: 2 steps."),
        "{plan}"
    );
    apply(&inv);
    assert_ne!(lab.etcd_pid(1), pid, "restarted with the new unit");
    assert_eq!(others, (lab.etcd_pid(2), lab.etcd_pid(3)));
    assert!(apply(&inv).contains("No changes."));
    assert_cluster(&lab, 3);

    // A failing changing command still ends with its summary.
    let o = deploy(&["upgrade", inv_s, "--to", "3.9.9", "-o", "json"]);
    assert!(!o.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary json");
    assert_eq!(summary["ok"], false, "{summary}");
    assert!(summary["error"].is_string(), "{summary}");

    // Destroy removes the member's drop-in with its unit.
    deploy_ok(&["destroy", inv_s, "--yes", "--wipe-data"]);
    let left = lab.ssh(
        1,
        "ls -d /etc/systemd/system/etcd@etcd-1.service.d /srv/etcd/wal /data/etcd-data 2>&1; true",
    );
    assert_eq!(left.matches("No such file").count(), 3, "{left}");

    // Air-gapped (docs/airgapped.md): the release source cannot be reached
    // (github, and this machine has no internet), the tarball's SHA256 is
    // pinned and the cache filled by hand: apply needs nothing else.
    let tarball = "/var/cache/etcd-deploy-lab/mirror/v3.5.1/etcd-v3.5.1-linux-amd64.tar.gz";
    let cache = lab.dir.path().join("cache");
    let place = cache.join("https___github.com_etcd-io_etcd_releases_download/v3.5.1");
    std::fs::create_dir_all(&place).expect("mkdir");
    std::fs::copy(tarball, place.join("etcd-v3.5.1-linux-amd64.tar.gz")).expect("copy");
    let o = sh(std::process::Command::new("sha256sum").arg(tarball));
    let sha = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string();
    let gapped = lab.inventory(3, |s| {
        s.replace(
            "source = \"http://127.0.0.1:18080\"",
            &format!(
                "source = \"github\"\nsha256 = \"{sha}\"\ncache_dir = \"{}\"",
                cache.display()
            ),
        )
    });
    apply(&gapped);
    assert_cluster(&lab, 3);
}
