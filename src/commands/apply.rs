//! `apply` and `plan` (and `upgrade`, `replace`, `certs rotate`, which are
//! `apply` with a scope): make the cluster match the inventory, or say how.

use super::output;
use super::{Open, Session, confirm, with_session};
use crate::error::Error;
use crate::exec;
use crate::facts::Facts;
use crate::inventory::Version;
use crate::plan::{self, Plan, SavedPlan, Scope};
use std::path::{Path, PathBuf};

/// What `plan` found, for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    NoChanges,
    Changes,
    /// Nothing can safely be done (the plan says why).
    Blocked,
}

/// Prints what `apply` would do; with `out`, also saves it for `apply --plan`.
pub async fn plan(
    path: &Path,
    options: &plan::Options,
    out: Option<&Path>,
) -> Result<Planned, Error> {
    with_session(path, &Open::early_facts(), async |s: &Session| {
        if let Some(w) = s
            .inv
            .unsupported_line()
            .filter(|_| !crate::progress::quiet())
        {
            output::warn(&w);
        }
        let (p, facts) = compute(s, options).await?;
        print(&p);
        if let Some(who) = super::run_lock::shown(s, &facts).await {
            output::warn(&format!(
                "the cluster's run lock is held by {who}: apply waits for it or stops"
            ));
        }
        let changes = if p.blocked.is_some() {
            Planned::Blocked
        } else if p.is_empty() {
            Planned::NoChanges
        } else {
            Planned::Changes
        };
        if let Some(out) = out {
            let saved = SavedPlan::new(inventory_sha256(path)?, &facts, p);
            let text = serde_json::to_string_pretty(&saved)
                .map_err(|e| Error::Usage(format!("cannot encode the plan: {e}")))?;
            crate::files::write_atomic(out, text.as_bytes(), 0o600)
                .map_err(|e| Error::Usage(format!("{}: {e}", out.display())))?;
            eprintln!(
                "Saved to {}; `etcd-deploy apply {} --plan {}` carries out exactly this plan.",
                out.display(),
                path.display(),
                out.display()
            );
        }
        Ok(changes)
    })
    .await
}

fn inventory_sha256(path: &Path) -> Result<String, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    Ok(crate::files::sha256_hex(&bytes))
}

/// `apply --plan FILE`: the saved plan, if the inventory and the cluster are
/// as they were when it was made.
async fn apply_saved(path: &Path, file: &Path, args: &ApplyArgs) -> Result<(), Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    let saved: SavedPlan = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a saved plan: {e}", file.display())))?;
    let open = Open {
        log: args.log.clone(),
        ..Open::early_facts()
    };
    with_session(path, &open, async |s: &Session| {
        let facts = s.facts().await?;
        let taken = !saved.plan.is_empty() && s.hold_run_lock(&facts, args.lock_timeout).await?;
        // Read again under the lock: another run may have gone before.
        let facts = match taken {
            true => s.facts().await?,
            false => facts,
        };
        carry_out(path, file, &saved, args, s, &facts).await
    })
    .await
}

/// A saved plan carried out, once checked against the facts.
async fn carry_out(
    path: &Path,
    file: &Path,
    saved: &SavedPlan,
    args: &ApplyArgs,
    s: &Session,
    facts: &Facts,
) -> Result<(), Error> {
    saved
        .check(&inventory_sha256(path)?, facts)
        .map_err(|why| {
            Error::Blocked(format!(
                "{} cannot be carried out: {why}; make a new plan (`etcd-deploy plan --out`)",
                file.display()
            ))
        })?;
    let p = &saved.plan;
    output::plan(p);
    if p.is_empty() && p.blocked.is_none() {
        return Ok(());
    }
    run(s, p, facts, args.yes).await?;
    if p.replan {
        output::say(
            "Carried out; more is needed now that the stopped members answer: run plan again.",
        );
    } else {
        output::say("Apply complete: the saved plan was carried out.");
    }
    Ok(())
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
    /// `apply --plan FILE`: carry out this saved plan.
    pub saved: Option<PathBuf>,
    /// `certs rotate`'s scope without issuing new certificates: the files
    /// as they are (a CA rotation's pass) are rolled out.
    pub keep_certs: bool,
    /// How long to wait for the cluster's run lock another run holds.
    pub lock_timeout: std::time::Duration,
}

/// How many times a run plans again after steps that ask for it
/// (`Plan::replan`): each round makes progress, so only a cluster that
/// keeps changing under the run reaches it.
const MAX_ROUNDS: usize = 8;

/// Applies the inventory; returns once the cluster matches it.
pub async fn apply(path: &Path, args: &ApplyArgs) -> Result<(), Error> {
    if let Some(file) = &args.saved {
        return apply_saved(path, file, args).await;
    }
    let scope = &args.options.scope;
    let open = Open {
        log: args.log.clone(),
        version: args.version,
        prepare_tls: Some(*scope == Scope::CertsRotate && !args.keep_certs),
        early_facts: true,
    };
    with_session(path, &open, async |s: &Session| {
        if *scope == Scope::Apply
            && let Some(w) = s
                .inv
                .unsupported_line()
                .filter(|_| !crate::progress::quiet())
        {
            output::warn(&w);
        }
        rounds(path, args, s).await
    })
    .await
}

/// The rounds of planning and carrying out, under the cluster's run lock
/// once there is something to do.
async fn rounds(path: &Path, args: &ApplyArgs, s: &Session) -> Result<(), Error> {
    let scope = &args.options.scope;
    let mut consented = args.yes;
    // Members started while nothing answered, and each pass of a move to
    // TLS, are read again, then planned for: a run resumed after an
    // interruption may need a start, both passes and the rest.
    for round in 0..MAX_ROUNDS {
        let (mut p, mut facts) = compute(s, &args.options).await?;
        if !p.is_empty() && s.hold_run_lock(&facts, args.lock_timeout).await? {
            // Planned again under the lock: another run may have
            // changed the cluster before it was taken.
            (p, facts) = compute(s, &args.options).await?;
        }
        if round == 0
            && let Scope::Replace { old, new } = scope
            && let Some(why) = plan::readiness::replace_mismatch(&s.inv, &facts, old, new)
        {
            return Err(Error::Usage(why));
        }
        if *scope == Scope::PrepareUpgrade && p.blocked.is_none() && p.is_empty() {
            output::say("Nothing to prepare: every host has what the change needs.");
            return Ok(());
        }
        if round == 0 || !p.is_empty() {
            output::plan(&p);
        }
        if p.is_empty() && p.blocked.is_none() {
            if let Some(why) = plan::readiness::unreached(&facts) {
                return Err(Error::Blocked(why));
            }
            if round > 0 {
                output::say("Apply complete: the cluster matches the inventory.");
            }
            return Ok(());
        }
        run(s, &p, &facts, consented).await?;
        // Asked once for the removals shown; a later round asks for its own.
        consented |= !p.destructive().is_empty();
        if *scope == Scope::PrepareUpgrade {
            let v = args.version.unwrap_or(s.inv.cluster.version);
            output::say(&format!(
                "Prepared: every host has etcd {v}; `etcd-deploy upgrade {} --to {v}` now only restarts members.",
                path.display()
            ));
            return Ok(());
        }
        if !p.replan {
            if let Some(why) = plan::readiness::unreached(&facts) {
                return Err(Error::Blocked(why));
            }
            output::say("Apply complete: the cluster matches the inventory.");
            return Ok(());
        }
    }
    Err(Error::Blocked(format!(
        "the cluster still needed changes after {MAX_ROUNDS} rounds of planning and carrying out; run apply again"
    )))
}

/// Whether the plan for `options` has anything to do or is blocked
/// (nothing printed, nothing changed).
pub async fn has_work(path: &Path, options: &plan::Options) -> Result<bool, Error> {
    with_session(path, &Open::early_facts(), async |s: &Session| {
        let (p, _) = compute(s, options).await?;
        Ok(!p.is_empty() || p.blocked.is_some())
    })
    .await
}

/// Carries out a plan: consent for its removals and deletions first (given
/// by `consented`, else asked), the inventory's members recorded, then the
/// executor.
pub(super) async fn run(
    s: &Session,
    p: &Plan,
    facts: &Facts,
    consented: bool,
) -> Result<(), Error> {
    if p.blocked.is_none() {
        // (Taken already by the callers that plan again under it.)
        if !p.is_empty() {
            s.hold_run_lock(facts, std::time::Duration::ZERO).await?;
        }
        let destructive = p.destructive();
        if !destructive.is_empty() {
            confirm(
                consented,
                &format!("the plan {}", destructive.join(", and ")),
                &s.inv.cluster.name,
            )?;
        }
        s.remember_members(facts, false).await?;
    }
    exec::execute(&s.env(), p).await
}

/// Gathers the facts and plans. Members still coming up (starting, or a
/// join or restart a killed run left half-done) are given a while to settle:
/// the facts are read again until they answer or the time is up, and only
/// then does the plan name them.
async fn compute(s: &Session, opts: &plan::Options) -> Result<(Plan, Facts), Error> {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let facts = s.facts().await?;
        if !plan::readiness::settling(&s.inv, &facts) || std::time::Instant::now() >= deadline {
            return Ok((plan::plan_with(&s.inv, &facts, &s.desired()?, opts), facts));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// How long running members that do not answer yet are given to settle.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

fn print(p: &Plan) {
    match output::mode() {
        output::Mode::Text => print!("{p}"),
        output::Mode::Json => match serde_json::to_string_pretty(p) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("error: cannot encode the plan: {e}"),
        },
    }
}
