//! Taking over members someone else runs, as the plan's `Adopt` step says:
//! one member at a time, each checked live (quorum without it), its config
//! written, leadership moved off it if it leads, what runs it now stopped
//! and disabled (left on disk), its data handed to the etcd user, then
//! etcd-deploy's own unit or container started, healthy and caught up
//! before the next. If it does not come up, etcd-deploy's is removed, the
//! data goes back to its previous owner, the previous unit or container is
//! started again, and the run stops there.

use super::Env;
use super::gates::{
    etcd_err, existing_member, guard, hand_over_if_leader, quorum_gate, retry, start,
    wait_caught_up, wait_healthy, write_config,
};
use crate::error::Error;
use crate::etcd;
use crate::facts::short_id;
use crate::inventory::Member;
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
    for (done, name) in order.iter().enumerate() {
        super::stop_if_interrupted(done, order.len(), "members to take over")?;
        let m = env.member(name)?;
        let prev = previous.get(name).unwrap_or(&Previous::Stopped);
        let task = env.progress.task(name);
        guard(&task, take_over(env, m, prev, live, &task)).await?;
        live.insert(name.clone());
        task.done("taken over: runs under etcd-deploy, healthy, caught up");
    }
    Ok(())
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

async fn take_over(
    env: &Env<'_>,
    m: &Member,
    prev: &Previous,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let host = env.host(&m.name)?;
    let url = env.url(m).await?;
    let (kind, who) = match prev {
        Previous::Unit { unit } => ("unit", unit.as_str()),
        Previous::Container { id } => ("container", id.as_str()),
        Previous::Stopped => ("none", ""),
    };
    let (_, _, b) = existing_member(env, m, live).await?;
    if *prev != Previous::Stopped {
        let st = etcd::status(&url)
            .await
            .map_err(|e| etcd_err(&m.name, "read status", e))?;
        task.step("check quorum");
        quorum_gate(env, &m.name, "take it over", &[], &[st.id], live).await?;
        write_config(env, m, Some(&b), task).await?;
        hand_over_if_leader(env, m, &url, &st, None, live, task).await?;
        task.step(&format!("stop and disable {kind} {}", short_id(who)));
    } else {
        write_config(env, m, Some(&b), task).await?;
        task.step("give its data to the etcd user");
    }
    let out = host
        .run("stop the previous etcd", &remote::adopt_stop(m, kind, who))
        .await?;
    let back = found(&out, kind);
    let attempt = async {
        start(env, m, false, task).await?;
        wait_healthy(env, m, task).await?;
        wait_caught_up(env, m, &url, live, task).await
    };
    let Err(err) = attempt.await else {
        return Ok(());
    };
    let Some(back) = back.filter(|_| kind != "none") else {
        return Err(err);
    };
    task.step(&format!("back to {kind} {}", short_id(who)));
    let way_back = async {
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
        retry(&m.name, "check health", Duration::from_secs(60), || {
            etcd::check_health(&url)
        })
        .await
    };
    let outcome = match way_back.await {
        Ok(_) => format!(
            "its previous {kind} runs it again and it is healthy; the run stopped here (etcd-deploy's config stays beside it: fix the cause, then adopt again)"
        ),
        Err(e) => format!("going back to its previous {kind} failed too: {e}"),
    };
    Err(HostError::new(
        &m.name,
        "take over",
        format!("etcd-deploy's etcd did not come up on its data: {outcome}.\n{err}"),
    )
    .into())
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
