//! What each reachable member's host needs, compared with what it should
//! have: the preparation (release, link, image, unit or compose file, TLS
//! files, scheduled snapshots) and the reasons its running etcd must
//! restart; and which members in service run another version (a rolling
//! upgrade, not a link switch).

use super::{BackupStep, Desired, Prepare, RestartReason};
use crate::facts::{ClusterFacts, Facts, HostFacts};
use crate::inventory::{Inventory, Member, Version, VersionBy};
use std::collections::BTreeMap;

/// The hosts' side of the plan.
pub(super) struct HostChanges {
    pub(super) prepare: Vec<Prepare>,
    /// Why each running member must restart (members with no reason are absent).
    pub(super) restart: BTreeMap<String, Vec<RestartReason>>,
    /// Members in service whose version differs, with the version each ran
    /// before when known: a rolling upgrade.
    pub(super) rolling: BTreeMap<String, Option<Version>>,
}

/// Compares every reachable member's host with what it should have.
pub(super) fn of(
    inv: &Inventory,
    facts: &Facts,
    desired: &BTreeMap<String, Desired>,
) -> HostChanges {
    let default_host = HostFacts::default();
    let mut out = HostChanges {
        prepare: Vec::new(),
        restart: BTreeMap::new(),
        rolling: BTreeMap::new(),
    };
    for m in &inv.members {
        // Nothing is known of (or done on) a host SSH cannot reach.
        if facts.unreachable.contains_key(&m.name) {
            continue;
        }
        let h = facts.hosts.get(&m.name).unwrap_or(&default_host);
        let d = desired.get(&m.name);
        let (prep, rolling_from) = prepare(inv, &facts.cluster, m, h, d);
        if let Some(from) = rolling_from {
            out.rolling.insert(m.name.clone(), from);
        }
        let reasons = restart_reasons(&facts.cluster, m, h, d);
        if !reasons.is_empty() {
            out.restart.insert(m.name.clone(), reasons);
        }
        if !prep.is_empty() {
            out.prepare.push(prep);
        }
    }
    out
}

/// What member `m`'s host needs before anything restarts; and, when it is
/// in service on another version than the inventory's, the version it ran
/// before (`Some(None)`: unknown) for a rolling upgrade.
fn prepare(
    inv: &Inventory,
    cluster: &ClusterFacts,
    m: &Member,
    h: &HostFacts,
    d: Option<&Desired>,
) -> (Prepare, Option<Option<Version>>) {
    let want = inv.cluster.version;
    let in_service = h.active || cluster.entry(m).is_some_and(|e| e.started());
    // What actually runs wins over the link (an interrupted upgrade may have switched it).
    let running = cluster
        .status
        .get(&m.name)
        .and_then(|s| Version::parse(&s.version))
        .or(h.current);
    // systemd: the version is the host's `current` link, and a changed
    // unit restarts members. Compose: the version is the service's image
    // (written with the compose file), and a changed service recreates
    // only its container (`Runtime::traits`).
    let traits = m.runtime.traits();
    let kind = traits.host_file;
    let by_link = traits.version_by == VersionBy::Link;
    let image = m.runtime.image();
    let mut prep = Prepare::nothing(&m.name);
    let mut rolling = None;
    if in_service && running.is_some() && running != Some(want) {
        prep.install = (!h.installed.contains(&want)).then_some(want);
        rolling = Some(h.current.filter(|c| *c != want).or(running));
    } else if h.current != Some(want) && !in_service {
        prep.install = (!h.installed.contains(&want)).then_some(want);
        prep.link = by_link.then_some(want);
    }
    if let Some(image) = image {
        prep.set_image(image);
    }
    if d.is_some_and(|d| h.host_file_digest.as_ref() != Some(&d.host_file_digest)) {
        prep.host_file = Some(kind);
    }
    // Keys loosened on the host are written again with their modes (no
    // restart: the same files).
    if h.pki_loose && d.is_some_and(|d| d.pki_digest.is_some()) {
        prep.certs = true;
    }
    if d.is_some_and(|d| d.pki_differs(h.pki_digest.as_ref())) {
        prep.certs = true;
    }
    if let Some(want) = d.and_then(|d| d.crl_digest.as_ref())
        && h.crl_digest.as_ref() != Some(want)
    {
        prep.crl = true;
    }
    prep.backup = BackupStep::needed(d, h);
    prep.set_arch(h);
    (prep, rolling)
}

/// Why member `m`'s running etcd must restart, in the order found.
fn restart_reasons(
    cluster: &ClusterFacts,
    m: &Member,
    h: &HostFacts,
    d: Option<&Desired>,
) -> Vec<RestartReason> {
    let mut reasons = Vec::new();
    if m.runtime.traits().host_file_restarts
        && d.is_some_and(|d| h.host_file_digest.as_ref() != Some(&d.host_file_digest))
        && h.host_file_digest.is_some()
        && h.active
    {
        reasons.push(RestartReason::UnitChanged);
    }
    if let Some(want_service) = d.and_then(|d| d.service_digest.as_ref())
        && h.active
        && h.service_digest.as_ref() != Some(want_service)
    {
        reasons.push(RestartReason::ContainerChanged);
    }
    if d.is_some_and(|d| d.pki_differs(h.pki_digest.as_ref())) && h.pki_digest.is_some() && h.active
    {
        reasons.push(RestartReason::CertificatesChanged);
    }
    if h.active && h.config_forced {
        reasons.push(RestartReason::ForceNewCluster);
    }
    if h.active && h.config_stale && !h.crash_looping {
        reasons.push(RestartReason::StaleConfig);
    }
    if h.active && h.pki_stale && !h.crash_looping {
        reasons.push(RestartReason::StaleCertificates);
    }
    if h.active && h.crash_looping && !cluster.status.contains_key(&m.name) {
        reasons.push(RestartReason::CrashLooping);
    }
    if h.active
        && h.config_digest.is_some()
        && d.is_some_and(|d| h.config_digest.as_ref() != Some(&d.config_digest))
    {
        reasons.push(RestartReason::ConfigChanged);
    }
    reasons
}
