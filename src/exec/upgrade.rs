//! A rolling version change as the plan gives it: a snapshot (if the plan
//! says where) from a caught-up follower while the hosts are prepared, then,
//! once every host is, each member in order: leadership off it, switch,
//! restart, healthy, new version, caught up; on failure back to the version
//! the plan names, and the rollout stops. A minor downgrade asks etcd's
//! downgrade API first (`downgrade.rs`).

use super::Env;
use super::gates::{
    etcd_err, put_config, retry, snapshot_source, start, switch_version, urls, wait_healthy,
    write_config,
};
use super::rolling::{self, Change, Look};
use crate::error::Error;
use crate::inventory::{Member, Version};
use crate::plan::{Rollback, Rollout};
use crate::progress::Task;
use crate::remote;
use crate::snapshot;
use crate::ssh::HostError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs a checked rollout: snapshot, then (once `prepared`: every host has
/// what it needs) each member in order. No member restarts before every host
/// is prepared, so a host that cannot be leaves the cluster as it was.
/// The plan's particulars of a rollout (`Step::Upgrade`).
pub(super) struct How<'a> {
    /// The version each member ran before.
    pub(super) from: &'a BTreeMap<String, Version>,
    pub(super) snapshot_to: Option<&'a Path>,
    pub(super) rollback: Rollback,
    /// Members whose config is written with the switch.
    pub(super) configs: &'a BTreeSet<String>,
}

pub(super) async fn run(
    env: &Env<'_>,
    rollout: &Rollout,
    how: &How<'_>,
    live: &BTreeSet<String>,
    prepared: impl Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    if let Some(dir) = how.snapshot_to {
        let (source, url) = snapshot_source(env, live).await?;
        env.progress
            .line(&format!("snapshot: reading it from {source}"));
        let report = snapshot::reporter(env.progress);
        let saved = snapshot::save(&url, dir, &env.inv.cluster.name, &report)
            .await
            .map_err(|e| {
                Error::Blocked(format!("snapshot before the version change failed: {e}"))
            })?;
        env.progress.line(&format!(
            "snapshot saved: {} ({} bytes, revision {})",
            saved.path.display(),
            saved.bytes,
            saved.revision
        ));
    }
    prepared.await?;
    super::downgrade::before_restarts(env, rollout.etcd_downgrade, &cluster, live).await?;
    let op = Switch {
        live,
        to: rollout.to,
        from: how.from,
        rollback: how.rollback,
        configs: how.configs,
        check_v2store: rollout
            .order
            .first()
            .filter(|_| rollout.check_v2store)
            .map(String::as_str),
    };
    rolling::run(env, &op, &rollout.order, &mut live.clone(), false).await?;
    // A partition may leave a member without a leader after leadership moved
    // (the new leader cut off from it): the run does not end "done" then.
    let mut troubled = Vec::new();
    for name in &rollout.order {
        let url = env.url(env.member(name)?).await?;
        if let Err(e) = retry(name, "check health", Duration::from_secs(10), || {
            env.etcd.check_health(&url)
        })
        .await
        {
            troubled.push(e.to_string());
        }
    }
    if !troubled.is_empty() {
        return Err(Error::Blocked(format!(
            "every member runs etcd {}, but not every member is healthy now: {}",
            rollout.to,
            troubled.join("; ")
        )));
    }
    if rollout.downgrade {
        super::downgrade::end(env, rollout.etcd_downgrade, &cluster).await?;
    }
    // etcd raises the cluster version by itself once every member runs the new
    // one (its leader checks every few seconds).
    let want = (rollout.to.major, rollout.to.minor);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(30);
    let mut looked = false;
    loop {
        let v = env
            .etcd
            .versions(&cluster[0])
            .await
            .map_err(|e| Error::Blocked(format!("reading the cluster version: {e}")))?;
        let got = Version::parse(&v.etcdcluster).map(|c| (c.major, c.minor));
        if got == Some(want) || rollout.downgrade || Instant::now() > deadline {
            env.progress.line(&format!(
                "cluster version {} (every member runs etcd {})",
                v.etcdcluster, rollout.to
            ));
            return Ok(());
        }
        if !looked && began.elapsed() > Duration::from_secs(6) {
            looked = true;
            super::downgrade::cancel_stale(env, &cluster, live, want).await?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One member to `to` (`rolling.rs` does the rest): link switch (or image)
/// and restart after leadership moved off it, the version checked once it
/// is healthy; back to the version it ran (`from`, when the plan says so)
/// if it fails.
struct Switch<'a> {
    /// The members serving when the rollout began.
    live: &'a BTreeSet<String>,
    to: Version,
    from: &'a BTreeMap<String, Version>,
    rollback: Rollback,
    configs: &'a BTreeSet<String>,
    /// The member whose v2 store is checked before it starts on 3.6.
    check_v2store: Option<&'a str>,
}

/// What a member goes back to if its switch fails.
struct Back {
    version: Option<Version>,
    /// Its config before the switch wrote a new one.
    config: Option<String>,
}

impl Change for Switch<'_> {
    type State = Back;

    fn members(&self) -> &'static str {
        "members of the rolling change"
    }

    fn prefer(&self) -> Option<Version> {
        Some(self.to)
    }

    fn done(&self) -> String {
        format!("runs etcd {}, healthy, caught up", self.to)
    }

    async fn look(
        &self,
        env: &Env<'_>,
        m: &Member,
        _live: &BTreeSet<String>,
        _task: &Task,
    ) -> Result<Look<Self::State>, Error> {
        let url = env.url(m).await?;
        let st = env
            .etcd
            .status(&url)
            .await
            .map_err(|e| etcd_err(&m.name, "read status", e))?;
        let version = match self.rollback {
            Rollback::PreviousVersion => self.from.get(&m.name).copied(),
            Rollback::Stop => None,
        };
        Ok(Look {
            gate: Some(st.id),
            status: Some(st),
            state: Back {
                version,
                config: None,
            },
        })
    }

    async fn change(
        &self,
        env: &Env<'_>,
        m: &Member,
        back: &mut Self::State,
        task: &Task,
    ) -> Result<(), Error> {
        if self.check_v2store == Some(m.name.as_str()) {
            super::v2store::check(env, m, task).await?;
        }
        if self.configs.contains(&m.name) {
            let host = env.host(&m.name)?;
            back.config = Some(
                host.run("read the current config", &remote::read_config(m))
                    .await?,
            );
            write_config(env, m, None, task).await?;
        }
        task.step(&format!("switch to etcd {} and restart", self.to));
        switch_version(env, m, self.to).await
    }

    async fn verify(&self, env: &Env<'_>, m: &Member) -> Result<(), Error> {
        let url = env.url(m).await?;
        let st = env
            .etcd
            .status(&url)
            .await
            .map_err(|e| etcd_err(&m.name, "read status", e))?;
        if st.version != self.to.to_string() {
            return Err(HostError::new(
                &m.name,
                "check version",
                format!("reports {} after the restart, not {}", st.version, self.to),
            )
            .into());
        }
        Ok(())
    }

    async fn undo(
        &self,
        env: &Env<'_>,
        m: &Member,
        back: Self::State,
        err: Error,
        task: &Task,
    ) -> Error {
        let Some(old) = back.version else {
            return err;
        };
        task.step(&format!("roll back to etcd {old}"));
        let back = async {
            let moved =
                super::downgrade::enable_for_rollback(env, m, old, self.to, self.live).await?;
            if let Some(config) = &back.config {
                put_config(env, m, config, "write the previous config").await?;
            }
            switch_version(env, m, old).await?;
            start(env, m, true, task).await?;
            wait_healthy(env, m, task).await?;
            Ok::<_, Error>(moved)
        };
        let outcome = match back.await {
            Ok(None) => format!(
                "rolled back to etcd {old}; the member is healthy on {old} and the rollout stopped here"
            ),
            Ok(Some(cv)) => format!(
                "rolled back to etcd {old} through etcd's downgrade: the cluster version had moved to {cv}, so a downgrade to {}.{} is enabled now and the member is healthy on {old}; the other members still run {}. `etcd-deploy downgrade --to {old}` takes them back too; `etcd-deploy upgrade --to {}` cancels the downgrade and goes forward again",
                old.major, old.minor, self.to, self.to
            ),
            Err(e) => format!("rolling back to etcd {old} failed too: {e}"),
        };
        HostError::new(
            &m.name,
            &format!("upgrade to {}", self.to),
            format!("{err}; {outcome}"),
        )
        .into()
    }
}
