//! The plan as text, one line per host step and per membership step: what
//! `plan` prints and what `apply` shows before it acts. Every decision the
//! plan holds appears here (the JSON view is the serde form of `Plan`).

use super::{
    BackupStep, Data, DowngradeCall, HostFile, ImageStep, Plan, RestartReason, Rollback, Scope,
    Step,
};
use std::collections::BTreeSet;
use std::fmt;

impl fmt::Display for HostFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartReason::CrashLooping => "crash-looping",
            RestartReason::ForceNewCluster => {
                "finish recover: its config still holds force-new-cluster; restart on its normal config"
            }
            RestartReason::StaleConfig => "runs an older config than its file",
            RestartReason::StaleCertificates => "runs older TLS files than its host holds",
            RestartReason::UnitChanged => "unit changed",
            RestartReason::ContainerChanged => "container definition changed",
            RestartReason::CertificatesChanged => "certificates changed",
            RestartReason::ConfigChanged => "config changed",
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Apply => f.write_str("apply"),
            Scope::Upgrade => f.write_str("upgrade: the version change only"),
            Scope::PrepareUpgrade => f.write_str("upgrade --prepare-only: host preparation only"),
            Scope::CertsRotate => f.write_str("certs rotate: certificate restarts only"),
            Scope::Replace { old, new } => write!(f, "replace {old} with {new}"),
            Scope::Adopt => f.write_str("adopt: members taken over, nothing else"),
            Scope::Restore => f.write_str("restore: every member's data replaced by a snapshot"),
            Scope::Destroy => f.write_str("destroy: every member removed from its host"),
        }
    }
}

/// `a, b and c` style joining for reasons.
fn reasons(r: &[RestartReason]) -> String {
    r.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn step_text(s: &Step) -> (String, String) {
    match s {
        Step::Bootstrap { host } => (
            host.clone(),
            "bootstrap: start as the first member of a new cluster (initial-cluster-state new), wait until healthy".to_string(),
        ),
        Step::Start { hosts, configs } => (
            hosts.join(","),
            if configs.is_empty() {
                "start the stopped member(s), wait until healthy".to_string()
            } else {
                format!(
                    "start the stopped member(s) on the data they kept (config written first for {}: it is missing), wait until healthy",
                    configs.join(", ")
                )
            },
        ),
        Step::Promote { host, id } => (host.clone(), format!("promote learner {id:x} to voting member")),
        Step::Join {
            host,
            added,
            stale_data,
            running,
        } => (host.clone(), join_text(*added, *stale_data, *running)),
        Step::Restart {
            host, reasons: r, ..
        } if r.contains(&RestartReason::CrashLooping) => (
            host.clone(),
            format!("repair ({}): restart once, wait until healthy; if it fails again, stop and show the cause from its log", reasons(r)),
        ),
        Step::Restart {
            host, reasons: r, ..
        } => (
            host.clone(),
            format!("restart ({}), wait until healthy", reasons(r)),
        ),
        Step::Remove {
            name,
            id,
            leader,
            alive,
            host,
            data,
        } => (name.clone(), remove_text(*id, *leader, *alive, host.as_ref(), *data)),
        Step::Record { members, records } => (
            members.join(","),
            format!(
                "write etcd-deploy's records of its {} member(s) to each host (root-only, in {}; serial {}): where any controller finds them",
                records.members.len(),
                crate::layout::STATE_DIR,
                records.serial
            ),
        ),
        Step::Access { changes } => (
            "access".into(),
            changes
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Step::Retire { name, host, data } => (
            name.clone(),
            format!(
                "no longer a member (an earlier run removed it): stop and disable its etcd on {}{}",
                host.address,
                if *data == Data::Wipe {
                    ", DELETE its data directory"
                } else {
                    " (data kept)"
                }
            ),
        ),
        Step::Adopt {
            order,
            leader,
            previous,
        } => (order.join(","), adopt_text(order, leader.as_deref(), previous)),
        Step::TlsMove {
            pass,
            order,
            leader,
        } => {
            let what = match pass {
                super::tls_move::TlsPass::Certificates => "move to TLS, pass 1: write config with peer certificates (still plain HTTP), restart",
                super::tls_move::TlsPass::Peers => "move to TLS, pass 2: peer URL to https (member update), write the final config (peers and clients over TLS), restart",
                super::tls_move::TlsPass::Back => "move back to plain HTTP: peer URL to http (member update), write a plain config keeping the peer certificate, restart",
            };
            let mut t = format!("{what}, one member at a time: {}", order.join(", "));
            if let Some(l) = leader {
                t.push_str(&format!(" ({l} is the leader: leadership moves off it first)"));
            }
            t.push_str("; each healthy and caught up before the next");
            (order.join(","), t)
        }
        Step::Upgrade {
            rollout,
            from,
            snapshot_to,
            rollback,
            configs,
        } => {
            let mut t = upgrade_text(rollout, from, snapshot_to.as_deref(), *rollback);
            if !configs.is_empty() {
                let each: Vec<&str> = configs.iter().map(String::as_str).collect();
                t.push_str(&format!(
                    "; the config of {} is written with the switch (the previous one kept for the way back)",
                    each.join(", ")
                ));
            }
            (rollout.order.join(","), t)
        }
        Step::Restore(r) => (
            r.members.join(","),
            format!(
                "restore {} (sha256 {}): stop every member, then move each data directory aside as <data_dir>.pre-restore-{} (kept), restore the snapshot with a new cluster token ({}), start all together, check the membership",
                r.snapshot.display(),
                r.sha256.get(..12).unwrap_or(&r.sha256),
                r.stamp,
                r.token
            ),
        ),
        Step::Destroy { members, data } => (
            members.join(","),
            format!(
                "destroy: stop and disable etcd; remove its unit or container, config, TLS files and scheduled snapshots (saved snapshots kept), then the host's releases and template unit once no member is left there; data directories {}",
                match data {
                    Data::Keep => "kept",
                    Data::Wipe => "DELETED",
                }
            ),
        ),
    }
}

/// A join: added (or resumed), old data set aside, started, promoted.
fn join_text(added: Option<u64>, stale_data: bool, running: bool) -> String {
    let mut t = vec![match added {
        None => "join: member add (learner)".to_string(),
        Some(id) => format!("join: resume member {id:x} (already added)"),
    }];
    if stale_data {
        t.push("move old data aside".into());
    }
    if !running {
        t.push("write config (initial-cluster-state existing), start".into());
    }
    t.push("wait until healthy, promote".into());
    t.join(", ")
}

/// A removal: leadership off it, `member remove`, its etcd stopped where
/// etcd-deploy's records say (or by hand), its data kept or deleted.
fn remove_text(
    id: u64,
    leader: bool,
    alive: bool,
    host: Option<&crate::facts::RecordedMember>,
    data: Data,
) -> String {
    let mut t = vec![format!("remove member {id:x}")];
    if leader {
        t.insert(0, "move leadership to another member".into());
    }
    if !alive {
        t.push("(not answering)".into());
    }
    t.push(match (host, data) {
        (None, _) => {
            "its host is not in etcd-deploy's records: stop and disable its etcd there by hand"
                .into()
        }
        (Some(h), Data::Keep) => format!("stop and disable its etcd on {} (data kept)", h.address),
        (Some(h), Data::Wipe) => format!(
            "stop and disable its etcd on {}, DELETE its data directory",
            h.address
        ),
    });
    t.join(", ")
}

/// Taking members over one at a time.
fn adopt_text(
    order: &[String],
    leader: Option<&str>,
    previous: &std::collections::BTreeMap<String, super::adopt::Previous>,
) -> String {
    let mut t = vec![format!(
        "take over one member at a time: {}",
        order.join(", ")
    )];
    if let Some(l) = leader {
        t.push(format!(
            "({l} is the leader: leadership moves off it first)"
        ));
    }
    let stopped: Vec<&str> = previous
        .iter()
        .filter(|(_, p)| **p == super::adopt::Previous::Stopped)
        .map(|(n, _)| n.as_str())
        .collect();
    t.push("each: write its config, stop and disable what runs it now (left on disk), give its data to the etcd user, start etcd-deploy's own, healthy and caught up before the next; back to the previous one if not".into());
    if !stopped.is_empty() {
        t.push(format!(
            "({} already stopped by an interrupted adopt: started)",
            stopped.join(", ")
        ));
    }
    t.join(" ")
}

/// A rolling version change: the snapshot first, the order, the leader's
/// hand-over, what a member that fails goes back to.
fn upgrade_text(
    rollout: &super::Rollout,
    from: &std::collections::BTreeMap<String, crate::inventory::Version>,
    snapshot_to: Option<&std::path::Path>,
    rollback: Rollback,
) -> String {
    let verb = if rollout.downgrade {
        "downgrade"
    } else {
        "upgrade"
    };
    let froms: BTreeSet<String> = from.values().map(|v| v.to_string()).collect();
    let snapshot = match snapshot_to {
        Some(dir) => format!("snapshot to {} first, then ", dir.display()),
        None => String::new(),
    };
    let mut t = format!(
        "{verb} {} → {}, one member at a time: {snapshot}{}",
        froms.into_iter().collect::<Vec<_>>().join("/"),
        rollout.to,
        rollout.order.join(", ")
    );
    if let Some(l) = &rollout.leader {
        t.push_str(&format!(
            " ({l} is the leader: leadership moves to {} member first)",
            if rollout.downgrade {
                "a downgraded"
            } else {
                "an upgraded"
            }
        ));
    }
    match rollout.etcd_downgrade {
        DowngradeCall::None => {}
        DowngradeCall::Enable { major, minor } => t.insert_str(
            0,
            &format!("etcd downgrade validate and enable {major}.{minor} (the cluster version drops to {major}.{minor} at once; every storage version must follow), then "),
        ),
        DowngradeCall::Resume { major, minor } => t.insert_str(
            0,
            &format!("etcd's downgrade to {major}.{minor} is enabled already (an earlier run): "),
        ),
        DowngradeCall::Cancel { major, minor } => t.insert_str(
            0,
            &format!("etcd downgrade cancel (it is enabled to {major}.{minor}), then "),
        ),
    }
    if let (true, Some(first)) = (rollout.check_v2store, rollout.order.first()) {
        t.push_str(&format!(
            "; {first}'s v2 store is checked first (etcd 3.6 refuses custom v2 content; etcdutl check v2store, with {first} stopped)"
        ));
    }
    t.push_str("; each restarted, healthy and caught up before the next");
    t.push_str(match rollback {
        Rollback::PreviousVersion => ", rolled back to its previous version if not",
        Rollback::Stop => ", the rollout stops if not",
    });
    t
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (host, names) in &self.shared_hosts {
            writeln!(f, "host {host}: members {}", names.join(", "))?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        if let Some(b) = &self.blocked {
            return writeln!(f, "blocked: {b}");
        }
        if self.is_empty() {
            return writeln!(f, "No changes. The cluster matches the inventory.");
        }
        for prep in &self.prepare {
            let mut what = Vec::new();
            if let Some(v) = prep.install {
                what.push(format!("install etcd {v}"));
            }
            if let Some(v) = prep.link {
                what.push(format!("use etcd {v}"));
            }
            match &prep.image {
                Some(ImageStep::Build(r)) => what.push(format!("build image {r}")),
                Some(ImageStep::Pull(r)) => what.push(format!("pull image {r}")),
                None => {}
            }
            if let Some(f) = prep.host_file {
                what.push(format!("write {f}"));
            }
            if prep.certs {
                what.push("write TLS certificates".to_string());
            }
            if prep.crl {
                what.push("write the client revocation list".to_string());
            }
            match prep.backup {
                Some(BackupStep::Write) => what.push("write and start scheduled snapshots".into()),
                Some(BackupStep::Remove) => {
                    what.push("stop scheduled snapshots (saved ones kept)".into())
                }
                None => {}
            }
            writeln!(f, "+ {:<12} {}", prep.host, what.join(", "))?;
        }
        for s in &self.steps {
            let (host, text) = step_text(s);
            writeln!(f, "{} {host:<12} {text}", s.symbol())?;
        }
        let n = self.prepare.len() + self.steps.len();
        write!(f, "Plan: {n} step{}", if n == 1 { "" } else { "s" })?;
        if self.scope != Scope::Apply {
            write!(f, " ({})", self.scope)?;
        }
        write!(f, ".")?;
        if self.replan {
            write!(
                f,
                " The plan is made again after these steps (more may follow)."
            )?;
        }
        writeln!(f)
    }
}
