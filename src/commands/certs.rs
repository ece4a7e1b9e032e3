//! `certs rotate-ca`: one pass of a CA rotation per run (`tls::rotate_ca`
//! writes the files, `certs rotate`'s scope rolls them out one member at a
//! time), so that clients can be given the new CA and then their new
//! certificates between the passes. Which pass the cluster runs is asked of
//! every member (`loaded`: each is probed with short-lived client
//! certificates of the old and the new CA), never taken from the
//! controller's files alone: a pass that is not loaded everywhere is
//! finished first (the facts see members that have not loaded their files)
//! and the run stops there; the next pass never starts before.

use super::apply::{self, ApplyArgs};
use super::output;
use super::{Open, Session, with_session};
use crate::cli::ClientLayout;
use crate::error::Error;
use crate::etcd;
use crate::facts::printable;
use crate::inventory::Inventory;
use crate::tls::{self, CaPass};
use serde_json::json;
use std::path::Path;

pub async fn rotate_ca(path: &Path, mut args: ApplyArgs) -> Result<(), Error> {
    args.keep_certs = true;
    args.options.snapshot_dir = None;
    let inv = Inventory::load(path)?;
    if let Some(pass) = tls::ca_rotation(&inv) {
        // A pass whose files are written: finished first if some member
        // has not loaded them, and the run stops there (as it does once
        // pass 3 is loaded: the rotation ends).
        let work = apply::has_work(path, &args.options).await?;
        if work {
            apply::apply(path, &args).await?;
        }
        let missing = loaded(path, &inv).await?;
        if work || !missing.is_empty() || pass == CaPass::OldDropped {
            return conclude(&inv, pass, &missing, path, "Finished", label(pass));
        }
    } else if apply::has_work(path, &args.options).await? {
        return Err(Error::Blocked(format!(
            "the cluster differs from {} (see `etcd-deploy plan`): apply first, then rotate the CA",
            path.display()
        )));
    }
    let pass = tls::rotate_ca(&inv)?;
    output::say(&format!(
        "{}: files written; rolling them out.",
        capital(label(pass))
    ));
    apply::apply(path, &args).await?;
    output::changed();
    let missing = loaded(path, &inv).await?;
    conclude(&inv, pass, &missing, path, &capital(label(pass)), "done")
}

/// The end of a run: refused while a member does not run `pass` (`missing`
/// names them), else the rotation's files tidied after pass 3 and the
/// outcome said as `{before} {after}: loaded by every member.`
fn conclude(
    inv: &Inventory,
    pass: CaPass,
    missing: &[String],
    path: &Path,
    before: &str,
    after: &str,
) -> Result<(), Error> {
    if !missing.is_empty() {
        return Err(not_loaded(pass, missing, path));
    }
    if pass == CaPass::OldDropped {
        tls::finish_rotation(inv)?;
    }
    output::changed();
    output::result("ca_rotation", json!(label(pass)));
    output::say(&format!(
        "{before} {after}: loaded by every member. {}",
        next(pass, path)
    ));
    Ok(())
}

/// The members that do not run the pass whose files are in place, each
/// with what it should show and what it answered (empty: every member runs
/// it, or no rotation is under way).
async fn loaded(path: &Path, inv: &Inventory) -> Result<Vec<String>, Error> {
    let Some(ids) = tls::probe_ids(inv)? else {
        return Ok(vec![]);
    };
    with_session(path, &Open::default(), async |s: &Session| {
        let asks = s.inv.members.iter().map(|m| async {
            let url = match s.access.url_or_direct(m, s.hosts.get(&m.name)).await {
                Ok(u) => u,
                Err(e) => return vec![format!("{} (cannot be reached: {e})", m.name)],
            };
            let mut out = Vec::new();
            for p in &ids.probes {
                let got = etcd::accepts(&url, &p.id).await;
                let wrong = match (&got, p.accepted) {
                    (Ok(()), true) => None,
                    (Err(e), true) => Some(format!("refused: {}", printable(&e.message))),
                    (Ok(()), false) => Some("accepted it".to_string()),
                    // Refused: but only a member that answers at all proves it.
                    (Err(_), false) => match etcd::status(&url).await {
                        Ok(_) => None,
                        Err(e) => Some(format!("does not answer: {}", printable(&e.message))),
                    },
                };
                if let Some(w) = wrong {
                    out.push(format!("{} should have {} but {w}", m.name, p.shows));
                }
            }
            out
        });
        Ok(futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect())
    })
    .await
}

fn not_loaded(pass: CaPass, missing: &[String], path: &Path) -> Error {
    Error::Blocked(format!(
        "{} is not loaded everywhere yet: {}; the next pass is not started. Once these members run their files (see `etcd-deploy status`; `systemctl restart` them if their files are in place), run `etcd-deploy certs rotate-ca {}` again",
        label(pass),
        missing.join("; "),
        path.display()
    ))
}

fn label(pass: CaPass) -> &'static str {
    match pass {
        CaPass::TrustBoth => "pass 1 of 3 (every member trusts the old and the new CA)",
        CaPass::Reissued => "pass 2 of 3 (every certificate signed by the new CA)",
        CaPass::OldDropped => "pass 3 of 3 (the old CA trusted nowhere)",
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// What the operator does before the next pass.
fn next(pass: CaPass, path: &Path) -> String {
    match pass {
        CaPass::TrustBoth => format!(
            "Give your clients the new ca.crt (it holds both CAs), then run `etcd-deploy certs rotate-ca {}` again: every member gets certificates from the new CA.",
            path.display()
        ),
        CaPass::Reissued => format!(
            "Give your clients their new certificates (operator.crt/.key and any others signed by the new CA), then run `etcd-deploy certs rotate-ca {}` again: the old CA is dropped.",
            path.display()
        ),
        CaPass::OldDropped => "The CA rotation is complete.".to_string(),
    }
}

/// `certs operator NAME`: a personal client certificate from the cluster
/// CA into its own pki directory (`tls::issue_operator`); needs the CA key.
/// Touches no host.
pub fn operator(path: &Path, name: &str, out: Option<&Path>) -> Result<(), Error> {
    let inv = Inventory::load(path)?;
    if !crate::inventory::valid_name(name) {
        return Err(Error::Usage(format!(
            "{}: not a name for a certificate (letters, digits, '-', '_', '.', at most 63, starting with a letter or digit)",
            printable(name)
        )));
    }
    if !tls::has_ca(&inv) {
        return Err(Error::Usage(format!(
            "{}: there is no CA to issue from yet (run apply first; it makes the cluster's CA)",
            path.display()
        )));
    }
    let dir = tls::issue_operator(&inv, name, out).map_err(|e| Error::Usage(e.0))?;
    output::result("issued", json!({ "name": name, "dir": dir }));
    output::say(&format!(
        "Issued a client certificate for {name} (CN {name}) into {}: ca.crt, client.crt, client.key (0600).\nHand the directory over (a secret store, never the inventory's repository); its holder runs\n  ETCD_DEPLOY_PKI={} etcd-deploy status {}\nIt has no CA key: commands that need a new certificate (members on new hosts, certs rotate, rotate-ca, certs operator) run where the CA key is.",
        dir.display(),
        dir.display(),
        path.display()
    ));
    Ok(())
}

/// `certs client NAME --out DIR`: a `[[clients]]` entry's files written out
/// for handing over, named plainly or as kubeadm expects for an external
/// etcd (with the kube-apiserver flags and kubeadm's settings printed).
/// Touches no host.
pub fn client(path: &Path, name: &str, out: &Path, layout: ClientLayout) -> Result<(), Error> {
    let inv = Inventory::load(path)?;
    let Some(c) = inv.auth.clients.iter().find(|c| c.name == name) else {
        return Err(Error::Usage(format!(
            "{}: no [[clients]] entry is named `{}`",
            path.display(),
            printable(name)
        )));
    };
    if c.password.is_some() && layout == ClientLayout::Kubeadm {
        return Err(Error::Usage(format!(
            "client {name} is a password user, and kube-apiserver has no password for etcd: give it a certificate (no password_file/password_env)"
        )));
    }
    let files = tls::client_of(&inv, name).map_err(|e| Error::Usage(e.0))?;
    let (ca, cert, key) = match layout {
        ClientLayout::Plain => (
            "ca.crt".to_string(),
            format!("{name}.crt"),
            format!("{name}.key"),
        ),
        ClientLayout::Kubeadm => (
            "etcd/ca.crt".to_string(),
            "apiserver-etcd-client.crt".to_string(),
            "apiserver-etcd-client.key".to_string(),
        ),
    };
    let write = |rel: &str, text: &str, mode: u32| {
        let p = out.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::Usage(format!("{}: {e}", d.display())))?;
            let _ =
                std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        }
        crate::files::write_atomic(&p, text.as_bytes(), mode)
            .map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
    };
    write(&ca, &files.ca, 0o644)?;
    write(&cert, &files.cert, 0o644)?;
    write(&key, &files.key, 0o600)?;
    let endpoints: Vec<String> = inv.members.iter().map(|m| m.client_url()).collect();
    output::result(
        "written",
        json!({ "client": name, "dir": out, "files": [ca, cert, key] }),
    );
    let mut said = format!(
        "Wrote {name}'s files into {}: {ca}, {cert}, {key} (0600).",
        out.display()
    );
    if let Some(from) = &c.password {
        said.push_str(&format!(
            "\nThe certificate only lets {name} connect (its CN is no user's); it is {name} by its password, which is not among these files: hand over {} apart.",
            from.describe()
        ));
    }
    if layout == ClientLayout::Kubeadm {
        let k = "/etc/kubernetes/pki";
        said.push_str(&format!(
            "\nCopy {} to {k} on each control-plane node. kube-apiserver flags:\n  --etcd-servers={}\n  --etcd-cafile={k}/etcd/ca.crt\n  --etcd-certfile={k}/apiserver-etcd-client.crt\n  --etcd-keyfile={k}/apiserver-etcd-client.key\nkubeadm ClusterConfiguration:\n  etcd:\n    external:\n      endpoints:\n{}      caFile: {k}/etcd/ca.crt\n      certFile: {k}/apiserver-etcd-client.crt\n      keyFile: {k}/apiserver-etcd-client.key",
            out.display(),
            endpoints.join(","),
            endpoints.iter().map(|e| format!("        - {e}\n")).collect::<String>()
        ));
    }
    output::say(&said);
    Ok(())
}
