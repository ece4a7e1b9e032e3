//! A history drawn for a person (issue 27), in the manner of porcupine's
//! visualisation: one page, one timeline per key, one row per client, each
//! operation a bar from invocation to completion (an unknown outcome runs
//! to the end), its text on hover; the operations a verdict names in red,
//! the run's events as vertical lines. Self-contained HTML, no scripts.

use super::history::{History, Input, Outcome};
use super::linearizability::{Verdict, report};
use std::collections::BTreeMap;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `h` and its verdict.
pub fn render(h: &History, v: &Verdict) -> String {
    let named: Vec<usize> = match v {
        Verdict::Anomaly { ops, .. } => ops.clone(),
        _ => Vec::new(),
    };
    let end = h
        .ops
        .iter()
        .map(|o| o.ret.max(o.call))
        .chain(h.events.iter().map(|e| e.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 1600.0;
    let x = |t: u64| 120.0 + (t.min(end) as f64 / end as f64) * (width - 140.0);
    let mut keys: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in h.ops.iter().enumerate() {
        keys.entry(o.key.as_str()).or_default().push(i);
    }
    let clients = h.ops.iter().map(|o| o.client).max().unwrap_or(0) + 1;
    let mut page = format!(
        "<!doctype html><meta charset=utf-8><title>history</title><style>body{{font:13px sans-serif}} pre{{background:#fee;padding:8px}} rect:hover{{stroke:#000}}</style><h1>{} operations</h1><pre>{}</pre>",
        h.ops.len(),
        escape(&report(h, v))
    );
    for (key, ids) in &keys {
        let row = 22.0;
        let height = 30.0 + row * clients as f64;
        page.push_str(&format!(
            "<h2>key {}</h2><svg width={width} height={height}>",
            escape(key)
        ));
        for c in 0..clients {
            page.push_str(&format!(
                "<text x=4 y={}>client {c}</text>",
                30.0 + row * c as f64 + 14.0
            ));
        }
        for (t, what) in &h.events {
            page.push_str(&format!(
                "<line x1={0} x2={0} y1=0 y2={height} stroke=#888 stroke-dasharray=4><title>{1}</title></line><text x={0} y=12 font-size=10>{1}</text>",
                x(*t),
                escape(what)
            ));
        }
        for &i in ids {
            let o = &h.ops[i];
            let (x0, x1) = (
                x(o.call),
                match o.outcome {
                    Outcome::Ok | Outcome::Failed => x(o.ret),
                    Outcome::Unknown => x(end),
                },
            );
            let fill = if named.contains(&i) {
                "#e33"
            } else {
                match (o.outcome, &o.input) {
                    (Outcome::Failed, _) => "#ddd",
                    (Outcome::Unknown, _) => "#fc6",
                    (_, Input::Get) => "#9cf",
                    (_, Input::Put { .. }) => "#9d9",
                    (_, Input::Cas { .. }) => "#c9f",
                }
            };
            page.push_str(&format!(
                "<rect x={x0:.1} y={} width={:.1} height={} fill={fill}><title>#{i} {}</title></rect>",
                30.0 + row * o.client as f64,
                (x1 - x0).max(2.0),
                row - 4.0,
                escape(&o.describe())
            ));
        }
        page.push_str("</svg>");
    }
    page
}
