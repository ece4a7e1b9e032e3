//! The subcommands. Each checks its arguments, opens a `Session`, and calls
//! the library: facts → plan → execute, or facts → report.

pub mod apply;
pub mod status;

use crate::access::Access;
use crate::error::Error;
use crate::facts::{self, Facts};
use crate::inventory::Inventory;
use crate::plan::Desired;
use crate::progress::Progress;
use crate::ssh::Host;
use crate::templates::Templates;
use std::collections::BTreeMap;
use std::path::Path;

/// A validated inventory and an open SSH connection to each of its hosts.
pub struct Session {
    pub inv: Inventory,
    pub templates: Templates,
    pub hosts: BTreeMap<String, Host>,
    pub access: Access,
    pub progress: Progress,
}

impl Session {
    /// Validates everything that can be checked locally, then connects to
    /// every host in parallel. Nothing on any host changes here.
    pub async fn open(path: &Path) -> Result<Session, Error> {
        let inv = Inventory::load(path)?;
        for w in &inv.warnings {
            eprintln!("warning: {}: {w}", path.display());
        }
        let templates = Templates::load(&inv)?;
        for m in &inv.members {
            templates.render(&inv, m, None)?;
        }
        let progress = Progress::new();
        let results = futures_util::future::join_all(inv.members.iter().map(Host::connect)).await;
        let mut hosts = BTreeMap::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(h) => {
                    hosts.insert(h.name.clone(), h);
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(first) = errors.into_iter().next() {
            for (_, h) in hosts {
                h.close().await;
            }
            return Err(first.into());
        }
        let access = Access::new(inv.cluster.access);
        Ok(Session { inv, templates, hosts, access, progress })
    }

    pub async fn facts(&self) -> Result<Facts, Error> {
        let hosts = facts::gather_hosts(&self.inv, &self.hosts).await?;
        let cluster = facts::gather_cluster(&self.inv, &self.hosts, &hosts, &self.access).await;
        Ok(Facts { hosts, cluster })
    }

    /// The digests the rendered files of each member must have.
    pub fn desired(&self) -> Result<BTreeMap<String, Desired>, Error> {
        let mut out = BTreeMap::new();
        for m in &self.inv.members {
            let r = self.templates.render(&self.inv, m, None)?;
            out.insert(m.name.clone(), Desired { config_digest: r.config_digest, unit_digest: r.unit_digest });
        }
        Ok(out)
    }

    pub async fn close(self) {
        futures_util::future::join_all(self.hosts.into_values().map(Host::close)).await;
    }
}

/// Runs `f` with an open session, closing it whatever happens.
pub async fn with_session<T, F>(path: &Path, f: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&Session) -> Result<T, Error>,
{
    let s = Session::open(path).await?;
    let r = f(&s).await;
    s.close().await;
    r
}
