//! The errors a command ends with, and the exit code each one means:
//! 2 for bad input (nothing was touched), 1 for a failure on hosts.

use crate::inventory::InventoryError;
use crate::release::ReleaseError;
use crate::ssh::HostError;
use crate::templates::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// etcd's config file cannot be written (a key that is not plain YAML).
    #[error("etcd config: {0}")]
    Config(#[from] crate::yaml::KeyError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("release: {0}")]
    Release(#[from] ReleaseError),
    /// TLS files that cannot be made or used; nothing was pushed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The plan cannot safely go on; the message says why and what to do.
    #[error("{0}")]
    Blocked(String),
    #[error("{0}")]
    Usage(String),
    /// Ctrl-C: the run stopped at a step boundary; the message says where
    /// and how to resume.
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Inventory(_)
            | Error::Template(_)
            | Error::Config(_)
            | Error::Usage(_)
            | Error::Tls(_) => 2,
            Error::Host(_) | Error::Release(_) | Error::Blocked(_) => 1,
            Error::Interrupted(_) => 130,
        }
    }
}
