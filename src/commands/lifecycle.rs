//! Commands around the cluster's life: `restore` (disaster recovery as
//! etcd's guide describes it), `recover` (quorum lost for good), `destroy`,
//! and `env` (variables for using `etcdctl` directly).

use super::output::{self, Mode};
use super::{Open, Session, apply, confirm, with_session};
use crate::error::Error;
use crate::exec;
use crate::plan::{Plan, lifecycle, recover};
use crate::set_aside;
use crate::snapshot;
use crate::ssh::quote;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Disaster recovery: the restore plan (`plan::lifecycle::restore`) shown,
/// agreed to, and carried out.
pub async fn restore(path: &Path, file: &Path, yes: bool, dry_run: bool) -> Result<(), Error> {
    // Checked before anything stops, read in pieces (a database may be GBs).
    let (_, sha) =
        snapshot::check_file(file).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    with_session(path, &Open::default(), async |s: &Session| {
        s.require_all_hosts()?;
        refuse_separate_wal(&s.inv, "restore")?;
        let facts = s.facts().await?;
        let stamp = crate::files::stamp();
        let p = lifecycle::restore(&s.inv, &facts, &s.desired()?, file, &sha, &stamp);
        if !carry_out(s, &p, &facts, yes, dry_run).await? {
            return Ok(());
        }
        let aside = exec::set_aside(&s.env(), false).await?;
        let names: Vec<&str> = s.inv.members.iter().map(|m| m.name.as_str()).collect();
        output::say(&format!(
            "Restored {} onto {} members.\n{}",
            file.display(),
            names.len(),
            aside_text(&aside)
        ));
        output::result(
            "restored",
            json!({ "snapshot": file, "sha256": sha, "members": names, "set_aside": aside_json(&aside) }),
        );
        Ok(())
    })
    .await
}

/// Shows a whole-cluster plan, and unless it is blocked or only shown
/// (`--dry-run`), carries it out after the operator's consent (`--yes`, or
/// the cluster's name typed), the members recorded first on the hosts
/// (not for `destroy`, which removes the records). Whether it was carried out.
async fn carry_out(
    s: &Session,
    p: &Plan,
    facts: &crate::facts::Facts,
    yes: bool,
    dry_run: bool,
) -> Result<bool, Error> {
    output::plan(p);
    if let Some(why) = &p.blocked {
        return Err(Error::Blocked(why.clone()));
    }
    if dry_run {
        output::nothing_changed();
        output::say("--dry-run: nothing was changed.");
        return Ok(false);
    }
    s.hold_host_lock(facts).await?;
    confirm(yes, &p.destructive().join(", and "), &s.inv.cluster.name)?;
    if p.scope != crate::plan::Scope::Destroy {
        s.remember_members(facts, true).await?;
    }
    exec::execute(&s.env(), p).await?;
    Ok(true)
}

/// Quorum lost for good (see `plan::recover` and `exec::recover_*`): the
/// survivors asked, the seed shown and agreed to, the seed made a
/// one-member cluster, then the others joined by the normal apply.
pub async fn recover(path: &Path, yes: bool) -> Result<(), Error> {
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "recover replaces the membership of the cluster; pass --yes to confirm (standard input is not a terminal)".into(),
        ));
    }
    let stamp = crate::files::stamp();
    let seed = with_session(path, &Open::default(), async |s: &Session| {
        refuse_separate_wal(&s.inv, "recover")?;
        let facts = s.facts().await?;
        // An earlier recover stopped after its seed started on the one-off
        // config: the plan finishes it (the seed back on its normal config,
        // then the others join).
        if let Some((m, true)) = facts.forced(&s.inv) {
            output::say(&format!(
                "An earlier recover stopped before it finished: {} runs on its one-off force-new-cluster config; finishing it.",
                m.name
            ));
            return Ok(m.name.clone());
        }
        s.hold_host_lock(&facts).await?;
        let env = s.env();
        let said = exec::recover_survey(&env, &facts).await?;
        let recovery = recover::decide(&s.inv, &facts, &said).map_err(Error::Blocked)?;
        output::say(&format!(
            "Recovery of cluster {} (quorum is lost):\n{}",
            s.inv.cluster.name,
            recovery.to_string().trim_end()
        ));
        confirm(
            yes,
            &format!(
                "recover makes {} the seed of a new cluster; every other member's own data is moved aside (kept) and it joins with fresh data",
                recovery.seed
            ),
            &s.inv.cluster.name,
        )?;
        s.remember_members(&facts, true).await?;
        output::changed();
        exec::recover_seed(&env, &facts, &recovery, &stamp).await?;
        Ok(recovery.seed)
    })
    .await?;
    output::result("seed", json!(seed));
    output::say(&format!(
        "{seed} runs as a one-member cluster with its data; the other members join it now."
    ));
    let args = apply::ApplyArgs {
        yes: true,
        ..Default::default()
    };
    apply::apply(path, &args).await?;
    let aside = with_session(path, &Open::default(), async |s: &Session| {
        exec::set_aside(&s.env(), false).await
    })
    .await?;
    output::say(&format!("Recovered from {seed}.\n{}", aside_text(&aside)));
    Ok(())
}

/// Every data directory restore and recover (and rejoining members) set
/// aside, per member, oldest first, with what each holds.
fn aside_text(aside: &[(String, Vec<set_aside::Aside>)]) -> String {
    let listed = set_aside::describe(aside);
    if listed.is_empty() {
        "No data directory was set aside.".into()
    } else {
        format!(
            "Data directories set aside (oldest first; etcd-deploy deletes none of them):\n{}",
            listed.trim_end()
        )
    }
}

fn aside_json(aside: &[(String, Vec<set_aside::Aside>)]) -> serde_json::Value {
    json!(
        aside
            .iter()
            .map(|(name, list)| (name.clone(), json!(list)))
            .collect::<serde_json::Map<_, _>>()
    )
}

/// Restore and recover move data directories aside and start members with
/// fresh data: a WAL kept elsewhere would be replayed onto it.
fn refuse_separate_wal(inv: &crate::inventory::Inventory, what: &str) -> Result<(), Error> {
    match inv
        .members
        .iter()
        .find_map(|m| Some((m, m.separate_wal_dir()?)))
    {
        Some((m, wal)) => Err(Error::Usage(format!(
            "{what} does not handle a WAL outside the data directory yet ({} has wal-dir {wal}); nothing was changed",
            m.name
        ))),
        None => Ok(()),
    }
}

/// Stops and disables every member and removes what etcd-deploy installed:
/// the destroy plan (`plan::lifecycle::destroy`) shown, agreed to, carried out.
pub async fn destroy(path: &Path, wipe_data: bool, yes: bool, dry_run: bool) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        s.require_all_hosts()?;
        let facts = s.facts().await?;
        let p = lifecycle::destroy(&s.inv, &facts, wipe_data);
        if !carry_out(s, &p, &facts, yes, dry_run).await? {
            return Ok(());
        }
        let names: Vec<&str> = s.inv.members.iter().map(|m| m.name.as_str()).collect();
        output::result(
            "destroyed",
            json!({ "members": names, "data_wiped": wipe_data }),
        );
        output::say(&format!("Destroyed cluster {}.", s.inv.cluster.name));
        Ok(())
    })
    .await
}

/// Prints `ETCDCTL_*` variables for the inventory's members, each value
/// quoted for the shell (`eval "$(etcd-deploy env inventory.toml)"`), or
/// as one JSON object.
pub fn env_vars(path: &Path) -> Result<(), Error> {
    let inv = crate::inventory::Inventory::load(path)?;
    match output::mode() {
        Mode::Text => print!("{}", env_text(&inv)),
        Mode::Json => {
            let map: serde_json::Map<String, serde_json::Value> = env_values(&inv)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            println!("{}", serde_json::Value::Object(map));
        }
    }
    Ok(())
}

/// The `export` lines of `env`.
pub fn env_text(inv: &crate::inventory::Inventory) -> String {
    env_values(inv)
        .into_iter()
        .map(|(k, v)| format!("export {k}={}\n", quote(&v)))
        .collect()
}

/// The variables etcdctl reads, in the order `env` prints them.
fn env_values(inv: &crate::inventory::Inventory) -> Vec<(&'static str, String)> {
    let endpoints: Vec<String> = inv.members.iter().map(|m| m.client_url()).collect();
    let mut out = vec![
        ("ETCDCTL_API", "3".to_string()),
        ("ETCDCTL_ENDPOINTS", endpoints.join(",")),
    ];
    if let crate::inventory::TlsMode::Generate { dir, .. }
    | crate::inventory::TlsMode::Provided { dir } = &inv.tls
    {
        let p = crate::tls::Paths::new(dir);
        let abs = |f: PathBuf| std::path::absolute(&f).unwrap_or(f).display().to_string();
        out.push(("ETCDCTL_CACERT", abs(p.ca())));
        // An operator's own pki (`certs operator`) holds only its client.*.
        let who = if p.cert("operator").is_file() || !p.cert("client").is_file() {
            "operator"
        } else {
            "client"
        };
        out.push(("ETCDCTL_CERT", abs(p.cert(who))));
        out.push(("ETCDCTL_KEY", abs(p.key(who))));
    }
    out
}
