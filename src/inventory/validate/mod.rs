//! Turns a parsed inventory into a validated `Inventory`, or an error that
//! names file, line, column and field. Runs before any SSH connection.

use super::path_rule::{self, Verdict, within};
use super::raw::{RawCluster, RawEtcd, RawHost, RawInventory, RawSsh};
use super::*;
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

mod auth;
mod backup;
mod dirs;
mod member;
mod release;
mod runtime;
mod settings;

use auth::*;
use backup::*;
pub use dirs::plain_abs_path;
use dirs::*;
use member::*;
use release::*;
use runtime::*;
use settings::*;
pub(super) use settings::{REFUSED_KEYS, key_refusal};

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
    let (cluster, defaults) = build_cluster(cx, &raw.cluster)?;
    let release = build_release(cx, &raw)?;
    let tls = build_tls(cx, &raw)?;
    if raw.hosts.get_ref().is_empty() {
        return Err(cx.at(
            raw.hosts.span(),
            "hosts: the host list is empty; add at least one [[hosts]] entry",
        ));
    }
    let mut members = build_members(cx, &raw, &cluster, &defaults, &tls)?;
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
    for m in &members {
        for w in deprecated_names(&m.settings.extra, cluster.version) {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    let backup = build_backup(cx, &raw, &members)?;
    let auth = build_auth(cx, &raw, &tls)?;
    Ok(Inventory {
        path: cx.path.to_path_buf(),
        cluster,
        release,
        tls,
        backup,
        auth,
        members,
        warnings,
    })
}

/// What `[cluster]` sets for every member unless a host says otherwise.
struct Defaults {
    data_dir: String,
    client_port: u16,
    peer_port: u16,
}

/// `[cluster]`: name, version, directories, ports, access, token, templates.
fn build_cluster(cx: &Ctx, c: &RawCluster) -> Result<(Cluster, Defaults), InventoryError> {
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

    Ok((
        cluster,
        Defaults {
            data_dir,
            client_port,
            peer_port,
        },
    ))
}

/// `[tls]`: off, generated (with when to renew) or provided (in a directory).
fn build_tls(cx: &Ctx, raw: &RawInventory) -> Result<TlsMode, InventoryError> {
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
    Ok(match (mode, dir, &raw.tls.mode) {
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
    })
}

/// Every `[[hosts]]` entry as a member, each checked against those before
/// it: unique names, one mode per host, no port used twice on an address,
/// no managed directory inside another.
fn build_members(
    cx: &Ctx,
    raw: &RawInventory,
    cluster: &Cluster,
    defaults: &Defaults,
    tls: &TlsMode,
) -> Result<Vec<Member>, InventoryError> {
    let c = &raw.cluster;
    let version = cluster.version;
    let base_settings = build_settings(cx, &raw.etcd, None, version)?;
    let base_runtime = RuntimeSpec {
        mode: mode_of(cx, c.mode.as_ref(), "cluster.mode", Mode::Systemd)?,
        image: c.image.as_ref(),
    };
    let (data_dir, client_port, peer_port) =
        (&defaults.data_dir, defaults.client_port, defaults.peer_port);
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
            raw,
            h,
            i,
            data_dir,
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
    Ok(members)
}

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
