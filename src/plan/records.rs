//! Keeping etcd-deploy's records of its members (`facts::records`) on the
//! hosts: what every copy must say before a run changes anything, and
//! which hosts' copies differ (a first run, a member added, a host that was
//! down at the last change, a controller-only record an older release left).

use super::{Plan, Scope, Step};
use crate::facts::{Facts, Records};
use crate::inventory::Inventory;

/// What the copies must say: the newest copy, every inventory member
/// recorded as the inventory has it now.
pub fn desired(inv: &Inventory, facts: &Facts) -> Records {
    let newest = (facts.records_serial > 0 || !facts.recorded.is_empty()).then(|| Records {
        serial: facts.records_serial,
        cluster: inv.cluster.name.clone(),
        members: facts.recorded.clone(),
    });
    Records::desired(inv, newest.as_ref(), &|name| {
        facts.hosts.get(name).is_some_and(|h| h.foreign.is_some())
    })
}

/// The inventory members whose host answered and keeps another copy (the
/// first member of each host: members sharing a host share its copy).
pub fn stale_hosts(inv: &Inventory, facts: &Facts, want: &Records) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    inv.members
        .iter()
        .filter(|m| seen.insert((m.ssh.address.as_str(), m.ssh.port)))
        .filter(|m| {
            facts.hosts.get(&m.name).is_some_and(|h| {
                h.records
                    .as_ref()
                    .is_none_or(|r| r.members != want.members || r.serial != want.serial)
            })
        })
        .map(|m| m.name.clone())
        .collect()
}

/// The step that writes the records where they differ, if any does.
fn step(inv: &Inventory, facts: &Facts) -> Option<Step> {
    let want = desired(inv, facts);
    let members = stale_hosts(inv, facts, &want);
    (!members.is_empty()).then_some(Step::Record {
        members,
        records: want,
    })
}

/// The hosts' records written before anything else (`records.rs`): by
/// `apply` whenever a copy differs (a no-op included: that is how records
/// kept only on a controller move to the hosts), by the other commands
/// when they change something.
pub(super) fn first(p: &mut Plan, inv: &Inventory, facts: &Facts) {
    if p.blocked.is_some() || p.scope == Scope::PrepareUpgrade {
        return;
    }
    if p.is_empty() && !matches!(p.scope, Scope::Apply | Scope::Adopt) {
        return;
    }
    if let Some(step) = step(inv, facts) {
        p.steps.insert(0, step);
    }
}
