//! Tests of the pure parts, no hosts needed, grouped by concern. The data
//! they read (golden files, facts fixtures) lives in `tests/golden/` and
//! `tests/fixtures/`; `UPDATE_GOLDEN=1` rewrites the expected side.

mod common;
mod compose;
mod facts;
mod inventory;
mod plan;
mod templates;
