//! etcd-deploy stands up and operates etcd clusters on Linux hosts over SSH.
//!
//! The shape is Terraform's plan/apply with pyinfra's facts:
//!
//! - [`inventory`]: the operator's `inventory.toml`, validated whole before any
//!   host is contacted (errors name file, line, column and field).
//! - [`ssh`]: one multiplexed OpenSSH connection per host; scripts as data.
//! - [`facts`]: what hosts and the cluster look like now, gathered in parallel.
//! - [`plan`]: a pure function of inventory + facts + desired digests → ordered steps.
//! - [`exec`]: runs a plan; hosts are prepared in parallel, membership changes
//!   happen one member at a time, each gated on health.
//! - [`upgrade`]: rolling version changes (pure checks, then the switch with
//!   leadership moves and rollback); [`remove`]: members leaving the cluster.
//! - [`snapshot`]: snapshots streamed from the leader onto the controller.
//! - [`templates`]: the config, unit and compose files (minijinja, overridable).
//! - [`release`]: release URLs, SHA256 verification, the controller's cache.
//! - [`etcd`] and [`access`]: calls to the cluster, directly or through SSH tunnels.
//! - [`remote`] and [`layout`]: the scripts run on hosts and the paths they use;
//!   [`compose`]: the compose-mode scripts (members as containers).
//! - [`commands`]: the subcommands, over all of the above.

pub mod access;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod error;
pub mod etcd;
pub mod exec;
pub mod facts;
pub mod files;
pub mod inventory;
pub mod layout;
pub mod plan;
pub mod progress;
pub mod release;
pub mod remote;
pub mod remove;
pub mod snapshot;
pub mod ssh;
pub mod templates;
pub mod tls;
pub mod upgrade;
