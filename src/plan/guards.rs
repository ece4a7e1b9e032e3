//! Situations in which nothing can safely be done: each guard reads the
//! inventory and the facts and says why, in words an operator can act on.
//! A guard that fires blocks the whole plan before anything changes anywhere.

use crate::facts::{Facts, MemberInfo};
use crate::inventory::Inventory;
use crate::inventory::path_rule::{self, Verdict};
use crate::layout;

/// The guards that are checked before anything else is decided; `adopt`
/// (`adopting`) is what takes over members that are not etcd-deploy's.
pub(super) fn blocking(inv: &Inventory, facts: &Facts, adopting: bool) -> Option<String> {
    let not_ours = if adopting {
        |_: &Inventory, _: &Facts| None
    } else {
        not_ours
    };
    [
        compose_missing,
        other_cluster,
        runtime_switched,
        foreign_dirs,
        recover_interrupted,
        restore_interrupted,
        not_ours,
    ]
    .iter()
    .find_map(|guard| guard(inv, facts))
}

/// What refuses `restore`: a host without what its mode needs, another
/// cluster's or someone else's member or directories (as for apply). A
/// half-done restore or recover does not: a restore replaces every
/// member's data.
pub(super) fn blocking_restore(inv: &Inventory, facts: &Facts) -> Option<String> {
    [
        compose_missing,
        other_cluster,
        runtime_switched,
        foreign_dirs,
        not_ours,
    ]
    .iter()
    .find_map(|guard| guard(inv, facts))
}

/// What refuses `destroy`: another cluster's member on a host, or a member
/// someone else runs (its files are not etcd-deploy's to remove). Others'
/// files in a data directory do not: destroy deletes only etcd's own
/// (`destroy_member.sh`).
pub(super) fn blocking_destroy(inv: &Inventory, facts: &Facts) -> Option<String> {
    [other_cluster, not_ours]
        .iter()
        .find_map(|guard| guard(inv, facts))
}

/// A member whose config holds recover's one-off `force-new-cluster` while
/// its etcd is not running: a `recover` stopped between writing it and
/// bringing the seed back. Starting it would make a one-member cluster
/// (that is what recover wanted, but only recover knows the rest was moved
/// aside); `recover` finishes it, and nothing else may start it.
fn recover_interrupted(inv: &Inventory, facts: &Facts) -> Option<String> {
    let m = facts.forced(inv).filter(|(_, running)| !running)?.0;
    Some(format!(
        "a recover stopped before it finished: {}'s config still holds force-new-cluster and its etcd is not running; run `etcd-deploy recover` again to finish it (it seeds from {})",
        m.name, m.name
    ))
}

/// Members whose data a restore made (its note is still there) beside
/// members whose data it has not replaced yet: a `restore` stopped half-way.
/// Started, the two sets would be two clusters; `restore` again finishes it.
fn restore_interrupted(inv: &Inventory, facts: &Facts) -> Option<String> {
    let by = |m: &crate::inventory::Member| facts.hosts.get(&m.name).map(|h| &h.restored_by);
    let stamp = inv.members.iter().find_map(|m| by(m)?.as_ref())?;
    let (done, not): (Vec<_>, Vec<_>) = inv
        .members
        .iter()
        .filter(|m| by(m).is_some())
        .partition(|m| by(m) == Some(&Some(stamp.clone())));
    if not.is_empty() {
        return None;
    }
    let names = |v: &[&crate::inventory::Member]| {
        v.iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "a restore stopped before it finished: {} hold(s) the data restore {stamp} made, {} not; started, they would be two clusters. Run `etcd-deploy restore` again (it sets every member's data aside and restores all of them)",
        names(&done),
        names(&not)
    ))
}

/// A host in compose mode without compose or a running Docker engine: nothing
/// can be done there, and nothing is done anywhere until it has them.
fn compose_missing(inv: &Inventory, facts: &Facts) -> Option<String> {
    let m = inv.members.iter().find(|m| {
        m.runtime.traits().needs_docker
            && facts
                .hosts
                .get(&m.name)
                .is_none_or(|h| h.compose.is_none() || h.engine.is_none())
    })?;
    let names: Vec<&str> = inv
        .host_members(m)
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    let h = facts.hosts.get(&m.name);
    let why = if h.is_none_or(|h| h.compose.is_none()) {
        format!(
            "{}, and compose mode needs one of them (or set mode = \"systemd\" for this host)",
            layout::NO_COMPOSE
        )
    } else {
        "the Docker engine does not answer (`docker version` shows no server); start it, e.g. `systemctl start docker`".to_string()
    };
    Some(format!(
        "host {} (member{} {}): {why}",
        m.ssh.address,
        if names.len() > 1 { "s" } else { "" },
        names.join(", ")
    ))
}

/// A member whose host holds its data (etcd has run there) while
/// etcd-deploy never set it up (no config file of its own there, no record
/// of it on this controller): made by hand or by another tool, e.g. an
/// inventory written by `init --from-cluster`. Starting etcd-deploy's own
/// unit for it would put a second etcd on its ports and data.
fn not_ours(inv: &Inventory, facts: &Facts) -> Option<String> {
    // The cluster facts ask only the members etcd-deploy runs, so a cluster
    // made wholly by hand shows no member list at all. With one, a member
    // that is not in it is a new one joining (its old data moved aside).
    let list = facts.cluster.members.as_deref();
    let found: Vec<&str> = inv
        .members
        .iter()
        .filter(|m| {
            let h = facts.hosts.get(&m.name);
            list.is_none_or(|l| l.iter().any(|e| e.is(m)))
                && h.is_some_and(|h| {
                    !h.active
                        && h.has_data
                        && h.config_digest.is_none()
                        && h.config_cluster.is_none()
                })
                && !facts.recorded.contains_key(&m.name)
        })
        .map(|m| m.name.as_str())
        .collect();
    // Whatever the data: an etcd named as the member, not in etcd-deploy's
    // unit or container, runs on its host while etcd-deploy's does not (in
    // a container, with data elsewhere).
    let running: Vec<String> = inv
        .members
        .iter()
        .filter_map(|m| {
            let h = facts.hosts.get(&m.name)?;
            let pid = h.named_etcd.first().filter(|_| !h.active)?;
            Some(format!("{} (PID {pid})", m.name))
        })
        .collect();
    if !running.is_empty() {
        return Some(format!(
            "an etcd that etcd-deploy did not start runs as {} on {}: made by hand or by another tool; nothing is changed; `etcd-deploy adopt` takes such members over (status, snapshot save, defrag, compact and alarm work with them as they are)",
            running.join(", "),
            if running.len() == 1 {
                "its host"
            } else {
                "their hosts"
            }
        ));
    }
    if found.is_empty() {
        return None;
    }
    Some(format!(
        "{} hold{} etcd data, but etcd-deploy did not set {} up (no config file of its own on the host, no record of it here): made by hand or by another tool; nothing is changed (start it the way it was made and `etcd-deploy adopt` takes it over; or move the data aside for a fresh member)",
        found.join(", "),
        if found.len() == 1 { "s" } else { "" },
        if found.len() == 1 { "it" } else { "them" }
    ))
}

/// A running member whose mode was switched between systemd and compose:
/// starting it the new way would put a second etcd beside the first.
fn runtime_switched(inv: &Inventory, facts: &Facts) -> Option<String> {
    let m = inv.members.iter().find(|m| {
        facts
            .hosts
            .get(&m.name)
            .is_some_and(|h| h.other_runtime_active)
    })?;
    let traits = m.runtime.traits();
    let (runs, wants) = (traits.other_runs, traits.mode);
    Some(format!(
        "{} runs {runs}, and the inventory says mode = \"{wants}\": switching a running member between systemd and compose is not supported; replace it by a member under a new name in the new mode (`etcd-deploy replace`), or set the mode back",
        m.name
    ))
}

/// A member's files, or its host's systemd unit, written for another cluster:
/// applying would take over that cluster's member (names, config files, the
/// unit and the default data directory are per host, not per cluster).
fn other_cluster(inv: &Inventory, facts: &Facts) -> Option<String> {
    let mine = &inv.cluster.name;
    inv.members.iter().find_map(|m| {
        let h = facts.hosts.get(&m.name)?;
        if let Some(c) = h.config_cluster.as_ref().filter(|c| *c != mine) {
            return Some(format!(
                "{} on host {}: {} belongs to etcd cluster {c}, not {mine}; member names must be unique on a host across clusters: rename this member, or use another host (if this is cluster {c} renamed: set cluster.name back, the name is its identity on the hosts)",
                m.name,
                m.ssh.address,
                layout::config_path(m)
            ));
        }
        let c = h
            .unit_cluster
            .as_ref()
            .filter(|c| *c != mine && m.runtime.traits().one_cluster_per_host)?;
        Some(format!(
            "host {}: {} runs members of etcd cluster {c}; one host runs one systemd-mode cluster (they share the unit, the release link and the default data directory): use another host, or mode = \"compose\" for this cluster",
            m.ssh.address,
            layout::UNIT_PATH
        ))
    })
}

/// A running member whose config serves TLS while the inventory turned it
/// off without saying where the certificates are: the controller could not
/// reach the members still serving TLS while they move back
/// (`tls_move.rs`), so it is refused before anything changes.
pub(super) fn tls_switched(inv: &Inventory, facts: &Facts) -> Option<String> {
    if !matches!(inv.tls, crate::inventory::TlsMode::Off { dir: None }) {
        return None;
    }
    let m = inv.members.iter().find(|m| {
        facts
            .hosts
            .get(&m.name)
            .is_some_and(|h| h.config_digest.is_some() && h.config_tls)
    })?;
    Some(format!(
        "{} runs with https, and the inventory says http: moving the cluster back to plain HTTP needs the certificates it runs with, to reach its members until they move; keep the directory in the inventory: [tls] mode = \"off\", dir = \"<the directory with ca.crt and client.crt>\"",
        m.name
    ))
}

/// A live member under the same name but another peer URL (a port or
/// address edit, or compose members moving onto a shared host's bridge).
/// A dead one is a machine replaced under its old name: removed, then joined.
pub(super) fn peer_url_changed(
    inv: &Inventory,
    facts: &Facts,
    list: &[MemberInfo],
) -> Option<String> {
    let (m, e) = inv.members.iter().find_map(|m| {
        let e = list.iter().find(|e| {
            e.started()
                && e.name == m.name
                && facts.cluster.others.get(&e.id).is_some_and(|s| s.is_some())
        })?;
        let want = m.peer_url();
        (!e.peer_urls
            .iter()
            .any(|u| crate::inventory::same_endpoint(u, &want)))
        .then_some((m, e))
    })?;
    Some(format!(
        "{} runs with peer URL {}, and the inventory gives it {}: changing a running member's peer URL is not supported (it needs `etcdctl member update` and a restart on the new address); revert the edit, or replace the member under a new name",
        m.name,
        e.peer_urls.join(","),
        m.peer_url()
    ))
}

/// A data or install directory that holds others' files: etcd-deploy would
/// take it over (owner, mode) and `--wipe`/`destroy` would act in it.
fn foreign_dirs(inv: &Inventory, facts: &Facts) -> Option<String> {
    inv.members.iter().find_map(|m| {
        let h = facts.hosts.get(&m.name)?;
        if path_rule::verdict(&m.data_dir) == Verdict::EtcdsOnly && !h.has_data {
            return Some(format!(
                "{} on host {}: data_dir {} is not below {}: etcd-deploy uses a directory elsewhere only when it already holds etcd's data (a cluster made by hand, taken over where it lives), and this one holds none; set a data_dir of its own like /var/lib/etcd (docs/security.md)",
                m.name,
                m.ssh.address,
                m.data_dir,
                path_rule::ROOTS.join(", ")
            ));
        }
        if let Some(e) = &h.data_dir_foreign {
            return Some(format!(
                "{} on host {}: data_dir {} holds `{e}`, which is not etcd's data: etcd-deploy uses only a new, empty or etcd data directory (it takes the directory over, and --wipe deletes in it); set another data_dir",
                m.name, m.ssh.address, m.data_dir
            ));
        }
        let e = h.install_dir_foreign.as_ref()?;
        Some(format!(
            "host {}: install_dir {} holds `{e}`, which is no etcd release of etcd-deploy's: it uses only a new, empty or own install directory (destroy removes what it put there); set another install_dir",
            m.ssh.address, inv.cluster.install_dir
        ))
    })
}
