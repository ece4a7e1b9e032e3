//! From a parsed command line to the command that carries it out, and from
//! its outcome to the exit code (0 success, 1 failure on hosts or not done,
//! 2 bad input; `plan --detailed-exitcode`: 2 for changes). Each command's
//! own options become the arguments of its function here; what the command
//! does lives in its module beside this one.

use super::{
    adopt, apply, certs, from_cluster, init, lifecycle, maintenance, output, snapshot, status,
};
use crate::cli::{
    AlarmCommand, CertsCommand, Cli, Command, InitArgs, RollingArgs, SnapshotCommand,
};
use crate::error::Error;
use crate::inventory::Version;
use crate::plan;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Runs the command; its exit code.
pub async fn run(command: Command) -> Result<i32, Error> {
    crate::interrupt::install();
    let done = |()| 0;
    match command {
        Command::Apply {
            inventory,
            plan: saved,
            rolling,
        } => {
            let mut args = apply_args(&inventory, rolling, plan::Scope::Apply);
            args.saved = saved;
            apply::apply(&inventory, &args).await.map(done)
        }
        Command::Plan {
            inventory,
            out,
            snapshot_dir,
            detailed_exitcode,
        } => plan(&inventory, out.as_deref(), snapshot_dir, detailed_exitcode).await,
        Command::Upgrade {
            inventory,
            to,
            allow_downgrade,
            prepare_only,
            rolling,
        } => upgrade(&inventory, &to, allow_downgrade, prepare_only, rolling).await,
        Command::Downgrade {
            inventory,
            to,
            prepare_only,
            mut rolling,
        } => {
            // The command is the consent to the downgrade it plans.
            rolling.yes = true;
            upgrade(&inventory, &to, true, prepare_only, rolling).await
        }
        Command::Replace {
            inventory,
            old,
            new,
            wipe,
            rolling,
        } => {
            let mut args = apply_args(&inventory, rolling, plan::Scope::Replace { old, new });
            args.options.wipe_removed = wipe;
            apply::apply(&inventory, &args).await.map(done)
        }
        Command::Certs(CertsCommand::Rotate { inventory, rolling }) => {
            let args = apply_args(&inventory, rolling, plan::Scope::CertsRotate);
            apply::apply(&inventory, &args).await.map(done)
        }
        Command::Certs(CertsCommand::RotateCa { inventory, rolling }) => {
            let args = apply_args(&inventory, rolling, plan::Scope::CertsRotate);
            certs::rotate_ca(&inventory, args).await.map(done)
        }
        Command::Certs(CertsCommand::Operator {
            inventory,
            name,
            out,
        }) => certs::operator(&inventory, &name, out.as_deref()).map(done),
        Command::Certs(CertsCommand::Client {
            inventory,
            name,
            out,
            layout,
        }) => certs::client(&inventory, &name, &out, layout).map(done),
        Command::Status { inventory } => status::status(&inventory).await.map(ok_or_1),
        Command::Snapshot(SnapshotCommand::Save { inventory, out }) => {
            snapshot::save(&inventory, out).await.map(done)
        }
        Command::Snapshot(SnapshotCommand::List { inventory, dir }) => {
            snapshot::list(&inventory, dir).await.map(ok_or_1)
        }
        Command::Restore {
            inventory,
            snapshot,
            latest,
            dry_run,
            yes,
        } => {
            let file = match snapshot {
                Some(f) if !latest => f,
                _ => snapshot::latest(&inventory).await?,
            };
            lifecycle::restore(&inventory, &file, yes, dry_run)
                .await
                .map(done)
        }
        Command::Recover { inventory, yes } => lifecycle::recover(&inventory, yes).await.map(done),
        Command::Adopt {
            inventory,
            dry_run,
            log,
            yes,
        } => adopt::adopt(&inventory, dry_run, log, yes).await.map(done),
        Command::Destroy {
            inventory,
            wipe_data,
            dry_run,
            yes,
        } => lifecycle::destroy(&inventory, wipe_data, yes, dry_run)
            .await
            .map(done),
        Command::Init(a) => init_command(a).await.map(done),
        Command::Env { inventory } => lifecycle::env_vars(&inventory).map(done),
        Command::Defrag {
            inventory,
            min_free_percent,
            all,
        } => {
            let opts = plan::maintenance::DefragOptions {
                min_free_percent,
                all,
            };
            maintenance::defrag(&inventory, opts).await.map(done)
        }
        Command::Compact { inventory, retain } => {
            maintenance::compact(&inventory, retain).await.map(done)
        }
        Command::Alarm(AlarmCommand::List { inventory }) => {
            maintenance::alarm_list(&inventory).await.map(ok_or_1)
        }
        Command::Alarm(AlarmCommand::Disarm { inventory }) => {
            maintenance::alarm_disarm(&inventory).await.map(done)
        }
        Command::Completions { shell } => completions(shell).map(done),
        Command::Man { dir } => man(dir.as_deref()).map(done),
    }
}

/// 0 when all is well, 1 when not (an unhealthy member, a snapshot that
/// does not check out, an alarm raised).
fn ok_or_1(ok: bool) -> i32 {
    if ok { 0 } else { 1 }
}

/// The commands that change things: with `-o json` they end with a summary.
pub fn changes(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Apply { .. } => "apply",
        Command::Upgrade { .. } => "upgrade",
        Command::Downgrade { .. } => "downgrade",
        Command::Replace { .. } => "replace",
        Command::Adopt { dry_run: false, .. } => "adopt",
        Command::Init(_) => "init",
        Command::Snapshot(SnapshotCommand::Save { .. }) => "snapshot save",
        Command::Restore { .. } => "restore",
        Command::Recover { .. } => "recover",
        Command::Destroy { .. } => "destroy",
        Command::Certs(CertsCommand::Rotate { .. }) => "certs rotate",
        Command::Certs(CertsCommand::RotateCa { .. }) => "certs rotate-ca",
        Command::Defrag { .. } => "defrag",
        Command::Compact { .. } => "compact",
        Command::Alarm(AlarmCommand::Disarm { .. }) => "alarm disarm",
        _ => return None,
    })
}

/// The options every `apply`-like command shares, with its scope.
fn apply_args(inventory: &Path, r: RollingArgs, scope: plan::Scope) -> apply::ApplyArgs {
    let snapshot_dir = (!r.no_snapshot).then(|| {
        let dir = r.snapshot_dir.unwrap_or_else(|| {
            inventory
                .parent()
                .unwrap_or(Path::new("."))
                .join("snapshots")
        });
        std::path::absolute(&dir).unwrap_or(dir)
    });
    apply::ApplyArgs {
        options: plan::Options {
            // The inventory is the state wanted: an older version there is
            // planned as a downgrade (asked for like a removal).
            allow_downgrade: scope == plan::Scope::Apply,
            scope,
            snapshot_dir,
            ..Default::default()
        },
        log: r.log,
        version: None,
        yes: r.yes,
        saved: None,
        keep_certs: false,
        lock_timeout: r.lock_timeout.unwrap_or_default(),
    }
}

/// `plan`: 1 when blocked; with `--detailed-exitcode`, 2 for changes.
async fn plan(
    inventory: &Path,
    out: Option<&Path>,
    snapshot_dir: Option<PathBuf>,
    detailed_exitcode: bool,
) -> Result<i32, Error> {
    let rolling = RollingArgs {
        no_snapshot: false,
        snapshot_dir,
        log: None,
        yes: false,
        lock_timeout: None,
    };
    let args = apply_args(inventory, rolling, plan::Scope::Apply);
    Ok(match apply::plan(inventory, &args.options, out).await? {
        apply::Planned::Blocked => 1,
        apply::Planned::Changes if detailed_exitcode => 2,
        _ => 0,
    })
}

/// `upgrade --to`: the rolling version change (or, `--prepare-only`, only
/// the hosts' preparation for it).
async fn upgrade(
    inventory: &Path,
    to: &str,
    allow_downgrade: bool,
    prepare_only: bool,
    rolling: RollingArgs,
) -> Result<i32, Error> {
    let v = Version::parse(to).ok_or_else(|| {
        Error::Usage(format!("--to: `{to}` is not a release version like 3.5.17"))
    })?;
    let scope = if prepare_only {
        plan::Scope::PrepareUpgrade
    } else {
        plan::Scope::Upgrade
    };
    let mut args = apply_args(inventory, rolling, scope);
    args.options.allow_downgrade = allow_downgrade;
    super::upgrade::upgrade(inventory, v, &args)
        .await
        .map(|()| 0)
}

/// `init`: a new inventory for the hosts given, or (`--from-cluster`) one
/// that describes a running cluster.
async fn init_command(a: InitArgs) -> Result<(), Error> {
    let InitArgs {
        path,
        name,
        version,
        hosts,
        from_cluster,
        identity_file,
        known_hosts_file,
        no_ssh,
        user,
        become_root,
        force,
        cacert,
        cert,
        key,
    } = a;
    if from_cluster.is_empty() {
        return init::init(
            &path,
            init::InitArgs {
                name,
                version,
                hosts,
                user,
                become_root,
                force,
            },
        );
    }
    let absolute = |f: PathBuf| std::path::absolute(&f).unwrap_or(f);
    from_cluster::from_cluster(
        &path,
        from_cluster::FromCluster {
            urls: from_cluster,
            name,
            user,
            become_root,
            identity_file: identity_file.map(absolute),
            known_hosts_file: known_hosts_file.map(absolute),
            ssh: !no_ssh,
            force,
            client_tls: match (cacert, cert, key) {
                (Some(ca), Some(cert), Some(key)) => Some([ca, cert, key]),
                _ => None,
            },
        },
    )
    .await
}

/// `completions SHELL`: the script on stdout (made in memory first: the
/// generator cannot say that stdout was closed, `completions bash | head`).
fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "etcd-deploy", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Usage(format!("writing the completions: {e}")))
        }
        _ => Ok(()),
    }
}

/// `man`: the page of etcd-deploy on stdout, or a page per command in `dir`.
fn man(dir: Option<&Path>) -> Result<(), Error> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        return match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
            // `etcd-deploy man | head` is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Error::Usage(format!("writing the man page: {e}")))
            }
            _ => Ok(()),
        };
    };
    clap_mangen::generate_to(cmd, dir)
        .map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
    output::say(&format!("Wrote the man pages into {}.", dir.display()));
    Ok(())
}
