//! What every phase waits on or goes through, by concern: around each step
//! (`calls.rs`), a member's files and service (`files.rs`), waiting on its
//! health (`health.rs`), the cluster around it (`cluster.rs`).

mod calls;
mod cluster;
mod files;
mod health;

pub(super) use calls::*;
pub(super) use cluster::*;
pub(super) use files::*;
pub(super) use health::*;
// Also `snapshot save`'s, outside the executor.
pub(crate) use cluster::snapshot_source;
