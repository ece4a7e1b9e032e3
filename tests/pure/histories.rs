//! The linearizability checker (issue 27) proven on crafted histories
//! (`tests/fixtures/histories/`): each `bad-*` history must be reported,
//! with the operations to look at (the report is golden:
//! `tests/golden/histories/NAME.txt`); each `good-*` one must pass. The
//! checker and the history format are shared by path with the lab tests
//! and the `linearizability` example.

use crate::common::*;
use std::collections::BTreeMap;

#[path = "../shared/history.rs"]
mod history;
#[path = "../shared/history_html.rs"]
mod history_html;
#[path = "../shared/linearizability.rs"]
mod linearizability;

use history::History;
use linearizability::{Verdict, check, report};

#[test]
fn crafted_histories_are_judged_as_recorded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histories");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    let (mut good, mut bad) = (0, 0);
    for name in &names {
        let text = std::fs::read_to_string(root.join(format!("{name}.json"))).expect("history");
        let h: History = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = check(&h, std::time::Duration::from_secs(10));
        let said = report(&h, &v);
        if name.starts_with("good-") {
            assert_eq!(v, Verdict::Linearizable, "{name}: {said}");
            good += 1;
        } else {
            assert!(matches!(v, Verdict::Anomaly { .. }), "{name}: {said}");
            golden(&format!("histories/{name}.txt"), &said);
            bad += 1;
        }
        // A recovery is also found from the run's events, as recorded.
        if h.recovery.is_some() {
            assert_eq!(h.recovery_from_events(), h.recovery, "{name}");
        }
        // The page a person looks at names the same operations.
        let page = history_html::render(&h, &v);
        assert!(page.contains("<svg") && page.contains(&said.lines().next().unwrap_or("")[..10]));
    }
    assert_eq!((good, bad), (4, 9));
}

/// Many clients over few keys, made linearizable by construction (each
/// operation takes effect at a point inside its interval, in one global
/// order), with unknown outcomes on both sides, and the watch etcd would
/// give (every applied write, delivered just after it took effect).
fn generated(ops_wanted: u64, unknown_in: u64) -> (Vec<history::Op>, history::Watch) {
    use history::{Input, Op, Outcome, Output, Watched};
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let keys = ["k0", "k1", "k2"];
    let mut state: BTreeMap<&str, (Option<String>, i64)> =
        keys.iter().map(|k| (*k, (None, 0))).collect();
    let (clients, mut rev) = (5usize, 1i64);
    let mut free_at = vec![0u64; clients];
    let (mut ops, mut watch) = (
        Vec::new(),
        history::Watch {
            complete: true,
            writes: Vec::new(),
        },
    );
    for t in 0..ops_wanted {
        let c = rnd(clients as u64) as usize;
        let at = t * 10_000 + 5_000;
        let call = at.saturating_sub(rnd(40_000)).max(free_at[c]);
        if call > at {
            continue;
        }
        let ret = at + rnd(40_000);
        free_at[c] = ret + 1;
        let key = keys[rnd(3) as usize];
        let (value, mod_rev) = state[key].clone();
        let fresh = format!("c{c}-{t}");
        let mut applied = |v: &str, rev: i64| {
            watch.writes.push(Watched {
                key: key.into(),
                value: v.into(),
                rev,
                at: at + 1_000,
            })
        };
        let (input, output, outcome) = match rnd(10) {
            0..=3 => (
                Input::Get,
                Some(Output::Got {
                    value: value.clone(),
                    mod_rev,
                }),
                Outcome::Ok,
            ),
            4..=6 => {
                rev += 1;
                state.insert(key, (Some(fresh.clone()), rev));
                applied(&fresh, rev);
                let unknown = rnd(unknown_in) == 0;
                (
                    Input::Put { value: fresh },
                    (!unknown).then_some(Output::Put { rev }),
                    if unknown {
                        Outcome::Unknown
                    } else {
                        Outcome::Ok
                    },
                )
            }
            // Never applied.
            7 if rnd(unknown_in) == 0 => (Input::Put { value: fresh }, None, Outcome::Unknown),
            7 => (
                Input::Get,
                Some(Output::Got {
                    value: value.clone(),
                    mod_rev,
                }),
                Outcome::Ok,
            ),
            _ => {
                // Compare with what the key holds now, or with a value it
                // never held.
                let stale = rnd(3) == 0;
                let expect = if stale {
                    Some("never".to_string())
                } else {
                    value.clone()
                };
                if !stale {
                    rev += 1;
                    state.insert(key, (Some(fresh.clone()), rev));
                    applied(&fresh, rev);
                }
                (
                    Input::Cas {
                        expect,
                        expect_rev: mod_rev,
                        value: fresh,
                    },
                    Some(Output::Cas {
                        succeeded: !stale,
                        rev,
                    }),
                    Outcome::Ok,
                )
            }
        };
        ops.push(Op {
            client: c,
            key: key.into(),
            input,
            output,
            outcome,
            call,
            ret,
            endpoint: format!("m{c}"),
            cluster_id: (outcome == Outcome::Ok).then_some(1),
            member_id: None,
            error: None,
        });
    }
    (ops, watch)
}

/// A generated history passes, quickly, with etcd's watch (every unknown
/// outcome settled) and without it (unknown writes narrowed by what the
/// clients saw); with one late read changed to an older, overwritten
/// value, both fail and name that read.
#[test]
fn generated_linearizable_histories_pass_and_one_stale_read_fails() {
    use history::Output;
    for (with_watch, unknown_in) in [(true, 10), (false, 50)] {
        let (ops, watch) = generated(3000, unknown_in);
        let h = History {
            ops: ops.clone(),
            events: Vec::new(),
            recovery: None,
            watch: with_watch.then_some(watch.clone()),
        };
        let began = std::time::Instant::now();
        let v = check(&h, std::time::Duration::from_secs(30));
        assert_eq!(v, Verdict::Linearizable, "{}", report(&h, &v));
        eprintln!(
            "{} operations (watch: {with_watch}) checked in {:?}",
            ops.len(),
            began.elapsed()
        );
        let (i, older) = stale_candidate(&ops).expect("a read to make stale");
        let mut bad = h.clone();
        bad.ops[i].output = Some(Output::Got {
            value: Some(older.0),
            mod_rev: older.1,
        });
        let began = std::time::Instant::now();
        let v = check(&bad, std::time::Duration::from_secs(30));
        eprintln!("  with a stale read: {:?}", began.elapsed());
        assert!(
            matches!(&v, Verdict::Anomaly { ops, .. } if ops.contains(&i)),
            "{}",
            report(&bad, &v)
        );
    }
}

/// A read, and a value of its key acknowledged (and read) well before the
/// read began, then overwritten by a write that was also acknowledged
/// before it began.
fn stale_candidate(ops: &[history::Op]) -> Option<(usize, (String, i64))> {
    use history::{Input, Outcome, Output};
    for (i, r) in ops.iter().enumerate().rev() {
        if r.input != Input::Get || r.outcome != Outcome::Ok {
            continue;
        }
        let writes: Vec<&history::Op> = ops
            .iter()
            .filter(|w| w.key == r.key && w.outcome == Outcome::Ok && w.ret < r.call)
            .filter(|w| matches!(w.output, Some(Output::Put { .. })))
            .collect();
        if let [.., a, b] = writes.as_slice()
            && a.ret < b.call
            && let (Input::Put { value }, Some(Output::Put { rev })) = (&a.input, &a.output)
        {
            return Some((i, (value.clone(), *rev)));
        }
    }
    None
}
