//! etcd-deploy's own state about the members it set up: how to reach each
//! one's host (SSH destination, port, user), the address and ports etcd
//! advertises, whether it was adopted, which etcd-deploy recorded it. It is
//! kept on every member's host (root-only, `layout::records_path`), read
//! with the facts, and cached beside the inventory (the top-level `records` module): a
//! fresh controller needs no file of its own to find a member that left
//! the inventory. Pure: the parsing, which copy wins, and what the copies
//! must become.
//!
//! Every copy carries a serial, raised by one with each change: the copy
//! with the highest serial wins (a host that was down during a change holds
//! an older one, and is written again when it is back). The run lock keeps
//! two controllers from raising it at once.

use crate::inventory::{Inventory, Member, valid_address, valid_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How etcd-deploy reached a member it set up, and the peer URL it gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedMember {
    /// SSH destination, port and user, as the inventory had them.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// The address etcd advertised and its ports.
    pub advertise: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub peer_url: String,
    /// It ran as someone else's etcd (a cluster made by hand) when
    /// etcd-deploy first recorded it: `adopt` took it over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
    /// The etcd-deploy that first recorded it (`etcd-deploy 0.1.0`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub made_by: String,
}

impl RecordedMember {
    /// The record of an inventory member, made by this etcd-deploy.
    pub fn of(m: &Member) -> RecordedMember {
        RecordedMember {
            address: m.ssh.address.clone(),
            port: m.ssh.port,
            user: m.ssh.user.clone(),
            advertise: m.advertise.clone(),
            client_port: m.client_port,
            peer_port: m.peer_port,
            peer_url: m.peer_url(),
            adopted: false,
            made_by: MADE_BY.to_string(),
        }
    }

    /// Passes the inventory's own rules (a copy is anyone's who got root).
    fn valid(&self, name: &str) -> bool {
        valid_name(name)
            && valid_address(&self.address)
            && valid_address(&self.advertise)
            && self.user.as_deref().is_none_or(valid_name)
            && self.made_by.len() <= 64
            && !self.made_by.chars().any(char::is_control)
    }
}

/// This etcd-deploy, as a record names it.
pub const MADE_BY: &str = concat!("etcd-deploy ", env!("CARGO_PKG_VERSION"));

/// One copy of the records: a host's or the controller's cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub serial: u64,
    pub cluster: String,
    pub members: BTreeMap<String, RecordedMember>,
}

impl Records {
    /// A copy as stored (JSON); entries that fail the inventory's rules
    /// are left out, and a cluster name that fails them leaves nothing.
    pub fn parse(text: &str) -> Option<Records> {
        let mut r: Records = serde_json::from_str(text).ok()?;
        if !valid_name(&r.cluster) {
            return None;
        }
        r.members.retain(|name, m| m.valid(name));
        Some(r)
    }

    /// The controller's cache as older releases of etcd-deploy wrote it (a bare
    /// map of members, no serial): migrated as serial 0, so any host's
    /// copy wins over it.
    pub fn parse_legacy(text: &str, cluster: &str) -> Option<Records> {
        let mut members: BTreeMap<String, RecordedMember> = serde_json::from_str(text).ok()?;
        members.retain(|name, m| m.valid(name));
        Some(Records {
            serial: 0,
            cluster: cluster.to_string(),
            members,
        })
    }

    /// Cluster `cluster`'s copy with the highest serial (the first of
    /// equals: hosts come before the cache in `copies`).
    pub fn newest<'a>(
        cluster: &str,
        copies: impl IntoIterator<Item = &'a Records>,
    ) -> Option<&'a Records> {
        copies.into_iter().filter(|r| r.cluster == cluster).fold(
            None,
            |best: Option<&Records>, r| match best {
                Some(b) if b.serial >= r.serial => Some(b),
                _ => Some(r),
            },
        )
    }

    /// What the copies must say before a run changes anything: the newest
    /// copy with every inventory member (re)recorded as it is now; an entry
    /// keeps whether it was adopted and who first made it. `foreign` names
    /// the inventory members that run as someone else's etcd (to be
    /// adopted). The serial rises only when the members change.
    pub fn desired(
        inv: &Inventory,
        newest: Option<&Records>,
        foreign: &dyn Fn(&str) -> bool,
    ) -> Records {
        let old = newest.cloned().unwrap_or_else(|| Records {
            serial: 0,
            cluster: inv.cluster.name.clone(),
            members: BTreeMap::new(),
        });
        let mut members = old.members.clone();
        for m in &inv.members {
            let mut r = RecordedMember::of(m);
            match old.members.get(&m.name) {
                Some(was) => {
                    r.adopted = was.adopted;
                    r.made_by = was.made_by.clone();
                }
                None => r.adopted = foreign(&m.name),
            }
            members.insert(m.name.clone(), r);
        }
        // Serial 0 is an old controller-only record: written out as 1.
        let serial = if members == old.members && old.serial > 0 {
            old.serial
        } else {
            old.serial + 1
        };
        Records {
            serial,
            cluster: inv.cluster.name.clone(),
            members,
        }
    }

    /// The records without `name` (a member that left the cluster).
    pub fn without(&self, name: &str) -> Records {
        let mut r = self.clone();
        if r.members.remove(name).is_some() {
            r.serial += 1;
        }
        r
    }

    /// As stored: one line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
