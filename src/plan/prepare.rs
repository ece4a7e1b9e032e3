//! Host preparation: what each host gets before any member restarts (a
//! release, the `current` link, a compose image, the unit or compose file,
//! TLS files, scheduled snapshots), and the digests of the files a member
//! should have, which decide it.

use crate::facts::HostFacts;
pub use crate::inventory::HostFile;
use crate::inventory::{Image, Version};
use serde::{Deserialize, Serialize};

/// What the rendered files of a member must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub config_digest: String,
    /// The host's systemd unit or compose file.
    pub host_file_digest: String,
    /// Compose mode: the member's service (a difference recreates its container).
    pub service_digest: Option<String>,
    /// Digest of the member's TLS files; `None` without TLS.
    pub pki_digest: Option<String>,
    /// Digest of its scheduled-snapshot files; `None` without `[backup]`.
    pub backup_digest: Option<String>,
    /// Digest of the client revocation list it must load; `None` without
    /// access control (or no list to give).
    pub crl_digest: Option<String>,
}

impl Desired {
    /// `pki_digest` when the controller has no member certificates to give
    /// and no CA key to make them (an operator's pki): the hosts keep theirs.
    pub const PKI_KEPT: &'static str = "kept";

    /// The TLS files on a host whose digest is `on_host` must be written.
    pub fn pki_differs(&self, on_host: Option<&String>) -> bool {
        match self.pki_digest.as_deref() {
            None => false,
            Some(Self::PKI_KEPT) => on_host.is_none(),
            Some(want) => on_host.map(String::as_str) != Some(want),
        }
    }
}

/// Host preparation, run on all hosts in parallel before membership changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    pub host: String,
    /// Unpack this release into its versioned directory.
    pub install: Option<Version>,
    /// The host's machine (`uname -m`) when a release is installed: which
    /// release file it gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Point the `current` link at this version (only on members not running).
    pub link: Option<Version>,
    /// Compose mode: build or pull the image of the version installed.
    pub image: Option<ImageStep>,
    /// Write the systemd unit or compose file (new or changed).
    pub host_file: Option<HostFile>,
    /// Write the TLS certificates and keys (new or changed).
    pub certs: bool,
    /// Write the client revocation list (read by etcd at each connection:
    /// no restart).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crl: bool,
    /// Scheduled snapshots (`[backup]`) to write and start, or to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStep>,
}

/// What happens to a member's scheduled snapshots on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStep {
    /// Write its files and start its timer (new, changed, or stopped).
    Write,
    /// `[backup]` left the inventory: stop the timer, remove its files
    /// (the snapshots saved stay).
    Remove,
}

impl BackupStep {
    /// What the host's scheduled snapshots need, given the member's desired
    /// files (`None` in `d`: no `[backup]`).
    pub(super) fn needed(d: Option<&Desired>, h: &HostFacts) -> Option<BackupStep> {
        match d.and_then(|d| d.backup_digest.as_ref()) {
            Some(want) if h.backup_digest.as_ref() != Some(want) || !h.backup_active => {
                Some(BackupStep::Write)
            }
            None if h.backup_digest.is_some() => Some(BackupStep::Remove),
            _ => None,
        }
    }
}

impl Prepare {
    /// Nothing to do yet on `host`.
    pub(super) fn nothing(host: &str) -> Prepare {
        Prepare {
            host: host.to_string(),
            install: None,
            arch: None,
            link: None,
            image: None,
            host_file: None,
            certs: false,
            crl: false,
            backup: None,
        }
    }

    /// Compose mode: the image of the version installed. Installed means the
    /// image is there; a release image is built from the tarball, a registry
    /// one pulled (no tarball then).
    /// The host's machine, when it installs a release.
    pub(super) fn set_arch(&mut self, h: &HostFacts) {
        self.arch = self.install.map(|_| h.arch.clone());
    }

    pub(super) fn set_image(&mut self, image: &Image) {
        let Some(v) = self.install else { return };
        self.image = Some(match image {
            Image::Release => ImageStep::Build(image.reference(v)),
            Image::Registry(_) => {
                self.install = None;
                ImageStep::Pull(image.reference(v))
            }
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.install.is_none()
            && self.link.is_none()
            && self.image.is_none()
            && self.host_file.is_none()
            && !self.certs
            && !self.crl
            && self.backup.is_none()
    }
}

/// Compose mode: how the image of a version gets onto the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStep {
    /// `FROM scratch` with the binaries of the release just installed.
    Build(String),
    Pull(String),
}
