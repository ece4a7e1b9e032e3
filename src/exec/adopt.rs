//! Taking over members someone else runs, as the plan's `Adopt` step says:
//! one member at a time, each checked live (quorum without it), its config
//! written, leadership moved off it if it leads, what runs it now stopped
//! and disabled (left on disk), its data handed to the etcd user, then
//! etcd-deploy's own unit or container started, healthy and caught up
//! before the next. If it does not come up, etcd-deploy's is removed, the
//! data goes back to its previous owner, the previous unit or container is
//! started again, and the run stops there.

use super::Env;
use super::gates::{etcd_err, existing_member, retry, write_config};
use super::rolling::{self, Change, Look};
use crate::error::Error;
use crate::facts::short_id;
use crate::inventory::Member;
use crate::member_config::Bootstrap;
use crate::plan::adopt::Previous;
use crate::progress::Task;
use crate::remote;
use crate::runtime;
use crate::ssh::HostError;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub(super) async fn run(
    env: &Env<'_>,
    order: &[String],
    previous: &BTreeMap<String, Previous>,
    live: &mut BTreeSet<String>,
) -> Result<(), Error> {
    rolling::run(env, &TakeOver { previous }, order, live, true).await
}

/// What `adopt_stop.sh` found, for the way back; checked before it goes
/// anywhere near a shell argument (it came from the host).
struct Found {
    was: String,
    owner: String,
    mode: String,
}

fn found(out: &str, kind: &str) -> Option<Found> {
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::trim)
    };
    let owner = get("owner")?;
    let (u, g) = owner.split_once(':')?;
    let number = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    let mode = get("mode")?;
    let octal =
        |s: &str| (3..=4).contains(&s.len()) && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let was = match get("was").unwrap_or_default() {
        "" if kind == "container" => "no",
        w => w,
    };
    let was_ok = match kind {
        "container" => ["no", "always", "unless-stopped", "on-failure"].contains(&was),
        _ => was.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
    };
    (number(u) && number(g) && octal(mode) && was_ok).then(|| Found {
        was: was.to_string(),
        owner: owner.to_string(),
        mode: mode.to_string(),
    })
}

/// Taking over one member (`rolling.rs` does the rest).
struct TakeOver<'a> {
    previous: &'a BTreeMap<String, Previous>,
}

/// What a take-over learns before it changes a member, and what the
/// previous etcd's stop reports for the way back.
struct Taking {
    kind: &'static str,
    who: String,
    bootstrap: Bootstrap,
    back: Option<Found>,
}

impl Change for TakeOver<'_> {
    type State = Taking;

    fn members(&self) -> &'static str {
        "members to take over"
    }

    fn stopping(&self) -> &'static str {
        "take it over"
    }

    fn done(&self) -> String {
        "taken over: runs under etcd-deploy, healthy, caught up".to_string()
    }

    /// etcd-deploy's own starts (it did not run before).
    fn restarts(&self) -> bool {
        false
    }

    async fn look(
        &self,
        env: &Env<'_>,
        m: &Member,
        live: &BTreeSet<String>,
        _task: &Task,
    ) -> Result<Look<Taking>, Error> {
        let prev = self.previous.get(&m.name).unwrap_or(&Previous::Stopped);
        let (kind, who) = match prev {
            Previous::Unit { unit } => ("unit", unit.clone()),
            Previous::Container { id } => ("container", id.clone()),
            Previous::Stopped => ("none", String::new()),
        };
        let (_, _, bootstrap) = existing_member(env, m, live).await?;
        // A member an interrupted adopt stopped: no gate, nothing to hand over.
        let status = if *prev == Previous::Stopped {
            None
        } else {
            let url = env.url(m).await?;
            Some(
                env.etcd
                    .status(&url)
                    .await
                    .map_err(|e| etcd_err(&m.name, "read status", e))?,
            )
        };
        Ok(Look {
            gate: status.as_ref().map(|st| st.id),
            status,
            state: Taking {
                kind,
                who,
                bootstrap,
                back: None,
            },
        })
    }

    async fn prepare(
        &self,
        env: &Env<'_>,
        m: &Member,
        t: &mut Taking,
        task: &Task,
    ) -> Result<(), Error> {
        write_config(env, m, Some(&t.bootstrap), task).await
    }

    async fn change(
        &self,
        env: &Env<'_>,
        m: &Member,
        t: &mut Taking,
        task: &Task,
    ) -> Result<(), Error> {
        if t.kind == "none" {
            task.step("give its data to the etcd user");
        } else {
            task.step(&format!("stop and disable {} {}", t.kind, short_id(&t.who)));
        }
        let out = env
            .host(&m.name)?
            .run(
                "stop the previous etcd",
                &remote::adopt_stop(m, t.kind, &t.who),
            )
            .await?;
        t.back = found(&out, t.kind);
        Ok(())
    }

    async fn undo(&self, env: &Env<'_>, m: &Member, t: Taking, err: Error, task: &Task) -> Error {
        let Some(back) = t.back.filter(|_| t.kind != "none") else {
            return err;
        };
        let (kind, who) = (t.kind, t.who.as_str());
        task.step(&format!("back to {kind} {}", short_id(who)));
        let way_back = async {
            let host = env.host(&m.name)?;
            host.run(
                "remove etcd-deploy's etcd",
                &runtime::of(m).remove(env.inv, m),
            )
            .await?;
            host.run(
                "start the previous etcd",
                &remote::adopt_back(m, kind, who, &back.was, &back.owner, &back.mode),
            )
            .await?;
            let url = env.url(m).await?;
            retry(&m.name, "check health", Duration::from_secs(60), || {
                env.etcd.check_health(&url)
            })
            .await
        };
        let outcome = match way_back.await {
            Ok(_) => format!(
                "its previous {kind} runs it again and it is healthy; the run stopped here (etcd-deploy's config stays beside it: fix the cause, then adopt again)"
            ),
            Err(e) => format!("going back to its previous {kind} failed too: {e}"),
        };
        HostError::new(
            &m.name,
            "take over",
            format!("etcd-deploy's etcd did not come up on its data: {outcome}.\n{err}"),
        )
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::found;

    #[test]
    fn what_the_host_said_is_checked_before_it_is_used() {
        let ok = found("was=enabled\nowner=0:0\nmode=755\n", "unit").expect("parsed");
        assert_eq!(
            (ok.was.as_str(), ok.owner.as_str(), ok.mode.as_str()),
            ("enabled", "0:0", "755")
        );
        assert!(found("was=enabled\nowner=0:0;rm -rf /\nmode=755\n", "unit").is_none());
        assert!(
            found(
                "was=always --privileged\nowner=0:0\nmode=755\n",
                "container"
            )
            .is_none()
        );
        assert!(found("was=always\nowner=0:0\nmode=7558\n", "container").is_none());
        let c = found("owner=1000:1000\nmode=700\n", "container").expect("parsed");
        assert_eq!(c.was, "no");
    }
}
