//! The inventory file exactly as written: serde types that mirror the TOML.
//!
//! Every table denies unknown keys, and values that later checks must point at
//! keep their position (`Spanned`), so errors can name file, line and column.
//! Nothing here applies defaults or judges values; `validate/` does that.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInventory {
    pub cluster: RawCluster,
    #[serde(default)]
    pub release: RawRelease,
    #[serde(default)]
    pub ssh: RawSsh,
    #[serde(default)]
    pub etcd: RawEtcd,
    #[serde(default)]
    pub tls: RawTls,
    pub backup: Option<Spanned<RawBackup>>,
    pub auth: Option<Spanned<RawAuth>>,
    #[serde(default)]
    pub roles: Vec<Spanned<RawRole>>,
    #[serde(default)]
    pub clients: Vec<Spanned<RawClient>>,
    pub hosts: Spanned<Vec<RawHost>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub enabled: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRole {
    pub name: Spanned<String>,
    #[serde(default)]
    pub permissions: Vec<Spanned<RawPermission>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPermission {
    pub key: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub access: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    pub name: Spanned<String>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    pub root: Option<Spanned<bool>>,
    pub days: Option<Spanned<u32>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackup {
    pub schedule: Option<Spanned<String>>,
    pub keep: Option<Spanned<u32>>,
    pub dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub mode: Option<Spanned<String>>,
    pub renew_before_days: Option<Spanned<u32>>,
    pub dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub token: Option<Spanned<String>>,
    pub data_dir: Option<Spanned<String>>,
    pub install_dir: Option<Spanned<String>>,
    pub client_port: Option<Spanned<u16>>,
    pub peer_port: Option<Spanned<u16>>,
    pub metrics_port: Option<Spanned<u16>>,
    pub templates_dir: Option<Spanned<String>>,
    pub access: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRelease {
    pub source: Option<Spanned<String>>,
    pub fetch: Option<Spanned<String>>,
    pub sha256: Option<Spanned<String>>,
    pub cache_dir: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSsh {
    pub user: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    pub identity_file: Option<Spanned<String>>,
    #[serde(rename = "become")]
    pub become_root: Option<bool>,
    pub host_key_policy: Option<Spanned<String>>,
    pub known_hosts_file: Option<Spanned<String>>,
    pub connect_timeout_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEtcd {
    pub heartbeat_interval_ms: Option<Spanned<u32>>,
    pub election_timeout_ms: Option<Spanned<u32>>,
    pub snapshot_count: Option<u64>,
    pub quota_backend_bytes: Option<u64>,
    pub auto_compaction_mode: Option<Spanned<String>>,
    pub auto_compaction_retention: Option<Spanned<String>>,
    pub log_level: Option<Spanned<String>>,
    /// Further etcd config-file keys, written verbatim.
    pub extra: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    pub name: Spanned<String>,
    pub address: Spanned<String>,
    pub advertise: Option<Spanned<String>>,
    pub data_dir: Option<Spanned<String>>,
    pub client_port: Option<Spanned<u16>>,
    pub peer_port: Option<Spanned<u16>>,
    pub metrics_port: Option<Spanned<u16>>,
    pub mode: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    #[serde(default)]
    pub ssh: RawSsh,
    #[serde(default)]
    pub etcd: Option<RawEtcd>,
}
