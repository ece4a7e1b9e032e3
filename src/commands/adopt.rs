//! `adopt`: takes over a running cluster etcd-deploy did not make. The
//! facts are read asking every member's etcd (whoever started it), the
//! adopt plan (`plan::adopt`) is shown with what runs each member now and
//! which settings change, and after consent carried out by the executor.
//! Afterwards the normal plan is made again: it should have nothing to do.

use super::apply;
use super::output;
use super::{Open, Session, with_session};
use crate::error::Error;
use crate::plan::{self, Options, Scope};
use serde_json::json;
use std::path::{Path, PathBuf};

pub async fn adopt(
    path: &Path,
    dry_run: bool,
    log: Option<PathBuf>,
    yes: bool,
) -> Result<(), Error> {
    // Certificates are checked (provided) or made (generate) before anything.
    let open = Open {
        log,
        prepare_tls: Some(false),
        ..Open::early_facts()
    };
    with_session(path, &open, async |s: &Session| {
        let facts = s.api_facts().await?;
        let opts = Options {
            scope: Scope::Adopt,
            ..Options::default()
        };
        let p = plan::plan_with(&s.inv, &facts, &s.desired()?, &opts);
        output::plan(&p);
        if let Some(why) = &p.blocked {
            return Err(Error::Blocked(why.clone()));
        }
        if p.is_empty() {
            output::say("Nothing to adopt: every member runs under etcd-deploy already.");
            return Ok(());
        }
        if dry_run {
            output::nothing_changed();
            output::say("--dry-run: nothing was changed.");
            return Ok(());
        }
        let names: Vec<String> = p.steps.iter().flat_map(|st| st.hosts()).map(String::from).collect();
        apply::run(s, &p, &facts, yes).await?;
        output::changed();
        // What is left for apply now (e.g. members the inventory adds).
        let after = s.facts().await?;
        let rest = plan::plan(&s.inv, &after, &s.desired()?);
        output::result("adopted", json!(names));
        if rest.is_empty() && rest.blocked.is_none() {
            output::say(&format!(
                "Adopted {}: every member runs under etcd-deploy; `etcd-deploy apply` has nothing to do.",
                names.join(", ")
            ));
        } else {
            output::say(&format!(
                "Adopted {}. `etcd-deploy apply` would still do this:\n{}",
                names.join(", "),
                rest.to_string().trim_end()
            ));
        }
        Ok(())
    })
    .await
}
