//! Tests of the pure parts, no hosts needed, grouped by concern. The data
//! they read (golden files, facts fixtures) lives in `tests/golden/` and
//! `tests/fixtures/`; `UPDATE_GOLDEN=1` rewrites the expected side.

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub)]

mod access;
mod adopt;
mod cli;
mod common;
mod compose;
mod facts;
mod histories;
mod inventory;
mod inventory_hostile;
mod lifecycle;
mod maintenance;
mod plan;
mod plans;
mod records;
mod repairs;
mod settings;
mod steps;
mod templates;
mod tls;
mod untrusted;
