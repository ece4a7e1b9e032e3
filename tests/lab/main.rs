//! End-to-end tests on the lab: real hosts (systemd-nspawn containers booting
//! systemd and sshd), real etcd binaries from the lab's release mirror, the
//! real `etcd-deploy` binary. Each test owns a block of loopback addresses
//! (127.0.B.N), so tests run side by side. Needs root; `lab/lab setup` first.

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub)]

mod access;
mod apply;
mod bad_day;
mod bad_day_2;
mod brownfield;
mod brownfield_tls;
mod compose;
mod conventions;
mod current_etcd;
#[path = "../shared/history.rs"]
mod history;
mod lifecycle;
#[path = "../shared/linearizability.rs"]
mod linearizability;
mod maintenance;
mod passwords;
mod recorder;
mod rolling;
mod security;
mod support;
mod team;
mod untrusted;
mod verification;
mod writer;
