//! `init --from-cluster URL...`: writes an inventory that describes a
//! running cluster etcd-deploy did not make: its members' names, addresses,
//! ports and version from etcd itself, and (over SSH) the data directory
//! and settings each member's process runs with. Everything read from etcd
//! and from the hosts is untrusted: names, URLs and paths are checked before
//! they reach the file, a shell or an SSH destination, and the file must
//! parse before it is written.

use super::output;
use crate::error::Error;
use crate::etcd;
use crate::facts::printable;
use crate::inventory::{self, Version, etcd_settings, valid_name, valid_url};
use crate::remote;
use crate::ssh::Host;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the operator told `init --from-cluster`.
#[derive(Debug, Clone, Default)]
pub struct FromCluster {
    pub urls: Vec<String>,
    pub name: Option<String>,
    pub user: Option<String>,
    pub become_root: bool,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
    /// Ask the hosts over SSH (data directories); off: etcd's API only.
    pub ssh: bool,
    pub force: bool,
    /// A TLS cluster: the CA, client certificate and key to read it with.
    pub client_tls: Option<[PathBuf; 3]>,
}

/// One member as etcd describes it.
#[derive(Debug, Clone)]
struct Found {
    name: String,
    host: String,
    client_port: u16,
    peer_port: u16,
    version: Option<Version>,
    /// `key=value` lines from `discover_member.sh`, when asked.
    process: BTreeMap<String, String>,
}

/// `http(s)://HOST:PORT` → (HOST, PORT), for URLs `valid_url` accepted.
fn split(url: &str) -> Option<(String, u16)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?
        .trim_end_matches('/');
    let (h, p) = rest.rsplit_once(':')?;
    Some((
        h.trim_start_matches('[').trim_end_matches(']').to_string(),
        p.parse().ok()?,
    ))
}

pub async fn from_cluster(path: &Path, a: FromCluster) -> Result<(), Error> {
    if path.exists() && !a.force {
        return Err(Error::Usage(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        )));
    }
    let tls = a.urls.iter().any(|u| u.starts_with("https://"));
    let identity = client_identity(&a, tls)?;
    for u in &a.urls {
        if !valid_url(u) {
            return Err(Error::Usage(format!(
                "--from-cluster `{}` is not a client URL like http://10.0.0.11:2379",
                printable(u)
            )));
        }
    }
    let mut found = members(&a.urls, tls).await?;
    found.sort_by(|x, y| x.name.cmp(&y.name));
    let Some(version) = found.iter().filter_map(|f| f.version).min() else {
        return Err(Error::Blocked("no member reported its version".into()));
    };
    let name = a.name.clone().unwrap_or_else(|| "etcd".into());
    // First without data directories: the SSH settings in it reach the hosts.
    let text = render(&name, version, &a, &found);
    let inv = inventory::parse(path, &text)?;
    let tls_files = if a.ssh {
        look_at_hosts(&inv, &mut found).await
    } else {
        BTreeMap::new()
    };
    if let Some(identity) = &identity {
        let dir = path.parent().unwrap_or(Path::new(".")).join("pki");
        write_pki(&dir, &found, &tls_files, identity)?;
    }
    let access = super::found_access::read(&a.urls, tls).await;
    let mut text = render(&name, version, &a, &found);
    if inventory::parse(path, &text).is_err() {
        // A data directory or setting etcd-deploy would not accept stays out.
        for f in &mut found {
            f.process.remove("data_dir");
            f.process.retain(|k, _| !k.starts_with("setting_"));
        }
        text = render(&name, version, &a, &found);
    }
    inventory::parse(path, &text)?;
    let mut notes = access.said;
    if !access.text.is_empty() {
        let with = text.replacen("\n[[hosts]]", &format!("{}\n[[hosts]]", access.text), 1);
        match inventory::parse(path, &with) {
            Ok(_) => text = with,
            Err(e) => notes.push(format!(
                "etcd's users and roles are left out of the inventory: {e}"
            )),
        }
    }
    std::fs::write(path, &text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    output::changed();
    output::result("inventory", serde_json::json!(path));
    for f in &found {
        output::say(&format!(
            "{:<10} {}:{}/{}  etcd {}  {}",
            f.name,
            f.host,
            f.client_port,
            f.peer_port,
            f.version.map_or_else(|| "?".into(), |v| v.to_string()),
            describe(&f.process)
        ));
    }
    for n in &notes {
        output::say(n);
    }
    output::say(&format!(
        "Wrote {} ({} members, etcd {version}). etcd-deploy did not make this cluster: status, snapshot save, defrag, compact and alarm work with it as it is; `etcd-deploy adopt {}` takes its members over.",
        path.display(),
        found.len(),
        path.display()
    ));
    Ok(())
}

/// A TLS cluster: read with the identity given, and described with its
/// certificates, which are read over SSH.
fn client_identity(a: &FromCluster, tls: bool) -> Result<Option<crate::tls::ClientFiles>, Error> {
    if !tls {
        return Ok(None);
    }
    let Some([ca, cert, key]) = &a.client_tls else {
        return Err(Error::Usage(
            "--from-cluster with an https URL: give --cacert, --cert and --key (a client identity the cluster accepts)".into(),
        ));
    };
    if !a.ssh {
        return Err(Error::Usage(
            "a TLS cluster is described with its certificates, read over SSH: drop --no-ssh".into(),
        ));
    }
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
    };
    let files = crate::tls::ClientFiles {
        ca: read(ca)?,
        cert: read(cert)?,
        key: read(key)?,
    };
    etcd::set_client_tls(Some(files.clone()));
    Ok(Some(files))
}

/// Every member as etcd's member list says it (one address per member,
/// all on TLS or none), with the version it reports.
async fn members(urls: &[String], tls: bool) -> Result<Vec<Found>, Error> {
    let list = etcd::member_list(urls)
        .await
        .map_err(|e| Error::Blocked(format!("reading the member list: {e}")))?;
    let mut found = Vec::new();
    for e in &list {
        let id = etcd::id_hex(e.id);
        if e.is_learner || !e.started() {
            return Err(Error::Blocked(format!(
                "member {id} is a learner or has never started: let its join finish (or remove it), then run this again"
            )));
        }
        if !valid_name(&e.name) {
            return Err(Error::Blocked(format!(
                "member {id} is named `{}`, which etcd-deploy does not accept (letters, digits, '-', '_', '.')",
                printable(&e.name)
            )));
        }
        let url = |list: &[String], what: &str| {
            list.first()
                .filter(|u| valid_url(u))
                .and_then(|u| split(u))
                .ok_or_else(|| {
                    Error::Blocked(format!(
                        "{}: its first {what} URL is not a plain http(s)://HOST:PORT ({})",
                        e.name,
                        printable(&list.join(","))
                    ))
                })
        };
        let (host, peer_port) = url(&e.peer_urls, "peer")?;
        let https = |l: &[String]| l.first().is_some_and(|u| u.starts_with("https://"));
        if https(&e.peer_urls) != tls || https(&e.client_urls) != tls {
            return Err(Error::Blocked(format!(
                "{}: its URLs ({} and {}) are not all {}: a cluster half on TLS is not one etcd-deploy describes",
                e.name,
                printable(&e.peer_urls.join(",")),
                printable(&e.client_urls.join(",")),
                if tls { "https" } else { "http" }
            )));
        }
        let (chost, client_port) = url(&e.client_urls, "client")?;
        if chost != host {
            return Err(Error::Blocked(format!(
                "{}: peers reach it at {host} and clients at {chost}: one address per member is all etcd-deploy describes",
                e.name
            )));
        }
        let version = match e.client_urls.first() {
            Some(u) => etcd::status(u)
                .await
                .ok()
                .and_then(|s| Version::parse(&s.version)),
            None => None,
        };
        found.push(Found {
            name: e.name.clone(),
            host,
            client_port,
            peer_port,
            version,
            process: BTreeMap::new(),
        });
    }
    Ok(found)
}

/// Each member's host, over SSH: the member's etcd process (how it runs,
/// its data directory, its settings) and, read as the user it runs as, the
/// TLS files it names; processes not taken for the member are warned about.
/// A host that cannot be asked is said so and left out.
async fn look_at_hosts(
    inv: &inventory::Inventory,
    found: &mut [Found],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut tls_files = BTreeMap::new();
    let jobs = inv.members.iter().map(|m| async move {
        let host = Host::connect(m).await?;
        let ports = [m.peer_port, m.client_port];
        let out = host
            .run("look at its etcd", &remote::discover_member(&m.name, ports))
            .await;
        // Its TLS files, at the paths its process names (checked first),
        // read as the user it runs as.
        let mut files = BTreeMap::new();
        if let Ok(out) = &out {
            let lines: Vec<(&str, &str)> = out.lines().filter_map(|l| l.split_once('=')).collect();
            let user = lines
                .iter()
                .find(|(k, _)| *k == "run_as")
                .map(|(_, v)| *v)
                .filter(|u| valid_user_name(u));
            for (k, v) in &lines {
                if let Some(user) = user
                    && k.starts_with("tls_")
                    && inventory::plain_abs_path(v)
                {
                    let script = remote::read_as(user, v);
                    let text = host.run("read a TLS file", &script).await?;
                    files.insert(k.to_string(), text);
                }
            }
        }
        host.close().await;
        out.map(|o| (o, files))
    });
    let answers = futures_util::future::join_all(jobs).await;
    for (f, r) in found.iter_mut().zip(answers) {
        match r {
            Ok((out, files)) => {
                tls_files.insert(f.name.clone(), files);
                for (_, why) in out
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .filter(|(k, _)| *k == "untrusted")
                {
                    let why = printable(why);
                    let (pid, why) = why.split_once(' ').unwrap_or((&why, ""));
                    output::warn(&format!(
                        "{}: etcd process {pid} on {} is not taken for the member: {why} (a name and flags are anyone's to choose)",
                        f.name, f.host
                    ));
                }
                f.process = out
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .filter(|(k, _)| *k != "untrusted")
                    .map(|(k, v)| (k.to_string(), printable(v)))
                    .collect();
                if f.process.is_empty() {
                    output::say(&format!(
                        "{}: no etcd process named {} on {}",
                        f.name, f.name, f.host
                    ));
                }
            }
            Err(e) => output::say(&format!("{}: not asked over SSH: {e}", f.name)),
        }
    }
    tls_files
}

/// A TLS cluster's certificates into `dir` in etcd-deploy's layout: each
/// member's server and peer pair as its process uses them, the one CA they
/// all trust, and the client identity given for reading the cluster
/// (`identity`) as etcd-deploy's own and the operator's. Everything is checked first: the
/// certificates parse, the keys look like keys, one CA for clients and peers.
fn write_pki(
    dir: &Path,
    found: &[Found],
    files: &BTreeMap<String, BTreeMap<String, String>>,
    identity: &crate::tls::ClientFiles,
) -> Result<(), Error> {
    let mut out: Vec<(PathBuf, String, u32)> = Vec::new();
    let mut ca: Option<String> = None;
    for f in found {
        let get = |k: &str| {
            files
                .get(&f.name)
                .and_then(|m| m.get(&format!("tls_{k}")))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Error::Blocked(format!(
                        "{}: its process names no readable {k} (looked for its flags, config file and ETCD_* variables): put its certificates in pki/ by hand (layout in docs/security.md)",
                        f.name
                    ))
                })
        };
        for k in ["client_trusted-ca-file", "peer_trusted-ca-file"] {
            let c = get(k)?;
            crate::tls::cert_info(&c)
                .map_err(|e| Error::Blocked(format!("{}: its {k}: {e}", f.name)))?;
            match &ca {
                None => ca = Some(c),
                Some(seen) if *seen == c => {}
                Some(_) => {
                    return Err(Error::Blocked(format!(
                        "{}: its {k} is not the CA the others trust: etcd-deploy uses one CA for clients and peers",
                        f.name
                    )));
                }
            }
        }
        for (kind, cert, key) in [
            ("server", "client_cert-file", "client_key-file"),
            ("peer", "peer_cert-file", "peer_key-file"),
        ] {
            let (c, k) = (get(cert)?, get(key)?);
            crate::tls::cert_info(&c)
                .map_err(|e| Error::Blocked(format!("{}: its {cert}: {e}", f.name)))?;
            if !(k.starts_with("-----BEGIN") && k.contains("PRIVATE KEY-----")) {
                return Err(Error::Blocked(format!(
                    "{}: its {key} is not a PEM private key",
                    f.name
                )));
            }
            out.push((dir.join(format!("{}.{kind}.crt", f.name)), c, 0o644));
            out.push((dir.join(format!("{}.{kind}.key", f.name)), k, 0o600));
        }
    }
    let Some(ca) = ca else { return Ok(()) };
    out.push((dir.join("ca.crt"), ca, 0o644));
    for who in ["client", "operator"] {
        out.push((dir.join(format!("{who}.crt")), identity.cert.clone(), 0o644));
        out.push((dir.join(format!("{who}.key")), identity.key.clone(), 0o600));
    }
    private_dir(dir)?;
    for (p, text, mode) in out {
        crate::files::write_atomic(&p, format!("{}\n", text.trim_end()).as_bytes(), mode)
            .map_err(|e| Error::Usage(format!("{}: {e}", p.display())))?;
    }
    output::say(&format!(
        "Wrote the members' certificates and the CA they trust into {} (tls.mode = \"provided\").",
        dir.display()
    ));
    Ok(())
}

/// `dir`, made or made private: 0700, keys in it 0600.
fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let err = |e: std::io::Error| Error::Usage(format!("{}: {e}", dir.display()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

/// A user name as a host's `id -nu` prints it (or a bare uid).
fn valid_user_name(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// What the host said about a member's process, in a few words.
fn describe(p: &BTreeMap<String, String>) -> String {
    if p.is_empty() {
        return "(process not looked at)".into();
    }
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("?");
    if let Some(id) = p.get("container") {
        return format!(
            "runs in container {} (data {} on the host, {} inside it){}, settings from {}",
            crate::facts::short_id(id),
            get("data_dir"),
            get("container_data_dir"),
            if p.contains_key("has_data") {
                ""
            } else {
                ", no member/ in it"
            },
            get("configured_by")
        );
    }
    format!(
        "data {}{}, settings from {}, unit {}, binary {}",
        get("data_dir"),
        if p.contains_key("has_data") {
            ""
        } else {
            " (no member/ in it)"
        },
        get("configured_by"),
        get("unit"),
        get("binary")
    )
}

fn render(name: &str, version: Version, a: &FromCluster, found: &[Found]) -> String {
    let uniform = |f: fn(&Found) -> u16| {
        let first = found.first().map(f);
        found
            .iter()
            .all(|x| Some(f(x)) == first)
            .then_some(first)
            .flatten()
    };
    let client = uniform(|f| f.client_port);
    let peer = uniform(|f| f.peer_port);
    let mut s = format!(
        "# etcd-deploy inventory describing a running cluster (written by `etcd-deploy init --from-cluster`).\n\
         # etcd-deploy did not make this cluster: status, snapshot save, defrag, compact and alarm\n\
         # work with it as it is; `etcd-deploy adopt` takes its members over (then apply and upgrade work).\n\n\
         [cluster]\nname = \"{name}\"\nversion = \"{version}\"\n"
    );
    if let Some(p) = client {
        s.push_str(&format!("client_port = {p}\n"));
    }
    if let Some(p) = peer {
        s.push_str(&format!("peer_port = {p}\n"));
    }
    s.push_str(&etcd_section(found, version));
    if found
        .iter()
        .any(|f| f.process.contains_key("tls_client_cert-file"))
    {
        s.push_str("\n# The members' own certificates, read from their hosts (adopt keeps them).\n[tls]\nmode = \"provided\"\ndir = \"pki\"\n");
    }
    s.push_str("\n[ssh]\n");
    if let Some(u) = &a.user {
        s.push_str(&format!("user = {}\n", toml_str(u)));
    }
    if a.become_root {
        s.push_str("become = true\n");
    }
    if let Some(f) = &a.identity_file {
        s.push_str(&format!(
            "identity_file = {}\n",
            toml_str(&f.display().to_string())
        ));
    }
    if let Some(f) = &a.known_hosts_file {
        s.push_str(&format!(
            "known_hosts_file = {}\n",
            toml_str(&f.display().to_string())
        ));
    }
    s.push_str("host_key_policy = \"accept-new\"\n");
    for f in found {
        s.push_str("\n[[hosts]]\n");
        if !f.process.is_empty() {
            s.push_str(&format!("# found: {}\n", describe(&f.process)));
        }
        s.push_str(&format!(
            "name = {}\naddress = {}\n",
            toml_str(&f.name),
            toml_str(&f.host)
        ));
        if client.is_none() {
            s.push_str(&format!("client_port = {}\n", f.client_port));
        }
        if peer.is_none() {
            s.push_str(&format!("peer_port = {}\n", f.peer_port));
        }
        if let Some(d) = f.process.get("data_dir") {
            s.push_str(&format!("data_dir = {}\n", toml_str(d)));
        }
        if f.process.contains_key("container") {
            s.push_str("mode = \"compose\"\n");
        }
    }
    s
}

/// `[etcd]` with the tuning every member runs with alike (flags, config file
/// or environment), so that `adopt` keeps it; a value the inventory would
/// not accept makes the whole file fail to parse, and the section is dropped.
fn etcd_section(found: &[Found], version: Version) -> String {
    let mut lines = String::new();
    for (key, d) in etcd_settings::described_keys() {
        let values: Vec<Option<&String>> = found
            .iter()
            .map(|f| f.process.get(&format!("setting_{key}")))
            .collect();
        let Some(Some(v)) = values.first() else {
            continue;
        };
        if values.iter().any(|x| *x != Some(*v)) {
            continue;
        }
        let value = if d.number {
            match v.parse::<u64>() {
                Ok(n) => n.to_string(),
                Err(_) => continue,
            }
        } else {
            toml_str(v)
        };
        lines.push_str(&format!("{} = {value}\n", d.field));
    }
    // Other settings etcd's config file takes, under the names `version`
    // takes them by (a 3.6 member's feature gates, its renamed keys).
    let mut extra = toml::Table::new();
    for key in inventory::carried_extra_keys() {
        let mut values = found
            .iter()
            .map(|f| f.process.get(&format!("setting_{key}")));
        let Some(Some(v)) = values.next() else {
            continue;
        };
        if values.any(|x| x != Some(v)) {
            continue;
        }
        if let Some(value) = inventory::carried_extra_value(key, v, version) {
            extra.insert(key.to_string(), value);
        }
    }
    if !extra.is_empty() {
        lines.push_str(&format!(
            "extra = {}\n",
            toml::Value::Table(extra).to_string().trim()
        ));
    }
    if lines.is_empty() {
        return lines;
    }
    format!("\n# As the members run now (adopt keeps it).\n[etcd]\n{lines}")
}

/// A TOML basic string (quotes and backslashes escaped; the values are
/// checked names, addresses and paths, but a file must never be broken by one).
fn toml_str(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}
