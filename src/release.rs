//! etcd release tarballs: where they are, what their checksum must be, and a
//! verified cache on the controller.
//!
//! URLs follow the upstream release pages: `{base}/v{X.Y.Z}/etcd-v{X.Y.Z}-linux-{arch}.tar.gz`
//! with `SHA256SUMS` beside it. A file enters the cache only after its digest
//! matched, and is re-hashed whenever it is used.

use crate::files::sha256_hex;
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

    /// Returns the verified tarball's bytes and digest, from the cache or downloaded.
    pub(crate) async fn tarball(&self, a: &Artifact) -> Result<(Vec<u8>, String), ReleaseError> {
        let expected = self.expected_digest(a).await?;
        let path = self.cache_path(a);
        if let Ok(bytes) = std::fs::read(&path) {
            if sha256_hex(&bytes) == expected {
                return Ok((bytes, expected));
            }
            // A cache entry that no longer matches is not trusted: fetch again.
            let _ = std::fs::remove_file(&path);
        }
        let bytes = self.get(&a.url).await?;
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(ReleaseError::Mismatch {
                file: a.file.clone(),
                expected,
                actual,
            });
        }
        crate::files::write_atomic(&path, &bytes, 0o644).map_err(|source| ReleaseError::Cache {
            path: path.display().to_string(),
            source,
        })?;
        Ok((bytes, expected))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, ReleaseError> {
        let fail = |detail: String| ReleaseError::Download {
            url: url.to_string(),
            detail,
        };
        if let Some(path) = url.strip_prefix("file://") {
            return std::fs::read(path).map_err(|e| fail(e.to_string()));
        }
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        Ok(resp
            .bytes()
            .await
            .map_err(|e| fail(error_chain(&e)))?
            .to_vec())
    }
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
}
