//! Where etcd-deploy's records of its members (`facts::records`: SSH
//! destination, addresses, ports, adopted or made) are kept: on every
//! member's host (root-only, `layout::records_path`, written by
//! `remote/record.sh`, read back with the facts), and cached on the
//! controller beside the inventory (`.etcd-deploy/CLUSTER.members.json`,
//! 0600). The hosts' copies are the state; the cache only lets a
//! controller find a former member when no host answers, and a fresh
//! controller needs none. An old controller-only record (a bare map, no
//! serial) is read as serial 0 and so migrates to the hosts on first use.

use crate::facts::Records;
use crate::files;
use crate::inventory::Inventory;
use crate::remote;
use crate::ssh::Host;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn cache_path(inv: &Inventory) -> PathBuf {
    inv.path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(".etcd-deploy")
        .join(format!("{}.members.json", inv.cluster.name))
}

/// The controller's cached copy, if it has one (either format).
pub(crate) fn cached(inv: &Inventory) -> Option<Records> {
    let text = std::fs::read_to_string(cache_path(inv)).ok()?;
    let name = &inv.cluster.name;
    Records::parse(&text)
        .filter(|r| &r.cluster == name)
        .or_else(|| Records::parse_legacy(&text, name))
}

/// Caches `r` on the controller.
pub(crate) fn cache(inv: &Inventory, r: &Records) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    files::write_atomic(&cache_path(inv), text.as_bytes(), 0o600)
}

/// Writes `r` to the hosts of `members` (in parallel) and caches it. A host
/// that cannot take it is named in the error; the others have it.
pub(crate) async fn write(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
    members: &[String],
    r: &Records,
) -> Result<(), String> {
    let line = format!("{}\n", r.to_line());
    let script = remote::record(inv, true);
    let jobs = members.iter().filter_map(|name| {
        let host = hosts.get(name)?;
        let (script, line) = (&script, &line);
        Some(async move {
            host.run_with_input("record members", script, line.as_bytes())
                .await
                .map_err(|e| format!("{name}: {e}"))
        })
    });
    let failed: Vec<String> = futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    cache(inv, r).map_err(|e| {
        format!(
            "cannot cache etcd-deploy's records beside {}: {e}",
            inv.path.display()
        )
    })?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "etcd-deploy's records could not be written on {}",
            failed.join("; ")
        ))
    }
}

/// Drops a member that left the cluster from the records, on every
/// connected host and in the cache. The cache is current here: every run
/// caches the records before it changes anything.
pub(crate) async fn forget(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
    name: &str,
) -> Result<(), String> {
    let Some(now) = cached(inv) else {
        return Ok(());
    };
    if !now.members.contains_key(name) {
        return Ok(());
    }
    let all: Vec<String> = hosts
        .keys()
        .filter(|h| h.as_str() != name)
        .cloned()
        .collect();
    write(inv, hosts, &all, &now.without(name)).await
}

/// Removes the records from a host (`destroy`), and the cache with the
/// last one.
pub(crate) async fn remove(inv: &Inventory, host: &Host) -> Result<(), String> {
    host.run("remove records", &remote::record(inv, false))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Removes the controller's cache (`destroy`, once every host is clean).
pub(crate) fn uncache(inv: &Inventory) {
    let _ = std::fs::remove_file(cache_path(inv));
}
