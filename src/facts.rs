//! Facts: what is true on the hosts and in the cluster right now, as plain
//! data. Each host's facts are the `key=value` output of one script (see
//! `gather.rs`, which runs it), parsed here by a pure function, so parsing
//! and planning are tested without hosts.

use crate::inventory::{Member, Version};
use crate::layout::{CLUSTER_MARKER, DIGEST_MARKER, UNIT_MARKER};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod auth;
mod records;
pub use auth::{AuthFacts, Grant, PasswordCheck, prefix_end};
pub use records::{MADE_BY, RecordedMember, Records};

/// What one host has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostFacts {
    /// `uname -m`
    pub arch: String,
    /// Versions unpacked under the install directory.
    pub installed: Vec<Version>,
    /// The version the `current` link points at.
    pub current: Option<Version>,
    /// Settings digest in the config file's first line (etcd-deploy's marker).
    pub config_digest: Option<String>,
    /// Digest of the host's systemd unit or compose file.
    pub host_file_digest: Option<String>,
    pub active: bool,
    /// The service keeps failing and being restarted (systemd: waiting in
    /// `auto-restart`; compose: the container is `restarting`).
    pub crash_looping: bool,
    /// Starts with the host (systemd: enabled; compose: the container exists).
    pub enabled: bool,
    pub pid: Option<u32>,
    /// Seconds its etcd process has run (as the host counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_age: Option<u64>,
    /// The data directory holds a member (etcd has started there before).
    pub has_data: bool,
    /// The running etcd started before its config file last changed: it has
    /// not read it (a run stopped between writing it and the restart).
    pub config_stale: bool,
    /// Its config file still holds `force-new-cluster: true`: a `recover`
    /// stopped before the seed went back to its normal config. Any later
    /// start would make it a one-member cluster again.
    pub config_forced: bool,
    /// The running etcd started before its TLS files last changed: it has
    /// not loaded them (a run stopped between writing them and the
    /// restart; e.g. mid-way through a pass of a CA rotation).
    pub pki_stale: bool,
    /// Its data was made by this restore (its stamp), which has not
    /// finished on every member (a run stopped before the end).
    pub restored_by: Option<String>,
    /// SHA256 over the TLS files on the host (see `layout::PKI_FILES`).
    pub pki_digest: Option<String>,
    /// SHA256 of the client revocation list on the host (`layout::crl_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_digest: Option<String>,
    /// A private key on the host is readable by more than its owner.
    pub pki_loose: bool,
    /// The CAs the member trusts (its `ca.crt`, a bundle during a CA
    /// rotation): SHA256 fingerprints of their certificates, lowercase hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certs: Vec<String>,
    /// The member's config serves clients over TLS.
    pub config_tls: bool,
    /// Its config has peer certificates (set up for TLS peers).
    pub config_peer_certs: bool,
    /// The cluster the member's existing config file was written for.
    pub config_cluster: Option<String>,
    /// Systemd mode: the cluster the host's template unit was written for.
    pub unit_cluster: Option<String>,
    /// Compose mode: how compose is run there (`docker compose` or `docker-compose`).
    pub compose: Option<String>,
    /// Compose mode: the Docker engine's version, when it answers.
    pub engine: Option<String>,
    /// Compose mode: the digest of the service the member's container was made from.
    pub service_digest: Option<String>,
    /// The data directory holds this entry, which is not etcd's (nor
    /// `lost+found`): someone else's directory (or not a directory at all).
    pub data_dir_foreign: Option<String>,
    /// The install directory holds this entry, which is no release of
    /// etcd-deploy's.
    pub install_dir_foreign: Option<String>,
    /// Digest of the member's scheduled-snapshot files (`backup.rs`), when
    /// its environment file is there.
    pub backup_digest: Option<String>,
    /// Its snapshot timer is running.
    pub backup_active: bool,
    /// PIDs of the etcd processes on the host whose member name is this
    /// member's and that etcd-deploy did not start (not in its unit or its
    /// container): someone else's.
    pub named_etcd: Vec<u32>,
    /// What `adopt` needs of the first of them; `None` when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign: Option<ForeignEtcd>,
    /// Other etcd processes on the host that are not taken for any member
    /// (run from a user's session, as a user its service does not name, or
    /// not listening on the member's ports): "PID why", shown as a note.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_etcd: Vec<String>,
    /// The member also runs the other way (a systemd unit in compose mode, a
    /// container in systemd mode): the mode was switched under a running member.
    pub other_runtime_active: bool,
    /// etcd-deploy's records of the cluster's members as this host keeps
    /// them (`facts::records`); `None`: it keeps none (yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Records>,
    /// Another run holds the cluster's run lock on this host: its holder's
    /// line as it wrote it (JSON, anyone's text: shown safely).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_lock: Option<String>,
}

/// An etcd on a member's host that etcd-deploy did not start, as its
/// host describes it (checked: a unit name, a container ID, a plain path).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForeignEtcd {
    /// The systemd service it runs in (outside containers).
    pub unit: Option<String>,
    /// The Docker container it runs in (its full ID).
    pub container: Option<String>,
    /// Its data directory as a host path (for a container: the host side of
    /// the bind mount holding it); `None` when not found.
    pub data_dir: Option<String>,
    /// The data directory holds a member (`member/`).
    pub has_data: bool,
    /// The settings it runs with, from its config file, flags or
    /// environment (the keys `inventory::etcd_settings` has adopt read).
    pub settings: BTreeMap<String, String>,
}

/// A systemd service name as systemd allows it (and no option look-alike).
fn unit_name(v: &str) -> Option<String> {
    let ok = v.len() <= 200
        && v.ends_with(".service")
        && !v.starts_with('-')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b));
    ok.then(|| v.to_string())
}

/// A container ID as Docker shows it (its first 12 characters); anything
/// else (a unit name) as it is.
pub fn short_id(id: &str) -> &str {
    if id.len() == 64 { &id[..12] } else { id }
}

/// A full Docker container ID.
fn container_id(v: &str) -> Option<String> {
    (v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| v.to_string())
}

/// A SHA256 as the scripts print it; anything else is no digest.
fn digest(v: &str) -> Option<String> {
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// Why a host could not be reached, in OpenSSH's own last words (e.g.
/// `Connection refused`): the message around it names the host already.
pub fn unreachable_reason(detail: &str) -> String {
    printable(detail.rsplit(": ").next().unwrap_or(detail))
}

/// Text from a host shown in messages: control characters (which could
/// hide or rewrite a line on a terminal) become `?`, and it stays short.
pub fn printable(v: &str) -> String {
    printable_upto(v, 100)
}

/// `printable` with room for `max` characters.
pub(crate) fn printable_upto(v: &str, max: usize) -> String {
    v.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl HostFacts {
    /// Whether the controller must reach the member over TLS, when its
    /// config says otherwise than the inventory (a move to TLS under way):
    /// `Some(false)` plain HTTP, `Some(true)` TLS.
    pub fn serves_tls(&self, m: &Member) -> Option<bool> {
        self.config_digest.as_ref()?;
        (self.config_tls != m.tls).then_some(self.config_tls)
    }

    /// Parses the output of the facts script (`runtime::facts_script`).
    /// Lines that are not `key=value` with a known key are ignored; values
    /// are checked (digests are hex, versions parse, names are printable).
    pub fn parse(out: &str) -> HostFacts {
        let mut f = HostFacts::default();
        let mut restarted = false;
        let mut activating = false;
        for line in out.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match k {
                // Shown in the plan; only a known machine name picks a release.
                "arch" => f.arch = printable_upto(v, 64),
                "installed" => f.installed.extend(Version::parse(v)),
                "current" => {
                    f.current = v
                        .rsplit('/')
                        .next()
                        .and_then(|d| d.strip_prefix("etcd-v"))
                        .and_then(Version::parse)
                }
                "config_line1" => {
                    f.config_digest = v
                        .strip_prefix(DIGEST_MARKER.trim_end())
                        .map(str::trim)
                        .and_then(digest)
                }
                "config_line2" => {
                    f.config_cluster = v
                        .strip_prefix(CLUSTER_MARKER)
                        .and_then(|r| r.strip_suffix("; edits are overwritten."))
                        .map(printable)
                }
                "unit_line1" => f.unit_cluster = v.strip_prefix(UNIT_MARKER).map(printable),
                "host_file_digest" => f.host_file_digest = digest(v),
                // The v2 plugin is listed first and preferred, as the scripts' `dc` does.
                "compose" if f.compose.is_none() => {
                    f.compose = ["docker compose", "docker-compose"]
                        .contains(&v)
                        .then(|| v.to_string())
                }
                "other_runtime" => f.other_runtime_active = v == "active",
                "engine" => f.engine = Some(printable_upto(v, 64)).filter(|e| !e.is_empty()),
                "container" => {
                    let mut parts = v.splitn(4, ' ');
                    let running = parts.next();
                    if !matches!(running, Some("true" | "false")) {
                        continue;
                    }
                    f.enabled = true;
                    f.active = running == Some("true");
                    f.pid = parts
                        .next()
                        .and_then(|p| p.parse().ok())
                        .filter(|p| *p != 0);
                    f.current = parts.next().and_then(Version::parse);
                    f.service_digest = parts.next().and_then(digest);
                }
                "sub" | "restarting" => {
                    f.crash_looping |= v == "auto-restart" || v == "true";
                }
                // Starting again after automatic restarts: still the loop.
                "restarts" => restarted = v.parse::<u32>().is_ok_and(|n| n > 0),
                "active" => {
                    activating = v == "activating";
                    f.active = v == "active" || activating || v == "reloading";
                }
                "enabled" => f.enabled = v == "enabled",
                "pid" => f.pid = v.parse().ok().filter(|p| *p != 0),
                "member_age" => f.member_age = v.parse().ok(),
                "has_data" => f.has_data = v == "yes",
                "config_stale" => f.config_stale = v == "yes",
                "config_forced" => f.config_forced = v == "yes",
                "pki_stale" => f.pki_stale = v == "yes",
                "restored_by" => {
                    f.restored_by = Some(v.to_string()).filter(|s| {
                        s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || b"TZ".contains(&b))
                    })
                }
                "config_tls" => f.config_tls = v == "yes",
                "config_peer_certs" => f.config_peer_certs = v == "yes",
                "pki_digest" => f.pki_digest = digest(v),
                "crl_digest" => f.crl_digest = digest(v),
                "pki_loose" => f.pki_loose = v == "yes",
                "records" => f.records = Records::parse(v),
                "run_lock" => f.run_lock = Some(printable_upto(v, 2048)),
                "ca_cert" if f.ca_certs.len() < 8 => f.ca_certs.extend(fingerprint(v)),
                "backup_digest" => f.backup_digest = digest(v),
                "backup_active" => f.backup_active = v == "active",
                "named_etcd" => f.named_etcd.extend(v.parse::<u32>().ok()),
                "untrusted_etcd" if f.untrusted_etcd.len() < 8 => {
                    f.untrusted_etcd.push(printable_upto(v, 200))
                }
                "foreign_unit" => f.foreign.get_or_insert_default().unit = unit_name(v),
                "foreign_container" => {
                    f.foreign.get_or_insert_default().container = container_id(v)
                }
                "foreign_data_dir" => {
                    f.foreign.get_or_insert_default().data_dir =
                        crate::inventory::plain_abs_path(v).then(|| v.to_string())
                }
                "foreign_has_data" => f.foreign.get_or_insert_default().has_data = v == "yes",
                "foreign_setting" => {
                    if let Some((key, value)) = v.split_once('=')
                        && crate::inventory::etcd_settings::foreign_keys().any(|k| k == key)
                    {
                        f.foreign
                            .get_or_insert_default()
                            .settings
                            .insert(key.to_string(), printable_upto(value.trim(), 300));
                    }
                }
                "data_dir_foreign" => f.data_dir_foreign = Some(printable(v)),
                "install_dir_foreign" => f.install_dir_foreign = Some(printable(v)),
                _ => {}
            }
        }
        f.crash_looping |= activating && restarted;
        // Described only when one runs (the lines follow its `named_etcd`).
        if f.named_etcd.is_empty() {
            f.foreign = None;
        }
        f.installed.sort();
        f
    }
}

/// The SHA256 fingerprint of a certificate given as its PEM body (the
/// base64 between the markers, on one line); `None` for anything that is
/// not a certificate.
fn fingerprint(body: &str) -> Option<String> {
    if body.is_empty() || body.len() > 16384 {
        return None;
    }
    let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    x509_parser::parse_x509_certificate(&pem.contents).ok()?;
    use sha2::{Digest, Sha256};
    Some(hex::encode(Sha256::digest(&pem.contents)))
}

/// An alarm as the facts name it: `NOSPACE on 1a2b` (`alarm_parts` reads it back).
pub fn alarm_label(kind: &str, member: u64) -> String {
    format!("{kind} on {member:x}")
}

/// An alarm as the facts give it (`NOSPACE on 1a2b`): its kind and the
/// member ID that raised it.
pub fn alarm_parts(a: &str) -> Option<(&str, u64)> {
    let (kind, id) = a.split_once(" on ")?;
    Some((kind, u64::from_str_radix(id, 16).ok()?))
}

/// One entry of etcd's member list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: u64,
    /// Empty until the member has started once.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl MemberInfo {
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }

    /// This entry is inventory member `m` (matched by peer URL, since a
    /// member that never started has no name; http or https alike, since a
    /// TLS migration changes the scheme of a running member).
    pub fn is(&self, m: &Member) -> bool {
        let want = m.peer_url();
        self.peer_urls
            .iter()
            .any(|u| crate::inventory::same_endpoint(u, &want))
    }
}

/// What one member says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub version: String,
    pub leader: u64,
    pub raft_term: u64,
    /// The cluster it belongs to (members of two clusters mixed differ here).
    #[serde(default)]
    pub cluster_id: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub db_size: i64,
    pub is_learner: bool,
    pub errors: Vec<String>,
    /// The key-value store's revision (applied writes).
    #[serde(default)]
    pub revision: i64,
    /// Bytes of the database file that hold data; the rest is free pages a
    /// defragmentation gives back.
    #[serde(default)]
    pub db_size_in_use: i64,
    /// The version of its database file (etcd 3.6 and later; empty before,
    /// or while 3.6 has not set it yet).
    #[serde(default)]
    pub storage_version: String,
    /// The minor version etcd's downgrade is enabled to (`3.5.0`), empty
    /// when none is (etcd 3.6 and later report it; 3.5 members never do).
    #[serde(default)]
    pub downgrade_target: String,
}

impl MemberStatus {
    /// Answers, knows a leader, reports no errors, votes. A raised alarm is
    /// not an error here: the member still votes and serves reads (the
    /// facts' `alarms` list it, and the commands that mind refuse it).
    pub fn healthy(&self) -> bool {
        self.leader != 0 && self.errors().is_empty() && !self.is_learner
    }

    /// The errors etcd reports, but for its raised alarms (which it lists
    /// among them, as `memberID:ID alarm:NOSPACE`).
    pub fn errors(&self) -> Vec<&str> {
        self.errors
            .iter()
            .map(String::as_str)
            .filter(|e| !e.contains("alarm:"))
            .collect()
    }

    /// Why it is not healthy, in a few words; `None` when it is.
    pub fn trouble(&self) -> Option<String> {
        if self.leader == 0 {
            Some("no leader (partitioned, or an election is under way)".into())
        } else if !self.errors().is_empty() {
            Some(printable(&self.errors().join("; ")))
        } else if self.is_learner {
            Some("a learner (does not vote)".into())
        } else {
            None
        }
    }
}

/// The cluster as its members describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterFacts {
    /// From any member that answered; `None` when none did.
    pub members: Option<Vec<MemberInfo>>,
    /// Per inventory member name, what that member said of itself.
    pub status: BTreeMap<String, MemberStatus>,
    /// `etcdcluster` from `/version` (e.g. `3.5.0`), when a member answered.
    pub cluster_version: Option<String>,
    /// Raised alarms, as `NAME on MEMBER-ID`.
    pub alarms: Vec<String>,
    /// Members not in the inventory, by ID: what each said of itself on its
    /// advertised client URL, `None` when it did not answer.
    pub others: BTreeMap<u64, Option<MemberStatus>>,
    /// Inventory members asked that did not answer, with why (`TLS
    /// handshake refused (…)`, `connection refused`, `timed out`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub silent: BTreeMap<String, String>,
    /// etcd's users, roles and auth, when the inventory manages them and a
    /// member let this controller read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthFacts>,
    /// Why they could not be read, when the inventory manages them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_unread: Option<String>,
}

impl ClusterFacts {
    /// The member-list entry of an inventory member (matched by peer URL, since
    /// a member that never started has no name).
    pub fn entry(&self, m: &Member) -> Option<&MemberInfo> {
        self.members.as_ref()?.iter().find(|e| e.is(m))
    }

    /// IDs of the voters that answered, know a leader and report no errors
    /// (inventory members and others): the ones quorum can count on.
    pub fn healthy_ids(&self) -> std::collections::BTreeSet<u64> {
        let others = self.others.values().flatten();
        self.status
            .values()
            .chain(others)
            .filter(|s| s.healthy())
            .map(|s| s.id)
            .collect()
    }

    pub fn leader(&self) -> Option<u64> {
        self.status.values().map(|s| s.leader).find(|l| *l != 0)
    }

    /// The version etcd's downgrade is enabled to, as a member that
    /// reports it says (members already on the older minor do not).
    pub fn downgrade_target(&self) -> Option<&str> {
        self.status
            .values()
            .map(|s| s.downgrade_target.as_str())
            .find(|t| !t.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub hosts: BTreeMap<String, HostFacts>,
    /// Members whose host could not be reached over SSH, with the reason:
    /// they have no host facts, and nothing on them changes this run.
    pub unreachable: BTreeMap<String, String>,
    pub cluster: ClusterFacts,
    /// The members etcd-deploy set up, by name: the newest copy of its
    /// records (`facts::records`), from the hosts or the controller's
    /// cache. A member that left the inventory is reached over SSH only
    /// through this record, never at an address etcd's member list gives.
    pub recorded: BTreeMap<String, RecordedMember>,
    /// That copy's serial (0: none, or an old controller-only record).
    #[serde(default)]
    pub records_serial: u64,
}

impl Facts {
    /// The member whose config still holds recover's one-off
    /// `force-new-cluster` (an interrupted `recover`), with whether its etcd
    /// runs.
    pub fn forced<'a>(&self, inv: &'a crate::inventory::Inventory) -> Option<(&'a Member, bool)> {
        inv.members.iter().find_map(|m| {
            let h = self.hosts.get(&m.name).filter(|h| h.config_forced)?;
            Some((m, h.active))
        })
    }

    /// The members whose host could not be reached, as `a, b`.
    pub fn unreachable_names(&self) -> String {
        self.unreachable
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A digest of what decisions depend on, for a saved plan to check that
    /// the cluster is still as it was planned for: raft indexes and terms,
    /// database sizes and process IDs are left out (they move with every
    /// write and say nothing a plan decides on), with how long each etcd has
    /// run and who holds the run lock.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let volatile = [
            "raft_term",
            "raft_index",
            "raft_applied_index",
            "db_size",
            "db_size_in_use",
            "revision",
        ];
        let strip = |status: &mut serde_json::Value| {
            if let Some(o) = status.as_object_mut() {
                for k in volatile {
                    o.remove(k);
                }
            }
        };
        if let Some(c) = v.get_mut("cluster") {
            for part in ["status", "others"] {
                if let Some(map) = c.get_mut(part).and_then(|m| m.as_object_mut()) {
                    map.values_mut().for_each(strip);
                }
            }
        }
        if let Some(hosts) = v.get_mut("hosts").and_then(|h| h.as_object_mut()) {
            for h in hosts.values_mut() {
                if let Some(o) = h.as_object_mut() {
                    // A process's age moves every second, and the run lock
                    // is the applying run's own.
                    for k in ["pid", "member_age", "run_lock"] {
                        o.remove(k);
                    }
                }
            }
        }
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }
}

/// Sizes as etcd's own tools show them (decimal units).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
