//! etcd's settings in one table: every key etcd-deploy writes into a
//! member's config file or reads of an etcd it did not start, where its
//! value comes from, etcd's default for it (per minor version), whether
//! `adopt` compares it, and which `[etcd]` field `init --from-cluster`
//! fills from it. Everything that knows a setting reads it here: the config
//! file (`member_config.rs`), the check of `[etcd] extra`
//! (`validate/settings.rs`), the facts about a foreign etcd (`facts.rs`,
//! which passes the keys to `remote/named_etcd.sh`), adopt's comparison
//! (`plan/adopt.rs`) and `init --from-cluster` (`commands/from_cluster.rs`,
//! `remote/discover_member.sh`). Adding a setting is one row here
//! (docs/architecture.md). Which keys each etcd minor takes at all, and
//! their types, is `etcd_keys.rs` (generated from the real binaries).

use super::{Member, Version};

/// A value as the config file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A quoted string.
    Text(String),
    Int(u64),
    /// A bare word (`zap`).
    Word(&'static str),
    /// A list of bare words (`[stderr]`).
    Words(&'static [&'static str]),
}

impl Written {
    /// The value as etcd's flags and environment spell it (lists joined
    /// by commas): how it compares with what a running etcd was given.
    pub fn flag_value(&self) -> String {
        match self {
            Written::Text(t) => t.clone(),
            Written::Int(n) => n.to_string(),
            Written::Word(w) => (*w).to_string(),
            Written::Words(ws) => ws.join(","),
        }
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// The member's inventory fields; refused in `[etcd] extra`.
    Member(fn(&Member) -> Option<Written>),
    /// The member's fields when they set it, else `[etcd] extra`
    /// (validation refuses both at once).
    MemberOrExtra(fn(&Member) -> Option<Written>),
    /// Written only for a member's first start, from the plan (who the
    /// members are); refused in `[etcd] extra`.
    FirstStart,
    /// In the config file's TLS sections, from `[tls]` (read of a foreign
    /// etcd only: its flag names).
    Tls,
    /// Only through `[etcd] extra`.
    Extra,
}

/// What `adopt` does with the value a foreign etcd runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopt {
    /// Not read.
    Ignored,
    /// Read and compared with the inventory's: a difference is shown with
    /// adopt's plan (the takeover changes it).
    Compared,
    /// Read; adopt checks it itself and refuses a difference (where the
    /// data lives, whether it speaks TLS).
    Checked,
}

/// The `[etcd]` field `init --from-cluster` writes from a setting every
/// member runs with alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described {
    pub field: &'static str,
    /// A whole number (else a string).
    pub number: bool,
}

/// One of etcd's settings.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Its config-file key (= its flag name).
    pub key: &'static str,
    pub source: Source,
    /// etcd's value when unset: `(from minor, value)`, oldest first.
    pub defaults: &'static [(u32, &'static str)],
    pub adopt: Adopt,
    pub described: Option<Described>,
}

const fn row(key: &'static str, source: Source) -> Setting {
    Setting {
        key,
        source,
        defaults: &[],
        adopt: Adopt::Ignored,
        described: None,
    }
}

impl Setting {
    const fn default(mut self, defaults: &'static [(u32, &'static str)]) -> Setting {
        self.defaults = defaults;
        self
    }
    const fn adopt(mut self, adopt: Adopt) -> Setting {
        self.adopt = adopt;
        self
    }
    const fn described(mut self, field: &'static str, number: bool) -> Setting {
        self.described = Some(Described { field, number });
        self
    }
    /// Set by etcd-deploy itself: never through `[etcd] extra`.
    pub fn managed(&self) -> bool {
        matches!(self.source, Of(_) | FirstStart)
    }
}

fn text(v: impl Into<String>) -> Option<Written> {
    Some(Written::Text(v.into()))
}
fn int(v: impl Into<u64>) -> Option<Written> {
    Some(Written::Int(v.into()))
}

use Adopt::{Checked, Compared};
use Source::{Extra, FirstStart, Member as Of, MemberOrExtra, Tls};

/// The table. The config file holds the rows with a member source in this
/// order (then the TLS sections, then `extra`): reordering rows changes
/// every member's config digest, which restarts every member.
pub const SETTINGS: &[Setting] = &[
    row("name", Of(|m| text(&m.name))),
    row("data-dir", Of(|m| text(&m.data_dir))),
    row("listen-peer-urls", Of(|m| text(m.listen_peer_url())))
        .default(&[(4, "http://localhost:2380")])
        .adopt(Compared),
    row("listen-client-urls", Of(|m| text(m.listen_client_url())))
        .default(&[(4, "http://localhost:2379")])
        .adopt(Compared),
    row("initial-advertise-peer-urls", Of(|m| text(m.peer_url())))
        .default(&[(4, "http://localhost:2380")])
        .adopt(Compared),
    row("advertise-client-urls", Of(|m| text(m.client_url())))
        .default(&[(4, "http://localhost:2379")])
        .adopt(Compared),
    row(
        "heartbeat-interval",
        Of(|m| int(m.settings.heartbeat_interval_ms)),
    )
    .default(&[(4, "100")])
    .adopt(Compared)
    .described("heartbeat_interval_ms", true),
    row(
        "election-timeout",
        Of(|m| int(m.settings.election_timeout_ms)),
    )
    .default(&[(4, "1000")])
    .adopt(Compared)
    .described("election_timeout_ms", true),
    row(
        "listen-metrics-urls",
        MemberOrExtra(|m| m.listen_metrics_url().map(Written::Text)),
    )
    .adopt(Compared),
    row(
        "snapshot-count",
        Of(|m| m.settings.snapshot_count.map(Written::Int)),
    )
    .default(&[(4, "100000"), (6, "10000")])
    .adopt(Compared)
    .described("snapshot_count", true),
    row(
        "quota-backend-bytes",
        Of(|m| m.settings.quota_backend_bytes.map(Written::Int)),
    )
    .default(&[(4, "0")])
    .adopt(Compared)
    .described("quota_backend_bytes", true),
    row(
        "auto-compaction-mode",
        Of(|m| m.settings.auto_compaction_mode.clone().map(Written::Text)),
    )
    .default(&[(4, "periodic")])
    .adopt(Compared)
    .described("auto_compaction_mode", false),
    row(
        "auto-compaction-retention",
        Of(|m| {
            m.settings
                .auto_compaction_retention
                .clone()
                .map(Written::Text)
        }),
    )
    .default(&[(4, "0")])
    .adopt(Compared)
    .described("auto_compaction_retention", false),
    // Structured logs to stderr: the journal or the container log has them.
    row("logger", Of(|_| Some(Written::Word("zap")))),
    row("log-level", Of(|m| text(&m.settings.log_level)))
        .default(&[(4, "info")])
        .adopt(Compared)
        .described("log_level", false),
    row("log-outputs", Of(|_| Some(Written::Words(&["stderr"])))),
    row("initial-cluster", FirstStart),
    row("initial-cluster-token", FirstStart),
    row("initial-cluster-state", FirstStart),
    row("max-request-bytes", Extra)
        .default(&[(4, "1572864")])
        .adopt(Compared),
    row("wal-dir", Extra).adopt(Checked),
    row("cert-file", Tls).adopt(Checked),
    row("peer-cert-file", Tls).adopt(Checked),
];

/// The row of `key`.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// etcd-deploy sets `key` itself: `[etcd] extra` may not.
pub fn managed(key: &str) -> bool {
    setting(key).is_some_and(Setting::managed)
}

/// The keys read of an etcd etcd-deploy did not start (`named_etcd.sh`).
pub fn foreign_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS
        .iter()
        .filter(|s| s.adopt != Adopt::Ignored)
        .map(|s| s.key)
}

/// The keys `init --from-cluster` reads of the running members, with the
/// field each fills.
pub fn described_keys() -> impl Iterator<Item = (&'static str, Described)> {
    SETTINGS
        .iter()
        .filter_map(|s| s.described.map(|d| (s.key, d)))
}

/// etcd's value for `key` when nothing sets it, in etcd `version`.
pub fn etcd_default(key: &str, version: Version) -> Option<&'static str> {
    let s = setting(key)?;
    s.defaults
        .iter()
        .rev()
        .find(|(minor, _)| version.major > 3 || version.minor >= *minor)
        .or(s.defaults.first())
        .map(|(_, v)| *v)
}

/// The settings a member's config file holds from its inventory fields, in
/// the file's order (`extra` and the TLS sections come after).
pub fn written(m: &Member) -> Vec<(&'static str, Written)> {
    SETTINGS
        .iter()
        .filter_map(|s| match s.source {
            Of(f) | MemberOrExtra(f) => f(m).map(|v| (s.key, v)),
            _ => None,
        })
        .collect()
}

/// What a member's config gives `key`, as etcd's flags spell it (`None`:
/// unset, etcd's default).
pub fn inventory_value(m: &Member, key: &str) -> Option<String> {
    let own = setting(key).and_then(|s| match s.source {
        Of(f) | MemberOrExtra(f) => f(m),
        _ => None,
    });
    own.map(|w| w.flag_value()).or_else(|| {
        m.settings.extra.get(key).map(|v| match v {
            toml::Value::String(t) => t.clone(),
            other => other.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row but the TLS sections' is a key of etcd's config file in
    /// every minor the key table covers (the TLS flags are nested there).
    #[test]
    fn every_row_is_a_key_of_etcd_s_config_file() {
        for s in SETTINGS {
            if matches!(s.source, Tls) {
                continue;
            }
            let row = super::super::etcd_keys::ETCD_KEYS
                .iter()
                .find(|(k, ..)| *k == s.key);
            let Some((_, _, minors)) = row else {
                panic!("{} is not in etcd_keys.rs", s.key);
            };
            assert_eq!(
                *minors,
                super::super::etcd_keys::MINORS,
                "{} is not a key of every minor",
                s.key
            );
        }
    }

    #[test]
    fn keys_are_unique_and_described_fields_too() {
        let mut keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
        let mut fields: Vec<&str> = described_keys().map(|(_, d)| d.field).collect();
        let n = fields.len();
        fields.sort_unstable();
        fields.dedup();
        assert_eq!(fields.len(), n);
    }
}
