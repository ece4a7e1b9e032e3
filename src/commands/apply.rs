//! `apply` and `plan`: make the cluster match the inventory, or say how.

use super::{Open, Session, with_session};
use crate::error::Error;
use crate::exec::{self, Env};
use crate::facts::Facts;
use crate::inventory::Version;
use crate::plan::{self, Plan, Step};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Prints what `apply` would do.
pub async fn plan(path: &Path, format: Format) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let (p, _) = compute(s, plan::Options::default()).await?;
        print(&p, format);
        Ok(())
    })
    .await
}

/// What `apply` and `upgrade` were asked for.
#[derive(Debug, Clone, Default)]
pub struct ApplyArgs {
    /// `upgrade --to`: the version to move to, instead of the inventory's.
    pub version: Option<Version>,
    pub options: plan::Options,
    /// `None`: no snapshot before a version change.
    pub snapshot_dir: Option<PathBuf>,
    pub log: Option<PathBuf>,
}

/// Applies the inventory; returns once the cluster matches it.
pub async fn apply(path: &Path, args: &ApplyArgs) -> Result<(), Error> {
    let open = Open { log: args.log.clone(), version: args.version };
    with_session(path, &open, async |s: &Session| {
        // Members started while nothing answered are read again, then planned for.
        for round in 0..3 {
            let (p, facts) = compute(s, args.options).await?;
            if args.version.is_some() && p.steps.iter().any(|st| !matches!(st, Step::Upgrade { .. })) {
                return Err(Error::Blocked(
                    "the cluster does not match the inventory yet (see `etcd-deploy plan`); run apply first, then upgrade".into(),
                ));
            }
            if round == 0 || !p.is_empty() {
                print(&p, Format::Text);
            }
            if p.is_empty() && p.blocked.is_none() {
                return Ok(());
            }
            let env = Env {
                inv: &s.inv,
                hosts: &s.hosts,
                access: &s.access,
                templates: &s.templates,
                progress: &s.progress,
                snapshot_dir: args.snapshot_dir.as_deref(),
            };
            exec::execute(&env, &p, &facts).await?;
            if !p.replan {
                println!("Apply complete: the cluster matches the inventory.");
                if let Some(v) = args.version
                    && v != s.inventory_version
                {
                    println!("Every member runs etcd {v}: set cluster.version = \"{v}\" in {}.", path.display());
                }
                return Ok(());
            }
        }
        Err(Error::Blocked("the cluster did not settle after starting its stopped members; run apply again".into()))
    })
    .await
}

async fn compute(s: &Session, opts: plan::Options) -> Result<(Plan, Facts), Error> {
    let facts = s.facts().await?;
    Ok((plan::plan_with(&s.inv, &facts, &s.desired()?, opts), facts))
}

fn print(p: &Plan, format: Format) {
    match format {
        Format::Text => print!("{p}"),
        Format::Json => match serde_json::to_string_pretty(p) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("error: cannot encode the plan: {e}"),
        },
    }
}
