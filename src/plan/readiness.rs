//! Whether the facts are ready to plan on, and what a run may conclude
//! from them: members still coming up are waited for (`settling`), a
//! `replace` must name members as the inventory and the cluster have them
//! (`replace_mismatch`), and a run that left hosts out is not done
//! (`unreached`). Pure: the commands wait and report.

use crate::facts::Facts;
use crate::inventory::Inventory;

/// Whether some member is still coming up: etcd runs on a host while no
/// member answers, or a started member's etcd runs (not crash-looping) but
/// has not answered or found its leader yet (just restarted, e.g. by an
/// interrupted run). A member that answers with a leader but is otherwise
/// unhealthy (cut off, alarms) is not settling: the plan names it at once.
pub fn settling(inv: &Inventory, facts: &Facts) -> bool {
    let Some(list) = &facts.cluster.members else {
        return facts.hosts.values().any(|h| h.active);
    };
    inv.members.iter().any(|m| {
        // (One that has not read its config may not answer as it is asked
        // now, e.g. mid-way through a move to TLS: the plan restarts it.)
        let running = facts
            .hosts
            .get(&m.name)
            .is_some_and(|h| h.active && !h.crash_looping && !h.config_stale);
        let voter = list.iter().any(|e| e.is(m) && e.started() && !e.is_learner);
        let answered = facts
            .cluster
            .status
            .get(&m.name)
            .is_some_and(|st| st.leader != 0);
        running && voter && !answered
    })
}

/// `replace OLD --with NEW`: why it cannot be run as asked, if so: OLD must
/// have left the inventory and NEW joined it, and OLD must be a member
/// (unless NEW already took its place).
pub fn replace_mismatch(inv: &Inventory, facts: &Facts, old: &str, new: &str) -> Option<String> {
    if inv.member(old).is_some() {
        return Some(format!(
            "{old} is still in {}: replace it there with {new} first, then run replace",
            inv.path.display()
        ));
    }
    let Some(n) = inv.member(new) else {
        return Some(format!(
            "{new} is not in {}: add it there (in place of {old}) first",
            inv.path.display()
        ));
    };
    let list = facts.cluster.members.as_deref().unwrap_or_default();
    (!list.iter().any(|e| e.name == old) && facts.cluster.entry(n).is_none_or(|e| !e.started()))
        .then(|| format!("{old} is not a member of the cluster"))
}

/// A run that could not reach every host is not done: what to say, if so.
pub fn unreached(facts: &Facts) -> Option<String> {
    (!facts.unreachable.is_empty()).then(|| {
        format!(
            "done on the hosts that could be reached; not on {}: run it again once they are back",
            facts.unreachable_names()
        )
    })
}
