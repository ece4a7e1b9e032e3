//! etcd-deploy stands up and operates etcd clusters on Linux hosts over SSH.
//!
//! The shape is Terraform's plan/apply with pyinfra's facts, in layers that
//! depend one way only (`docs/architecture.md` has the whole map and how to
//! add a step or a runtime; `tests/layers.rs` enforces the rule):
//!
//! - [`inventory`]: the operator's `inventory.toml`, validated whole before any
//!   host is contacted (errors name file, line, column and field).
//! - [`facts`]: what hosts and the cluster look like now, as plain data and
//!   pure parsers; [`gather`] collects them over SSH and from etcd in parallel.
//! - [`plan`]: a pure function of inventory + facts + desired digests → every
//!   decision of the run (steps, scope, snapshot, wipe, rollback; quorum rule).
//! - [`exec`]: carries out a plan in phases (prepare, join, restart, upgrade,
//!   remove, restore) over shared gates; decides nothing itself.
//! - [`commands`]: the subcommands: open a session, gather, plan, execute.
//!
//! Beside them: [`ssh`] (one multiplexed connection per host), [`script`]
//! (remote actions as script files with arguments), [`remote`] (host-level
//! actions), [`runtime`] (systemd or compose: one type each), [`layout`] (every path on a host),
//! [`templates`] (config, unit and compose files), [`release`] (downloads and
//! SHA256), [`tls`], [`etcd`] and [`access`] (calls to the cluster),
//! [`etcd_log`] (what a member's own log says), [`snapshot`], and
//! [`set_aside`] (the data directories restore and recover keep).

mod access;
mod backup;
pub mod cli;
pub mod commands;
mod error;
mod etcd;
pub mod etcd_log;
mod exec;
pub mod facts;
#[cfg(test)]
mod fake;
mod files;
mod gather;
mod host_lock;
mod interrupt;
pub mod inventory;
mod layout;
pub mod member_config;
pub mod plan;
pub mod progress;
mod records;
mod release;
mod remote;
pub mod runtime;
mod script;
#[cfg(test)]
mod script_contract;
mod set_aside;
mod snapshot;
mod ssh;

pub use ssh::remove_control_dir;
pub mod templates;
pub mod tls;
mod yaml;
