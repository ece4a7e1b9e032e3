//! Snapshots saved on the controller: streamed from the leader through
//! etcd-client, checked (etcd's appended SHA256), written atomically under a
//! name that says cluster, time and revision.

use crate::etcd::{self, EtcdError};
use crate::files;
use std::path::{Path, PathBuf};

/// A snapshot written to disk.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub path: PathBuf,
    pub revision: i64,
    pub bytes: usize,
}

/// Streams a snapshot from `url` into `dir`, named `<cluster>-<time>-rev<revision>.db`.
pub(crate) async fn save(url: &str, dir: &Path, cluster: &str) -> Result<Saved, EtcdError> {
    let snap = etcd::snapshot(url).await?;
    write(
        dir.join(format!(
            "{cluster}-{}-rev{}.db",
            files::stamp(),
            snap.revision
        )),
        snap,
    )
}

/// Streams a snapshot from `url` into the file `path`.
pub(crate) async fn save_to(url: &str, path: &Path) -> Result<Saved, EtcdError> {
    write(path.to_path_buf(), etcd::snapshot(url).await?)
}

fn write(path: PathBuf, snap: etcd::Snapshot) -> Result<Saved, EtcdError> {
    // Every key is in it: readable by its owner only.
    files::write_atomic(&path, &snap.bytes, 0o600)
        .map_err(|e| EtcdError::new(format!("writing {}: {e}", path.display())))?;
    Ok(Saved {
        path,
        revision: snap.revision,
        bytes: snap.bytes.len(),
    })
}
