//! etcd release tarballs: where they are, what their checksum must be, and a
//! verified cache on the controller.
//!
//! URLs follow the upstream release pages: `{base}/v{X.Y.Z}/etcd-v{X.Y.Z}-linux-{arch}.tar.gz`
//! with `SHA256SUMS` beside it. A file enters the cache only after its digest
//! matched, and is re-hashed whenever it is used.

use crate::inventory::{Release, Version};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("unsupported architecture `{0}` (etcd ships linux amd64, arm64, ppc64le and s390x)")]
    Arch(String),
    #[error("downloading {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("{url}: SHA256SUMS has no line for {file}")]
    NotInSums { url: String, file: String },
    #[error(
        "checksum mismatch for {file}: expected {expected}, got {actual}; nothing was installed"
    )]
    Mismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("release cache {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
    #[error("{file} is not installed: {detail}; nothing was installed")]
    Unsafe { file: String, detail: String },
}

/// The Go architecture name etcd's release files use, from `uname -m`.
pub(crate) fn goarch(uname_m: &str) -> Result<&'static str, ReleaseError> {
    match uname_m.trim() {
        "x86_64" | "amd64" => Ok("amd64"),
        "aarch64" | "arm64" => Ok("arm64"),
        "ppc64le" => Ok("ppc64le"),
        "s390x" => Ok("s390x"),
        other => Err(ReleaseError::Arch(other.to_string())),
    }
}

/// One release file for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub version: Version,
    pub arch: &'static str,
    pub file: String,
    pub url: String,
    pub sums_url: String,
}

impl Artifact {
    pub(crate) fn new(release: &Release, version: Version, arch: &'static str) -> Artifact {
        let base = release.source.base_url();
        let file = format!("etcd-v{version}-linux-{arch}.tar.gz");
        Artifact {
            version,
            arch,
            url: format!("{base}/v{version}/{file}"),
            sums_url: format!("{base}/v{version}/SHA256SUMS"),
            file,
        }
    }
}

/// Finds `file`'s digest in a `SHA256SUMS` text (`<hex>  <name>` lines).
pub(crate) fn digest_from_sums(sums: &str, file: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let digest = parts.next()?;
        let name = parts.next()?.trim_start_matches('*');
        (name == file && digest.len() == 64).then(|| digest.to_ascii_lowercase())
    })
}

/// Fetches and checks release files on the controller.
pub(crate) struct Fetcher {
    release: Release,
    http: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(release: &Release) -> Fetcher {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Fetcher {
            release: release.clone(),
            http,
        }
    }

    fn cache_path(&self, a: &Artifact) -> PathBuf {
        let source: String = self
            .release
            .source
            .base_url()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.release
            .cache_dir
            .join(source)
            .join(format!("v{}", a.version))
            .join(&a.file)
    }

    /// The digest the artifact must have: pinned in the inventory, or from `SHA256SUMS`.
    pub(crate) async fn expected_digest(&self, a: &Artifact) -> Result<String, ReleaseError> {
        if let Some(pinned) = &self.release.sha256 {
            return Ok(pinned.clone());
        }
        let sums = self.get(&a.sums_url).await?;
        let sums = String::from_utf8_lossy(&sums);
        digest_from_sums(&sums, &a.file).ok_or_else(|| ReleaseError::NotInSums {
            url: a.sums_url.clone(),
            file: a.file.clone(),
        })
    }

    /// The verified tarball in the controller's cache (downloaded into it
    /// if missing or no longer matching), with its digest and size. Read and
    /// written through fixed-size buffers: memory stays flat.
    pub(crate) async fn tarball(&self, a: &Artifact) -> Result<Cached, ReleaseError> {
        let expected = self.expected_digest(a).await?;
        let path = self.cache_path(a);
        if let Ok((digest, size)) = digest_of_file(&path)
            && digest == expected
        {
            check_entries(&path).map_err(|detail| ReleaseError::Unsafe {
                file: a.file.clone(),
                detail,
            })?;
            return Ok(Cached { path, digest, size });
        }
        // A cache entry that no longer matches is not trusted: fetch again.
        let _ = std::fs::remove_file(&path);
        let cache_err = |source| ReleaseError::Cache {
            path: path.display().to_string(),
            source,
        };
        let mut file = crate::files::AtomicFile::create(&path, 0o644).map_err(cache_err)?;
        let (actual, size) = self.download(&a.url, &mut file).await?;
        if actual != expected {
            return Err(ReleaseError::Mismatch {
                file: a.file.clone(),
                expected,
                actual,
            });
        }
        file.commit().map_err(cache_err)?;
        check_entries(&path).map_err(|detail| ReleaseError::Unsafe {
            file: a.file.clone(),
            detail,
        })?;
        Ok(Cached {
            path,
            digest: actual,
            size,
        })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, ReleaseError> {
        let mut out = Vec::new();
        self.download(url, &mut out).await?;
        Ok(out)
    }

    /// Streams `url` into `sink`; returns the SHA256 and size of what came.
    async fn download(
        &self,
        url: &str,
        mut sink: impl std::io::Write,
    ) -> Result<(String, u64), ReleaseError> {
        use sha2::{Digest, Sha256};
        let fail = |detail: String| ReleaseError::Download {
            url: url.to_string(),
            detail,
        };
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut put = |chunk: &[u8]| -> Result<(), ReleaseError> {
            hash.update(chunk);
            size += chunk.len() as u64;
            sink.write_all(chunk).map_err(|e| fail(e.to_string()))
        };
        if let Some(path) = url.strip_prefix("file://") {
            let mut written = Ok(());
            crate::files::for_each_piece(std::path::Path::new(path), |p| {
                if written.is_ok() {
                    written = put(p);
                }
            })
            .map_err(|e| fail(e.to_string()))?;
            written?;
        } else {
            let mut resp = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            if !resp.status().is_success() {
                return Err(fail(format!("HTTP {}", resp.status())));
            }
            while let Some(chunk) = resp.chunk().await.map_err(|e| fail(error_chain(&e)))? {
                put(&chunk)?;
            }
        }
        Ok((hex::encode(hash.finalize()), size))
    }
}

/// A verified release tarball in the controller's cache.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) path: PathBuf,
    pub(crate) digest: String,
    pub(crate) size: u64,
}

/// A release tarball is unpacked as root: it may hold only regular files and
/// directories without setuid, setgid or sticky bits, all inside its own top
/// directory (a checksum only says the mirror served what it meant to). Checked once per cached release (a
/// `.entries-ok` marker beside it), with the system's `tar`.
fn check_entries(path: &std::path::Path) -> Result<(), String> {
    let mut marker = path.as_os_str().to_owned();
    // (v2: the modes are checked too.)
    marker.push(".entries-ok-v2");
    let marker = PathBuf::from(marker);
    if marker.exists() {
        return Ok(());
    }
    let out = std::process::Command::new("tar")
        .arg("-tvzf")
        .arg(path)
        .output()
        .map_err(|e| format!("listing it: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "listing it: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let kind = line.chars().next().unwrap_or('?');
        if kind != '-' && kind != 'd' {
            return Err(format!(
                "it holds entries other than files and directories: {}",
                crate::facts::printable(line)
            ));
        }
        // `-rwsr-xr-x`: setuid, setgid or sticky (s, S, t, T) would make a
        // file root unpacks a way to root for anyone who runs it.
        let mode: Vec<char> = line.chars().take(10).collect();
        if [3, 6, 9]
            .iter()
            .any(|&i| mode.get(i).is_some_and(|c| "sStT".contains(*c)))
        {
            return Err(format!(
                "it holds an entry with the setuid, setgid or sticky bit: {}",
                crate::facts::printable(line)
            ));
        }
        let name = line
            .split_whitespace()
            .skip(5)
            .collect::<Vec<_>>()
            .join(" ");
        if name.starts_with('/') || name.split('/').any(|c| c == "..") {
            return Err(format!(
                "it has paths outside its directory: {}",
                crate::facts::printable(&name)
            ));
        }
    }
    let _ = std::fs::write(&marker, b"");
    Ok(())
}

/// SHA256 and size of a file, read in fixed-size pieces.
fn digest_of_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let mut size = 0u64;
    crate::files::for_each_piece(path, |p| {
        hash.update(p);
        size += p.len() as u64;
    })?;
    Ok((hex::encode(hash.finalize()), size))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_digest_in_sums() {
        let sums = format!(
            "{}  etcd-v3.5.1-linux-arm64.tar.gz\n{}  etcd-v3.5.1-linux-amd64.tar.gz\n",
            "a".repeat(64),
            "B".repeat(64)
        );
        assert_eq!(
            digest_from_sums(&sums, "etcd-v3.5.1-linux-amd64.tar.gz"),
            Some("b".repeat(64))
        );
        assert_eq!(
            digest_from_sums(&sums, "etcd-v3.5.2-linux-amd64.tar.gz"),
            None
        );
    }

    #[test]
    fn maps_architectures() {
        assert_eq!(goarch("x86_64\n").ok(), Some("amd64"));
        assert_eq!(goarch("aarch64").ok(), Some("arm64"));
        assert!(goarch("mips").is_err());
    }

    /// Issue 22, finding 4: the controller refuses a release holding a
    /// setuid, setgid or sticky entry before anything reaches a host.
    #[test]
    fn entries_with_special_mode_bits_are_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        let top = t.path().join("etcd-v3.5.1-linux-amd64");
        std::fs::create_dir(&top).expect("mkdir");
        std::fs::write(top.join("etcd"), "#!/bin/sh\n").expect("write");
        let tar = |name: &str| {
            let out = t.path().join(name);
            let ok = std::process::Command::new("tar")
                .arg("-czf")
                .arg(&out)
                .arg("-C")
                .arg(t.path())
                .arg("etcd-v3.5.1-linux-amd64")
                .status()
                .expect("tar");
            assert!(ok.success());
            out
        };
        let plain = tar("plain.tar.gz");
        assert_eq!(check_entries(&plain), Ok(()));
        for (mode, name) in [
            (0o4755, "suid.tar.gz"),
            (0o2755, "sgid.tar.gz"),
            (0o1755, "sticky.tar.gz"),
        ] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(top.join("etcd"), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            let e = check_entries(&tar(name)).expect_err("refused");
            assert!(e.contains("setuid, setgid or sticky"), "{mode:o}: {e}");
        }
    }
}
