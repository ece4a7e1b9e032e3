//! Turns a parsed inventory into a validated `Inventory`, or an error that
//! names file, line, column and field. Runs before any SSH connection.

use super::path_rule::{self, Verdict, within};
use super::raw::{RawEtcd, RawHost, RawInventory, RawSsh};
use super::*;
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

/// An inventory that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct InventoryError {
    pub path: PathBuf,
    /// 1-based line and column, when the error points into the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl InventoryError {
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        InventoryError {
            path: path.to_path_buf(),
            position: None,
            message: format!("cannot read the inventory: {err}"),
        }
    }
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> InventoryError {
        InventoryError {
            path: self.path.to_path_buf(),
            position: Some(line_col(self.text, span.start)),
            message: message.into(),
        }
    }
    fn field<T>(
        &self,
        value: &Spanned<T>,
        field: &str,
        message: impl fmt::Display,
    ) -> InventoryError {
        self.at(value.span(), format!("{field}: {message}"))
    }

    /// One of a few words (`default` when unset), or an error listing them.
    fn choice<T: Copy>(
        &self,
        value: Option<&Spanned<String>>,
        field: &str,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, InventoryError> {
        let Some(v) = value else { return Ok(default) };
        match options.iter().find(|(word, _)| *word == v.get_ref()) {
            Some((_, t)) => Ok(*t),
            None => {
                let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
                Err(self.field(
                    v,
                    field,
                    format!(
                        "`{}`: expected one of {}",
                        shown(v.get_ref()),
                        words.join(", ")
                    ),
                ))
            }
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

/// Parses and validates inventory text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
    let cx = Ctx { path, text };
    let raw: RawInventory = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        match e.span() {
            Some(span) => cx.at(span, message),
            None => InventoryError {
                path: path.to_path_buf(),
                position: None,
                message,
            },
        }
    })?;
    build(&cx, raw)
}

fn build(cx: &Ctx, raw: RawInventory) -> Result<Inventory, InventoryError> {
    let c = &raw.cluster;
    check_name(cx, &c.name, "cluster.name")?;
    let version = Some(c.version.get_ref())
        .filter(|v| !v.starts_with('v'))
        .and_then(|v| Version::parse(v))
        .ok_or_else(|| {
            cx.field(
                &c.version,
                "cluster.version",
                format!(
                    "`{}` is not a release version like 3.5.17",
                    shown(c.version.get_ref())
                ),
            )
        })?;
    if version.major != 3 || version.minor < 4 {
        return Err(cx.field(
            &c.version,
            "cluster.version",
            format!("etcd {version} is not supported; use 3.4 or later"),
        ));
    }
    let install_dir = abs_path(
        cx,
        c.install_dir.as_ref(),
        "cluster.install_dir",
        "/opt/etcd",
        DirUse::Other,
    )?;
    let data_dir = abs_path(
        cx,
        c.data_dir.as_ref(),
        "cluster.data_dir",
        "/var/lib/etcd",
        DirUse::Data,
    )?;
    let client_port = etcd_port(cx, c.client_port.as_ref(), "cluster.client_port", 2379)?;
    let peer_port = etcd_port(cx, c.peer_port.as_ref(), "cluster.peer_port", 2380)?;
    let access = cx.choice(
        c.access.as_ref(),
        "cluster.access",
        Access::Auto,
        &[
            ("auto", Access::Auto),
            ("direct", Access::Direct),
            ("tunnel", Access::Tunnel),
        ],
    )?;
    let token = match &c.token {
        Some(t) if t.get_ref().trim().is_empty() => {
            return Err(cx.field(t, "cluster.token", "must not be empty"));
        }
        Some(t) => t.get_ref().clone(),
        None => format!("etcd-deploy-{}", c.name.get_ref()),
    };
    let cluster = Cluster {
        name: c.name.get_ref().clone(),
        version,
        token,
        install_dir,
        templates_dir: match &c.templates_dir {
            None => None,
            Some(d) => {
                let dir = relative_to(cx.path, d.get_ref());
                if !dir.is_dir() {
                    return Err(cx.field(
                        d,
                        "cluster.templates_dir",
                        format!("{} is not a directory", shown(&dir.display().to_string())),
                    ));
                }
                // etcd's config file is data now (member_config.rs); an
                // override would silently stop applying, so say so.
                if dir.join("etcd.conf.yml.j2").exists() {
                    return Err(cx.field(
                        d,
                        "cluster.templates_dir",
                        "etcd.conf.yml.j2 is no longer read: etcd-deploy writes etcd's config file itself; put etcd settings under [etcd.extra] and remove the file",
                    ));
                }
                Some(dir)
            }
        },
        access,
    };

    let release = build_release(cx, &raw)?;
    #[derive(Clone, Copy, PartialEq)]
    enum Tls {
        Off,
        Generate,
        Provided,
    }
    let mode = cx.choice(
        raw.tls.mode.as_ref(),
        "tls.mode",
        Tls::Off,
        &[
            ("off", Tls::Off),
            ("generate", Tls::Generate),
            ("provided", Tls::Provided),
        ],
    )?;
    let dir = raw
        .tls
        .dir
        .as_ref()
        .map(|d| relative_to(cx.path, d.get_ref()));
    let tls = match (mode, dir, &raw.tls.mode) {
        (Tls::Off, dir, _) => TlsMode::Off { dir },
        (Tls::Generate, dir, _) => TlsMode::Generate {
            dir: dir.unwrap_or_else(|| relative_to(cx.path, "pki")),
            renew_before_days: match &raw.tls.renew_before_days {
                None => 30,
                Some(d) if *d.get_ref() == 0 || *d.get_ref() >= LEAF_CERT_DAYS => {
                    return Err(cx.field(
                        d,
                        "tls.renew_before_days",
                        format!(
                            "between 1 and {} (certificates are issued for {} days)",
                            LEAF_CERT_DAYS - 1,
                            LEAF_CERT_DAYS
                        ),
                    ));
                }
                Some(d) => *d.get_ref(),
            },
        },
        (Tls::Provided, Some(dir), _) => TlsMode::Provided { dir },
        (Tls::Provided, None, Some(m)) => {
            return Err(cx.field(
                m,
                "tls.dir",
                "provided certificates need a directory (tls.dir)",
            ));
        }
        (Tls::Provided, None, None) => {
            return Err(cx.at(0..0, "tls.dir: provided certificates need a directory"));
        }
    };
    let base_settings = build_settings(cx, &raw.etcd, None, version)?;
    let base_runtime = RuntimeSpec {
        mode: mode_of(cx, c.mode.as_ref(), "cluster.mode", Mode::Systemd)?,
        image: c.image.as_ref(),
    };

    if raw.hosts.get_ref().is_empty() {
        return Err(cx.at(
            raw.hosts.span(),
            "hosts: the host list is empty; add at least one [[hosts]] entry",
        ));
    }
    let mut members = Vec::new();
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut addrs: HashMap<(String, u16), String> = HashMap::new();
    for (i, h) in raw.hosts.get_ref().iter().enumerate() {
        let field = |f: &str| format!("hosts[{i}].{f}");
        check_name(cx, &h.name, &field("name"))?;
        if let Some(first) = names.get(h.name.get_ref()) {
            let (line, _) = line_col(cx.text, first.start);
            return Err(cx.field(
                &h.name,
                &field("name"),
                format!(
                    "`{}` is already used by the host on line {line}",
                    h.name.get_ref()
                ),
            ));
        }
        names.insert(h.name.get_ref().clone(), h.name.span());
        let mut member = build_member(
            cx,
            &raw,
            h,
            i,
            &data_dir,
            client_port,
            peer_port,
            &base_settings,
            version,
        )?;
        member.tls = tls.enabled();
        member.runtime = build_runtime(cx, h, i, &base_runtime)?;
        if member.compose().is_some() && h.data_dir.is_none() {
            // One bind-mounted directory per member under the data directory.
            member.data_dir = format!("{}/{}", data_dir.trim_end_matches('/'), member.name);
        }
        if let Some(other) = members.iter().find(|m: &&Member| {
            m.same_host(&member) && m.compose().is_some() != member.compose().is_some()
        }) {
            let span = h.mode.as_ref().unwrap_or(&h.address).span();
            return Err(cx.at(
                span,
                format!(
                    "{}: `{}` on the same host runs in {} mode; members sharing a host use one mode",
                    field("mode"),
                    other.name,
                    if other.compose().is_some() { "compose" } else { "systemd" }
                ),
            ));
        }
        let metrics = match (&h.metrics_port, &c.metrics_port) {
            (Some(p), _) => Some((p, field("metrics_port"))),
            (None, Some(p)) => Some((p, "cluster.metrics_port".to_string())),
            (None, None) => None,
        };
        if let Some((p, name)) = metrics {
            let n = etcd_port(cx, Some(p), &name, 0)?;
            if n == member.client_port || n == member.peer_port {
                return Err(cx.field(
                    p,
                    &name,
                    format!("{n} is also {}'s client or peer port", member.name),
                ));
            }
            if member.settings.extra.contains_key("listen-metrics-urls") {
                return Err(cx.field(
                    p,
                    &name,
                    format!(
                        "{}: listen-metrics-urls is also set in etcd.extra; keep one of the two",
                        member.name
                    ),
                ));
            }
            member.metrics_port = Some(n);
        }
        let ports = [
            Some((member.client_port, "client_port")),
            Some((member.peer_port, "peer_port")),
            member.metrics_port.map(|p| (p, "metrics_port")),
        ];
        for (port, what) in ports.into_iter().flatten() {
            if let Some(other) = addrs.insert((member.advertise.clone(), port), member.name.clone())
            {
                let span = h.advertise.as_ref().unwrap_or(&h.address).span();
                return Err(cx.at(
                    span,
                    format!(
                        "{}: {}:{port} ({what}) is already used by host `{other}`",
                        field("address"),
                        member.advertise
                    ),
                ));
            }
        }
        // Several members may share a host (instance units), each with its
        // own data; no directory etcd-deploy manages contains another.
        if let Some(clash) = nested_dirs(&cluster.install_dir, &members, &member) {
            let span = h.data_dir.as_ref().unwrap_or(&h.address).span();
            return Err(cx.at(span, format!("{}: {clash}", field("data_dir"))));
        }
        members.push(member);
    }
    assign_networks(cx, &raw, &mut members)?;

    let mut warnings = Vec::new();
    let n = members.len();
    if n % 2 == 0 {
        let tolerated = (n - 1) / 2;
        warnings.push(format!(
            "{n} members tolerate {tolerated} failure{}, the same as {}: the extra member adds load and no fault tolerance; consider {} or {}",
            if tolerated == 1 { "" } else { "s" },
            n - 1,
            n - 1,
            n + 1
        ));
    }
    let backup = build_backup(cx, &raw, &members)?;
    Ok(Inventory {
        path: cx.path.to_path_buf(),
        cluster,
        release,
        tls,
        backup,
        members,
        warnings,
    })
}

/// Why the directories of `member` (data, a separate WAL) clash with the
/// install directory or with those of the members before it on its host:
/// one contains another (destroy removes the releases, --wipe-data a
/// member's data, a restore moves a data directory aside).
fn nested_dirs(install_dir: &str, before: &[Member], member: &Member) -> Option<String> {
    let own: Vec<(&str, &str)> = std::iter::once(("data directory", member.data_dir.as_str()))
        .chain(member.separate_wal_dir().map(|w| ("wal-dir", w)))
        .collect();
    for (what, d) in &own {
        if within(d, install_dir) || within(install_dir, d) {
            return Some(format!(
                "its {what} {d} and install_dir {install_dir} must not contain one another"
            ));
        }
    }
    for m in before.iter().filter(|m| m.same_host(member)) {
        let theirs = std::iter::once(m.data_dir.as_str()).chain(m.separate_wal_dir());
        for t in theirs {
            if let Some((what, d)) = own.iter().find(|(_, d)| within(d, t) || within(t, d)) {
                return Some(format!(
                    "its {what} {d} and {t} of `{}` on the same host must not contain one another; members sharing a host need their own directories",
                    m.name
                ));
            }
        }
    }
    None
}

/// `[backup]`: a schedule systemd reads (`OnCalendar=`: letters, digits and
/// `*:-/.,~ ` only, so it stays one value of one line), a count to keep, a
/// directory of its own on each host (not inside a data directory).
fn build_backup(
    cx: &Ctx,
    raw: &RawInventory,
    members: &[Member],
) -> Result<Option<Backup>, InventoryError> {
    let Some(b) = &raw.backup else {
        return Ok(None);
    };
    // The job runs the release's etcdctl on the host; a registry image
    // leaves no release there (and its image has no shell to schedule in).
    if let Some(m) = members
        .iter()
        .find(|m| matches!(m.compose(), Some(c) if matches!(c.image, Image::Registry(_))))
    {
        return Err(cx.at(
            b.span(),
            format!(
                "backup: {} runs a registry image, and scheduled snapshots run the release's etcdctl on the host (a systemd timer): set image = \"release\" for compose members, or take snapshots with `etcd-deploy snapshot save` (e.g. from cron on the controller)",
                m.name
            ),
        ));
    }
    let schedule = match &b.get_ref().schedule {
        None => "hourly".to_string(),
        Some(s) => {
            let v = s.get_ref();
            let ok = !v.trim().is_empty()
                && v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " *:-/.,~".contains(c));
            if !ok {
                return Err(cx.field(
                    s,
                    "backup.schedule",
                    format!(
                        "`{}` is not a systemd calendar expression (e.g. \"hourly\", \"*-*-* 02:30:00\", \"*:0/15\")",
                        shown(v)
                    ),
                ));
            }
            v.trim().to_string()
        }
    };
    let keep = match &b.get_ref().keep {
        None => 24,
        Some(k) if *k.get_ref() == 0 => {
            return Err(cx.field(k, "backup.keep", "keep at least 1 snapshot"));
        }
        Some(k) => *k.get_ref(),
    };
    let dir = abs_path(
        cx,
        b.get_ref().dir.as_ref(),
        "backup.dir",
        "/var/backups/etcd",
        DirUse::Other,
    )?;
    for m in members {
        let theirs = std::iter::once(("data directory", m.data_dir.as_str()))
            .chain(m.separate_wal_dir().map(|w| ("wal-dir", w)));
        if let Some((what, d)) = theirs
            .into_iter()
            .find(|(_, d)| within(&dir, d) || within(d, &dir))
        {
            let span = b.get_ref().dir.as_ref().map_or(b.span(), |d| d.span());
            return Err(cx.at(
                span,
                format!(
                    "backup.dir: `{dir}` and {}'s {what} `{d}` must not contain one another (a restore moves data directories aside)",
                    m.name
                ),
            ));
        }
    }
    Ok(Some(Backup {
        schedule,
        keep,
        dir,
    }))
}

fn build_release(cx: &Ctx, raw: &RawInventory) -> Result<Release, InventoryError> {
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

fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("etcd-deploy");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/etcd-deploy"),
        None => PathBuf::from("/tmp/etcd-deploy-cache"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Systemd,
    Compose,
}

/// The cluster-wide mode and image, which hosts may override.
struct RuntimeSpec<'a> {
    mode: Mode,
    image: Option<&'a Spanned<String>>,
}

fn mode_of(
    cx: &Ctx,
    v: Option<&Spanned<String>>,
    field: &str,
    default: Mode,
) -> Result<Mode, InventoryError> {
    cx.choice(
        v,
        field,
        default,
        &[("systemd", Mode::Systemd), ("compose", Mode::Compose)],
    )
}

fn build_runtime(
    cx: &Ctx,
    h: &RawHost,
    i: usize,
    base: &RuntimeSpec,
) -> Result<Runtime, InventoryError> {
    let field = |f: &str| format!("hosts[{i}].{f}");
    let mode = mode_of(cx, h.mode.as_ref(), &field("mode"), base.mode)?;
    let (image, image_field) = match &h.image {
        Some(img) => (Some(img), field("image")),
        None => (base.image, "cluster.image".to_string()),
    };
    if mode == Mode::Systemd {
        return match image {
            Some(img) => Err(cx.field(
                img,
                &image_field,
                "an image is only used in compose mode (mode = \"compose\")",
            )),
            None => Ok(Runtime::Systemd),
        };
    }
    let image = match image {
        None => Image::Registry(OFFICIAL_IMAGE.to_string()),
        Some(img) if img.get_ref() == "release" => Image::Release,
        Some(img) => {
            let v = img.get_ref();
            // Passed to docker as an argument: never something it reads as an option.
            if v.is_empty()
                || v.starts_with('-')
                || v.contains(char::is_whitespace)
                || !v.contains("{version}")
            {
                return Err(cx.field(
                    img,
                    &image_field,
                    format!(
                        "`{v}`: expected \"release\" (built on the host from the release tarball) or an image reference with {{version}} where the version goes, like \"{OFFICIAL_IMAGE}\""
                    ),
                ));
            }
            Image::Registry(v.clone())
        }
    };
    // The network is decided once every member is known (`assign_networks`).
    Ok(Runtime::Compose(Compose {
        image,
        network: Network::Host,
    }))
}

/// Compose members that share a host get a bridge of their own; when that host
/// runs the whole cluster, peers reach each other by container name.
fn assign_networks(
    cx: &Ctx,
    raw: &RawInventory,
    members: &mut [Member],
) -> Result<(), InventoryError> {
    let sharing: Vec<usize> = members
        .iter()
        .map(|m| members.iter().filter(|o| o.same_host(m)).count())
        .collect();
    let total = members.len();
    for (i, m) in members.iter_mut().enumerate() {
        let (sharing, whole_cluster) = (sharing[i], sharing[i] == total);
        let Runtime::Compose(c) = &mut m.runtime else {
            continue;
        };
        if sharing < 2 {
            continue;
        }
        c.network = Network::Bridge {
            peers_by_name: whole_cluster,
        };
        let h = &raw.hosts.get_ref()[i];
        if let Some(p) = m.metrics_port {
            // Its port would have to be published from the bridge too.
            let span = h
                .metrics_port
                .as_ref()
                .or(raw.cluster.metrics_port.as_ref())
                .map_or(h.address.span(), |s| s.span());
            return Err(cx.at(
                span,
                format!(
                    "metrics_port {p}: {} shares its host with other compose members (a bridge network), where etcd-deploy does not publish a metrics port yet; use systemd mode there, or one compose member per host",
                    m.name
                ),
            ));
        }
        if !whole_cluster && is_loopback(&m.advertise) {
            let span = h.advertise.as_ref().unwrap_or(&h.address).span();
            return Err(cx.at(
                span,
                format!(
                    "hosts[{i}].advertise: {} is a loopback address, which containers on the bridge of a shared host cannot reach for peers on other hosts; advertise an address of the host's network, or run every member on this host",
                    m.advertise
                ),
            ));
        }
    }
    Ok(())
}

fn is_loopback(addr: &str) -> bool {
    addr == "localhost"
        || addr
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[allow(clippy::too_many_arguments)]
fn build_member(
    cx: &Ctx,
    raw: &RawInventory,
    h: &RawHost,
    i: usize,
    data_dir: &str,
    client_port: u16,
    peer_port: u16,
    base: &EtcdSettings,
    version: Version,
) -> Result<Member, InventoryError> {
    let field = |f: &str| format!("hosts[{i}].{f}");
    let address = h.address.get_ref().as_str();
    if !valid_address(address) {
        return Err(cx.field(
            &h.address,
            &field("address"),
            format!(
                "`{}` is not a host name or IP address (letters, digits, '-' and '.', not starting with '-')",
                shown(address)
            ),
        ));
    }
    let advertise = match &h.advertise {
        Some(a) if !valid_address(a.get_ref()) => {
            return Err(cx.field(
                a,
                &field("advertise"),
                format!("`{}` is not a host name or IP address", shown(a.get_ref())),
            ));
        }
        Some(a) => a.get_ref().clone(),
        None => address.to_string(),
    };
    let client_port = etcd_port(
        cx,
        h.client_port.as_ref(),
        &field("client_port"),
        client_port,
    )?;
    let peer_port = etcd_port(cx, h.peer_port.as_ref(), &field("peer_port"), peer_port)?;
    if client_port == peer_port {
        let span = h
            .peer_port
            .as_ref()
            .map(|p| p.span())
            .unwrap_or(h.name.span());
        return Err(cx.at(
            span,
            format!(
                "{}: client and peer port are both {client_port}",
                field("peer_port")
            ),
        ));
    }
    let data_dir = abs_path(
        cx,
        h.data_dir.as_ref(),
        &field("data_dir"),
        data_dir,
        DirUse::Data,
    )?;
    let ssh = merge_ssh(&raw.ssh, &h.ssh);
    let ssh_port = match &ssh.port {
        Some(p) => Some(port(cx, Some(p), "ssh.port", 22)?),
        None => None,
    };
    if let Some(u) = &ssh.user
        && !valid_user(u.get_ref())
    {
        return Err(cx.field(
            u,
            "ssh.user",
            format!("`{}` is not a user name", shown(u.get_ref())),
        ));
    }
    let identity_file = match &ssh.identity_file {
        Some(f) => {
            let p = relative_to(cx.path, f.get_ref());
            if !p.is_file() {
                return Err(cx.field(
                    f,
                    "ssh.identity_file",
                    format!("{} is not a file", shown(&p.display().to_string())),
                ));
            }
            Some(p)
        }
        None => None,
    };
    let host_key_policy = cx.choice(
        ssh.host_key_policy.as_ref(),
        "ssh.host_key_policy",
        HostKeyPolicy::AcceptNew,
        &[
            ("strict", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::AcceptNew),
            ("off", HostKeyPolicy::Off),
        ],
    )?;
    let settings = match &h.etcd {
        Some(e) => build_settings(cx, e, Some(base), version)?,
        None => base.clone(),
    };
    // A known_hosts file ssh cannot use turns host-key checking off without a
    // word: refused unless checking is off on purpose.
    let known_hosts_file = match &ssh.known_hosts_file {
        Some(f) => {
            let p = relative_to(cx.path, f.get_ref());
            if host_key_policy != HostKeyPolicy::Off
                && let Some(why) = unusable_known_hosts(&p)
            {
                return Err(cx.field(
                    f,
                    "ssh.known_hosts_file",
                    format!(
                        "{} {why}; host keys would go unchecked (host_key_policy = \"off\" says so on purpose)",
                        shown(&p.display().to_string())
                    ),
                ));
            }
            Some(p)
        }
        None => None,
    };
    let connect_timeout_secs = match &ssh.connect_timeout_secs {
        None => 10,
        Some(t) if (1..=300).contains(t.get_ref()) => *t.get_ref(),
        Some(t) => {
            return Err(cx.field(t, "ssh.connect_timeout_secs", "takes 1 to 300 seconds"));
        }
    };
    Ok(Member {
        name: h.name.get_ref().clone(),
        ssh: SshTarget {
            address: address.to_string(),
            user: ssh.user.as_ref().map(|u| u.get_ref().clone()),
            port: ssh_port,
            identity_file,
            become_root: ssh.become_root.unwrap_or(false),
            host_key_policy,
            known_hosts_file,
            connect_timeout_secs,
        },
        advertise,
        client_port,
        peer_port,
        metrics_port: None,
        data_dir,
        settings,
        tls: false,
        runtime: Runtime::Systemd,
    })
}

fn merge_ssh(base: &RawSsh, host: &RawSsh) -> RawSsh {
    RawSsh {
        user: host.user.clone().or_else(|| base.user.clone()),
        port: host.port.clone().or_else(|| base.port.clone()),
        identity_file: host
            .identity_file
            .clone()
            .or_else(|| base.identity_file.clone()),
        become_root: host.become_root.or(base.become_root),
        host_key_policy: host
            .host_key_policy
            .clone()
            .or_else(|| base.host_key_policy.clone()),
        known_hosts_file: host
            .known_hosts_file
            .clone()
            .or_else(|| base.known_hosts_file.clone()),
        connect_timeout_secs: host
            .connect_timeout_secs
            .clone()
            .or_else(|| base.connect_timeout_secs.clone()),
    }
}

/// Why ssh cannot keep host keys in `p`: it must be a regular file (a
/// device like /dev/null, a pseudo file like /proc/version or a directory
/// drops every key), or not exist yet in an existing directory (accept-new
/// makes it).
fn unusable_known_hosts(p: &Path) -> Option<&'static str> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() && !p.starts_with("/proc") && !p.starts_with("/sys") => None,
        Ok(_) => Some("is not a regular file"),
        Err(_) if p.parent().is_some_and(Path::is_dir) => None,
        Err(_) => Some("cannot be used (its directory must exist)"),
    }
}

/// Builds settings from `raw`, each unset field taken from `base` (or etcd's default).
fn build_settings(
    cx: &Ctx,
    raw: &RawEtcd,
    base: Option<&EtcdSettings>,
    version: Version,
) -> Result<EtcdSettings, InventoryError> {
    let heartbeat = raw
        .heartbeat_interval_ms
        .as_ref()
        .map(|h| *h.get_ref())
        .or(base.map(|b| b.heartbeat_interval_ms))
        .unwrap_or(100);
    let election = raw
        .election_timeout_ms
        .as_ref()
        .map(|e| *e.get_ref())
        .or(base.map(|b| b.election_timeout_ms))
        .unwrap_or(1000);
    // Where to point: the field set here, else the one set in [etcd].
    let at = |f: Option<&Spanned<u32>>| f.map_or(0..0, |v| v.span());
    let span = raw
        .election_timeout_ms
        .as_ref()
        .or(raw.heartbeat_interval_ms.as_ref());
    if heartbeat == 0 {
        return Err(cx.at(
            at(raw.heartbeat_interval_ms.as_ref()),
            "etcd.heartbeat_interval_ms: must be at least 1",
        ));
    }
    // etcd refuses to start with more (its own limit).
    if election > 50_000 {
        return Err(cx.at(
            at(raw.election_timeout_ms.as_ref()),
            format!("etcd.election_timeout_ms: {election} is above etcd's maximum of 50000"),
        ));
    }
    if u64::from(election) < u64::from(heartbeat) * 5 {
        return Err(cx.at(
            at(span),
            format!(
                "etcd.election_timeout_ms ({election}) must be at least 5 times etcd.heartbeat_interval_ms ({heartbeat})"
            ),
        ));
    }
    let auto_compaction_mode = match &raw.auto_compaction_mode {
        Some(m) if !matches!(m.get_ref().as_str(), "periodic" | "revision") => {
            return Err(cx.field(
                m,
                "etcd.auto_compaction_mode",
                format!(
                    "`{}`: expected \"periodic\" or \"revision\"",
                    shown(m.get_ref())
                ),
            ));
        }
        Some(m) => Some(m.get_ref().clone()),
        None => base.and_then(|b| b.auto_compaction_mode.clone()),
    };
    let auto_compaction_retention = match &raw.auto_compaction_retention {
        Some(r) if !valid_retention(r.get_ref()) => {
            return Err(cx.field(
                r,
                "etcd.auto_compaction_retention",
                format!(
                    "`{}`: expected a number (hours, or revisions in revision mode) or a duration like \"1h\" or \"30m\"",
                    shown(r.get_ref())
                ),
            ));
        }
        Some(r) => Some(r.get_ref().clone()),
        None => base.and_then(|b| b.auto_compaction_retention.clone()),
    };
    let log_level = match &raw.log_level {
        Some(l)
            if !matches!(
                l.get_ref().as_str(),
                "debug" | "info" | "warn" | "error" | "panic" | "fatal"
            ) =>
        {
            return Err(cx.field(
                l,
                "etcd.log_level",
                format!(
                    "`{}`: expected debug, info, warn, error, panic or fatal",
                    l.get_ref()
                ),
            ));
        }
        Some(l) => l.get_ref().clone(),
        None => base.map_or_else(|| "info".to_string(), |b| b.log_level.clone()),
    };
    let mut extra = base.map(|b| b.extra.clone()).unwrap_or_default();
    if let Some(table) = &raw.extra {
        for k in table.get_ref().keys() {
            // etcd's config keys are lowercase words joined by '-'; anything
            // else could not be one (and a newline would add YAML lines).
            let plain = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && k.as_bytes()[0].is_ascii_lowercase();
            let normal = k.trim().to_ascii_lowercase().replace('_', "-");
            if MANAGED_KEYS.contains(&normal.as_str()) {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!(
                        "`{}` is set by etcd-deploy itself; use the inventory's own field for it",
                        shown(k)
                    ),
                ));
            }
            if let Some((_, instead)) = REFUSED_KEYS
                .iter()
                .find(|(key, _)| normal == *key || (key.ends_with('-') && normal.starts_with(key)))
            {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!("`{}` is not set through the inventory: {instead}", shown(k)),
                ));
            }
            if !plain {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!(
                        "`{}` is not an etcd config key (lowercase words joined by '-', like max-request-bytes)",
                        shown(k)
                    ),
                ));
            }
            check_extra(cx, table, k, &table.get_ref()[k], version)?;
        }
        extra.extend(table.get_ref().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(EtcdSettings {
        heartbeat_interval_ms: heartbeat,
        election_timeout_ms: election,
        snapshot_count: raw.snapshot_count.or(base.and_then(|b| b.snapshot_count)),
        quota_backend_bytes: raw
            .quota_backend_bytes
            .or(base.and_then(|b| b.quota_backend_bytes)),
        auto_compaction_mode,
        auto_compaction_retention,
        log_level,
        extra,
    })
}

/// Config-file keys the templates write from the inventory's own fields.
const MANAGED_KEYS: [&str; 18] = [
    "name",
    "data-dir",
    "listen-peer-urls",
    "listen-client-urls",
    "initial-advertise-peer-urls",
    "advertise-client-urls",
    "heartbeat-interval",
    "election-timeout",
    "snapshot-count",
    "quota-backend-bytes",
    "auto-compaction-mode",
    "auto-compaction-retention",
    "logger",
    "log-level",
    "log-outputs",
    "initial-cluster",
    "initial-cluster-token",
    "initial-cluster-state",
];

/// Settings only a recovery or a test should set, and what does the job
/// safely (a key ending in `-` refuses every key it begins).
const REFUSED_KEYS: [(&str, &str); 4] = [
    (
        "force-new-cluster",
        "a member that keeps it makes a one-member cluster of itself at every restart; `etcd-deploy recover` uses it once and takes it out again",
    ),
    (
        "unsafe-",
        "etcd's unsafe settings (no fsync) lose acknowledged writes when a host loses power",
    ),
    (
        "discovery",
        "the members are the inventory's hosts; etcd-deploy writes initial-cluster itself",
    ),
    (
        "discovery-",
        "the members are the inventory's hosts; etcd-deploy writes initial-cluster itself",
    ),
];

/// etcd member and cluster names end up in URLs, unit names and file names.
fn check_name(cx: &Ctx, name: &Spanned<String>, field: &str) -> Result<(), InventoryError> {
    let n = name.get_ref();
    if valid_name(n) {
        Ok(())
    } else {
        Err(cx.field(
            name,
            field,
            format!(
                "`{}` is not a valid name: use letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63 characters",
                shown(n)
            ),
        ))
    }
}

/// What a managed directory is for: only a data directory may lie outside
/// the dedicated roots (where a hand-made cluster keeps its data).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DirUse {
    Data,
    Other,
}

fn abs_path(
    cx: &Ctx,
    value: Option<&Spanned<String>>,
    field: &str,
    default: &str,
    dir_use: DirUse,
) -> Result<String, InventoryError> {
    match value {
        None => Ok(default.to_string()),
        Some(v) => {
            let p = v.get_ref();
            if !plain_abs_path(p) {
                return Err(cx.field(
                    v,
                    field,
                    format!(
                        "`{}` must be an absolute path of letters, digits and / . _ - + @ (no spaces, `%`, quotes, `.` or `..` parts)",
                        shown(p)
                    ),
                ));
            }
            let p = p.trim_end_matches('/');
            let why = match path_rule::verdict(p) {
                Verdict::Dedicated => None,
                Verdict::EtcdsOnly if dir_use == DirUse::Data => None,
                Verdict::EtcdsOnly => Some(format!("not below {}", path_rule::ROOTS.join(", "))),
                Verdict::Never(why) => Some(why.to_string()),
            };
            if let Some(why) = why {
                return Err(cx.field(
                    v,
                    field,
                    format!("`{}` is {why}: etcd-deploy takes a directory it manages over (owner, mode) and destroy removes what it put there; use a directory of its own below {} (like /var/lib/etcd, /opt/etcd, /srv/etcd), see docs/security.md", shown(p), path_rule::ROOTS.join(", ")),
                ));
            }
            Ok(p.to_string())
        }
    }
}

/// An absolute path that needs no quoting anywhere it goes (shell, YAML,
/// systemd), with no `.` or `..` parts.
pub fn plain_abs_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 255
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@".contains(&b))
        && !p.contains("//")
        && !p.split('/').any(|c| c == ".." || c == ".")
}

/// Paths in the inventory are relative to the inventory file; `~/` is the home directory.
fn relative_to(inventory: &Path, p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        inventory.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// A value shown in an error message: control characters escaped, long
/// values cut (a 10 MB name is not echoed whole).
fn shown(v: &str) -> String {
    let mut out: String = v.chars().take(64).flat_map(char::escape_debug).collect();
    if v.chars().count() > 64 {
        out.push('…');
    }
    out
}

fn port(
    cx: &Ctx,
    v: Option<&Spanned<u16>>,
    field: &str,
    default: u16,
) -> Result<u16, InventoryError> {
    match v {
        None => Ok(default),
        Some(p) if *p.get_ref() == 0 => Err(cx.field(p, field, "port 0 is not a port")),
        Some(p) => Ok(*p.get_ref()),
    }
}

/// A port etcd listens on: it runs as the etcd user without capabilities,
/// so never below 1024 (where sshd and other system services listen).
fn etcd_port(
    cx: &Ctx,
    v: Option<&Spanned<u16>>,
    field: &str,
    default: u16,
) -> Result<u16, InventoryError> {
    let n = port(cx, v, field, default)?;
    match v {
        Some(p) if n < 1024 => Err(cx.field(
            p,
            field,
            format!("{n} is a privileged port: etcd runs as the unprivileged etcd user, so use a port from 1024 up (etcd's own are 2379 and 2380)"),
        )),
        _ => Ok(n),
    }
}

/// A user name ssh can be given: no option, no `@`, no spaces.
fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-$".contains(&b))
        && !u.starts_with('-')
}

/// etcd's auto-compaction-retention: a number, or a Go duration (`1h30m`).
fn valid_retention(r: &str) -> bool {
    if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let mut rest = r;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// The host a mirror URL names (`http://user@[::1]:8080/x` → `::1`).
/// The URL's authority names a user (and maybe a password): `user@host`.
fn url_has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

/// A directory laid out like the release pages holds `vX.Y.Z` directories.
fn holds_releases(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix('v').and_then(Version::parse).is_some() && e.path().is_dir()
        })
    })
}

fn url_host_name(url: &str) -> &str {
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

/// An `extra` key must be one etcd's config file takes in the cluster's
/// minor version (etcd ignores unknown keys silently), with a value of its type.
fn check_extra(
    cx: &Ctx,
    table: &Spanned<BTreeMap<String, toml::Value>>,
    key: &str,
    value: &toml::Value,
    version: Version,
) -> Result<(), InventoryError> {
    let minor35 = (version.major, version.minor) >= (3, 5);
    let known = etcd_keys::ETCD_KEYS.iter().find(|(k, ..)| *k == key);
    let Some(&(_, kind, in34, in35)) = known else {
        return Err(cx.field(
            table,
            "etcd.extra",
            format!("`{}` is not a key of etcd's config file", shown(key)),
        ));
    };
    if !(if minor35 { in35 } else { in34 }) {
        return Err(cx.field(
            table,
            "etcd.extra",
            format!(
                "`{key}` is not a config key of etcd {}.{} (only of {})",
                version.major,
                version.minor,
                if in35 { "3.5" } else { "3.4" }
            ),
        ));
    }
    let fits = match kind {
        ExtraKind::Bool => value.is_bool(),
        ExtraKind::Int | ExtraKind::Duration => value.as_integer().is_some_and(|i| i >= 0),
        ExtraKind::Text => value.is_str(),
    };
    if !fits {
        let want = match kind {
            ExtraKind::Bool => "true or false",
            ExtraKind::Int => "a whole number",
            ExtraKind::Duration => {
                "a whole number of nanoseconds (etcd reads durations so in its config file)"
            }
            ExtraKind::Text => "a string",
        };
        return Err(cx.field(table, "etcd.extra", format!("`{key}` takes {want}")));
    }
    // The unit lets etcd write only its data (and WAL) directory, named in
    // a systemd drop-in: a plain absolute path, as data_dir.
    if key == "wal-dir"
        && let Some(p) = value.as_str()
    {
        if !plain_abs_path(p) {
            return Err(cx.field(
                table,
                "etcd.extra",
                format!(
                    "`wal-dir` must be an absolute path of letters, digits and / . _ - + @, not `{}`",
                    shown(p)
                ),
            ));
        }
        // etcd makes the WAL as `<wal-dir>.tmp` and renames it: it writes the
        // parent, which etcd-deploy therefore gives it (and must not be shared).
        let p = p.trim_end_matches('/');
        let parent = p.rsplit_once('/').map_or("", |(a, _)| a);
        if path_rule::verdict(parent) != Verdict::Dedicated {
            return Err(cx.field(
                table,
                "etcd.extra",
                format!(
                    "`wal-dir` `{p}`: etcd writes the WAL directory's parent `{parent}`, so it must be a directory of its own below {} (like /srv/etcd/wal), see docs/security.md",
                    path_rule::ROOTS.join(", ")
                ),
            ));
        }
    }
    // etcd refuses to start on a URL list it cannot parse (one member at a
    // time would fail and be rolled back; better to say so here).
    if key.ends_with("-urls")
        && let Some(list) = value.as_str()
        && !list.split(',').all(|u| valid_url(u.trim()))
    {
        return Err(cx.field(
            table,
            "etcd.extra",
            format!(
                "`{key}` takes comma-separated http:// or https:// URLs with a host and port, not `{}`",
                shown(list)
            ),
        ));
    }
    Ok(())
}
