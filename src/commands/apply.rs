//! `apply` and `plan`: make the cluster match the inventory, or say how.

use super::{Session, with_session};
use crate::error::Error;
use crate::exec::{self, Env};
use crate::facts::Facts;
use crate::plan::{self, Plan};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Prints what `apply` would do.
pub async fn plan(path: &Path, format: Format) -> Result<(), Error> {
    with_session(path, async |s: &Session| {
        let (p, _) = compute(s).await?;
        print(&p, format);
        Ok(())
    })
    .await
}

/// Applies the inventory; returns once the cluster matches it.
pub async fn apply(path: &Path) -> Result<(), Error> {
    with_session(path, async |s: &Session| {
        // Members started while nothing answered are read again, then planned for.
        for round in 0..3 {
            let (p, facts) = compute(s).await?;
            if round == 0 || !p.is_empty() {
                print(&p, Format::Text);
            }
            if p.is_empty() && p.blocked.is_none() {
                return Ok(());
            }
            let env = Env { inv: &s.inv, hosts: &s.hosts, access: &s.access, templates: &s.templates, progress: &s.progress };
            exec::execute(&env, &p, &facts).await?;
            if !p.replan {
                println!("Apply complete: the cluster matches the inventory.");
                return Ok(());
            }
        }
        Err(Error::Blocked("the cluster did not settle after starting its stopped members; run apply again".into()))
    })
    .await
}

async fn compute(s: &Session) -> Result<(Plan, Facts), Error> {
    let facts = s.facts().await?;
    Ok((plan::plan(&s.inv, &facts, &s.desired()?), facts))
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
