//! The linearizability checker (issue 27): porcupine's algorithm (Lowe's
//! depth-first search with memoisation of linearized sets and states, as
//! in Anish Athalye's porcupine), per key, for a register with
//! compare-and-set, in Rust. An operation with an unknown outcome may have
//! taken effect at any time after it was invoked, or never: it is given no
//! completion time (it can always be put last, which is the same as never)
//! and any result; before the search, unknown writes are settled with
//! etcd's watch or what clients saw (`settle.rs`). Beside it, checks a
//! single key cannot see: a value read with another revision than it was
//! written with, and two clusters (by cluster ID) accepting writes at once.
//! Restore and recover have their own property (`recovery.rs`).

#[path = "recovery.rs"]
mod recovery;
#[path = "settle.rs"]
mod settle;

use super::history::{History, Input, Op, Outcome, Output};
pub use recovery::check_recovery;
use settle::{bound_unknown_writes, missing_from_watch};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// What the checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// Not linearizable: why, with the operations to look at (indexes into
    /// the history's operations).
    Anomaly {
        what: String,
        ops: Vec<usize>,
    },
    /// The search ran out of time (too many concurrent operations).
    Unknown(String),
}

/// The register's state: the key's value (values are unique, so the value
/// stands for the write, and for its revision).
pub(super) type State = Option<String>;

/// Whether `op` can take effect on `state`, and the state after.
fn step(state: &State, op: &Op) -> Option<State> {
    let ok = op.outcome == Outcome::Ok;
    match (&op.input, &op.output) {
        (Input::Get, Some(Output::Got { value, .. })) => (value == state).then(|| state.clone()),
        (Input::Get, _) => Some(state.clone()),
        (Input::Put { value }, _) => Some(Some(value.clone())),
        (Input::Cas { expect, value, .. }, out) => {
            let holds = expect == state;
            match out {
                Some(Output::Cas { succeeded, .. }) if ok => match (succeeded, holds) {
                    (true, true) => Some(Some(value.clone())),
                    (false, false) => Some(state.clone()),
                    _ => None,
                },
                // Seen to have taken effect (`bound_unknown_writes`).
                None if ok => holds.then(|| Some(value.clone())),
                // Unknown: whatever the comparison says happened.
                _ => Some(if holds {
                    Some(value.clone())
                } else {
                    state.clone()
                }),
            }
        }
    }
}

/// The operations the search takes: completed ones, and writes whose
/// outcome is unknown (a read that failed tells nothing).
pub(super) fn relevant(op: &Op) -> bool {
    match op.outcome {
        Outcome::Ok => true,
        Outcome::Failed => false,
        Outcome::Unknown => !matches!(op.input, Input::Get),
    }
}

/// One key's operations (indexes into `ops`) checked from `initial`
/// states (any one of them); `deadline` bounds the search.
pub fn check_key(ops: &[Op], ids: &[usize], initial: &[State], deadline: Instant) -> Verdict {
    let mut last = Verdict::Linearizable;
    for s in initial {
        match search(ops, ids, s.clone(), deadline) {
            Verdict::Linearizable => return Verdict::Linearizable,
            other => last = other,
        }
    }
    last
}

/// The events of a search: each operation's call, and its return (none
/// for an unknown outcome: it is never required).
struct Events {
    /// (time, is_return, op position in `ids`)
    list: Vec<(u64, bool, usize)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// For a call event, its return event (usize::MAX: none).
    partner: Vec<usize>,
}

impl Events {
    fn new(ops: &[Op], ids: &[usize]) -> Events {
        let mut list = Vec::new();
        for (pos, &i) in ids.iter().enumerate() {
            list.push((ops[i].call, false, pos));
            if ops[i].outcome == Outcome::Ok {
                list.push((ops[i].ret, true, pos));
            }
        }
        // By time; at equal times calls first (they may then overlap).
        list.sort_by_key(|&(t, r, p)| (t, r, p));
        let n = list.len();
        // Node 0 is the head; event k is node k + 1.
        let next = (1..=n + 1).collect();
        let prev = std::iter::once(usize::MAX).chain(0..n).collect();
        let mut partner = vec![usize::MAX; n + 1];
        let mut call_of = vec![usize::MAX; ids.len()];
        for (k, &(_, r, p)) in list.iter().enumerate() {
            if r {
                partner[call_of[p]] = k + 1;
            } else {
                call_of[p] = k + 1;
            }
        }
        Events {
            list,
            next,
            prev,
            partner,
        }
    }

    fn end(&self) -> usize {
        self.list.len() + 1
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != self.end() {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != self.end() {
            self.prev[n] = node;
        }
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if self.partner[call] != usize::MAX {
            self.unlink(self.partner[call]);
        }
    }

    /// Puts them back (in the reverse order of `lift`).
    fn unlift(&mut self, call: usize) {
        if self.partner[call] != usize::MAX {
            self.relink(self.partner[call]);
        }
        self.relink(call);
    }
}

fn search(ops: &[Op], ids: &[usize], initial: State, deadline: Instant) -> Verdict {
    let mut ev = Events::new(ops, ids);
    let words = ids.len().div_ceil(64).max(1);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = initial;
    let mut entry = ev.next[0];
    // The deepest point reached, and the operation that could not be
    // placed there: what a person should look at.
    let mut deepest: (usize, Option<usize>, Vec<usize>) = (0, None, Vec::new());
    let mut steps = 0u64;
    while ev.next[0] != ev.end() {
        steps += 1;
        if steps.is_multiple_of(1 << 16) && Instant::now() > deadline {
            return Verdict::Unknown(format!(
                "the search ran out of time after {steps} steps ({} operations on this key)",
                ids.len()
            ));
        }
        if entry == ev.end() {
            // Every remaining event is a call that cannot be placed: only
            // unknown writes are left (they need no place), or none fits.
            if ev_only_unknown_calls(&ev, ops, ids) {
                return Verdict::Linearizable;
            }
            entry = backtrack(&mut ev, &mut stack, &mut state, &mut linearized, ids.len());
            if entry == usize::MAX {
                break;
            }
            continue;
        }
        let (_, is_return, pos) = ev.list[entry - 1];
        if !is_return {
            if let Some(after) = step(&state, &ops[ids[pos]]) {
                let mut now = linearized.clone();
                now[pos / 64] |= 1 << (pos % 64);
                if cache.insert((now.clone(), after.clone())) {
                    stack.push((entry, state));
                    state = after;
                    linearized = now;
                    ev.lift(entry);
                    entry = ev.next[0];
                    continue;
                }
            }
            entry = ev.next[entry];
        } else {
            // An operation completed before any placement of it was found.
            if stack.len() >= deepest.0 {
                let placed = stack.iter().map(|(e, _)| ids[ev.list[e - 1].2]).collect();
                deepest = (stack.len(), Some(ids[pos]), placed);
            }
            entry = backtrack(&mut ev, &mut stack, &mut state, &mut linearized, ids.len());
            if entry == usize::MAX {
                break;
            }
        }
    }
    if ev.next[0] == ev.end() {
        return Verdict::Linearizable;
    }
    let (_, stuck, placed) = deepest;
    let mut shown: Vec<usize> = placed.iter().rev().take(4).rev().copied().collect();
    if let Some(s) = stuck {
        // And what ran at the same time as it.
        for &i in ids {
            if i != s && overlaps(&ops[i], &ops[s]) && !shown.contains(&i) {
                shown.push(i);
            }
        }
        shown.retain(|i| *i != s);
        shown.insert(0, s);
    }
    Verdict::Anomaly {
        what: format!(
            "key {}: not linearizable: no order of its operations explains what the clients saw; the first listed cannot be placed after the ones it follows",
            stuck.map(|s| ops[s].key.as_str()).unwrap_or("?")
        ),
        ops: shown,
    }
}

fn ev_only_unknown_calls(ev: &Events, ops: &[Op], ids: &[usize]) -> bool {
    let mut n = ev.next[0];
    while n != ev.end() {
        let (_, r, pos) = ev.list[n - 1];
        if r || ops[ids[pos]].outcome == Outcome::Ok {
            return false;
        }
        n = ev.next[n];
    }
    true
}

/// Undoes the last placement; the entry to try next (usize::MAX: none).
fn backtrack(
    ev: &mut Events,
    stack: &mut Vec<(usize, State)>,
    state: &mut State,
    linearized: &mut [u64],
    _n: usize,
) -> usize {
    let Some((entry, before)) = stack.pop() else {
        return usize::MAX;
    };
    let pos = ev.list[entry - 1].2;
    linearized[pos / 64] &= !(1 << (pos % 64));
    *state = before;
    ev.unlift(entry);
    ev.next[entry]
}

fn overlaps(a: &Op, b: &Op) -> bool {
    let end = |o: &Op| {
        if o.outcome == Outcome::Ok {
            o.ret
        } else {
            u64::MAX
        }
    };
    a.call <= end(b) && b.call <= end(a)
}

/// The whole history: every key, then revisions, then clusters (or, for
/// a restore or recover, `check_recovery`).
pub fn check(h: &History, budget: Duration) -> Verdict {
    if let Some(r) = h.recovery {
        return check_recovery(h, r, budget);
    }
    let deadline = Instant::now() + budget;
    if let Some(a) = h.watch.as_ref().and_then(|w| missing_from_watch(h, w)) {
        return a;
    }
    let ops = bound_unknown_writes(&h.ops, h.watch.as_ref());
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| relevant(o)) {
        by_key.entry(op.key.as_str()).or_default().push(i);
    }
    let mut unknown = None;
    for ids in by_key.values() {
        match check_key(&ops, ids, &[None], deadline) {
            Verdict::Linearizable => {}
            Verdict::Unknown(why) => unknown = Some(why),
            anomaly => return anomaly,
        }
    }
    if let Some(a) = revisions(h) {
        return a;
    }
    if let Some(a) = clusters_at_once(h) {
        return a;
    }
    unknown.map_or(Verdict::Linearizable, Verdict::Unknown)
}

/// A value is written once, so it has one revision: read with another, it
/// was written twice (or by two clusters).
pub fn revisions(h: &History) -> Option<Verdict> {
    let mut seen: BTreeMap<(&str, &str), (i64, usize)> = BTreeMap::new();
    for (i, op) in h.ops.iter().enumerate() {
        if op.outcome != Outcome::Ok {
            continue;
        }
        let (value, rev) = match (&op.input, &op.output) {
            (Input::Put { value }, Some(Output::Put { rev })) => (value.as_str(), *rev),
            (
                Input::Cas { value, .. },
                Some(Output::Cas {
                    succeeded: true,
                    rev,
                }),
            ) => (value.as_str(), *rev),
            (
                Input::Get,
                Some(Output::Got {
                    value: Some(v),
                    mod_rev,
                }),
            ) => (v.as_str(), *mod_rev),
            _ => continue,
        };
        match seen.get(&(op.key.as_str(), value)) {
            Some((r, j)) if *r != rev => {
                return Some(Verdict::Anomaly {
                    what: format!(
                        "key {}: value {value} has two revisions, {r} and {rev}: it was written twice, or by two clusters",
                        op.key
                    ),
                    ops: vec![*j, i],
                });
            }
            Some(_) => {}
            None => {
                seen.insert((op.key.as_str(), value), (rev, i));
            }
        }
    }
    None
}

/// Two clusters accepting writes at once: a cluster acknowledged a write
/// that was invoked after another cluster, which answered later in the
/// run, had already acknowledged one.
pub fn clusters_at_once(h: &History) -> Option<Verdict> {
    // Each cluster's writes; clusters in the order their first write completed.
    let mut by: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, op) in h.ops.iter().enumerate().filter(|(_, o)| o.wrote()) {
        if let Some(c) = op.cluster_id {
            by.entry(c).or_default().push(i);
        }
    }
    let first = |c: &u64| {
        by[c]
            .iter()
            .map(|&i| h.ops[i].ret)
            .min()
            .unwrap_or(u64::MAX)
    };
    let mut order: Vec<u64> = by.keys().copied().collect();
    order.sort_by_key(first);
    for (n, older) in order.iter().enumerate() {
        for newer in &order[n + 1..] {
            let Some(&b) = by[newer].iter().min_by_key(|&&i| h.ops[i].ret) else {
                continue;
            };
            if let Some(&a) = by[older].iter().find(|&&i| h.ops[i].call > h.ops[b].ret) {
                return Some(Verdict::Anomaly {
                    what: format!(
                        "clusters {older:x} and {newer:x} both accepted writes: {newer:x} acknowledged one before {older:x} was asked for another, which it acknowledged"
                    ),
                    ops: vec![b, a],
                });
            }
        }
    }
    None
}

/// The verdict for a person, with the operations named.
pub fn report(h: &History, v: &Verdict) -> String {
    match v {
        Verdict::Linearizable => "linearizable".into(),
        Verdict::Unknown(why) => format!("unknown: {why}"),
        Verdict::Anomaly { what, ops } => {
            let mut s = format!("NOT linearizable: {what}\n");
            for &i in ops {
                s.push_str(&format!("  #{i} {}\n", h.ops[i].describe()));
            }
            s
        }
    }
}

/// The revision a write's value got (an acknowledged write's own).
pub(super) fn write_rev(op: &Op) -> Option<i64> {
    match (&op.input, &op.output) {
        (Input::Put { .. }, Some(Output::Put { rev })) => Some(*rev),
        (
            Input::Cas { .. },
            Some(Output::Cas {
                succeeded: true,
                rev,
            }),
        ) => Some(*rev),
        _ => None,
    }
}
