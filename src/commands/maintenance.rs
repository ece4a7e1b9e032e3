//! `defrag`, `compact` and `alarm list|disarm`: the day-2 maintenance of a
//! running cluster, through etcd's own API. Each reads the facts, asks the
//! plan (`plan::maintenance`) what to do, shows it, and has the executor do
//! it.

use super::output::{self, Mode};
use super::{Open, Session, with_session};
use crate::error::Error;
use crate::exec;
use crate::facts::{Facts, alarm_parts, human_bytes};
use crate::plan::maintenance::{self, DefragOptions};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// The members whose etcd answered: cluster calls go through them.
pub(super) fn live(facts: &Facts) -> Result<BTreeSet<String>, Error> {
    let live: BTreeSet<String> = facts.cluster.status.keys().cloned().collect();
    if live.is_empty() {
        return Err(Error::Blocked("no member answers".into()));
    }
    Ok(live)
}

/// `defrag`: one member at a time, followers first, the leader last
/// (leadership moved off it first); members with little to reclaim are left
/// alone unless `opts.all`.
pub async fn defrag(path: &Path, opts: DefragOptions) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        // Free-page counts catch up with a compaction first (`etcdctl
        // compact`, or etcd's own auto-compaction, may have run since the
        // last write).
        let before = s.api_facts().await?;
        s.hold_run_lock(&before, Duration::ZERO).await?;
        exec::refresh_free_pages(&s.env(), &live(&before)?).await?;
        let facts = s.api_facts().await?;
        let p = maintenance::defrag(&s.inv, &facts, opts).map_err(Error::Blocked)?;
        for t in &p.order {
            output::say(&format!(
                "~ {:<12} defragment: {} of {} free{}",
                t.name,
                human_bytes(t.free),
                human_bytes(t.db_size),
                if t.leader {
                    " (the leader: last, leadership moved off it first)"
                } else {
                    ""
                }
            ));
        }
        for k in &p.skipped {
            output::say(&format!("  {:<12} left alone: {}", k.name, k.why));
        }
        if p.order.is_empty() {
            output::say("Nothing to defragment.");
            output::result(
                "defrag",
                json!({ "defragmented": [], "skipped": p.skipped }),
            );
            return Ok(());
        }
        output::changed();
        let (done, late) = exec::defrag(&s.env(), &p, opts, &live(&facts)?).await?;
        let before: u64 = done.iter().map(|d| d.before).sum();
        let after: u64 = done.iter().map(|d| d.after).sum();
        let mut skipped = p.skipped.clone();
        skipped.extend(late);
        output::result(
            "defrag",
            json!({ "defragmented": done, "skipped": skipped }),
        );
        output::say(&format!(
            "Defragmented {} member(s): {} -> {} in all (gave back {}).",
            done.len(),
            human_bytes(before),
            human_bytes(after),
            human_bytes(before.saturating_sub(after))
        ));
        Ok(())
    })
    .await
}

/// `compact --retain N`: discards the history before the last N revisions.
pub async fn compact(path: &Path, retain: u64) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let facts = s.api_facts().await?;
        s.hold_run_lock(&facts, Duration::ZERO).await?;
        let revision = facts
            .cluster
            .status
            .values()
            .map(|st| st.revision)
            .max()
            .ok_or_else(|| Error::Blocked("no member answers".into()))?;
        let target = match maintenance::compact_target(revision, retain) {
            Ok(t) => t,
            Err(why) => {
                output::say(&format!("Nothing to compact: {why}."));
                output::result("compact", json!({ "revision": revision, "compacted_to": null }));
                return Ok(());
            }
        };
        output::say(&format!(
            "~ compact the history to revision {target} (the cluster is at {revision}; the last {retain} revisions stay readable)"
        ));
        output::changed();
        exec::compact(&s.env(), target, &live(&facts)?).await?;
        output::result(
            "compact",
            json!({ "revision": revision, "compacted_to": target }),
        );
        output::say(&format!(
            "Compacted to revision {target}: older revisions are gone; `etcd-deploy defrag` gives their space back to the file system."
        ));
        Ok(())
    })
    .await
}

/// `alarm list`: the raised alarms, with the inventory's member names.
/// Returns whether none is raised.
pub async fn alarm_list(path: &Path) -> Result<bool, Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let facts = s.api_facts().await?;
        live(&facts)?;
        let rows: Vec<(String, String, String)> = facts
            .cluster
            .alarms
            .iter()
            .map(|a| match alarm_parts(a) {
                Some((kind, id)) => {
                    let name = facts
                        .cluster
                        .status
                        .iter()
                        .find(|(_, st)| st.id == id)
                        .map_or_else(|| "-".to_string(), |(n, _)| n.clone());
                    (name, format!("{id:x}"), kind.to_string())
                }
                None => ("-".into(), "-".into(), a.clone()),
            })
            .collect();
        match output::mode() {
            Mode::Json => {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(n, id, a)| json!({ "member": n, "id": id, "alarm": a }))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
            Mode::Text if rows.is_empty() => println!("No alarm is raised."),
            Mode::Text => {
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|(n, id, a)| vec![n.clone(), id.clone(), a.clone()])
                    .collect();
                print!("{}", super::table(&["MEMBER", "ID", "ALARM"], &cells));
            }
        }
        Ok(rows.is_empty())
    })
    .await
}

/// `alarm disarm`: clears the raised alarms the plan allows (NOSPACE once
/// the database is under its quota again); refuses, touching nothing, when
/// one may not be cleared.
pub async fn alarm_disarm(path: &Path) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let facts = s.api_facts().await?;
        s.hold_run_lock(&facts, Duration::ZERO).await?;
        let live = live(&facts)?;
        let clear = maintenance::disarm(&s.inv, &facts).map_err(Error::Blocked)?;
        if clear.is_empty() {
            output::say("No alarm is raised.");
            output::result("alarm disarm", json!({ "cleared": [] }));
            return Ok(());
        }
        for a in &clear {
            output::say(&format!("~ {:<12} clear the {} alarm", a.member, a.alarm));
        }
        output::changed();
        exec::disarm(&s.env(), &clear, &live).await?;
        output::result("alarm disarm", json!({ "cleared": clear }));
        output::say("Alarms cleared: writes are accepted again.");
        Ok(())
    })
    .await
}
