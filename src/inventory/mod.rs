//! The inventory: what the operator wants, loaded from `inventory.toml` and
//! fully validated before any host is contacted.
//!
//! `raw.rs` mirrors the file; `validate/` turns it into the types below,
//! with defaults applied and every per-host override resolved, or into an
//! error that names the file, line, column and field.

pub mod auth;
mod carried;
mod etcd_keys;
pub mod etcd_settings;
mod names;
pub mod path_rule;
mod raw;
mod runtime_traits;
mod spelling;
pub use auth::Auth;
pub use carried::{carried_extra_keys, carried_extra_value};
pub use names::{host_of_url, same_endpoint, url_host, valid_address, valid_name, valid_url};
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use runtime_traits::{HostFile, RunsIn, RuntimeTraits, VersionBy, mode_adopting};
pub use validate::{InventoryError, parse, plain_abs_path};

/// A validated inventory: one cluster and its members.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub path: PathBuf,
    pub cluster: Cluster,
    pub release: Release,
    pub tls: TlsMode,
    /// Scheduled snapshots on every member's host, when `[backup]` asks.
    pub backup: Option<Backup>,
    /// Users, roles and etcd's auth (`[auth]`, `[[roles]]`, `[[clients]]`).
    pub auth: Auth,
    pub members: Vec<Member>,
    /// Things worth saying that do not stop the run (e.g. an even member count).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub version: Version,
    pub token: String,
    pub install_dir: String,
    pub templates_dir: Option<PathBuf>,
    pub access: Access,
}

/// `[backup]`: each member's host saves a snapshot of its member on a
/// schedule (a systemd timer), checks it, and keeps the newest `keep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// A systemd calendar expression (`OnCalendar=`), e.g. `hourly`.
    pub schedule: String,
    pub keep: u32,
    /// On each host.
    pub dir: String,
}

/// How long generated member, client and operator certificates are issued
/// for (`tls.rs`); `tls.renew_before_days` must be shorter.
pub const LEAF_CERT_DAYS: u32 = 825;

/// How the controller reaches members' client port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Try a direct TCP connection; fall back to an SSH local forward.
    Auto,
    Direct,
    /// Always through an SSH local forward (the port is firewalled or private).
    Tunnel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub source: ReleaseSource,
    pub fetch: FetchMode,
    /// A pinned checksum; when set, `SHA256SUMS` is not consulted.
    pub sha256: Option<String>,
    pub cache_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSource {
    Github,
    Google,
    /// A base URL laid out like the upstream release pages.
    Mirror(String),
}

impl ReleaseSource {
    pub fn base_url(&self) -> &str {
        match self {
            ReleaseSource::Github => "https://github.com/etcd-io/etcd/releases/download",
            ReleaseSource::Google => "https://storage.googleapis.com/etcd",
            ReleaseSource::Mirror(url) => url.trim_end_matches('/'),
        }
    }
}

/// Where the release tarball is downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchMode {
    /// Once on the controller, then pushed over SSH (hosts need no internet).
    Controller,
    /// Each host downloads it itself.
    Host,
}

/// Whether and how client and peer traffic is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain http. `dir`: the certificates of a cluster moving back from TLS
    /// (the controller's identity to reach members still serving TLS).
    Off { dir: Option<PathBuf> },
    /// etcd-deploy keeps a CA and certificates in `dir` on the controller;
    /// `apply` renews a certificate that expires within `renew_before_days`.
    Generate {
        dir: PathBuf,
        renew_before_days: u32,
    },
    /// The operator's own files in `dir` (same layout), checked before use.
    Provided { dir: PathBuf },
}

impl TlsMode {
    pub fn enabled(&self) -> bool {
        !matches!(self, TlsMode::Off { .. })
    }
}

/// One etcd member: where it runs, how to reach it, how it is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub ssh: SshTarget,
    /// The address etcd binds and advertises to peers and clients.
    pub advertise: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// etcd's plain-HTTP metrics and health listener (`listen-metrics-urls`),
    /// when the inventory asks for one.
    pub metrics_port: Option<u16>,
    pub data_dir: String,
    pub settings: EtcdSettings,
    /// Client and peer URLs are https.
    pub tls: bool,
    pub runtime: Runtime,
}

/// How a member's etcd runs on its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// An instance of the systemd template unit, `etcd@NAME.service`.
    Systemd,
    /// A service in the host's Docker Compose file.
    Compose(Compose),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    pub image: Image,
    pub network: Network,
}

/// The container image a compose member runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// Built on the host, `FROM scratch`, from the checksum-verified release tarball.
    Release,
    /// A registry reference with `{version}` where the version goes.
    Registry(String),
}

/// The image built from the release tarball by `image = "release"`.
pub const RELEASE_IMAGE: &str = "etcd-deploy/etcd:v{version}";
/// The official etcd image, the default in compose mode.
pub const OFFICIAL_IMAGE: &str = "gcr.io/etcd-development/etcd:v{version}";

impl Image {
    /// The reference pattern, with `{version}` in it.
    pub fn pattern(&self) -> &str {
        match self {
            Image::Release => RELEASE_IMAGE,
            Image::Registry(p) => p,
        }
    }
    pub fn reference(&self, v: Version) -> String {
        self.pattern().replace("{version}", &v.to_string())
    }
}

/// How a compose member's container is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// The host's network: etcd binds the advertised address, as under systemd.
    Host,
    /// A user-defined bridge shared by the members on one host, ports
    /// published on the advertised address. When every member of the cluster
    /// is on that host, peers reach each other by container name.
    Bridge { peers_by_name: bool },
}

impl Member {
    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
    fn peer_host(&self) -> String {
        match &self.runtime {
            Runtime::Compose(Compose {
                network:
                    Network::Bridge {
                        peers_by_name: true,
                    },
                ..
            }) => self.name.clone(),
            _ => url_host(&self.advertise),
        }
    }
    pub fn peer_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            self.peer_host(),
            self.peer_port
        )
    }
    /// The WAL directory, when `etcd.extra` puts it outside the data directory.
    pub fn separate_wal_dir(&self) -> Option<&str> {
        let wal = self
            .settings
            .extra
            .get("wal-dir")?
            .as_str()?
            .trim_end_matches('/');
        let inside = wal == self.data_dir || wal.starts_with(&format!("{}/", self.data_dir));
        (!inside).then_some(wal)
    }
    pub fn client_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            url_host(&self.advertise),
            self.client_port
        )
    }
    /// Inside its own network namespace a bridged container listens on every address.
    fn listen_host(&self) -> String {
        if self.bridged() {
            "0.0.0.0".to_string()
        } else {
            url_host(&self.advertise)
        }
    }
    pub fn listen_peer_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            self.listen_host(),
            self.peer_port
        )
    }
    /// Where Prometheus scrapes the member: plain HTTP even when clients use
    /// TLS (etcd serves `/metrics` and `/health` there without client
    /// certificates).
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_port
            .map(|p| format!("http://{}:{p}", url_host(&self.advertise)))
    }
    pub fn listen_metrics_url(&self) -> Option<String> {
        self.metrics_port
            .map(|p| format!("http://{}:{p}", self.listen_host()))
    }
    pub fn listen_client_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme(),
            self.listen_host(),
            self.client_port
        )
    }
    pub fn compose(&self) -> Option<&Compose> {
        match &self.runtime {
            Runtime::Compose(c) => Some(c),
            Runtime::Systemd => None,
        }
    }
    pub fn bridged(&self) -> bool {
        self.compose()
            .is_some_and(|c| matches!(c.network, Network::Bridge { .. }))
    }
    /// Runs on the same host as `other` (same SSH destination).
    pub fn same_host(&self, other: &Member) -> bool {
        self.ssh.address == other.ssh.address && self.ssh.port == other.ssh.port
    }
}

/// Where members' config files live (`/etc/etcd/NAME.conf.yml`): defined
/// here since no data or install directory may be inside it (validation);
/// `layout` has every other path.
pub const CONFIG_DIR: &str = "/etc/etcd";
/// Links to the current binaries for operators' shells (same reason).
pub const BIN_LINK_DIR: &str = "/usr/local/bin";

/// The newest etcd release this build knows (the newest the key table was
/// generated from): what `init` proposes.
pub fn newest_release() -> &'static str {
    etcd_keys::NEWEST
}

/// The newest patch of minor `3.minor` this build knows (the key table's
/// release of that minor).
pub fn newest_patch(major: u32, minor: u32) -> Option<Version> {
    etcd_keys::NEWEST_PATCHES
        .iter()
        .filter_map(|v| Version::parse(v))
        .find(|v| v.major == major && v.minor == minor)
}

/// etcd supports its two newest minor versions (3.6 and 3.7 now, the two
/// newest the key table was generated from); older lines get no fixes.
pub fn supported_minors() -> [u32; 2] {
    let newest = etcd_keys::MINORS.last().copied().unwrap_or(7);
    [newest.saturating_sub(1), newest]
}

impl Inventory {
    /// The inventory at another etcd version (`upgrade --to`, `downgrade
    /// --to`, a leg of a chain): every member's `extra` in the spelling of
    /// that version (`spelling::respell`), and a line for each key written
    /// under another name.
    pub fn at_version(&mut self, version: Version) -> Vec<String> {
        self.cluster.version = version;
        let mut notes = std::collections::BTreeSet::new();
        for m in &mut self.members {
            let (extra, said) = spelling::respell(&m.settings.extra, version);
            m.settings.extra = extra;
            notes.extend(said);
        }
        notes.into_iter().collect()
    }

    /// A setting in `[etcd] extra` that the inventory's version does not
    /// take: what refuses a version change to it (the inventory was checked
    /// against the version it names; `upgrade --to` plans another).
    pub fn extra_refusal(&self) -> Option<String> {
        self.members.iter().find_map(|m| {
            m.settings.extra.keys().find_map(|k| {
                validate::key_refusal(k, self.cluster.version).map(|why| {
                    format!(
                        "{}: etcd.extra: {why}; change the inventory's [etcd] extra first",
                        m.name
                    )
                })
            })
        })
    }

    /// Said by `plan` and `apply` when the inventory pins an etcd line etcd
    /// no longer supports.
    pub fn unsupported_line(&self) -> Option<String> {
        let v = self.cluster.version;
        let [older, newest] = supported_minors();
        (v.major == 3 && v.minor < older).then(|| {
            format!(
                "etcd {}.{} is a line etcd no longer supports (it supports 3.{older} and 3.{newest}, its two newest minors; docs/upgrade.md): upgrade one minor at a time (`etcd-deploy upgrade --to 3.{}.x`)",
                v.major,
                v.minor,
                v.minor + 1
            )
        })
    }
}

/// The type of an etcd config-file value (`etcd_keys.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtraKind {
    Bool,
    Int,
    /// A Go duration: integer nanoseconds in the config file.
    Duration,
    Text,
}

/// How to open an SSH connection to a host. Unset fields fall through to
/// `~/.ssh/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub address: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    pub become_root: bool,
    pub host_key_policy: HostKeyPolicy,
    pub known_hosts_file: Option<PathBuf>,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Only hosts already in known_hosts.
    Strict,
    /// Remember new hosts, refuse changed keys (OpenSSH's accept-new).
    AcceptNew,
    /// Accept anything (labs only).
    Off,
}

/// etcd settings that end up in the member's config file.
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdSettings {
    pub heartbeat_interval_ms: u32,
    pub election_timeout_ms: u32,
    pub snapshot_count: Option<u64>,
    pub quota_backend_bytes: Option<u64>,
    pub auto_compaction_mode: Option<String>,
    pub auto_compaction_retention: Option<String>,
    pub log_level: String,
    pub extra: BTreeMap<String, toml::Value>,
}

/// An etcd release version, `X.Y.Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts = s.split('.');
        let mut next = || -> Option<u32> {
            let p = parts.next()?;
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return None;
            }
            p.parse().ok()
        };
        let v = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(v)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Version::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a version like 3.5.17")))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        // An inventory is a few kilobytes; a huge file is a mistake, not a cluster.
        const MAX: u64 = 1 << 20;
        let size = std::fs::metadata(path)
            .map_err(|e| InventoryError::io(path, e))?
            .len();
        if size > MAX {
            return Err(InventoryError {
                path: path.to_path_buf(),
                position: None,
                message: format!("{size} bytes is too large for an inventory (at most 1 MiB)"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| InventoryError::io(path, e))?;
        let mut inv = parse(path, &text)?;
        // A team's shared pki (a directory kept in its secret store), named
        // where each controller runs rather than in the shared inventory.
        if let Some(shared) = std::env::var_os("ETCD_DEPLOY_PKI").filter(|d| !d.is_empty()) {
            let shared = std::path::absolute(&shared).unwrap_or_else(|_| PathBuf::from(&shared));
            match &mut inv.tls {
                TlsMode::Generate { dir, .. } | TlsMode::Provided { dir } => *dir = shared,
                TlsMode::Off { dir } => {
                    if dir.is_some() {
                        *dir = Some(shared);
                    }
                }
            }
        }
        Ok(inv)
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The members that share `m`'s host, `m` included, in inventory order.
    pub fn host_members<'a>(&'a self, m: &Member) -> Vec<&'a Member> {
        self.members.iter().filter(|o| o.same_host(m)).collect()
    }
}
