//! Snapshots saved on the controller: streamed from the leader through
//! etcd-client, checked (etcd's appended SHA256), written atomically under a
//! name that says cluster, time and revision.

use crate::etcd::{self, EtcdError};
use crate::files;
use crate::progress::Progress;
use std::path::{Path, PathBuf};

/// A snapshot written to disk.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub path: PathBuf,
    pub revision: i64,
    pub bytes: u64,
}

/// Streams a snapshot from `url` into `dir`, named `<cluster>-<time>-rev<revision>.db`.
pub(crate) async fn save(
    url: &str,
    dir: &Path,
    cluster: &str,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Saved, EtcdError> {
    // The revision is known once the stream has started: a temporary name first.
    let tmp = dir.join(format!("{cluster}-{}.partial", files::stamp()));
    let saved = save_to(url, &tmp, progress).await?;
    let path = dir.join(format!(
        "{cluster}-{}-rev{}.db",
        files::stamp(),
        saved.revision
    ));
    std::fs::rename(&tmp, &path)
        .map_err(|e| EtcdError::new(format!("renaming {}: {e}", tmp.display())))?;
    Ok(Saved { path, ..saved })
}

/// Streams a snapshot from `url` into the file `path` (written whole or not
/// at all, 0600: every key is in it), through a fixed-size buffer.
pub(crate) async fn save_to(
    url: &str,
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Saved, EtcdError> {
    let fail = |e: std::io::Error| EtcdError::new(format!("writing {}: {e}", path.display()));
    let mut file = files::AtomicFile::create(path, 0o600).map_err(fail)?;
    let (revision, bytes) = {
        let mut sink = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        let r = etcd::snapshot_into(url, &mut sink, progress).await?;
        std::io::Write::flush(&mut sink).map_err(fail)?;
        r
    };
    file.commit().map_err(fail)?;
    Ok(Saved {
        path: path.to_path_buf(),
        revision,
        bytes,
    })
}

/// Checks a snapshot file as etcd wrote it, reading it in fixed-size
/// pieces; returns its size and the SHA256 of the whole file (what a host
/// checks after receiving it).
pub(crate) fn check_file(path: &Path) -> Result<(u64, String), EtcdError> {
    use sha2::{Digest, Sha256};
    let mut check = etcd::SnapshotCheck::default();
    let mut whole = Sha256::new();
    files::for_each_piece(path, |p| {
        check.update(p);
        whole.update(p);
    })
    .map_err(|e| EtcdError::new(format!("{}: {e}", path.display())))?;
    let len = check.len;
    check.finish()?;
    Ok((len, hex::encode(whole.finalize())))
}

/// A progress callback that prints a line every 64 MB received.
pub(crate) fn reporter(progress: &Progress) -> impl Fn(u64) + Sync + '_ {
    let shown = std::sync::atomic::AtomicU64::new(0);
    move |bytes| {
        const STEP: u64 = 64 << 20;
        let last = shown.load(std::sync::atomic::Ordering::Relaxed);
        if bytes / STEP > last / STEP {
            shown.store(bytes, std::sync::atomic::Ordering::Relaxed);
            progress.line(&format!("snapshot: {} MB received", bytes >> 20));
        }
    }
}
