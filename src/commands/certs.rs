//! `certs rotate-ca`: one pass of a CA rotation per run (`tls::rotate_ca`
//! writes the files, `certs rotate`'s scope rolls them out one member at a
//! time), so that clients can be given the new CA and then their new
//! certificates between the passes. A pass that was interrupted is finished
//! first, and the run stops there.

use super::apply::{self, ApplyArgs};
use super::output;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::tls::{self, CaPass};
use serde_json::json;
use std::path::Path;

pub async fn rotate_ca(path: &Path, mut args: ApplyArgs) -> Result<(), Error> {
    args.keep_certs = true;
    args.options.snapshot_dir = None;
    let inv = Inventory::load(path)?;
    let under_way = tls::ca_rotation(&inv);
    if apply::has_work(path, &args.options).await? {
        let Some(pass) = under_way else {
            return Err(Error::Blocked(format!(
                "the cluster differs from {} (see `etcd-deploy plan`): apply first, then rotate the CA",
                path.display()
            )));
        };
        apply::apply(path, &args).await?;
        output::say(&format!(
            "Finished the interrupted {}. {}",
            label(pass),
            next(pass, path)
        ));
        return Ok(());
    }
    let pass = tls::rotate_ca(&inv)?;
    output::say(&format!(
        "{}: files written; rolling them out.",
        label(pass)
    ));
    apply::apply(path, &args).await?;
    output::changed();
    output::result("ca_rotation", json!(label(pass)));
    output::say(&format!(
        "{} done. {}",
        capital(label(pass)),
        next(pass, path)
    ));
    Ok(())
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
