//! `snapshot save` (streamed from a caught-up follower, else the leader, to
//! this machine) and `snapshot list` (the snapshots saved here, each checked).

use super::output::{self, Mode};
use super::{Open, Session, with_session};
use crate::backup;
use crate::error::Error;
use crate::exec;
use crate::snapshot;
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Streams a snapshot to `out` (or `snapshots/` beside the inventory) from
/// the member `exec::snapshot_source` picks (a caught-up follower, so the
/// leader's writes are not held up).
pub async fn save(path: &Path, out: Option<PathBuf>) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let env = s.env();
        let live = super::maintenance::live(&s.api_facts().await?)?;
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
    /// The member whose host holds it (`[backup]`); `None`: this machine.
    pub host: Option<String>,
    #[serde(skip)]
    pub modified: std::time::SystemTime,
}

/// Lists the `*.db` files in `dir` (default `snapshots/` beside the
/// inventory), each read through to check it, and with `[backup]` the
/// snapshots each member's host saved on schedule (checked by etcd's own
/// tool before they got their name); newest first. Returns whether every one
/// checked out. Needs hosts only with `[backup]`.
pub async fn list(path: &Path, dir: Option<PathBuf>) -> Result<bool, Error> {
    let inv = crate::inventory::Inventory::load(path)?;
    let dir = dir.unwrap_or_else(|| default_dir(path));
    let mut rows = listed(&dir)?;
    if inv.backup.is_some() {
        rows.extend(on_hosts(path).await?);
        rows.sort_by_key(|r| std::cmp::Reverse(r.modified));
    }
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
                        r.host.clone().unwrap_or_else(|| "(here)".into()),
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
                super::table(
                    &["HOST", "FILE", "SIZE", "REVISION", "SAVED", "CHECK"],
                    &cells
                )
            );
        }
    }
    Ok(rows.iter().all(|r| r.check == "ok"))
}

/// The snapshots the members' hosts saved on schedule (`[backup]`). A host
/// that cannot be reached is warned about, not an error.
async fn on_hosts(path: &Path) -> Result<Vec<Listed>, Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let Some(b) = &s.inv.backup else {
            return Ok(Vec::new());
        };
        let jobs = s.inv.members.iter().map(|m| async move {
            let host = s.hosts.get(&m.name)?;
            match host
                .run("list snapshots", &backup::list(&s.inv, b, m))
                .await
            {
                Ok(out) => Some(backup::parse_list(&out, b, &s.inv, m)),
                Err(e) => {
                    s.progress.warn(&e.to_string());
                    None
                }
            }
        });
        let found = futures_util::future::join_all(jobs).await;
        Ok(found
            .into_iter()
            .flatten()
            .flatten()
            .map(|saved| {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(saved.mtime);
                Listed {
                    host: Some(saved.member),
                    path: PathBuf::from(saved.path),
                    bytes: saved.bytes,
                    revision: saved.revision,
                    saved: Some(humantime::format_rfc3339_seconds(t).to_string()),
                    modified: t,
                    check: saved.problem.unwrap_or("ok").into(),
                }
            })
            .collect())
    })
    .await
}

/// `restore --latest`: the newest snapshot that checks out, saved here or
/// on a host (`[backup]`; fetched beside the inventory and checked first).
/// One that cannot be fetched or does not check out once fetched is
/// skipped with a warning, and the next newest is tried.
pub async fn latest(path: &Path) -> Result<PathBuf, Error> {
    let inv = crate::inventory::Inventory::load(path)?;
    let dir = default_dir(path);
    let mut rows = listed(&dir)?;
    if inv.backup.is_some() {
        rows.extend(on_hosts(path).await?);
    }
    rows.retain(|r| r.check == "ok");
    rows.sort_by_key(|r| std::cmp::Reverse(r.modified));
    for newest in &rows {
        let Some(member) = &newest.host else {
            output::say(&format!("newest snapshot: {}", newest.path.display()));
            return Ok(newest.path.clone());
        };
        match fetch(path, member, &newest.path, &dir).await {
            Ok(p) => return Ok(p),
            Err(e) => output::warn(&format!("{e}; trying the next newest snapshot")),
        }
    }
    Err(Error::Usage(format!(
        "no snapshot that checks out in {}{}",
        dir.display(),
        if inv.backup.is_some() {
            " nor on the hosts"
        } else {
            " (and no [backup] in the inventory)"
        }
    )))
}

/// Streams a snapshot from `member`'s host into `dir` and checks it.
async fn fetch(path: &Path, member: &str, remote: &Path, dir: &Path) -> Result<PathBuf, Error> {
    let name = remote
        .file_name()
        .ok_or_else(|| Error::Blocked(format!("{}: no file name", remote.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    let dest = dir.join(name);
    let part = dir.join(format!(".{}.part", name.to_string_lossy()));
    let _ = std::fs::remove_file(&part);
    with_session(path, &Open::default(), async |s: &Session| {
        let host = s
            .hosts
            .get(member)
            .ok_or_else(|| Error::Blocked(format!("{member}: its host cannot be reached")))?;
        let remote_s = remote.display().to_string();
        output::say(&format!(
            "newest snapshot: {member}:{remote_s}; fetching it"
        ));
        let fetched = host
            .run_to_file("fetch snapshot", &backup::read(&remote_s), &part)
            .await;
        if let Err(e) = fetched {
            let _ = std::fs::remove_file(&part);
            return Err(e.into());
        }
        if let Err(e) = snapshot::check_file(&part) {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Blocked(format!(
                "{member}:{remote_s} does not check out: {e}"
            )));
        }
        std::fs::rename(&part, &dest)
            .map_err(|e| Error::Usage(format!("{}: {e}", dest.display())))?;
        output::say(&format!("fetched and checked: {}", dest.display()));
        Ok(dest.clone())
    })
    .await
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
                host: None,
                modified,
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

pub(crate) fn default_dir(inventory: &Path) -> PathBuf {
    inventory
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
}
