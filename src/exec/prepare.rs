//! Host preparation, in parallel on every host the plan names: the etcd
//! user and directories, the release (fetched and verified once on the
//! controller, checked again on the host), the image in compose mode, the
//! `current` link, TLS files, and the systemd unit or compose file.

use super::{Env, Readiness};
use crate::backup;
use crate::error::Error;
use crate::inventory::{FetchMode, Version};
use crate::plan::{BackupStep, ImageStep, Plan, Prepare};
use crate::progress::Task;
use crate::release::{self, Artifact, Fetcher};
use crate::remote;
use crate::runtime::{self, GetImage};
use crate::ssh::HostError;
use std::collections::BTreeMap;
use tokio::sync::watch;

pub(super) async fn resolve_artifacts(
    env: &Env<'_>,
    prepares: &[Prepare],
) -> Result<Artifacts, Error> {
    let fetcher = Fetcher::new(&env.inv.release);
    // Each distinct release file is fetched and verified once.
    let mut artifacts: Artifacts = BTreeMap::new();
    for p in prepares {
        if let Some(v) = p.install {
            let arch = host_arch(p)?;
            if artifacts.contains_key(&(v, arch)) {
                continue;
            }
            let a = Artifact::new(&env.inv.release, v, arch);
            env.progress
                .line(&format!("release: {} (checking SHA256)", a.url));
            let (cached, digest) = match env.inv.release.fetch {
                FetchMode::Controller => {
                    let c = fetcher.tarball(&a).await?;
                    let d = c.digest.clone();
                    (Some(c), d)
                }
                FetchMode::Host => (None, fetcher.expected_digest(&a).await?),
            };
            artifacts.insert((v, arch), (a, cached, digest));
        }
    }
    Ok(artifacts)
}

/// The release architecture of the host (the plan says its machine).
fn host_arch(p: &Prepare) -> Result<&'static str, Error> {
    let name = p.arch.as_deref().unwrap_or_default();
    Ok(release::goarch(name)
        .map_err(|e| HostError::new(&p.host, "resolve release", e.to_string()))?)
}

/// Prepares every host the plan names: those the first step needs first
/// (they are on the critical path: the bootstrap's one host, or every host
/// of a rolling upgrade, all at once), the rest together.
pub(super) async fn all<'p>(
    env: &Env<'_>,
    plan: &'p Plan,
    artifacts: &Artifacts,
    ready: &BTreeMap<String, watch::Sender<Readiness>>,
) -> Result<(), Error> {
    let rank = |host: &str| {
        plan.steps
            .iter()
            .position(|s| s.hosts().contains(&host))
            .unwrap_or(usize::MAX)
    };
    let mut order: Vec<&Prepare> = plan.prepare.iter().collect();
    order.sort_by_key(|p| rank(&p.host));
    let Some(top) = order.first().map(|p| rank(&p.host)) else {
        return Ok(());
    };
    let split = order.partition_point(|p| rank(&p.host) == top);
    let (first, rest) = order.split_at(split);
    // Images are made one host at a time while members serve: the Docker
    // daemon's work runs at its own priority, beyond the idle one the
    // scripts take, and three daemons at once on hosts sharing CPU or disk
    // (VMs on one hypervisor, the lab) stalled etcd's writes where one at a
    // time did not (bench/vs-hand, compose mode). Nothing serves on a fresh
    // cluster: all at once there.
    let serving = !plan.serving.is_empty();
    let image_turn = tokio::sync::Mutex::new(());
    let image_turn = serving.then_some(&image_turn);
    let together = |group: &[&'p Prepare]| {
        futures_util::future::join_all(
            group
                .iter()
                .map(|p| prepare_signal(env, p, artifacts, ready, image_turn)),
        )
    };
    let first_results = together(first).await;
    let rest_results = together(rest).await;
    first_results.into_iter().chain(rest_results).collect()
}

/// Prepares one host and tells the steps waiting for it how that went.
async fn prepare_signal(
    env: &Env<'_>,
    p: &Prepare,
    artifacts: &Artifacts,
    ready: &BTreeMap<String, watch::Sender<Readiness>>,
    image_turn: Option<&tokio::sync::Mutex<()>>,
) -> Result<(), Error> {
    let task = env.progress.task(&p.host);
    let r = prepare_one(env, p, artifacts, &task, image_turn).await;
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

/// Per version and architecture: the release, its verified copy in the
/// controller's cache (pushed from there; `None` when hosts download it),
/// and the digest hosts check.
pub(super) type Artifacts =
    BTreeMap<(Version, &'static str), (Artifact, Option<release::Cached>, String)>;

async fn prepare_one(
    env: &Env<'_>,
    p: &Prepare,
    artifacts: &Artifacts,
    task: &Task,
    image_turn: Option<&tokio::sync::Mutex<()>>,
) -> Result<(), Error> {
    let m = env.member(&p.host)?;
    let host = env.host(&p.host)?;
    task.step("prepare host (etcd user, directories)");
    host.run("prepare host", &remote::prepare_host(env.inv, m))
        .await?;
    if let Some(v) = p.install {
        let arch = host_arch(p)?;
        let Some((a, cached, digest)) = artifacts.get(&(v, arch)) else {
            return Err(
                HostError::new(&p.host, "install release", "release was not resolved").into(),
            );
        };
        match cached {
            Some(c) => {
                task.step(&format!(
                    "push and install etcd {v} ({} MB)",
                    c.size / 1_000_000
                ));
                host.run_with_file(
                    "install release",
                    &remote::install_release(env.inv, v, digest, remote::Source::Stdin),
                    &c.path,
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
        let (what, reference, get) = match step {
            ImageStep::Build(r) => ("build image", r, GetImage::Build(r)),
            ImageStep::Pull(r) => ("pull image", r, GetImage::Pull(r)),
        };
        let script = runtime::of(m)
            .get_image(env.inv, v, get)
            .ok_or_else(|| Error::Blocked(format!("{}: its mode runs no images", m.name)))?;
        let _turn = match image_turn {
            Some(t) => Some(t.lock().await),
            None => None,
        };
        task.step(&format!("{what} {reference}"));
        host.run(what, &script).await?;
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
    if p.crl
        && let Some(der) = crate::tls::crl(env.inv)
    {
        task.step("write the client revocation list");
        host.run_with_input(
            "write the client revocation list",
            &remote::write_pki_file(m, crate::layout::CRL_FILE, "0644"),
            &der,
        )
        .await?;
    }
    match (p.backup, &env.inv.backup) {
        (Some(BackupStep::Write), Some(b)) => {
            task.step("write and start scheduled snapshots");
            host.run(
                "install scheduled snapshots",
                &backup::install(env.inv, b, m),
            )
            .await?;
        }
        (Some(BackupStep::Remove), _) => {
            task.step("stop scheduled snapshots");
            host.run("remove scheduled snapshots", &backup::remove(m))
                .await?;
        }
        _ => {}
    }
    if let Some(f) = p.host_file {
        let step = format!("write {f}");
        task.step(&step);
        let rt = runtime::of(m);
        let file = rt.host_file(env.templates, env.inv, m, &|_| env.inv.cluster.version)?;
        host.run_with_input(&step, &rt.write_host_file(env.inv, m), file.text.as_bytes())
            .await?;
    }
    Ok(())
}
