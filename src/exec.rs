//! Executes a plan: prepares hosts in parallel, then runs membership steps
//! one at a time, each gated on the member being healthy before the next.
//! Every failure names the host and the step; whatever ran before it is left
//! in a state the next `apply` picks up from.

use crate::access::Access;
use crate::compose;
use crate::error::Error;
use crate::etcd::{self, MemberInfo};
use crate::facts::Facts;
use crate::inventory::{FetchMode, Inventory, Member, Version};
use crate::plan::{ImageStep, Plan, Prepare, Step};
use crate::progress::{Progress, Task};
use crate::release::{self, Artifact, Fetcher};
use crate::remote;
use crate::remove;
use crate::ssh::{Host, HostError};
use crate::templates::{Bootstrap, Templates};
use crate::upgrade;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a member may take to become healthy after a start.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a learner may take to catch up before its promotion.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything the steps need.
pub struct Env<'a> {
    pub inv: &'a Inventory,
    pub hosts: &'a BTreeMap<String, Host>,
    pub access: &'a Access,
    pub templates: &'a Templates,
    pub progress: &'a Progress,
    /// Where a snapshot is saved before a version change; `None` skips it.
    pub snapshot_dir: Option<&'a std::path::Path>,
    /// Delete a removed member's data directory (kept by default).
    pub wipe: bool,
}

impl Env<'_> {
    pub(crate) fn member(&self, name: &str) -> Result<&Member, Error> {
        self.inv
            .member(name)
            .ok_or_else(|| Error::Blocked(format!("{name} is not in the inventory")))
    }

    pub(crate) fn host(&self, name: &str) -> Result<&Host, Error> {
        self.hosts
            .get(name)
            .ok_or_else(|| Error::Blocked(format!("no SSH connection to {name}")))
    }

    pub(crate) async fn url(&self, m: &Member) -> Result<String, Error> {
        Ok(self.access.url(m, self.host(&m.name)?).await?)
    }
}

pub async fn execute(env: &Env<'_>, plan: &Plan, facts: &Facts) -> Result<(), Error> {
    if let Some(b) = &plan.blocked {
        return Err(Error::Blocked(b.clone()));
    }
    // Release files are fetched and verified before any host is changed.
    let artifacts = resolve_artifacts(env, &plan.prepare, facts).await?;
    // Hosts are prepared while membership steps run: a step waits only for
    // the hosts it touches, so the first member bootstraps while the others
    // are still unpacking.
    let mut ready = BTreeMap::new();
    let mut senders = BTreeMap::new();
    for p in &plan.prepare {
        let (tx, rx) = watch::channel(Readiness::Pending);
        senders.insert(p.host.clone(), tx);
        ready.insert(p.host.clone(), rx);
    }
    let order = prepare_order(plan);
    let prepare = prepare_all(env, &order, facts, &artifacts, &senders);
    let steps = async {
        // Members known to serve clients; cluster calls go through them.
        let mut live: BTreeSet<String> = facts.cluster.status.keys().cloned().collect();
        for step in &plan.steps {
            for host in step.hosts() {
                wait_prepared(&ready, host).await?;
            }
            run_step(env, step, &mut live).await?;
        }
        Ok::<(), Error>(())
    };
    let (prepared, stepped) = tokio::join!(prepare, steps);
    prepared?;
    stepped
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Pending,
    Done,
    Failed,
}

async fn wait_prepared(
    ready: &BTreeMap<String, watch::Receiver<Readiness>>,
    host: &str,
) -> Result<(), Error> {
    let Some(rx) = ready.get(host) else {
        return Ok(());
    };
    let mut rx = rx.clone();
    match rx.wait_for(|r| *r != Readiness::Pending).await.map(|r| *r) {
        Ok(Readiness::Done) => Ok(()),
        _ => Err(Error::Blocked(format!("{host}: preparing the host failed"))),
    }
}

/// Hosts in the order membership steps need them: the first one is prepared
/// alone (it is on the critical path), the rest together.
fn prepare_order(plan: &Plan) -> Vec<&Prepare> {
    let rank = |host: &str| {
        plan.steps
            .iter()
            .position(|s| s.hosts().contains(&host))
            .unwrap_or(usize::MAX)
    };
    let mut order: Vec<&Prepare> = plan.prepare.iter().collect();
    order.sort_by_key(|p| rank(&p.host));
    order
}

async fn resolve_artifacts(
    env: &Env<'_>,
    prepares: &[Prepare],
    facts: &Facts,
) -> Result<Artifacts, Error> {
    let fetcher = Fetcher::new(&env.inv.release);
    // Each distinct release file is fetched and verified once.
    let mut artifacts: Artifacts = BTreeMap::new();
    for p in prepares {
        if let Some(v) = p.install {
            let arch = host_arch(facts, &p.host)?;
            if artifacts.contains_key(&(v, arch)) {
                continue;
            }
            let a = Artifact::new(&env.inv.release, v, arch);
            env.progress
                .line(&format!("release: {} (checking SHA256)", a.url));
            let (bytes, digest) = match env.inv.release.fetch {
                FetchMode::Controller => {
                    let (b, d) = fetcher.tarball(&a).await?;
                    (Some(b), d)
                }
                FetchMode::Host => (None, fetcher.expected_digest(&a).await?),
            };
            artifacts.insert((v, arch), (a, bytes, digest));
        }
    }
    Ok(artifacts)
}

fn host_arch(facts: &Facts, host: &str) -> Result<&'static str, Error> {
    let name = facts
        .hosts
        .get(host)
        .map(|h| h.arch.as_str())
        .unwrap_or_default();
    Ok(
        release::goarch(name)
            .map_err(|e| HostError::new(host, "resolve release", e.to_string()))?,
    )
}

async fn prepare_all(
    env: &Env<'_>,
    order: &[&Prepare],
    facts: &Facts,
    artifacts: &Artifacts,
    ready: &BTreeMap<String, watch::Sender<Readiness>>,
) -> Result<(), Error> {
    let Some((first, rest)) = order.split_first() else {
        return Ok(());
    };
    let first_result = prepare_signal(env, first, facts, artifacts, ready).await;
    let rest_results = futures_util::future::join_all(
        rest.iter()
            .map(|p| prepare_signal(env, p, facts, artifacts, ready)),
    )
    .await;
    first_result?;
    rest_results.into_iter().collect()
}

/// Prepares one host and tells the steps waiting for it how that went.
async fn prepare_signal(
    env: &Env<'_>,
    p: &Prepare,
    facts: &Facts,
    artifacts: &Artifacts,
    ready: &BTreeMap<String, watch::Sender<Readiness>>,
) -> Result<(), Error> {
    let task = env.progress.task(&p.host);
    let r = prepare_one(env, p, facts, artifacts, &task).await;
    match &r {
        Ok(()) => task.done("prepared"),
        Err(e) => task.fail(&e.to_string()),
    }
    if let Some(tx) = ready.get(&p.host) {
        tx.send_replace(if r.is_ok() {
            Readiness::Done
        } else {
            Readiness::Failed
        });
    }
    r
}

type Artifacts = BTreeMap<(Version, &'static str), (Artifact, Option<Vec<u8>>, String)>;

async fn prepare_one(
    env: &Env<'_>,
    p: &Prepare,
    facts: &Facts,
    artifacts: &Artifacts,
    task: &Task,
) -> Result<(), Error> {
    let m = env.member(&p.host)?;
    let host = env.host(&p.host)?;
    task.step("prepare host (etcd user, directories)");
    host.run("prepare host", &remote::prepare_host(env.inv, m))
        .await?;
    if let Some(v) = p.install {
        let arch = host_arch(facts, &p.host)?;
        let Some((a, bytes, digest)) = artifacts.get(&(v, arch)) else {
            return Err(
                HostError::new(&p.host, "install release", "release was not resolved").into(),
            );
        };
        match bytes {
            Some(b) => {
                task.step(&format!(
                    "push and install etcd {v} ({} MB)",
                    b.len() / 1_000_000
                ));
                host.run_with_input(
                    "install release",
                    &remote::install_release(env.inv, v, digest, remote::Source::Stdin),
                    b,
                )
                .await?;
            }
            None => {
                task.step(&format!("download and install etcd {v}"));
                host.run(
                    "install release",
                    &remote::install_release(env.inv, v, digest, remote::Source::Url(&a.url)),
                )
                .await?;
            }
        }
    }
    if let Some(step) = &p.image {
        // A build goes with the release installed just before; a pull names its version.
        let v = p.install.unwrap_or(env.inv.cluster.version);
        let (what, reference) = match step {
            ImageStep::Build(r) => ("build image", r),
            ImageStep::Pull(r) => ("pull image", r),
        };
        task.step(&format!("{what} {reference}"));
        host.run(what, &remote::get_image(env.inv, v, step)).await?;
    }
    if let Some(v) = p.link {
        task.step(&format!("use etcd {v}"));
        host.run("switch release link", &remote::use_version(env.inv, v))
            .await?;
    }
    if p.certs {
        task.step("write TLS certificates");
        let files = crate::tls::member_files(env.inv, m)?
            .ok_or_else(|| Error::Blocked("TLS is off".into()))?;
        for (name, text, mode) in files.files() {
            host.run_with_input(
                "write TLS certificates",
                &remote::write_pki_file(m, name, mode),
                text.as_bytes(),
            )
            .await?;
        }
    }
    if let Some(f) = p.host_file {
        let step = format!("write {f}");
        task.step(&step);
        let r = env.templates.render(env.inv, m, None)?;
        host.run_with_input(
            &step,
            &remote::write_host_file(env.inv, m),
            r.host_file.as_bytes(),
        )
        .await?;
    }
    Ok(())
}

async fn run_step(env: &Env<'_>, step: &Step, live: &mut BTreeSet<String>) -> Result<(), Error> {
    match step {
        Step::Bootstrap { host } => {
            let m = env.member(host)?;
            let task = env.progress.task(host);
            let b = Bootstrap {
                initial_cluster: format!("{}={}", m.name, m.peer_url()),
                state: "new",
            };
            guard(&task, async {
                write_config(env, m, Some(&b), &task).await?;
                start(env, m, false, &task).await?;
                wait_healthy(env, m, &task).await
            })
            .await?;
            task.done("bootstrapped: first member of a new cluster");
            live.insert(host.clone());
        }
        Step::Start { hosts } => {
            let jobs = hosts.iter().map(|h| async move {
                let m = env.member(h)?;
                let task = env.progress.task(h);
                let r = guard(&task, async {
                    start(env, m, false, &task).await?;
                    wait_healthy(env, m, &task).await
                })
                .await;
                if r.is_ok() {
                    task.done("started, healthy");
                }
                r
            });
            futures_util::future::try_join_all(jobs).await?;
            live.extend(hosts.iter().cloned());
        }
        Step::Promote { host, id } => {
            let m = env.member(host)?;
            let task = env.progress.task(host);
            guard(&task, promote(env, m, *id, live, &task)).await?;
            task.done("promoted to voting member");
            live.insert(host.clone());
        }
        Step::Join {
            host,
            added,
            stale_data,
            running,
        } => {
            let m = env.member(host)?;
            let task = env.progress.task(host);
            guard(
                &task,
                join(env, m, *added, *stale_data, *running, live, &task),
            )
            .await?;
            task.done("joined, healthy, voting");
            live.insert(host.clone());
        }
        Step::Upgrade { rollout, from, .. } => upgrade::run(env, rollout, from, live).await?,
        Step::Remove { name, id, .. } => remove::run(env, name, *id, live).await?,
        Step::Restart { host, reason } => {
            let m = env.member(host)?;
            let task = env.progress.task(host);
            guard(&task, async {
                let list = etcd::member_list(&urls(env, live).await?)
                    .await
                    .map_err(|e| etcd_err(host, "read member list", e))?;
                let b = Bootstrap {
                    initial_cluster: initial_cluster(&list, env.inv, m),
                    state: "existing",
                };
                write_config(env, m, Some(&b), &task).await?;
                let url = env.url(m).await?;
                if let Ok(st) = etcd::status(&url).await {
                    upgrade::hand_over_if_leader(env, m, &url, &st, None, live, &task).await?;
                }
                task.step(&format!("restart ({reason})"));
                start(env, m, true, &task).await?;
                wait_healthy(env, m, &task).await
            })
            .await?;
            task.done(&format!("restarted ({reason}), healthy"));
        }
    }
    Ok(())
}

/// Marks the task failed when the step fails.
pub(crate) async fn guard<T>(
    task: &Task,
    f: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let r = f.await;
    if let Err(e) = &r {
        task.fail(&e.to_string());
    }
    r
}

async fn join(
    env: &Env<'_>,
    m: &Member,
    added: Option<u64>,
    stale_data: bool,
    running: bool,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    let cluster = urls(env, live).await?;
    let id = match added {
        Some(id) => id,
        None => {
            task.step("member add (learner)");
            let peer = m.peer_url();
            retry(&m.name, "member add", PROMOTE_TIMEOUT, || async {
                match etcd::add_learner(&cluster, &peer).await {
                    // An earlier attempt whose answer was lost (a client timeout)
                    // did add it: the unstarted entry with its peer URL is ours.
                    Err(e) if e.message.contains("Peer URLs already exists") => {
                        etcd::member_list(&cluster)
                            .await?
                            .iter()
                            .find(|x| x.peer_urls.contains(&peer) && !x.started())
                            .map(|x| x.id)
                            .ok_or(e)
                    }
                    r => r,
                }
            })
            .await?
        }
    };
    if !running {
        if stale_data {
            task.step("move old data aside");
            env.host(&m.name)?
                .run("move old data aside", &remote::move_data_aside(m))
                .await?;
        }
        let list = etcd::member_list(&cluster)
            .await
            .map_err(|e| etcd_err(&m.name, "read member list", e))?;
        let b = Bootstrap {
            initial_cluster: initial_cluster(&list, env.inv, m),
            state: "existing",
        };
        write_config(env, m, Some(&b), task).await?;
        start(env, m, false, task).await?;
    }
    wait_healthy(env, m, task).await?;
    promote(env, m, id, live, task).await
}

async fn promote(
    env: &Env<'_>,
    m: &Member,
    id: u64,
    live: &BTreeSet<String>,
    task: &Task,
) -> Result<(), Error> {
    task.step("promote learner (once caught up)");
    let cluster = urls(env, live).await?;
    retry(&m.name, "member promote", PROMOTE_TIMEOUT, || async {
        match etcd::promote(&cluster, id).await {
            // An earlier, interrupted run may have promoted it already.
            Err(e) if e.message.contains("not a learner") => Ok(()),
            r => r,
        }
    })
    .await?;
    // The leader has committed the promotion; the member applies it a moment
    // later, and until then refuses a voter's requests ("rpc not supported
    // for learner"). Done means the member itself says it votes.
    let url = env.url(m).await?;
    retry(&m.name, "wait until it votes", PROMOTE_TIMEOUT, || async {
        match etcd::status(&url).await {
            Ok(st) if st.is_learner => Err(etcd::EtcdError {
                message: "still a learner in its own view".into(),
                transient: true,
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(etcd::EtcdError {
                transient: true,
                ..e
            }),
        }
    })
    .await?;
    wait_healthy(env, m, task).await
}

/// Client URLs of the members known to serve.
pub(crate) async fn urls(env: &Env<'_>, live: &BTreeSet<String>) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for name in live {
        out.push(env.url(env.member(name)?).await?);
    }
    if out.is_empty() {
        return Err(Error::Blocked(
            "no member of the cluster is known to be running".into(),
        ));
    }
    Ok(out)
}

/// `name=peer-url,...` for every member in the list; a member that never
/// started has no name yet, so the inventory's name for its peer URL is used.
pub fn initial_cluster(list: &[MemberInfo], inv: &Inventory, joining: &Member) -> String {
    let mut parts = Vec::new();
    for e in list {
        let name = if e.started() {
            e.name.clone()
        } else {
            match inv
                .members
                .iter()
                .find(|m| e.peer_urls.contains(&m.peer_url()))
            {
                Some(m) => m.name.clone(),
                None => continue,
            }
        };
        for u in &e.peer_urls {
            parts.push(format!("{name}={u}"));
        }
    }
    if !parts
        .iter()
        .any(|p| p.starts_with(&format!("{}=", joining.name)))
    {
        parts.push(format!("{}={}", joining.name, joining.peer_url()));
    }
    parts.join(",")
}

async fn write_config(
    env: &Env<'_>,
    m: &Member,
    b: Option<&Bootstrap>,
    task: &Task,
) -> Result<(), Error> {
    task.step("write config");
    let r = env.templates.render(env.inv, m, b)?;
    env.host(&m.name)?
        .run_with_input(
            "write config",
            &remote::write_config(m),
            r.config.as_bytes(),
        )
        .await?;
    Ok(())
}

/// Makes `m`'s next (re)start run version `v`: the `current` link under
/// systemd; under compose, the member's service in the host's compose file.
pub(crate) async fn switch_version(env: &Env<'_>, m: &Member, v: Version) -> Result<(), Error> {
    let host = env.host(&m.name)?;
    if m.compose().is_none() {
        host.run("switch release link", &remote::use_version(env.inv, v))
            .await?;
        return Ok(());
    }
    let file = env.templates.render_compose(env.inv, m, &|o| {
        if o.name == m.name {
            v
        } else {
            env.inv.cluster.version
        }
    })?;
    host.run_with_input(
        "write compose file",
        &remote::write_host_file(env.inv, m),
        file.text.as_bytes(),
    )
    .await?;
    Ok(())
}

pub(crate) async fn start(
    env: &Env<'_>,
    m: &Member,
    restart: bool,
    task: &Task,
) -> Result<(), Error> {
    let step = if restart {
        "restart etcd"
    } else {
        "start etcd"
    };
    task.step(step);
    let host = env.host(&m.name)?;
    if let Err(mut e) = host.run(step, &remote::start(env.inv, m, restart)).await {
        e.detail.push_str(&journal(env.inv, host, m).await);
        return Err(e.into());
    }
    Ok(())
}

async fn journal(inv: &Inventory, host: &Host, m: &Member) -> String {
    let what = if m.compose().is_some() {
        "container log"
    } else {
        "journal"
    };
    match host
        .run("read journal", &remote::journal_tail(inv, m))
        .await
    {
        Ok(j) if !j.trim().is_empty() => format!(
            "\n--- last lines of the etcd {what} on {} ---\n{}",
            host.name,
            j.trim_end()
        ),
        _ => String::new(),
    }
}

/// Waits until the member is healthy (see `etcd::check_health`).
pub(crate) async fn wait_healthy(env: &Env<'_>, m: &Member, task: &Task) -> Result<(), Error> {
    task.step("wait until healthy");
    let url = env.url(m).await?;
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    let mut next_look = Instant::now() + Duration::from_secs(1);
    loop {
        let err = match etcd::check_health(&url).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // systemd reports an etcd that exits at once as a failed start; compose
        // starts the container and its restart policy keeps trying: look.
        if m.compose().is_some() && Instant::now() >= next_look {
            next_look = Instant::now() + Duration::from_secs(1);
            let host = env.host(&m.name)?;
            let state = host
                .run("look at the container", &compose::state(env.inv, m))
                .await?;
            if let Some(why) = compose::crashed(&state) {
                let detail = format!("{why}{}", journal(env.inv, host, m).await);
                return Err(HostError::new(&m.name, "wait until healthy", detail).into());
            }
        }
        if Instant::now() >= deadline {
            let host = env.host(&m.name)?;
            let detail = format!(
                "not healthy after {}s: {err}{}",
                HEALTH_TIMEOUT.as_secs(),
                journal(env.inv, host, m).await
            );
            return Err(HostError::new(&m.name, "wait until healthy", detail).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retries an etcd call that fails while the cluster settles (a learner
/// catching up, a fresh member's connections not yet counted).
pub(crate) async fn retry<T, F, Fut>(
    host: &str,
    step: &str,
    timeout: Duration,
    mut f: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd::EtcdError>>,
{
    let deadline = Instant::now() + timeout;
    // Short, steady pauses: the cluster usually allows the call within seconds,
    // and every pause beyond that moment is time lost.
    let pause = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.transient && Instant::now() < deadline => tokio::time::sleep(pause).await,
            Err(e) => return Err(etcd_err(host, step, e)),
        }
    }
}

pub(crate) fn etcd_err(host: &str, step: &str, e: etcd::EtcdError) -> Error {
    HostError::new(host, step, e.message).into()
}
