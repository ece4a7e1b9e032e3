//! `snapshot save` (streamed from a caught-up follower, else the leader, to
//! this machine) and `snapshot list` (the snapshots saved here, each checked).

use super::output::{self, Mode};
use super::{Open, Session, with_session};
use crate::error::Error;
use crate::exec;
use crate::snapshot;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Streams a snapshot to `out` (or `snapshots/` beside the inventory) from
/// the member `exec::snapshot_source` picks (a caught-up follower, so the
/// leader's writes are not held up).
pub async fn save(path: &Path, out: Option<PathBuf>) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let env = s.env();
        let live = live(s).await?;
        let (source, url) = exec::snapshot_source(&env, &live).await?;
        output::say(&format!("snapshot: reading it from {source}"));
        let saved = match &out {
            Some(file) => snapshot::save_to(&url, file, &snapshot::reporter(&s.progress)).await,
            None => {
                let report = snapshot::reporter(&s.progress);
                snapshot::save(&url, &default_dir(path), &s.inv.cluster.name, &report).await
            }
        }
        .map_err(|e| Error::Blocked(format!("snapshot: {e}")))?;
        output::result(
            "snapshot",
            json!({ "path": saved.path, "bytes": saved.bytes, "revision": saved.revision }),
        );
        output::say(&format!(
            "{} ({} bytes, revision {}, SHA256 of the database checked)",
            saved.path.display(),
            saved.bytes,
            saved.revision
        ));
        Ok(())
    })
    .await
}

/// One saved snapshot, as `snapshot list` shows it.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub path: PathBuf,
    pub bytes: u64,
    /// From the file name etcd-deploy gives it (`...-rev<N>.db`).
    pub revision: Option<i64>,
    /// The file's modification time (RFC 3339).
    pub saved: Option<String>,
    /// `ok` (etcd's appended SHA256 matches), or why not.
    pub check: String,
}

/// Lists the `*.db` files in `dir` (default `snapshots/` beside the
/// inventory), newest first, each read through to check it. Returns whether
/// every one checked out. Needs no hosts.
pub fn list(path: &Path, dir: Option<PathBuf>) -> Result<bool, Error> {
    // The inventory is validated like every command's, though only its place is used.
    crate::inventory::Inventory::load(path)?;
    let dir = dir.unwrap_or_else(|| default_dir(path));
    let rows = listed(&dir)?;
    match output::mode() {
        Mode::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        Mode::Text if rows.is_empty() => {
            println!("No snapshots in {}.", dir.display());
        }
        Mode::Text => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.path.display().to_string(),
                        super::human_bytes(r.bytes),
                        r.revision.map_or_else(|| "-".into(), |v| v.to_string()),
                        r.saved.clone().unwrap_or_else(|| "-".into()),
                        r.check.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                super::table(&["FILE", "SIZE", "REVISION", "SAVED", "CHECK"], &cells)
            );
        }
    }
    Ok(rows.iter().all(|r| r.check == "ok"))
}

fn listed(dir: &Path) -> Result<Vec<Listed>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Usage(format!("{}: {e}", dir.display()))),
    };
    let mut rows: Vec<(std::time::SystemTime, Listed)> = Vec::new();
    for entry in entries.flatten() {
        let p = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || p.extension().is_none_or(|e| e != "db") {
            continue;
        }
        let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        let check = match snapshot::check_file(&p) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        rows.push((
            modified,
            Listed {
                revision: revision_in_name(&p),
                saved: meta
                    .modified()
                    .ok()
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                bytes: meta.len(),
                path: p,
                check,
            },
        ));
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.path.cmp(&b.1.path)));
    Ok(rows.into_iter().map(|(_, l)| l).collect())
}

/// `<cluster>-<time>-rev<N>.db` → N.
pub fn revision_in_name(p: &Path) -> Option<i64> {
    let stem = p.file_stem()?.to_str()?;
    stem.rsplit_once("-rev")?.1.parse().ok()
}

/// The inventory members that answer now.
async fn live(s: &Session) -> Result<BTreeSet<String>, Error> {
    let facts = s.facts().await?;
    if facts.cluster.status.is_empty() {
        return Err(Error::Blocked("no member answers".into()));
    }
    Ok(facts.cluster.status.keys().cloned().collect())
}

pub(crate) fn default_dir(inventory: &Path) -> PathBuf {
    inventory
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
}
