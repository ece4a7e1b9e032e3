//! A client history (issue 27): each operation on etcd as a client saw it,
//! with when it was invoked and when it completed (monotonic nanoseconds
//! since the run began), what it asked, what came back, and whether it is
//! known to have taken effect. Written by the lab's recorder
//! (`tests/lab/recorder.rs`), read by the checker (`linearizability.rs`).
//! Shared by path between the pure tests, the lab tests and the
//! `linearizability` example.

use serde::{Deserialize, Serialize};

/// What an operation asked of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Input {
    /// A linearizable read.
    Get,
    /// A write of a value no other operation writes.
    Put { value: String },
    /// A transaction: if the key's mod revision is `expect_rev` (which the
    /// client read with the value `expect`; 0 and `None`: the key is
    /// absent), put `value`.
    Cas {
        expect: Option<String>,
        expect_rev: i64,
        value: String,
    },
}

/// What came back, for an operation that completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "out", rename_all = "snake_case")]
pub enum Output {
    /// The value read (`None`: absent) and its mod revision.
    Got { value: Option<String>, mod_rev: i64 },
    /// The write's revision.
    Put { rev: i64 },
    /// Whether the comparison held, and the response's revision.
    Cas { succeeded: bool, rev: i64 },
}

/// Whether an operation took effect, as far as its client can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It completed, with `output`.
    Ok,
    /// It certainly did not take effect (never sent: no connection).
    Failed,
    /// It may or may not have (a timeout, a connection lost on the way).
    Unknown,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub client: usize,
    pub key: String,
    pub input: Input,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    pub outcome: Outcome,
    /// Invoked and completed, nanoseconds since the run began.
    pub call: u64,
    #[serde(rename = "return")]
    pub ret: u64,
    /// The member the client was bound to when it invoked the operation.
    pub endpoint: String,
    /// From the response's header (ok operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// One line for a person: `c2 put k1=c2-17 → rev 88 [12.301–12.309 s]`.
    pub fn describe(&self) -> String {
        let what = match &self.input {
            Input::Get => format!("get {}", self.key),
            Input::Put { value } => format!("put {}={value}", self.key),
            Input::Cas {
                expect,
                expect_rev,
                value,
            } => format!(
                "cas {} if rev {expect_rev} ({}) then {value}",
                self.key,
                expect.as_deref().unwrap_or("absent")
            ),
        };
        let got = match (&self.outcome, &self.output) {
            (Outcome::Ok, Some(Output::Got { value, mod_rev })) => {
                format!("→ {} (rev {mod_rev})", value.as_deref().unwrap_or("absent"))
            }
            (Outcome::Ok, Some(Output::Put { rev })) => format!("→ rev {rev}"),
            (Outcome::Ok, Some(Output::Cas { succeeded, rev })) => {
                format!(
                    "→ {} (rev {rev})",
                    if *succeeded { "set" } else { "not set" }
                )
            }
            (Outcome::Ok, None) => "→ ?".into(),
            (Outcome::Failed, _) => "→ failed".into(),
            (Outcome::Unknown, _) => format!(
                "→ unknown ({})",
                self.error.as_deref().unwrap_or("no answer")
            ),
        };
        let cluster = self
            .cluster_id
            .map(|c| format!(" cluster {c:x}"))
            .unwrap_or_default();
        format!(
            "c{} {what} {got} [{:.3}–{:.3} s]{cluster}",
            self.client,
            self.call as f64 / 1e9,
            self.ret as f64 / 1e9
        )
    }

    /// A write that completed and took effect.
    pub fn wrote(&self) -> bool {
        self.outcome == Outcome::Ok
            && match (&self.input, &self.output) {
                (Input::Put { .. }, _) => true,
                (Input::Cas { .. }, Some(Output::Cas { succeeded, .. })) => *succeeded,
                _ => false,
            }
    }
}

/// One write etcd applied, as a watch on the run's prefix delivered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub key: String,
    pub value: String,
    pub rev: i64,
    /// When the watcher received it (ns since the run began): the write
    /// took effect before then.
    pub at: u64,
}

/// etcd's own account of the writes it applied during the run (as etcd's
/// robustness tests use it): complete when the watch followed every
/// revision from the run's start to its end without a gap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    pub complete: bool,
    pub writes: Vec<Watched>,
}

/// Where a restore or recover put the cluster back: the window during
/// which it ran (ns since the run began), and the revision its data holds
/// (a snapshot's; `None`: found from the history, one below the first
/// write acknowledged after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub begin: u64,
    pub end: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A recorded run: its operations, and what was done to the cluster
/// meanwhile (for a person reading it), and the recovery it went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
    /// Things done during the run, with when (ns since it began).
    #[serde(default)]
    pub events: Vec<(u64, String)>,
    /// A restore or recover (which lose writes by design) during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// The writes etcd applied, when a watch followed the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
}

impl History {
    /// The recovery the run's events describe: `recovery begins`, then
    /// `recovery done` (with ` at revision N` for a snapshot's point).
    pub fn recovery_from_events(&self) -> Option<Recovery> {
        let begin = self
            .events
            .iter()
            .find(|e| e.1.starts_with("recovery begins"))?
            .0;
        let (end, what) = self
            .events
            .iter()
            .find(|e| e.1.starts_with("recovery done"))
            .map(|e| (e.0, e.1.as_str()))?;
        let revision = what
            .split_once(" at revision ")
            .and_then(|(_, r)| r.trim().parse().ok());
        Some(Recovery {
            begin,
            end,
            revision,
        })
    }
}
