//! Reading a member's own log (its journal or container log): why it
//! failed (`log_cause`), and whether it says it cannot reach a peer since
//! its last start (`peer_trouble`). Pure functions of the log's text, so
//! they are tested with lines etcd really wrote.

use crate::facts::printable_upto;

/// The line of a member's log that says why it failed, from the last lines
/// of its journal or container log: etcd's own `fatal`/`panic` entry (its
/// `msg` and `error`), else a Go `panic:` line, else its last `error`
/// entry. A stack trace's tail never is the cause. `None` when no line says.
pub fn log_cause(log: &str) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for line in log.lines() {
        let t = line.trim();
        let found = match t
            .find('{')
            .map(|i| serde_json::from_str::<serde_json::Value>(&t[i..]))
        {
            Some(Ok(v)) => {
                let rank = match v.get("level").and_then(|l| l.as_str()) {
                    Some("fatal" | "panic" | "dpanic") => 3,
                    Some("error") => 1,
                    _ => 0,
                };
                let msg = v.get("msg").and_then(|m| m.as_str()).unwrap_or("");
                let text = match v.get("error").and_then(|e| e.as_str()) {
                    Some(e) if !msg.is_empty() => format!("{msg}: {e}"),
                    Some(e) => e.to_string(),
                    None => msg.to_string(),
                };
                (rank > 0 && !text.is_empty()).then_some((rank, text))
            }
            // Not a log entry: a Go panic, or a plain message from etcd's
            // start-up (stack-trace lines are indented or name a .go file).
            _ => t
                .strip_prefix("panic: ")
                .map(|p| (2, p.to_string()))
                .or_else(|| {
                    t.contains("no space left on device")
                        .then(|| (2, t.to_string()))
                })
                .or_else(|| {
                    // gRPC's own chatter (`WARNING: ... [core] ...`) is noise.
                    let plain = !line.starts_with(char::is_whitespace)
                        && !t.contains(".go:")
                        && !t.starts_with("goroutine ")
                        && !t.starts_with("WARNING:");
                    let says = t.to_ascii_lowercase().contains("error")
                        || t.contains("Main process exited");
                    (plain && says).then(|| (1, t.to_string()))
                }),
        };
        if let Some((rank, text)) = found
            && best.as_ref().is_none_or(|(r, _)| rank >= *r)
        {
            best = Some((rank, text));
        }
    }
    // A log line with a path in it needs more room than `printable` gives.
    best.map(|(_, t)| printable_upto(&t, 400))
}

/// etcd's messages saying that a member cannot reach a peer, or could not
/// make itself known to the cluster (which needs the leader).
const PEER_TROUBLE: [&str; 5] = [
    "prober detected unhealthy status",
    "lost TCP streaming connection with remote peer",
    "peer became inactive (message send to peer failed)",
    "failed to publish local member to cluster through raft",
    "failed to dial",
];

/// What etcd logs once it reaches a peer (`peer-id` or `remote-peer-id`).
const PEER_REACHED: [&str; 2] = [
    "peer became active",
    "established TCP streaming connection with remote peer",
];

/// What the member's log says since its last start about not reaching
/// `peer` (its ID, as etcd writes it: hex) or the cluster: the last such
/// entry not followed by one saying the peer was reached, as `msg
/// (remote-peer-id X): error`. Entries about other peers
/// (one that is down for good) do not count; `None` when there is none.
pub fn peer_trouble(log: &str, peer: Option<u64>) -> Option<String> {
    let want = peer.map(|p| format!("{p:x}"));
    // Only what this run of etcd wrote: the journal holds earlier runs too.
    let lines: Vec<&str> = log.lines().collect();
    let since = lines
        .iter()
        .rposition(|l| l.contains("\"msg\":\"Running: \"") || l.contains("starting an etcd server"))
        .unwrap_or(0);
    let mut found = None;
    for line in &lines[since..] {
        let t = line.trim();
        let Some(Ok(v)) = t
            .find('{')
            .map(|i| serde_json::from_str::<serde_json::Value>(&t[i..]))
        else {
            continue;
        };
        let msg = v.get("msg").and_then(|m| m.as_str()).unwrap_or("");
        // The peer reached after all (it started later than this member,
        // say): what went before it no longer counts.
        if PEER_REACHED.contains(&msg) {
            let peer_id = v
                .get("peer-id")
                .or_else(|| v.get("remote-peer-id"))
                .and_then(|r| r.as_str());
            if want.is_none() || peer_id == want.as_deref() {
                found = None;
            }
            continue;
        }
        if !PEER_TROUBLE.contains(&msg) {
            continue;
        }
        let remote = v.get("remote-peer-id").and_then(|r| r.as_str());
        if let (Some(r), Some(w)) = (remote, want.as_deref())
            && r != w
        {
            continue;
        }
        let mut text = msg.to_string();
        if let Some(r) = remote {
            text.push_str(&format!(" (remote-peer-id {r})"));
        }
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            text.push_str(&format!(": {e}"));
        }
        found = Some(printable_upto(&text, 300));
    }
    found
}
