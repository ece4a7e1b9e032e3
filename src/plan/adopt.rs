//! `adopt`: the plan that takes over a running cluster etcd-deploy did not
//! make, keeping every member's data directory, ID and URLs. Each member's
//! host is prepared (release, unit or compose file), then one member at a
//! time, followers first and the leader last: its etcd-deploy config
//! written, its old unit or container stopped and disabled (left on disk),
//! its data handed to the etcd user, etcd-deploy's own unit started,
//! healthy and caught up before the next. Everything that would make this
//! unsafe is refused here, before anything changes: members of two
//! clusters, a member the inventory does not name (or the cluster does not
//! have), a data directory missing or not the inventory's, TLS on one side
//! only, a version other than the inventory's, an unhealthy cluster. A TLS
//! cluster keeps its own certificates (provided mode).

use super::{BackupStep, Desired, Plan, Prepare, Step, guards, quorum};
use crate::facts::{Facts, ForeignEtcd, printable};
use crate::inventory::{
    Inventory, Member, RunsIn, Version, VersionBy, etcd_settings, mode_adopting,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What ran a member before etcd-deploy takes it over: stopped and
/// disabled, left on disk (the way back if its etcd-deploy start fails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Previous {
    /// A systemd service (e.g. `etcd.service` from etcd's clustering guide).
    Unit { unit: String },
    /// A Docker container (e.g. from a compose file); its restart policy is
    /// set to `no`.
    Container { id: String },
    /// An earlier adopt stopped it and was interrupted: only the data
    /// hand-over and the start remain.
    Stopped,
}

/// The adopt plan (`Scope::Adopt`).
pub(super) fn plan(
    p: &mut Plan,
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
) {
    if let Err(why) = decide(p, inv, facts, desired) {
        p.blocked = Some(why);
        p.prepare.clear();
        p.steps.clear();
    }
}

fn decide(
    p: &mut Plan,
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
) -> Result<(), String> {
    if let Some(why) = guards::blocking(inv, facts, true) {
        return Err(why);
    }
    if !facts.unreachable.is_empty() {
        return Err(format!(
            "adopt needs every member's host, and {} cannot be reached",
            facts.unreachable_names()
        ));
    }
    let cluster = &facts.cluster;
    let Some(list) = &cluster.members else {
        return Err(
            "no member answers on its client URL: adopt takes over a running, healthy cluster"
                .into(),
        );
    };
    mixed_clusters(inv, facts)?;
    every_member_named(inv, list)?;
    let (previous, ids) = what_runs_each(p, inv, facts)?;
    let none = crate::facts::HostFacts::default();
    if previous.is_empty() {
        return Ok(()); // every member is etcd-deploy's already: nothing to do
    }
    healthy_and_safe(inv, facts, &previous, &ids)?;
    for m in inv
        .members
        .iter()
        .filter(|m| previous.contains_key(&m.name))
    {
        let h = facts.hosts.get(&m.name).unwrap_or(&none);
        if let Some(prep) = prepare(inv, m, h, desired.get(&m.name)) {
            p.prepare.push(prep);
        }
    }
    // Members an interrupted adopt left stopped first (`healthy_and_safe`
    // counts them back in service for the others), then followers, the
    // leader last (leadership moved off it first).
    let leader = cluster.leader();
    let mut order: Vec<String> = previous.keys().cloned().collect();
    order.sort_by_key(|n| {
        (
            previous.get(n) != Some(&Previous::Stopped),
            ids.get(n) == leader.as_ref(),
            inv.members.iter().position(|m| &m.name == n),
        )
    });
    let leader = order
        .last()
        .filter(|n| ids.get(*n) == leader.as_ref())
        .cloned();
    p.steps.push(Step::Adopt {
        order,
        leader,
        previous,
    });
    Ok(())
}

/// A value per member name.
type ByName<T> = BTreeMap<String, T>;

/// Every cluster member is an inventory member, voting and started.
fn every_member_named(inv: &Inventory, list: &[crate::facts::MemberInfo]) -> Result<(), String> {
    for e in list {
        if super::inventory_member(inv, e).is_none() {
            return Err(format!(
                "the cluster has member {} ({}), which the inventory does not name: add it to the inventory (it is adopted too), or remove it from the cluster first",
                super::label(inv, e),
                printable(&e.peer_urls.join(","))
            ));
        }
        if e.is_learner || !e.started() {
            return Err(format!(
                "member {} is a learner or never started: let its join finish, then adopt",
                super::label(inv, e)
            ));
        }
    }
    Ok(())
}

/// What runs each member now (its previous unit or container, or nothing
/// when an interrupted adopt stopped it), keyed by name, with each
/// member's ID; members etcd-deploy runs already are left out. Notes what
/// was found and how it differs from the inventory.
fn what_runs_each(
    p: &mut Plan,
    inv: &Inventory,
    facts: &Facts,
) -> Result<(ByName<Previous>, ByName<u64>), String> {
    let cluster = &facts.cluster;
    let want = inv.cluster.version;
    let none = crate::facts::HostFacts::default();
    let mut previous = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for m in &inv.members {
        let h = facts.hosts.get(&m.name).unwrap_or(&none);
        let Some(e) = cluster.entry(m) else {
            return Err(format!(
                "{} (peer URL {}) is not a member of the running cluster: adopt keeps each member's URLs, so the inventory must give the ones it runs with (`etcd-deploy init --from-cluster` writes them); add new members with apply after adopting",
                m.name,
                m.peer_url()
            ));
        };
        ids.insert(m.name.clone(), e.id);
        let found = match (&h.foreign, h.named_etcd.first()) {
            (Some(f), Some(pid)) => Some((f, *pid)),
            _ => None,
        };
        if h.active {
            if let Some((_, pid)) = found {
                return Err(format!(
                    "{}: etcd-deploy's own etcd and another one (PID {pid}) both run as this member on its host; stop the other one by hand",
                    m.name
                ));
            }
            continue; // adopted already
        }
        let Some((f, pid)) = found else {
            if h.config_digest.is_some() && h.has_data {
                previous.insert(m.name.clone(), Previous::Stopped);
                continue;
            }
            return Err(format!(
                "{}: no etcd runs as this member on its host: adopt takes over running members (start it the way it was made, then adopt)",
                m.name
            ));
        };
        previous.insert(m.name.clone(), check_member(m, f, pid, e)?);
        let version = cluster.status.get(&m.name).map(|s| s.version.as_str());
        if version != Some(want.to_string().as_str()) {
            return Err(format!(
                "{} runs etcd {}, and the inventory says {want}: adopt keeps the version a member runs; set version = \"{}\", adopt, then upgrade",
                m.name,
                version.unwrap_or("?"),
                version.unwrap_or("?")
            ));
        }
        p.notes.push(found_note(m, f, pid));
        if let Some(d) = differences(m, f, want) {
            p.notes.push(d);
        }
    }
    Ok((previous, ids))
}

/// Members that answer with different cluster IDs belong to two clusters.
fn mixed_clusters(inv: &Inventory, facts: &Facts) -> Result<(), String> {
    let mut by_cluster: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for m in &inv.members {
        if let Some(s) = facts
            .cluster
            .status
            .get(&m.name)
            .filter(|s| s.cluster_id != 0)
        {
            by_cluster.entry(s.cluster_id).or_default().push(&m.name);
        }
    }
    if by_cluster.len() < 2 {
        return Ok(());
    }
    let parts: Vec<String> = by_cluster
        .iter()
        .map(|(id, names)| format!("{} in cluster {id:x}", names.join(", ")))
        .collect();
    Err(format!(
        "the inventory names members of different clusters ({}): one inventory is one cluster; adopt each cluster with its own inventory",
        parts.join("; ")
    ))
}

/// The one member: what runs it, where its data is, and that it serves TLS
/// exactly when the inventory says so.
fn check_member(
    m: &Member,
    f: &ForeignEtcd,
    pid: u32,
    e: &crate::facts::MemberInfo,
) -> Result<Previous, String> {
    let traits = m.runtime.traits();
    let previous = match (&f.unit, &f.container, traits.adopts) {
        (_, Some(id), RunsIn::Container) => Previous::Container { id: id.clone() },
        (Some(unit), None, RunsIn::Unit) => Previous::Unit { unit: unit.clone() },
        (_, Some(_), RunsIn::Unit) => {
            return Err(format!(
                "{}: its etcd (PID {pid}) runs in a container, and the inventory says mode = \"{}\": adopt keeps the way a member runs; set mode = \"{}\" for it",
                m.name,
                traits.mode,
                mode_adopting(RunsIn::Container)
            ));
        }
        (Some(unit), None, RunsIn::Container) => {
            return Err(format!(
                "{}: its etcd (PID {pid}) runs as the systemd service {unit}, and the inventory says mode = \"{}\": adopt keeps the way a member runs; set mode = \"{}\" for it",
                m.name,
                traits.mode,
                mode_adopting(RunsIn::Unit)
            ));
        }
        (None, None, _) => {
            return Err(format!(
                "{}: its etcd (PID {pid}) runs in no systemd service or container (started from a shell?): etcd-deploy cannot stop it for good; run it as a service first, or stop it and let apply make the member afresh",
                m.name
            ));
        }
    };
    let Some(dir) = &f.data_dir else {
        return Err(format!(
            "{}: the data directory of its etcd (PID {pid}) was not found on the host{}: nothing is changed (adopt must keep the member's data)",
            m.name,
            if f.container.is_some() {
                " (no bind mount of the container holds it)"
            } else {
                ""
            }
        ));
    };
    if !f.has_data {
        return Err(format!(
            "{}: its etcd (PID {pid}) uses {dir}, which holds no member data (no member/ there): nothing is changed",
            m.name
        ));
    }
    if *dir != m.data_dir {
        return Err(format!(
            "{}: its etcd keeps its data in {dir}, and the inventory says data_dir {}: adopt keeps the data where it is; set data_dir = \"{dir}\" for it",
            m.name, m.data_dir
        ));
    }
    let wal = f.settings.get("wal-dir").map(String::as_str);
    if wal != m.separate_wal_dir() {
        return Err(format!(
            "{}: its etcd keeps its WAL in {}, and the inventory says {}: set the same wal-dir in [etcd] (or move the WAL by hand first)",
            m.name,
            wal.unwrap_or("the data directory"),
            m.separate_wal_dir().unwrap_or("the data directory")
        ));
    }
    let tls = e
        .peer_urls
        .iter()
        .chain(&e.client_urls)
        .any(|u| u.starts_with("https://"));
    if tls != m.tls {
        return Err(format!(
            "{}: it serves {}, and the inventory says {}: adopt keeps how a member is reached; set [tls] as it runs (a TLS cluster: mode = \"provided\" with its own certificates, as `init --from-cluster` writes it), then change it with apply once adopted",
            m.name,
            if tls { "TLS" } else { "plain HTTP" },
            if m.tls { "TLS" } else { "plain HTTP" }
        ));
    }
    Ok(previous)
}

/// Every member to adopt answers and is healthy, no alarm is raised, and
/// stopping any one of them leaves a healthy majority.
fn healthy_and_safe(
    inv: &Inventory,
    facts: &Facts,
    previous: &BTreeMap<String, Previous>,
    ids: &BTreeMap<String, u64>,
) -> Result<(), String> {
    let cluster = &facts.cluster;
    if !cluster.alarms.is_empty() {
        return Err(format!(
            "alarms are raised ({}): clear them first (`etcd-deploy alarm list`)",
            cluster.alarms.join(", ")
        ));
    }
    let list = cluster.members.as_deref().unwrap_or_default();
    let mut healthy: BTreeSet<u64> = cluster.healthy_ids();
    let running = previous.iter().filter(|(_, p)| **p != Previous::Stopped);
    for (name, _) in running.clone() {
        let Some(id) = ids.get(name) else { continue };
        if !healthy.contains(id) {
            return Err(format!(
                "{name} is not healthy ({}): adopt restarts every member, so it needs a healthy cluster",
                cluster
                    .status
                    .get(name)
                    .and_then(|s| s.trouble())
                    .unwrap_or_else(|| "does not answer".into())
            ));
        }
    }
    // Members an interrupted adopt left stopped are started first.
    for (name, _) in previous.iter().filter(|(_, p)| **p == Previous::Stopped) {
        healthy.extend(ids.get(name));
    }
    for (name, _) in running {
        let Some(id) = ids.get(name) else { continue };
        if let Err(why) = quorum::check_step(list, &[], &[*id], &healthy) {
            return Err(format!(
                "stopping {name} to take it over would lose quorum: {why}; unhealthy: {}",
                super::unhealthy(inv, facts, list, &healthy)
            ));
        }
    }
    Ok(())
}

/// The host preparation before a member is taken over: the release (or
/// image), the `current` link, the unit or compose file, scheduled snapshots.
fn prepare(
    inv: &Inventory,
    m: &Member,
    h: &crate::facts::HostFacts,
    d: Option<&Desired>,
) -> Option<Prepare> {
    let want = inv.cluster.version;
    let mut prep = Prepare {
        install: (!h.installed.contains(&want)).then_some(want),
        ..Prepare::nothing(&m.name)
    };
    let traits = m.runtime.traits();
    if traits.version_by == VersionBy::Link {
        prep.link = (h.current != Some(want)).then_some(want);
    }
    if let Some(image) = m.runtime.image() {
        prep.set_image(image);
    }
    if d.is_some_and(|d| h.host_file_digest.as_ref() != Some(&d.host_file_digest)) {
        prep.host_file = Some(traits.host_file);
    }
    prep.certs = d.is_some_and(|d| d.pki_differs(h.pki_digest.as_ref()));
    prep.backup = BackupStep::needed(d, h);
    prep.set_arch(h);
    (!prep.is_empty()).then_some(prep)
}

/// `infra1: etcd.service (PID 87), data /var/lib/etcd/infra1.etcd → etcd@infra1.service`
fn found_note(m: &Member, f: &ForeignEtcd, pid: u32) -> String {
    let runs = match (&f.unit, &f.container) {
        (_, Some(id)) => format!("container {}", crate::facts::short_id(id)),
        (Some(u), None) => u.clone(),
        (None, None) => "?".into(),
    };
    let to = (m.runtime.traits().run_by)(m);
    format!(
        "{}: found {runs} (PID {pid}), data {}; taken over by {to}, the old one stopped and disabled (left on disk)",
        m.name,
        f.data_dir.as_deref().unwrap_or("?")
    )
}

/// The settings the member runs with that its etcd-deploy config changes,
/// as one note (`None`: none); URL lists compare as sets.
pub fn differences(m: &Member, f: &ForeignEtcd, version: Version) -> Option<String> {
    let norm = |key: &str, v: Option<String>| -> Option<String> {
        let v = v.or_else(|| etcd_settings::etcd_default(key, version).map(str::to_string))?;
        let mut parts: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        parts.sort_unstable();
        Some(parts.join(","))
    };
    let mut out = Vec::new();
    let compared = etcd_settings::SETTINGS
        .iter()
        .filter(|s| s.adopt == etcd_settings::Adopt::Compared);
    for key in compared.map(|s| s.key) {
        let found = norm(key, f.settings.get(key).cloned());
        let wanted = norm(key, etcd_settings::inventory_value(m, key));
        if found != wanted {
            out.push(format!(
                "{key} {} → {}",
                found.as_deref().unwrap_or("(unset)"),
                wanted.as_deref().unwrap_or("(unset)")
            ));
        }
    }
    (!out.is_empty()).then(|| {
        format!(
            "{}: settings that change with the takeover (found → inventory): {}",
            m.name,
            out.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_serialises_with_its_kind() {
        let j = serde_json::to_string(&Previous::Unit {
            unit: "etcd.service".into(),
        })
        .expect("json");
        assert_eq!(j, r#"{"kind":"unit","unit":"etcd.service"}"#);
    }
}
