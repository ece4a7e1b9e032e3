//! A pki without the CA's key: the key kept offline (in a vault, on one
//! machine), and each person or pipeline given its own directory by
//! `etcd-deploy certs operator NAME` — `ca.crt`, and a personal client
//! certificate as `client.crt`/`client.key` — that it points `tls.dir` (or
//! `ETCD_DEPLOY_PKI`) at. Such a pki issues nothing: every command that
//! only talks to the cluster and its hosts works, while anything that needs
//! a new certificate (a member on a new host, `certs rotate`, `rotate-ca`,
//! `certs operator`) says to run it where the CA key is.

use super::{Issuer, KeyPair, Paths, TlsError, err, expiring, issue, read};
use crate::inventory::{Inventory, TlsMode};
use rcgen::ExtendedKeyUsagePurpose;
use std::path::{Path, PathBuf};

/// The inventory's pki holds the CA certificate but not its key.
pub fn ca_key_offline(inv: &Inventory) -> bool {
    match &inv.tls {
        TlsMode::Generate { dir, .. } => {
            let p = Paths::new(dir);
            p.ca().is_file() && !p.ca_key().exists()
        }
        _ => false,
    }
}

/// What a pki without the CA key must hold: a client identity for
/// etcd-deploy; nothing is issued or renewed here.
pub(super) fn check(
    inv: &Inventory,
    p: &Paths,
    rotate: bool,
    renew_days: u32,
) -> Result<(), TlsError> {
    let where_ = p.dir.display();
    if rotate {
        return Err(err(format!(
            "new member certificates need the CA's key, and {where_} has none (the CA key is kept elsewhere): run this from the machine that holds it"
        )));
    }
    if !p.cert("client").is_file() || !p.key("client").is_file() {
        return Err(err(format!(
            "{where_} holds the CA certificate but neither its key nor a client certificate (client.crt, client.key): give it the pki directory from the machine that made the cluster, or an operator's from `etcd-deploy certs operator NAME` run there"
        )));
    }
    if let Some(days) = read(&p.cert("client"))
        .ok()
        .and_then(|pem| expiring(&pem, renew_days))
    {
        eprintln!(
            "warning: your client certificate ({}) expires in {days} days and this pki cannot renew it (no CA key): ask for a new one (`etcd-deploy certs operator NAME` where the CA key is)",
            p.cert("client").display()
        );
    }
    for m in &inv.members {
        let pem = read(&p.cert(&format!("{}.server", m.name))).ok();
        if let Some(days) = pem.and_then(|pem| expiring(&pem, renew_days)) {
            eprintln!(
                "warning: {}'s certificate expires in {days} days: renew it from the machine that holds the CA key (`etcd-deploy apply` there)",
                m.name
            );
        }
    }
    Ok(())
}

/// Issues a personal client certificate (CN `name`) from the cluster CA
/// into `out` (made 0700): `ca.crt`, `client.crt`, `client.key` (0600); a
/// copy of the certificate stays in the pki's `operators/` as the record of
/// what was issued. Needs the CA key. The directory written.
pub fn issue_operator(
    inv: &Inventory,
    name: &str,
    out: Option<&Path>,
) -> Result<PathBuf, TlsError> {
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return Err(err(
            "operator certificates are issued from a CA etcd-deploy generated (tls.mode = \"generate\")",
        ));
    };
    let p = Paths::new(dir);
    if !p.ca_key().is_file() {
        return Err(err(format!(
            "issuing a certificate needs the CA's key, and {} has none (the CA key is kept elsewhere): run this from the machine that holds it",
            dir.display()
        )));
    }
    let out = out.map_or_else(|| dir.join("operators").join(name), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(|e| err(format!("{}: {e}", out.display())))?;
    super::set_mode(&out, 0o700)?;
    let key = KeyPair::from_pem(&read(&p.ca_key())?)
        .map_err(|e| err(format!("{}: {e}", p.ca_key().display())))?;
    let ca = read(&p.ca())?;
    let issuer = Issuer::from_ca_cert_pem(&ca, &key)
        .map_err(|e| err(format!("{}: {e}", p.ca().display())))?;
    let to = Paths::new(&out);
    issue(
        &to,
        &issuer,
        "client",
        name,
        vec![],
        &[ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    super::write_public(&to.ca(), &ca)?;
    let ledger = dir.join("operators");
    std::fs::create_dir_all(&ledger).map_err(|e| err(format!("{}: {e}", ledger.display())))?;
    super::write_public(
        &ledger.join(format!("{name}.crt")),
        &read(&to.cert("client"))?,
    )?;
    Ok(out)
}

/// The files of `[[clients]]` entry `name` as `apply` made them
/// (`clients/NAME.crt`, `.key`), with the CA that signs the members.
pub fn client_of(inv: &Inventory, name: &str) -> Result<super::ClientFiles, TlsError> {
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return Err(err(
            "client certificates are issued by etcd-deploy in generate mode only (tls.mode = \"generate\"); with provided certificates, clients bring their own",
        ));
    };
    let p = Paths::new(dir);
    let c = Paths::new(&dir.join("clients"));
    let missing = |e: TlsError| {
        err(format!(
            "{} (apply issues each client's certificate: run it first)",
            e.0
        ))
    };
    Ok(super::ClientFiles {
        ca: read(&p.ca())?,
        cert: read(&c.cert(name)).map_err(missing)?,
        key: read(&c.key(name)).map_err(missing)?,
    })
}
