//! `upgrade --to`: a version change as etcd allows it, one minor at a time.
//! A target more than one minor ahead, or past a minor whose required patch
//! the members do not run yet, is reached in legs (`plan::rollout::legs`):
//! each leg a full rolling upgrade with its own plan, checks and gates, and
//! the cluster version seen to move to the leg's minor before the next
//! starts. Every leg is planned from what the members run, so running the
//! same command again after an interruption resumes the chain where it
//! stopped.

use super::apply::{self, ApplyArgs};
use super::output;
use super::{Open, Session, with_session};
use crate::error::Error;
use crate::facts::Facts;
use crate::inventory::{self, Version};
use crate::plan::{Scope, downgrade, rollout};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long etcd may take to move the cluster version once every member
/// runs the new minor (its leader checks every few seconds).
const CLUSTER_VERSION_WAIT: Duration = Duration::from_secs(60);

pub(super) async fn upgrade(path: &Path, to: Version, args: &ApplyArgs) -> Result<(), Error> {
    if args.options.scope != Scope::Upgrade {
        let mut a = args.clone();
        a.version = Some(to);
        return apply::apply(path, &a).await;
    }
    let running = with_session(path, &Open::early_facts(), async |s: &Session| {
        Ok(running(&s.facts().await?))
    })
    .await?;
    let (legs, from, verb) = match running {
        Some((lowest, newest)) if to < lowest => (
            downgrade::legs_down(newest, to, inventory::newest_patch),
            newest,
            "Downgrade",
        ),
        Some((lowest, _)) => (
            rollout::legs(lowest, to, inventory::newest_patch),
            lowest,
            "Upgrade",
        ),
        None => (vec![to], to, "Upgrade"),
    };
    if legs.len() > 1 {
        let each: Vec<String> = legs.iter().map(ToString::to_string).collect();
        output::say(&format!(
            "{verb} from {from} to {to} in {} legs, one minor at a time as etcd requires: {}",
            legs.len(),
            each.join(" → ")
        ));
    }
    for leg in legs {
        let mut a = args.clone();
        a.version = Some(leg);
        apply::apply(path, &a).await?;
        if leg != to {
            cluster_version_moves(path, leg).await?;
        }
    }
    // What the inventory should say now.
    let mut inv = inventory::Inventory::load(path)?;
    if inv.cluster.version != to {
        let names = if inv.at_version(to).is_empty() {
            ""
        } else {
            ", and write [etcd] extra with the names noted above"
        };
        output::say(&format!(
            "Every member runs etcd {to}: set cluster.version = \"{to}\" in {}{names}.",
            path.display()
        ));
    }
    Ok(())
}

/// The oldest and the newest version members run, as they say.
fn running(facts: &Facts) -> Option<(Version, Version)> {
    let versions = || {
        facts
            .cluster
            .status
            .values()
            .filter_map(|s| Version::parse(&s.version))
    };
    Some((versions().min()?, versions().max()?))
}

/// Waits until the cluster version is `leg`'s minor (and no downgrade is
/// enabled): a member of the next minor must not start before it (etcd
/// refuses to, or worse), nor the next downgrade be asked for.
async fn cluster_version_moves(path: &Path, leg: Version) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let deadline = Instant::now() + CLUSTER_VERSION_WAIT;
        loop {
            let facts = s.facts().await?;
            let now = facts
                .cluster
                .cluster_version
                .as_deref()
                .and_then(Version::parse);
            // A downgrade leg is over once etcd ended the downgrade too.
            let ended = facts.cluster.downgrade_target().is_none();
            if ended && now.is_some_and(|v| (v.major, v.minor) == (leg.major, leg.minor)) {
                output::say(&format!(
                    "The cluster version is {}.{}: the next leg can start.",
                    leg.major, leg.minor
                ));
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Blocked(format!(
                    "every member runs {leg}, but the cluster version is still {} after {} s; etcd moves it once every member runs the new minor: look at `etcd-deploy status`, then run the same command again",
                    now.map_or_else(|| "unknown".to_string(), |v| format!("{}.{}", v.major, v.minor)),
                    CLUSTER_VERSION_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await
}
