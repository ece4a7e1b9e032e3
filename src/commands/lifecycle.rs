//! Commands around the cluster's life: `snapshot save`, `restore` (disaster
//! recovery as etcd's guide describes it), `destroy`, and `env` (variables for
//! using `etcdctl` directly).

use super::{Open, Session, apply, confirm, with_session};
use crate::error::Error;
use crate::exec;
use crate::plan::recover;
use crate::snapshot;
use crate::ssh::quote;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Streams a snapshot from the leader to `out` (or `snapshots/` beside the inventory).
pub async fn snapshot_save(path: &Path, out: Option<PathBuf>) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        let env = s.env();
        let live = live(s).await?;
        let leader = exec::leader_url(&env, &live).await?;
        let saved = match &out {
            Some(file) => snapshot::save_to(&leader, file, &snapshot::reporter(&s.progress)).await,
            None => {
                let report = snapshot::reporter(&s.progress);
                snapshot::save(&leader, &default_dir(path), &s.inv.cluster.name, &report).await
            }
        }
        .map_err(|e| Error::Blocked(format!("snapshot: {e}")))?;
        println!(
            "{} ({} bytes, revision {}, SHA256 of the database checked)",
            saved.path.display(),
            saved.bytes,
            saved.revision
        );
        Ok(())
    })
    .await
}

/// Disaster recovery (see `exec::restore`), after the operator's consent.
pub async fn restore(path: &Path, file: &Path, yes: bool) -> Result<(), Error> {
    // Checked before anything stops, read in pieces (a database may be GBs).
    let (_, sha) =
        snapshot::check_file(file).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    with_session(path, &Open::default(), async |s: &Session| {
        s.require_all_hosts()?;
        let names: Vec<&str> = s.inv.members.iter().map(|m| m.name.as_str()).collect();
        confirm(
            yes,
            &format!(
                "restore replaces the data of every member ({}) with {}; current data is moved aside, not deleted",
                names.join(", "),
                file.display()
            ),
            &s.inv.cluster.name,
        )?;
        // Fresh or half-prepared hosts get what the inventory says first
        // (release, unit, certificates), before any member stops.
        let facts = s.facts().await?;
        let p = crate::plan::plan_with(&s.inv, &facts, &s.desired()?, &Default::default());
        exec::prepare_only(&s.env(), &p, &facts).await?;
        let stamp = crate::files::stamp();
        exec::restore(&s.env(), file, &sha, &stamp).await?;
        println!(
            "Restored {} onto {} members; old data directories were moved to <data_dir>.pre-restore-{stamp}.",
            file.display(),
            names.len()
        );
        Ok(())
    })
    .await
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
        let facts = s.facts().await?;
        let env = s.env();
        let said = exec::recover_survey(&env, &facts).await?;
        let recovery = recover::decide(&s.inv, &facts, &said).map_err(Error::Blocked)?;
        println!("Recovery of cluster {} (quorum is lost):", s.inv.cluster.name);
        print!("{recovery}");
        confirm(
            yes,
            &format!(
                "recover makes {} the seed of a new cluster; every other member's own data is moved aside (kept) and it joins with fresh data",
                recovery.seed
            ),
            &s.inv.cluster.name,
        )?;
        s.remember_members()?;
        exec::recover_seed(&env, &facts, &recovery, &stamp).await?;
        Ok(recovery.seed)
    })
    .await?;
    println!("{seed} runs as a one-member cluster with its data; the other members join it now.");
    let args = apply::ApplyArgs {
        yes: true,
        ..Default::default()
    };
    apply::apply(path, &args).await?;
    println!(
        "Recovered from {seed}. Data directories as they were before: <data_dir>.pre-recover-{stamp} on each survivor."
    );
    Ok(())
}

/// Stops and disables every member and removes what etcd-deploy installed.
pub async fn destroy(path: &Path, wipe_data: bool, yes: bool) -> Result<(), Error> {
    with_session(path, &Open::default(), async |s: &Session| {
        s.require_all_hosts()?;
        let what = if wipe_data {
            "and DELETES their data directories"
        } else {
            "(data directories are kept)"
        };
        let names: Vec<&str> = s.inv.members.iter().map(|m| m.name.as_str()).collect();
        confirm(
            yes,
            &format!(
                "destroy stops etcd on {} and removes its units, configs and releases {what}",
                names.join(", ")
            ),
            &s.inv.cluster.name,
        )?;
        exec::destroy(&s.env(), wipe_data).await?;
        println!("Destroyed cluster {}.", s.inv.cluster.name);
        Ok(())
    })
    .await
}

/// Prints `ETCDCTL_*` variables for the inventory's members, each value
/// quoted for the shell (`eval "$(etcd-deploy env inventory.toml)"`).
pub fn env_vars(path: &Path) -> Result<(), Error> {
    let inv = crate::inventory::Inventory::load(path)?;
    print!("{}", env_text(&inv));
    Ok(())
}

/// The `export` lines of `env`.
pub fn env_text(inv: &crate::inventory::Inventory) -> String {
    let endpoints: Vec<String> = inv.members.iter().map(|m| m.client_url()).collect();
    let mut out = String::new();
    let mut export = |k: &str, v: &str| out.push_str(&format!("export {k}={}\n", quote(v)));
    export("ETCDCTL_API", "3");
    export("ETCDCTL_ENDPOINTS", &endpoints.join(","));
    if let crate::inventory::TlsMode::Generate { dir }
    | crate::inventory::TlsMode::Provided { dir } = &inv.tls
    {
        let p = crate::tls::Paths::new(dir);
        let abs = |f: PathBuf| std::path::absolute(&f).unwrap_or(f).display().to_string();
        export("ETCDCTL_CACERT", &abs(p.ca()));
        export("ETCDCTL_CERT", &abs(p.cert("operator")));
        export("ETCDCTL_KEY", &abs(p.key("operator")));
    }
    out
}

/// The inventory members that answer now.
async fn live(s: &Session) -> Result<BTreeSet<String>, Error> {
    let facts = s.facts().await?;
    if facts.cluster.status.is_empty() {
        return Err(Error::Blocked("no member answers".into()));
    }
    Ok(facts.cluster.status.keys().cloned().collect())
}

fn default_dir(inventory: &Path) -> PathBuf {
    inventory
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
}
