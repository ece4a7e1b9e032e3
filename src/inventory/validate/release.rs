//! `[release]`: where the etcd releases come from (a mirror URL without
//! credentials, a `file://` directory laid out like the release pages) and
//! the controller's cache.

use super::*;

pub(super) fn build_release(cx: &Ctx, raw: &RawInventory) -> Result<Release, InventoryError> {
    let r = &raw.release;
    let source = match &r.source {
        None => ReleaseSource::Github,
        Some(s) => match s.get_ref().as_str() {
            "github" => ReleaseSource::Github,
            "google" => ReleaseSource::Google,
            url if url.starts_with("http://") || url.starts_with("https://") => {
                if url_has_credentials(url) {
                    return Err(cx.field(
                        s,
                        "release.source",
                        "a mirror URL with a user or password would show them in logs, plans and the hosts' process lists; serve the mirror without them (on a private network, or behind a proxy that adds them)",
                    ));
                }
                let name = url_host_name(url);
                if !valid_address(name) {
                    return Err(cx.field(
                        s,
                        "release.source",
                        format!("`{}`: the mirror URL names no host", shown(url)),
                    ));
                }
                ReleaseSource::Mirror(url.to_string())
            }
            url if url.starts_with("file://") => {
                let dir = Path::new(&url["file://".len()..]);
                if !dir.is_absolute() || !dir.is_dir() || !holds_releases(dir) {
                    return Err(cx.field(
                        s,
                        "release.source",
                        format!(
                            "`{}`: a file:// mirror must be a directory laid out like the release pages (a vX.Y.Z directory per release)",
                            shown(url)
                        ),
                    ));
                }
                ReleaseSource::Mirror(url.to_string())
            }
            other => {
                return Err(cx.field(
                    s,
                    "release.source",
                    format!(
                        "`{}`: expected \"github\", \"google\" or a mirror URL (http://, https://, file://)",
                        shown(other)
                    ),
                ));
            }
        },
    };
    let fetch = cx.choice(
        r.fetch.as_ref(),
        "release.fetch",
        FetchMode::Controller,
        &[
            ("controller", FetchMode::Controller),
            ("host", FetchMode::Host),
        ],
    )?;
    if let Some(f) = &r.fetch
        && fetch == FetchMode::Host
        && matches!(&source, ReleaseSource::Mirror(u) if u.starts_with("file://"))
    {
        return Err(cx.field(
            f,
            "release.fetch",
            "a file:// mirror is only on the controller; use fetch = \"controller\"",
        ));
    }
    let sha256 = match &r.sha256 {
        Some(s) => {
            let v = s.get_ref().to_ascii_lowercase();
            if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(cx.field(s, "release.sha256", "expected 64 hex digits"));
            }
            Some(v)
        }
        None => None,
    };
    let cache_dir = match &r.cache_dir {
        Some(d) => relative_to(cx.path, d),
        None => default_cache_dir(),
    };
    Ok(Release {
        source,
        fetch,
        sha256,
        cache_dir,
    })
}

pub(super) fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("etcd-deploy");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/etcd-deploy"),
        None => PathBuf::from("/tmp/etcd-deploy-cache"),
    }
}

/// The host a mirror URL names (`http://user@[::1]:8080/x` → `::1`).
/// The URL's authority names a user (and maybe a password): `user@host`.
pub(super) fn url_has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

/// A directory laid out like the release pages holds `vX.Y.Z` directories.
pub(super) fn holds_releases(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix('v').and_then(Version::parse).is_some() && e.path().is_dir()
        })
    })
}

pub(super) fn url_host_name(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    }
}
