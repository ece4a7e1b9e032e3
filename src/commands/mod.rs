//! The subcommands. Each checks its arguments, opens a `Session`, and calls
//! the library: facts → plan → execute, or facts → report.

pub mod adopt;
pub mod apply;
pub mod certs;
pub mod dispatch;
mod found_access;
pub mod from_cluster;
pub mod init;
pub mod lifecycle;
pub mod maintenance;
pub mod output;
mod run_lock;
pub mod snapshot;
pub mod status;
mod upgrade;

use crate::access::Access;
use crate::error::Error;
use crate::etcd;
use crate::exec::Env;
pub(crate) use crate::facts::human_bytes;
use crate::facts::{Facts, HostFacts, Records};
use crate::gather;
use crate::inventory::{Inventory, TlsMode, Version};
use crate::member_config;
use crate::plan::Desired;
use crate::progress::Progress;
use crate::records;
use crate::runtime;
use crate::ssh::Host;
use crate::templates::Templates;
use crate::tls;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct Open {
    /// Also write progress as JSON lines to this file.
    pub log: Option<PathBuf>,
    /// Use this version instead of the inventory's (`upgrade --to`).
    pub version: Option<Version>,
    /// Create missing TLS files (generate mode) or check the provided ones
    /// before connecting; `Some(true)` re-creates member certificates.
    pub prepare_tls: Option<bool>,
    /// Read each host's facts as soon as its connection opens, for the
    /// session's first gathering: for the commands whose first act is to
    /// gather them (plan, apply, status), so that a host's facts script
    /// runs while slower hosts still connect.
    pub early_facts: bool,
}

impl Open {
    /// A session whose command gathers the facts first (`early_facts`).
    pub fn early_facts() -> Open {
        Open {
            early_facts: true,
            ..Open::default()
        }
    }
}

/// Each host's facts and the hosts whose facts script failed (`gather::hosts`).
type HostsFacts = (BTreeMap<String, HostFacts>, BTreeMap<String, String>);

/// A validated inventory and an open SSH connection to each of its hosts.
pub struct Session {
    pub inv: Inventory,
    pub templates: Templates,
    pub hosts: BTreeMap<String, Host>,
    /// Members whose host could not be reached over SSH, with OpenSSH's
    /// reason: the session goes on without them (`require_all_hosts` for
    /// the commands that cannot).
    pub unreachable: BTreeMap<String, String>,
    pub access: Access,
    pub progress: Progress,
    /// The cluster's run lock, once a change of this session took it.
    run_lock: tokio::sync::Mutex<Option<run_lock::Held>>,
    /// The facts read as the hosts connected (`Open::early_facts`), until
    /// the first gathering takes them.
    early: std::sync::Mutex<Option<HostsFacts>>,
}

impl Session {
    /// Validates everything that can be checked locally, then connects to
    /// every host in parallel, each bounded by the connect timeout; a host
    /// that cannot be reached is recorded with its reason, not an error.
    /// Nothing on any host changes here.
    pub async fn open(path: &Path, how: &Open) -> Result<Session, Error> {
        let mut inv = Inventory::load(path)?;
        if let Some(v) = how.version {
            for note in inv.at_version(v) {
                eprintln!("note: {note}");
            }
        }
        for w in &inv.warnings {
            eprintln!("warning: {}: {w}", path.display());
        }
        // A CA is made only once the hosts are known not to trust another
        // (a second controller without the cluster's pki must not fork it).
        let first_ca = matches!(inv.tls, TlsMode::Generate { .. }) && !tls::has_ca(&inv);
        if let Some(rotate) = how.prepare_tls.filter(|_| !first_ca) {
            tls::prepare(&inv, rotate)?;
        }
        etcd::set_client_tls(tls::client_files(&inv, "client").ok().flatten());
        let templates = Templates::load(&inv)?;
        // Every file renders before any host is contacted.
        for m in &inv.members {
            member_config::render(&inv, m, None)?;
            runtime::of(m).host_file(&templates, &inv, m, &|_| inv.cluster.version)?;
        }
        let progress =
            Progress::new(how.log.as_deref()).map_err(|e| Error::Usage(format!("--log: {e}")))?;
        let inv_ref = &inv;
        let results = futures_util::future::join_all(inv.members.iter().map(|m| async move {
            let h = Host::connect(m).await?;
            let facts = match how.early_facts {
                true => Some(gather::host_facts(inv_ref, m, &h).await),
                false => None,
            };
            Ok::<_, crate::ssh::HostError>((h, facts))
        }))
        .await;
        let mut hosts = BTreeMap::new();
        let mut unreachable = BTreeMap::new();
        let mut early: HostsFacts = Default::default();
        for (m, r) in inv.members.iter().zip(results) {
            match r {
                Ok((h, facts)) => {
                    match facts {
                        Some(Ok(f)) => {
                            early.0.insert(m.name.clone(), f);
                        }
                        Some(Err(e)) => {
                            early.1.insert(m.name.clone(), e);
                        }
                        None => {}
                    }
                    hosts.insert(h.name.clone(), h);
                }
                Err(e) => {
                    progress.warn(&e.to_string());
                    unreachable.insert(m.name.clone(), e.detail);
                }
            }
        }
        let early = how.early_facts.then_some(early);
        if let (Some(rotate), true) = (how.prepare_tls, first_ca) {
            let found = match &early {
                Some((found, _)) => found.clone(),
                None => gather::hosts(&inv, &hosts).await.0,
            };
            if let Some(why) = tls::foreign_ca(&inv, trusted(&inv, &found)) {
                return Err(Error::Usage(why));
            }
            tls::prepare(&inv, rotate)?;
            etcd::set_client_tls(tls::client_files(&inv, "client").ok().flatten());
        }
        let access = Access::new(inv.cluster.access);
        Ok(Session {
            inv,
            templates,
            hosts,
            unreachable,
            access,
            progress,
            run_lock: tokio::sync::Mutex::new(None),
            early: std::sync::Mutex::new(early),
        })
    }

    /// For the commands that act on every host (`restore`, `destroy`): the
    /// first host that could not be reached, as the error.
    pub fn require_all_hosts(&self) -> Result<(), Error> {
        match self.unreachable.iter().next() {
            Some((name, why)) => {
                Err(crate::ssh::HostError::new(name, "connect", why.clone()).into())
            }
            None => Ok(()),
        }
    }

    pub async fn facts(&self) -> Result<Facts, Error> {
        self.gather(gather::Ask::Running).await
    }

    /// The facts with every member's etcd asked, whoever started it: for
    /// the commands that work through etcd's API only (maintenance,
    /// snapshots), which serve clusters etcd-deploy did not make too.
    pub async fn api_facts(&self) -> Result<Facts, Error> {
        self.gather(gather::Ask::Every).await
    }

    async fn gather(&self, ask: gather::Ask) -> Result<Facts, Error> {
        let early = self.early.lock().ok().and_then(|mut e| e.take());
        let (hosts, mut unreachable) = match early {
            Some(facts) => facts,
            None => gather::hosts(&self.inv, &self.hosts).await,
        };
        if let Some(why) = tls::foreign_ca(&self.inv, trusted(&self.inv, &hosts)) {
            return Err(Error::Usage(why));
        }
        unreachable.extend(self.unreachable.clone());
        // Members are asked over the scheme their configs serve now.
        for m in &self.inv.members {
            let tls = hosts.get(&m.name).and_then(|h| h.serves_tls(m));
            self.access.serve_as(m, tls).await;
        }
        let started = std::time::Instant::now();
        let cluster = gather::cluster(
            &self.inv,
            &self.hosts,
            &hosts,
            &unreachable,
            &self.access,
            ask,
        )
        .await;
        crate::progress::detail(
            "etcd",
            &format!(
                "asked {} members ({:.2} s)",
                cluster.status.len() + cluster.silent.len(),
                started.elapsed().as_secs_f64()
            ),
        );
        if let Some(why) = identity_refused(&self.inv, &cluster) {
            return Err(Error::Usage(why));
        }
        let cache = records::cached(&self.inv);
        let newest = Records::newest(
            &self.inv.cluster.name,
            hosts
                .values()
                .filter_map(|h| h.records.as_ref())
                .chain(&cache),
        )
        .cloned()
        .unwrap_or_default();
        Ok(Facts {
            hosts,
            unreachable,
            cluster,
            recorded: newest.members,
            records_serial: newest.serial,
        })
    }

    /// The digests the rendered files of each member must have.
    pub fn desired(&self) -> Result<BTreeMap<String, Desired>, Error> {
        let mut out = BTreeMap::new();
        for m in &self.inv.members {
            let r = member_config::render(&self.inv, m, None)?;
            let host_file = runtime::of(m)
                .host_file(&self.templates, &self.inv, m, &|_| self.inv.cluster.version)?;
            // Missing files (plan before the first apply) never match a host's.
            let pki_digest = match tls::member_files(&self.inv, m) {
                Ok(files) => files.map(|f| f.digest()),
                Err(_) if tls::ca_key_offline(&self.inv) => Some(Desired::PKI_KEPT.to_string()),
                Err(_) => Some("missing".to_string()),
            };
            out.insert(
                m.name.clone(),
                Desired {
                    config_digest: r.config_digest,
                    host_file_digest: host_file.digest,
                    service_digest: host_file.service_digest,
                    pki_digest,
                    backup_digest: self
                        .inv
                        .backup
                        .as_ref()
                        .map(|b| crate::backup::files(&self.inv, b, m).digest()),
                    crl_digest: m
                        .tls
                        .then(|| tls::crl(&self.inv))
                        .flatten()
                        .map(|der| crate::files::sha256_hex(&der)),
                },
            );
        }
        Ok(out)
    }

    /// Records the inventory's members as etcd-deploy's own (`records.rs`)
    /// before a run changes anything on them: in the controller's cache,
    /// and, with `on_hosts` (the commands that do not plan a
    /// `Step::Record`), on every connected host whose copy differs.
    pub async fn remember_members(&self, facts: &Facts, on_hosts: bool) -> Result<(), Error> {
        let want = crate::plan::records::desired(&self.inv, facts);
        let stale: Vec<String> = crate::plan::records::stale_hosts(&self.inv, facts, &want);
        let r = if on_hosts && !stale.is_empty() {
            records::write(&self.inv, &self.hosts, &stale, &want).await
        } else {
            records::cache(&self.inv, &want).map_err(|e| e.to_string())
        };
        r.map_err(|e| {
            Error::Blocked(format!(
                "cannot record etcd-deploy's members before changing them: {e}"
            ))
        })
    }

    /// What the executor acts through.
    pub(crate) fn env(&self) -> Env<'_> {
        Env {
            inv: &self.inv,
            etcd: &etcd::Live,
            dial: &crate::ssh::Ssh,
            hosts: &self.hosts,
            access: &self.access,
            templates: &self.templates,
            progress: &self.progress,
        }
    }

    pub async fn close(self) {
        if let Some(l) = self.run_lock.lock().await.take() {
            l.release(&self.client_urls(|_| true).await).await;
        }
        futures_util::future::join_all(self.hosts.into_values().map(Host::close)).await;
    }

    /// The client URLs of the members `pick` names whose host is connected,
    /// as they are reached now.
    pub async fn client_urls(&self, pick: impl Fn(&str) -> bool) -> Vec<String> {
        let mut urls = Vec::new();
        for m in self.inv.members.iter().filter(|m| pick(&m.name)) {
            if let Some(h) = self.hosts.get(&m.name)
                && let Ok(u) = self.access.url(m, h).await
            {
                urls.push(u);
            }
        }
        urls
    }

    /// Takes the cluster's run lock for the rest of this session, unless it
    /// holds it already; whether it was taken just now (what was planned
    /// before may have changed meanwhile).
    pub async fn hold_run_lock(&self, facts: &Facts, wait: Duration) -> Result<bool, Error> {
        self.hold(facts, wait, true).await
    }

    /// The hosts' half of the run lock only (`run_lock.rs`): for the
    /// commands that take the whole cluster down or run without quorum.
    pub async fn hold_host_lock(&self, facts: &Facts) -> Result<bool, Error> {
        self.hold(facts, Duration::ZERO, false).await
    }

    async fn hold(&self, facts: &Facts, wait: Duration, in_etcd: bool) -> Result<bool, Error> {
        let mut held = self.run_lock.lock().await;
        if held.is_some() {
            return Ok(false);
        }
        *held = Some(run_lock::take(self, facts, wait, in_etcd).await?);
        Ok(true)
    }
}

/// Runs `f` with an open session, closing it whatever happens.
pub async fn with_session<T, F>(path: &Path, how: &Open, f: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&Session) -> Result<T, Error>,
{
    let s = Session::open(path, how).await?;
    let r = f(&s).await;
    s.close().await;
    r
}

/// Asks the operator to type the cluster name, unless `--yes`.
pub(crate) fn confirm(yes: bool, what: &str, cluster: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{what}; pass --yes to confirm (standard input is not a terminal)"
        )));
    }
    let line = prompt(&format!(
        "{what}.\nType the cluster name ({cluster}) to go on: "
    ))?;
    if line != cluster {
        return Err(Error::Usage("not confirmed; nothing was changed".into()));
    }
    Ok(())
}

/// Asks on the terminal (stderr), returns the answer trimmed.
pub(crate) fn prompt(question: &str) -> Result<String, Error> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok(line.trim().to_string())
}

/// Left-aligned columns two spaces apart, a header line first.
pub(crate) fn table(header: &[&str], cells: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(cells) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The CAs each member of this cluster trusts, as its host's facts say
/// (members whose config is this cluster's: a reused host's old files of
/// another cluster do not count).
fn trusted<'a>(
    inv: &'a Inventory,
    hosts: &'a BTreeMap<String, HostFacts>,
) -> impl Iterator<Item = (&'a str, &'a [String])> {
    hosts
        .iter()
        .filter(|(_, h)| h.config_cluster.as_deref() == Some(inv.cluster.name.as_str()))
        .map(|(name, h)| (name.as_str(), h.ca_certs.as_slice()))
}

/// Why the cluster refuses this controller's identity, when no member
/// answered and each said so in its TLS handshake (its CA is the pki's, as
/// checked before: the client certificate is what it refuses).
fn identity_refused(inv: &Inventory, cluster: &crate::facts::ClusterFacts) -> Option<String> {
    let dir = tls::pki_dir(inv)?;
    let refused = !cluster.silent.is_empty()
        && cluster.status.is_empty()
        && cluster
            .silent
            .values()
            .all(|why| why.starts_with("TLS handshake refused"));
    refused.then(|| {
        let each: Vec<String> = cluster
            .silent
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        format!(
            "no member accepts this controller's client certificate ({}/client.crt): {}. Use the pki directory the cluster was made with (docs/team.md); nothing was changed",
            dir.display(),
            each.join("; ")
        )
    })
}
