//! The weaker property for restore and recover (issue 27), which lose
//! writes by design. Part of the checker (`linearizability.rs`).

use super::super::history::{History, Input, Outcome, Output, Recovery};
use super::settle::bound_unknown_writes;
use super::{State, Verdict, check_key, clusters_at_once, relevant, write_rev};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The property for restore and recover, which lose writes by design:
/// the history up to the recovery is linearizable; after it, it is
/// linearizable from the state the recovery point held (each key's last
/// write at or below its revision), so nothing acknowledged after it is
/// lost and no write from before it reappears that the point did not hold;
/// and no two clusters accept writes at once.
pub fn check_recovery(h: &History, r: Recovery, budget: Duration) -> Verdict {
    let deadline = Instant::now() + budget;
    // Unknown writes narrowed by what clients saw (a watch does not follow
    // a cluster across its recovery).
    let settled = History {
        ops: bound_unknown_writes(&h.ops, None),
        ..h.clone()
    };
    let h = &settled;
    // Which side each operation is on. A completed one: by the cluster that
    // answered, when the recovery made a new one (the old cluster may still
    // answer for a moment after the recovery began; the new one answers
    // only once it is made); else by time, an operation completed during
    // the recovery then counting as unknown after it. One whose outcome is
    // unknown: by when it was invoked.
    let old = h
        .ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.ret < r.begin)
        .find_map(|o| o.cluster_id);
    let new = h
        .ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.call > r.end)
        .find_map(|o| o.cluster_id);
    let by_cluster = old.is_some() && new.is_some() && old != new;
    let side = |i: usize| -> Option<bool> {
        let o = &h.ops[i];
        if !relevant(o) {
            return None;
        }
        if o.outcome == Outcome::Ok && by_cluster {
            return Some(o.cluster_id != old);
        }
        if o.outcome == Outcome::Ok {
            return match (o.ret < r.begin, o.call > r.end) {
                (true, _) => Some(false),
                (_, true) => Some(true),
                _ => (!matches!(o.input, Input::Get)).then_some(true),
            };
        }
        Some(o.call >= r.begin)
    };
    let before: Vec<usize> = (0..h.ops.len())
        .filter(|&i| side(i) == Some(false))
        .collect();
    let after: Vec<usize> = (0..h.ops.len())
        .filter(|&i| side(i) == Some(true))
        .collect();
    let mut during = h.clone();
    for &i in &after {
        let o = &h.ops[i];
        if o.outcome == Outcome::Ok && !by_cluster && o.call <= r.end {
            during.ops[i].outcome = Outcome::Unknown;
        }
    }
    let point = r.revision.unwrap_or_else(|| {
        after
            .iter()
            .filter(|&&i| during.ops[i].wrote())
            .filter_map(|&i| write_rev(&h.ops[i]))
            .min()
            .map_or(i64::MAX, |rev| rev - 1)
    });
    let mut keys: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for &i in &before {
        keys.entry(h.ops[i].key.as_str()).or_default().0.push(i);
    }
    for &i in &after {
        keys.entry(h.ops[i].key.as_str()).or_default().1.push(i);
    }
    let mut unknown = None;
    for (key, (b, a)) in &keys {
        match check_key(&h.ops, b, &[None], deadline) {
            Verdict::Linearizable => {}
            Verdict::Unknown(why) => unknown = Some(why),
            Verdict::Anomaly { what, ops } => {
                return Verdict::Anomaly {
                    what: format!("before the recovery: {what}"),
                    ops,
                };
            }
        }
        let initial = held_at(h, key, point, r.begin);
        match check_key(&during.ops, a, &initial, deadline) {
            Verdict::Linearizable => {}
            Verdict::Unknown(why) => unknown = Some(why),
            Verdict::Anomaly { what, ops } => {
                return Verdict::Anomaly {
                    what: format!(
                        "after the recovery (from revision {point}, holding {}): {what}",
                        initial
                            .iter()
                            .map(|s| s.as_deref().unwrap_or("absent"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                    ops,
                };
            }
        }
    }
    if let Some(a) = clusters_at_once(h) {
        return a;
    }
    unknown.map_or(Verdict::Linearizable, Verdict::Unknown)
}

/// What key `key` may hold at revision `point`: the value of its last
/// write at or below it whose revision the history tells (a write's
/// answer, or a read of it); or any write before `begin` whose revision it
/// never learned (an unknown outcome, never read).
fn held_at(h: &History, key: &str, point: i64, begin: u64) -> Vec<State> {
    let mut rev_of: BTreeMap<&str, i64> = BTreeMap::new();
    for op in h
        .ops
        .iter()
        .filter(|o| o.key == key && o.outcome == Outcome::Ok)
    {
        match (&op.input, &op.output) {
            (
                Input::Get,
                Some(Output::Got {
                    value: Some(v),
                    mod_rev,
                }),
            ) => {
                rev_of.insert(v.as_str(), *mod_rev);
            }
            (Input::Put { value } | Input::Cas { value, .. }, _) => {
                if let Some(rev) = write_rev(op) {
                    rev_of.insert(value.as_str(), rev);
                }
            }
            _ => {}
        }
    }
    let known = rev_of
        .iter()
        .filter(|(_, r)| **r <= point)
        .max_by_key(|(_, r)| **r)
        .map(|(v, _)| v.to_string());
    let mut out = vec![known];
    // Writes whose revision the history never told: still unknown, or
    // seen (so done) only by a compare-and-set.
    for op in h.ops.iter().filter(|o| o.key == key && o.call < begin) {
        let untold =
            op.outcome == Outcome::Unknown || (op.outcome == Outcome::Ok && op.output.is_none());
        if untold
            && let Input::Put { value } | Input::Cas { value, .. } = &op.input
            && !rev_of.contains_key(value.as_str())
        {
            out.push(Some(value.clone()));
        }
    }
    out
}
