//! The plans of the whole-cluster operations, `restore` and `destroy`:
//! shown (text and JSON, `--dry-run` stops there) and agreed to like any
//! plan before anything changes, and carried out by the executor from what
//! they hold (the snapshot and its checksum, the new token and membership,
//! whether data is deleted).

use super::{Data, Desired, Plan, RestoreStep, Scope, Step, guards, host_changes};
use crate::facts::Facts;
use crate::inventory::Inventory;
use std::collections::BTreeMap;
use std::path::Path;

/// `restore`: fresh or half-prepared hosts get what the inventory says
/// first (release, unit or compose file, certificates) while members still
/// run; then every member's data is replaced by the snapshot's
/// (`Step::Restore`), its old data moved aside as
/// `<data_dir>.pre-restore-<stamp>`.
pub fn restore(
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
    snapshot: &Path,
    sha256: &str,
    stamp: &str,
) -> Plan {
    let mut p = whole_cluster(facts, Scope::Restore, guards::blocking_restore(inv, facts));
    if p.blocked.is_some() {
        return p;
    }
    p.prepare = host_changes::of(inv, facts, desired).prepare;
    let initial: Vec<String> = inv
        .members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url()))
        .collect();
    p.steps.push(Step::Restore(RestoreStep {
        snapshot: snapshot.to_path_buf(),
        sha256: sha256.to_string(),
        members: inv.members.iter().map(|m| m.name.clone()).collect(),
        stamp: stamp.to_string(),
        token: format!("{}-restore-{stamp}", inv.cluster.token),
        initial_cluster: initial.join(","),
    }));
    p
}

/// `destroy`: every member stopped and removed from its host, its data
/// kept or (`wipe`) deleted.
pub fn destroy(inv: &Inventory, facts: &Facts, wipe: bool) -> Plan {
    let mut p = whole_cluster(facts, Scope::Destroy, guards::blocking_destroy(inv, facts));
    if p.blocked.is_none() {
        p.steps.push(Step::Destroy {
            members: inv.members.iter().map(|m| m.name.clone()).collect(),
            data: if wipe { Data::Wipe } else { Data::Keep },
        });
    }
    p
}

fn whole_cluster(facts: &Facts, scope: Scope, blocked: Option<String>) -> Plan {
    Plan {
        scope,
        serving: facts.cluster.status.keys().cloned().collect(),
        blocked,
        ..Plan::default()
    }
}
