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

/// Which changes a command may make: `upgrade` and `replace` are `apply`
/// limited to their own steps, so that they never do something unasked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    All,
    Upgrade,
    /// `certs rotate`: new member certificates, rolled out with restarts.
    Certs,
    Replace {
        old: String,
        new: String,
    },
}

impl Scope {
    fn check(&self, p: &Plan) -> Result<(), Error> {
        let outside = |st: &Step| match self {
            Scope::All => false,
            Scope::Upgrade => !matches!(st, Step::Upgrade { .. }),
            Scope::Certs => {
                !matches!(st, Step::Restart { reason, .. } if reason.contains("certificates"))
            }
            Scope::Replace { old, new } => !match st {
                Step::Join { host, .. } | Step::Promote { host, .. } => host == new,
                Step::Remove { name, .. } => name == old,
                _ => false,
            },
        };
        let prep_outside = |host: &str| matches!(self, Scope::Replace { new, .. } if host != new);
        if p.steps.iter().any(outside) || p.prepare.iter().any(|x| prep_outside(&x.host)) {
            return Err(Error::Blocked(
                "the cluster differs from the inventory in other ways too (see `etcd-deploy plan`); run apply first".into(),
            ));
        }
        Ok(())
    }
}

/// What `apply`, `upgrade` and `replace` were asked for.
#[derive(Debug, Clone, Default)]
pub struct ApplyArgs {
    pub scope: Scope,
    /// `upgrade --to`: the version to move to, instead of the inventory's.
    pub version: Option<Version>,
    pub options: plan::Options,
    /// `None`: no snapshot before a version change.
    pub snapshot_dir: Option<PathBuf>,
    pub log: Option<PathBuf>,
    /// Delete removed members' data directories.
    pub wipe: bool,
    /// `upgrade --prepare-only`: host preparation only, no member touched.
    pub prepare_only: bool,
}

/// Applies the inventory; returns once the cluster matches it.
pub async fn apply(path: &Path, args: &ApplyArgs) -> Result<(), Error> {
    let open = Open {
        log: args.log.clone(),
        version: args.version,
        prepare_tls: Some(args.scope == Scope::Certs),
    };
    with_session(path, &open, async |s: &Session| {
        // Members started while nothing answered are read again, then planned for.
        for round in 0..3 {
            let (mut p, facts) = compute(s, args.options).await?;
            if round == 0
                && let Scope::Replace { old, new } = &args.scope
            {
                check_replace(s, &facts, old, new)?;
            }
            args.scope.check(&p)?;
            if args.prepare_only && p.blocked.is_none() {
                if p.prepare.is_empty() {
                    println!("Nothing to prepare: every host has what the change needs.");
                    return Ok(());
                }
                p.steps.clear();
                p.replan = false;
                p.notes.push("--prepare-only: the hosts are prepared, no member is restarted".into());
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
                wipe: args.wipe,
            };
            exec::execute(&env, &p, &facts).await?;
            if args.prepare_only {
                let v = args.version.unwrap_or(s.inv.cluster.version);
                println!("Prepared: every host has etcd {v}; `etcd-deploy upgrade {} --to {v}` now only restarts members.", path.display());
                return Ok(());
            }
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

/// `replace OLD --with NEW`: OLD must have left the inventory and NEW joined it.
fn check_replace(s: &Session, facts: &Facts, old: &str, new: &str) -> Result<(), Error> {
    if s.inv.member(old).is_some() {
        return Err(Error::Usage(format!(
            "{old} is still in {}: replace it there with {new} first, then run replace",
            s.inv.path.display()
        )));
    }
    let Some(n) = s.inv.member(new) else {
        return Err(Error::Usage(format!(
            "{new} is not in {}: add it there (in place of {old}) first",
            s.inv.path.display()
        )));
    };
    let list = facts.cluster.members.as_deref().unwrap_or_default();
    if !list.iter().any(|e| e.name == old) && facts.cluster.entry(n).is_none_or(|e| !e.started()) {
        return Err(Error::Usage(format!(
            "{old} is not a member of the cluster"
        )));
    }
    Ok(())
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
