//! Snapshots saved on the controller: streamed from the leader through
//! etcd-client, checked (etcd's appended SHA256), written atomically under a
//! name that says cluster, time and revision.

use crate::etcd::{self, EtcdError};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A snapshot written to disk.
#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    pub revision: i64,
    pub bytes: usize,
}

/// Streams a snapshot from `url` into `dir`, named `<cluster>-<time>-rev<revision>.db`.
pub async fn save(url: &str, dir: &Path, cluster: &str) -> Result<Saved, EtcdError> {
    let snap = etcd::snapshot(url).await?;
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace([':', '-'], "");
    write(dir.join(format!("{cluster}-{stamp}-rev{}.db", snap.revision)), snap)
}

/// Streams a snapshot from `url` into the file `path`.
pub async fn save_to(url: &str, path: &Path) -> Result<Saved, EtcdError> {
    write(path.to_path_buf(), etcd::snapshot(url).await?)
}

fn write(path: PathBuf, snap: etcd::Snapshot) -> Result<Saved, EtcdError> {
    write_atomic(&path, &snap.bytes).map_err(|e| EtcdError::new(format!("writing {}: {e}", path.display())))?;
    Ok(Saved { path, revision: snap.revision, bytes: snap.bytes.len() })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("db.part");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?; // every key is in it
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
