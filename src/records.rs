//! etcd-deploy's own record of the members it set up, kept on the
//! controller beside the inventory (`.etcd-deploy/CLUSTER.members.json`,
//! 0600): name, SSH destination, advertised address and ports. When a member
//! leaves the inventory, this record — never etcd's member list, which
//! anyone with client access can write to — says where its host is. No
//! record: the member still leaves the cluster, and the operator is told
//! what to stop by hand.

use crate::facts::RecordedMember;
use crate::files;
use crate::inventory::{Inventory, valid_address, valid_name};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn path(inv: &Inventory) -> PathBuf {
    inv.path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(".etcd-deploy")
        .join(format!("{}.members.json", inv.cluster.name))
}

/// The record, or an empty one; entries that fail the inventory's own
/// rules (a hand-edited file) are left out.
pub(crate) fn load(inv: &Inventory) -> BTreeMap<String, RecordedMember> {
    let Ok(text) = std::fs::read_to_string(path(inv)) else {
        return BTreeMap::new();
    };
    let all: BTreeMap<String, RecordedMember> = serde_json::from_str(&text).unwrap_or_default();
    all.into_iter()
        .filter(|(name, r)| {
            valid_name(name) && valid_address(&r.address) && valid_address(&r.advertise)
        })
        .collect()
}

/// Adds (or updates) every inventory member: the inventory names them, so
/// they are ours. Called before a run changes anything.
pub(crate) fn remember(inv: &Inventory) -> std::io::Result<()> {
    let mut all = load(inv);
    for m in &inv.members {
        all.insert(m.name.clone(), RecordedMember::of(m));
    }
    save(inv, &all)
}

/// Drops a member that left the cluster.
pub(crate) fn forget(inv: &Inventory, name: &str) -> std::io::Result<()> {
    let mut all = load(inv);
    if all.remove(name).is_some() {
        save(inv, &all)?;
    }
    Ok(())
}

fn save(inv: &Inventory, all: &BTreeMap<String, RecordedMember>) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(all).map_err(std::io::Error::other)?;
    files::write_atomic(&path(inv), text.as_bytes(), 0o600)
}
