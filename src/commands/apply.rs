//! `apply` and `plan` (and `upgrade`, `replace`, `certs rotate`, which are
//! `apply` with a scope): make the cluster match the inventory, or say how.

use super::{Open, Session, confirm, with_session};
use crate::error::Error;
use crate::exec;
use crate::facts::Facts;
use crate::inventory::Version;
use crate::plan::{self, Plan, Scope};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Prints what `apply` would do.
pub async fn plan(path: &Path, format: Format) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let (p, _) = compute(s, &plan::Options::default()).await?;
        print(&p, format);
        Ok(())
    })
    .await
}

/// What `apply`, `upgrade`, `replace` and `certs rotate` were asked for.
#[derive(Debug, Clone, Default)]
pub struct ApplyArgs {
    /// Scope, snapshot directory, wipe and downgrade choices: all go into the plan.
    pub options: plan::Options,
    /// `upgrade --to`: the version to move to, instead of the inventory's.
    pub version: Option<Version>,
    pub log: Option<PathBuf>,
    /// `--yes`: removals and data deletion go ahead without asking.
    pub yes: bool,
}

/// Applies the inventory; returns once the cluster matches it.
pub async fn apply(path: &Path, args: &ApplyArgs) -> Result<(), Error> {
    let scope = &args.options.scope;
    let open = Open {
        log: args.log.clone(),
        version: args.version,
        prepare_tls: Some(*scope == Scope::CertsRotate),
    };
    with_session(path, &open, async |s: &Session| {
        let mut consented = args.yes;
        // Members started while nothing answered are read again, then planned for.
        for round in 0..3 {
            let (p, facts) = compute(s, &args.options).await?;
            if round == 0
                && let Scope::Replace { old, new } = scope
            {
                check_replace(s, &facts, old, new)?;
            }
            if *scope == Scope::PrepareUpgrade && p.blocked.is_none() && p.is_empty() {
                println!("Nothing to prepare: every host has what the change needs.");
                return Ok(());
            }
            if round == 0 || !p.is_empty() {
                print(&p, Format::Text);
            }
            if p.is_empty() && p.blocked.is_none() {
                return Ok(());
            }
            let destructive = p.destructive();
            if p.blocked.is_none() && !destructive.is_empty() && !consented {
                confirm(
                    false,
                    &format!("the plan {}", destructive.join(", and ")),
                    &s.inv.cluster.name,
                )?;
                consented = true;
            }
            if p.blocked.is_none() {
                s.remember_members()?;
            }
            exec::execute(&s.env(), &p, &facts).await?;
            if *scope == Scope::PrepareUpgrade {
                let v = args.version.unwrap_or(s.inv.cluster.version);
                println!(
                    "Prepared: every host has etcd {v}; `etcd-deploy upgrade {} --to {v}` now only restarts members.",
                    path.display()
                );
                return Ok(());
            }
            if !p.replan {
                println!("Apply complete: the cluster matches the inventory.");
                if let Some(v) = args.version
                    && v != s.inventory_version
                {
                    println!(
                        "Every member runs etcd {v}: set cluster.version = \"{v}\" in {}.",
                        path.display()
                    );
                }
                return Ok(());
            }
        }
        Err(Error::Blocked(
            "the cluster did not settle after starting its stopped members; run apply again"
                .into(),
        ))
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

async fn compute(s: &Session, opts: &plan::Options) -> Result<(Plan, Facts), Error> {
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
