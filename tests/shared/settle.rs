//! Unknown outcomes settled before the search (issue 27): with etcd's own
//! account of the writes it applied (a watch), or narrowed by what the
//! clients saw; and an acknowledged write etcd's account never delivered.
//! Part of the checker (`linearizability.rs`).

use super::super::history::{History, Input, Op, Outcome, Output, Watch};
use super::{Verdict, write_rev};
use std::collections::BTreeMap;

/// Writes with an unknown outcome, narrowed with what the history shows
/// (values are unique, so a value seen is its write seen), as etcd's own
/// robustness tests do with a watch:
/// - one whose value was read (or compared against, successfully) did take
///   effect, before the first operation that saw it completed: it becomes
///   a completed write, done by then;
/// - one never seen, and that no later failed compare-and-set on its key
///   could have caused to fail, changes nothing anyone saw: placing it last
///   is always possible, so it is left out (failed, as the search takes it);
/// - the rest stay open to the end.
///
/// Without this, each open write multiplies the orders the search must try.
pub(super) fn bound_unknown_writes(ops: &[Op], watch: Option<&Watch>) -> Vec<Op> {
    if let Some(w) = watch.filter(|w| w.complete) {
        return settled_by_watch(ops, w);
    }
    let mut seen: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let v = match (&op.input, &op.output) {
            (Input::Get, Some(Output::Got { value: Some(v), .. })) => v.as_str(),
            (
                Input::Cas {
                    expect: Some(v), ..
                },
                Some(Output::Cas {
                    succeeded: true, ..
                }),
            ) => v.as_str(),
            _ => continue,
        };
        let at = seen.entry((op.key.as_str(), v)).or_insert(u64::MAX);
        *at = (*at).min(op.ret);
    }
    let mut out = ops.to_vec();
    for (i, op) in ops.iter().enumerate() {
        let value = match (&op.outcome, &op.input) {
            (Outcome::Unknown, Input::Put { value } | Input::Cas { value, .. }) => value.as_str(),
            _ => continue,
        };
        if let Some(&by) = seen.get(&(op.key.as_str(), value)) {
            out[i].outcome = Outcome::Ok;
            out[i].output = None;
            out[i].ret = by;
            continue;
        }
        let failed_cas_later = ops.iter().any(|o| {
            o.key == op.key
                && o.outcome == Outcome::Ok
                && o.ret > op.call
                && matches!(
                    o.output,
                    Some(Output::Cas {
                        succeeded: false,
                        ..
                    })
                )
        });
        if !failed_cas_later {
            out[i].outcome = Outcome::Failed;
        }
    }
    out
}

/// With etcd's own account of what it applied (a complete watch), an
/// unknown write is known: applied, with its revision, before the watch
/// delivered it (and before anyone saw its value); or never applied.
fn settled_by_watch(ops: &[Op], w: &Watch) -> Vec<Op> {
    let applied: BTreeMap<(&str, &str), (i64, u64)> = w
        .writes
        .iter()
        .map(|x| ((x.key.as_str(), x.value.as_str()), (x.rev, x.at)))
        .collect();
    let mut out = ops.to_vec();
    for (i, op) in ops.iter().enumerate() {
        let value = match (&op.outcome, &op.input) {
            (Outcome::Unknown, Input::Put { value } | Input::Cas { value, .. }) => value.as_str(),
            _ => continue,
        };
        match applied.get(&(op.key.as_str(), value)) {
            Some(&(rev, at)) => {
                out[i].outcome = Outcome::Ok;
                out[i].ret = at.max(op.call);
                out[i].output = Some(match op.input {
                    Input::Cas { .. } => Output::Cas {
                        succeeded: true,
                        rev,
                    },
                    _ => Output::Put { rev },
                });
            }
            None => out[i].outcome = Outcome::Failed,
        }
    }
    out
}

/// An acknowledged write that a complete watch never delivered (or
/// delivered with another revision) was lost, or made by another cluster.
pub(super) fn missing_from_watch(h: &History, w: &Watch) -> Option<Verdict> {
    if !w.complete {
        return None;
    }
    let applied: BTreeMap<(&str, &str), i64> = w
        .writes
        .iter()
        .map(|x| ((x.key.as_str(), x.value.as_str()), x.rev))
        .collect();
    for (i, op) in h.ops.iter().enumerate().filter(|(_, o)| o.wrote()) {
        let value = match &op.input {
            Input::Put { value } | Input::Cas { value, .. } => value.as_str(),
            Input::Get => continue,
        };
        let rev = write_rev(op);
        match applied.get(&(op.key.as_str(), value)) {
            Some(r) if Some(*r) == rev => {}
            got => {
                return Some(Verdict::Anomaly {
                    what: format!(
                        "key {}: an acknowledged write etcd's watch {}",
                        op.key,
                        match got {
                            None => "never delivered: it was lost".to_string(),
                            Some(r) =>
                                format!("delivered at revision {r}, not the one acknowledged"),
                        }
                    ),
                    ops: vec![i],
                });
            }
        }
    }
    None
}
