//! etcd's access control as the cluster reports it: whether auth is on,
//! its users with their roles, its roles with their grants. Read only when
//! the inventory manages access control (`inventory::auth`); compared with
//! it in `plan::auth`.

use crate::inventory::auth::{Access, Permission};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One grant of a role as etcd holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub key: String,
    /// Every key under `key` (etcd's range end is the prefix's end).
    pub prefix: bool,
    /// A range made by other means than a key or a prefix: its end, as
    /// text. Never what the inventory asks for, so always revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<String>,
    pub access: Access,
}

impl Grant {
    pub fn of(p: &Permission) -> Grant {
        Grant {
            key: p.key.clone(),
            prefix: p.prefix,
            range_end: None,
            access: p.access,
        }
    }

    /// From etcd's own form: a key and a range end, as bytes.
    pub fn from_etcd(key: &[u8], range_end: &[u8], access: Access) -> Grant {
        let text = |b: &[u8]| crate::facts::printable_upto(&String::from_utf8_lossy(b), 1024);
        let (prefix, other) = if range_end.is_empty() {
            (false, None)
        } else if range_end == prefix_end(key).as_slice() {
            (true, None)
        } else {
            (false, Some(text(range_end)))
        };
        Grant {
            key: text(key),
            prefix,
            range_end: other,
            access,
        }
    }

    /// `readwrite prefix /app1/`, `read key /config`.
    pub fn describe(&self) -> String {
        let what = match (&self.range_end, self.prefix) {
            (Some(end), _) => format!("range [{}, {end})", self.key),
            (None, true) => format!("prefix {}", self.key),
            (None, false) => format!("key {}", self.key),
        };
        format!("{} {what}", self.access.as_str())
    }

    /// etcd's range end for this grant (empty: the key alone).
    pub fn range_end_bytes(&self) -> Vec<u8> {
        match (&self.range_end, self.prefix) {
            (Some(end), _) => end.as_bytes().to_vec(),
            (None, true) => prefix_end(self.key.as_bytes()),
            (None, false) => Vec::new(),
        }
    }
}

/// The end of the range of every key starting with `key`, as etcd
/// computes it (`clientv3.GetPrefixRangeEnd`): the last byte below 0xff
/// raised by one, what follows it dropped; `\0` (every key) if none is.
pub fn prefix_end(key: &[u8]) -> Vec<u8> {
    let mut end = key.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// What etcd said to a password user's password, from where the
/// inventory names it (asked only with auth on: etcd checks no password
/// while it is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordCheck {
    /// etcd takes it.
    Current,
    /// etcd refuses it: the user has another password.
    Other,
    /// The user was made without a password (a certificate's user).
    NoPassword,
    /// This controller could not read it (file or variable missing).
    Unread,
}

/// etcd's access control, as one member reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFacts {
    pub enabled: bool,
    /// User → its roles.
    pub users: BTreeMap<String, Vec<String>>,
    /// Role → its grants.
    pub roles: BTreeMap<String, Vec<Grant>>,
    /// Password user → what etcd said to its password (never the
    /// password itself); empty with auth off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub passwords: BTreeMap<String, PasswordCheck>,
}
