//! What the plan, its checks and the host-side jobs need to know about a
//! way of running members, as data (`Runtime::traits`). Outside
//! `src/runtime/` (its scripts and host files) and validation (the keys of
//! `mode`), nothing tells runtimes apart: the plan reads these fields. A
//! new runtime is a `RuntimeTraits` here, a `Runtime` variant, its keys in
//! `validate/runtime.rs` and its type in `src/runtime/`
//! (docs/architecture.md, "How to add a way of running members").

use super::{Image, Member, Runtime};
use serde::{Deserialize, Serialize};

/// The host file that says how a host's members run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostFile {
    SystemdUnit,
    ComposeFile,
}

impl HostFile {
    pub fn name(self) -> &'static str {
        match self {
            HostFile::SystemdUnit => "systemd unit",
            HostFile::ComposeFile => "compose file",
        }
    }
}

/// Where a member's etcd version (and etcd's tools on the host) come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionBy {
    /// The host's `current` release link, shared by the host's members.
    Link,
    /// The member's image, named in the host file; the inventory's release
    /// is unpacked on the host beside it.
    Image,
}

/// What a foreign etcd runs in, that adopt can take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsIn {
    /// A systemd service.
    Unit,
    /// A container.
    Container,
}

/// One way of running members, as the plan sees it.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeTraits {
    /// Its `mode = "…"` in the inventory.
    pub mode: &'static str,
    /// What `other_runtime_active` in its facts means, said of a member:
    /// it runs another way ("in a container").
    pub other_runs: &'static str,
    pub host_file: HostFile,
    pub version_by: VersionBy,
    /// A changed host file restarts the host's running members (the unit
    /// they share); else only members whose own part changed are recreated.
    pub host_file_restarts: bool,
    /// Needs Docker with compose on the host.
    pub needs_docker: bool,
    /// The host's members share host-wide files (unit, release link,
    /// default data directory): a host runs one such cluster.
    pub one_cluster_per_host: bool,
    /// What adopt takes over from.
    pub adopts: RunsIn,
    /// What a member is run by once etcd-deploy has it (adopt's notes).
    pub run_by: fn(&Member) -> String,
}

const SYSTEMD: RuntimeTraits = RuntimeTraits {
    mode: "systemd",
    other_runs: "in a container",
    host_file: HostFile::SystemdUnit,
    version_by: VersionBy::Link,
    host_file_restarts: true,
    needs_docker: false,
    one_cluster_per_host: true,
    adopts: RunsIn::Unit,
    run_by: |m| format!("etcd-deploy's unit etcd@{}.service", m.name),
};

const COMPOSE: RuntimeTraits = RuntimeTraits {
    mode: "compose",
    other_runs: "as a systemd unit",
    host_file: HostFile::ComposeFile,
    version_by: VersionBy::Image,
    host_file_restarts: false,
    needs_docker: true,
    one_cluster_per_host: false,
    adopts: RunsIn::Container,
    run_by: |_| "etcd-deploy's compose file".to_string(),
};

/// Every runtime, for messages that name the one to choose.
pub(super) const ALL: [&RuntimeTraits; 2] = [&SYSTEMD, &COMPOSE];

impl Runtime {
    pub fn traits(&self) -> &'static RuntimeTraits {
        match self {
            Runtime::Systemd => &SYSTEMD,
            Runtime::Compose(_) => &COMPOSE,
        }
    }
    /// The image the member runs, where the runtime runs images.
    pub fn image(&self) -> Option<&Image> {
        match self {
            Runtime::Compose(c) => Some(&c.image),
            Runtime::Systemd => None,
        }
    }
}

/// The mode whose runtime adopts an etcd that runs in `r`.
pub fn mode_adopting(r: RunsIn) -> &'static str {
    ALL.iter().find(|t| t.adopts == r).map_or("?", |t| t.mode)
}
