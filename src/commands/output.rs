//! What a command prints as its outcome (stdout): lines for people, or, with
//! `-o json`, one JSON object at the end for scripts (`summary`), while the
//! lines go to stderr. Progress is not here: it is stderr's (`progress.rs`).

use crate::plan::Plan;
use serde::Serialize;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Json,
}

/// The JSON summary of a command that changes things.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub command: String,
    /// 0 success, 1 failure on hosts (or not done), 2 bad input, 130 interrupted.
    pub exit_code: i32,
    pub ok: bool,
    /// Whether anything was carried out (a plan with steps, a restore, ...).
    pub changed: bool,
    pub error: Option<String>,
    /// The plans carried out, as `plan -o json` prints them.
    pub plans: Vec<Plan>,
    /// What the command said, in order (the text-mode lines).
    pub messages: Vec<String>,
    /// Command-specific results (`snapshot`, `restored`, `seed`, ...).
    #[serde(flatten)]
    pub results: serde_json::Map<String, serde_json::Value>,
    pub duration_ms: u128,
}

struct State {
    mode: Mode,
    command: String,
    started: Instant,
    changed: bool,
    plans: Vec<Plan>,
    messages: Vec<String>,
    results: serde_json::Map<String, serde_json::Value>,
}

static STATE: OnceLock<Mutex<State>> = OnceLock::new();

/// Set once by `main`, before the command runs.
pub fn init(mode: Mode, command: &str) {
    let _ = STATE.set(Mutex::new(State {
        mode,
        command: command.to_string(),
        started: Instant::now(),
        changed: false,
        plans: Vec::new(),
        messages: Vec::new(),
        results: serde_json::Map::new(),
    }));
}

fn with<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    STATE
        .get()
        .and_then(|m| m.lock().ok())
        .map(|mut s| f(&mut s))
}

pub fn mode() -> Mode {
    with(|s| s.mode).unwrap_or(Mode::Text)
}

/// A line of the command's outcome: stdout for people, kept for the summary
/// (and shown on stderr) with `-o json`.
pub fn say(line: &str) {
    let json = with(|s| {
        s.messages.push(line.to_string());
        s.mode == Mode::Json
    });
    if json == Some(true) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// A warning about the command's outcome: always on stderr, kept for the
/// summary.
pub fn warn(line: &str) {
    let line = format!("warning: {line}");
    with(|s| s.messages.push(line.clone()));
    eprintln!("{line}");
}

/// A plan about to be carried out: printed as text (stderr with `-o json`)
/// and kept for the summary.
pub fn plan(p: &Plan) {
    let json = with(|s| {
        s.plans.push(p.clone());
        s.changed |= !p.is_empty();
        s.mode == Mode::Json
    });
    if json == Some(true) {
        eprint!("{p}");
    } else {
        print!("{p}");
    }
}

/// Something was carried out (for commands without a plan).
pub fn changed() {
    with(|s| s.changed = true);
}

/// The plans shown were not carried out (`--dry-run`).
pub fn nothing_changed() {
    with(|s| s.changed = false);
}

/// A command-specific result for the summary.
pub fn result(key: &str, value: serde_json::Value) {
    with(|s| s.results.insert(key.to_string(), value));
}

/// The summary of the run, printed by `main` in JSON mode.
pub fn summary(exit_code: i32, error: Option<String>) -> Option<Summary> {
    with(|s| {
        (s.mode == Mode::Json).then(|| Summary {
            command: s.command.clone(),
            exit_code,
            ok: exit_code == 0,
            changed: s.changed,
            error,
            plans: std::mem::take(&mut s.plans),
            messages: std::mem::take(&mut s.messages),
            results: std::mem::take(&mut s.results),
            duration_ms: s.started.elapsed().as_millis(),
        })
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary carries the plans carried out, the lines said, and the
    /// command's own results, as one JSON object.
    #[test]
    fn json_summary_holds_plans_messages_and_results() {
        init(Mode::Json, "apply");
        plan(&Plan {
            notes: vec!["a note".into()],
            ..Plan::default()
        });
        say("done");
        result("seed", serde_json::json!("etcd-1"));
        let s = summary(0, None).map(|s| serde_json::to_value(&s));
        let Some(Ok(v)) = s else {
            panic!("no summary: {s:?}")
        };
        assert_eq!(v["command"], "apply");
        assert_eq!(v["ok"], true);
        assert_eq!(v["changed"], false, "an empty plan changes nothing");
        assert_eq!(v["plans"][0]["notes"][0], "a note", "{v}");
        assert_eq!(v["messages"][0], "done");
        assert_eq!(v["seed"], "etcd-1");
    }
}
