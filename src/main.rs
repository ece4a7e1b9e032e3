//! Entry point: parse the command line, run the command, turn the outcome
//! into an exit code (0 success, 1 failure on hosts, 2 bad input).

use clap::{CommandFactory, Parser};
use etcd_deploy::cli::{
    AlarmCommand, CertsCommand, Cli, Command, Output, RollingArgs, SnapshotCommand,
};
use etcd_deploy::commands::{
    apply, from_cluster, init, lifecycle, maintenance, output, snapshot, status,
};
use etcd_deploy::error::Error;
use etcd_deploy::inventory::Version;
use etcd_deploy::plan;
use etcd_deploy::progress::{Verbosity, set_verbosity};
use std::path::Path;

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
            scope,
            snapshot_dir,
            ..Default::default()
        },
        log: r.log,
        version: None,
        yes: r.yes,
        saved: None,
        keep_certs: false,
    }
}

async fn run(cli: Cli) -> Result<i32, Error> {
    etcd_deploy::interrupt::install();
    match cli.command {
        Command::Apply {
            inventory,
            plan: saved,
            rolling,
        } => {
            let mut args = apply_args(&inventory, rolling, plan::Scope::Apply);
            args.saved = saved;
            apply::apply(&inventory, &args).await.map(|()| 0)
        }
        Command::Upgrade {
            inventory,
            to,
            allow_downgrade,
            prepare_only,
            rolling,
        } => {
            let v = Version::parse(&to).ok_or_else(|| {
                Error::Usage(format!("--to: `{to}` is not a release version like 3.5.17"))
            })?;
            let scope = if prepare_only {
                plan::Scope::PrepareUpgrade
            } else {
                plan::Scope::Upgrade
            };
            let mut args = apply_args(&inventory, rolling, scope);
            args.options.allow_downgrade = allow_downgrade;
            args.version = Some(v);
            apply::apply(&inventory, &args).await.map(|()| 0)
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
            apply::apply(&inventory, &args).await.map(|()| 0)
        }
        Command::Snapshot(SnapshotCommand::Save { inventory, out }) => {
            snapshot::save(&inventory, out).await.map(|()| 0)
        }
        Command::Snapshot(SnapshotCommand::List { inventory, dir }) => {
            snapshot::list(&inventory, dir)
                .await
                .map(|ok| if ok { 0 } else { 1 })
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "etcd-deploy",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man { dir } => man(dir.as_deref()).map(|()| 0),
        Command::Restore {
            inventory,
            snapshot,
            latest,
            yes,
        } => {
            let file = match snapshot {
                Some(f) if !latest => f,
                _ => snapshot::latest(&inventory).await?,
            };
            lifecycle::restore(&inventory, &file, yes).await.map(|()| 0)
        }
        Command::Recover { inventory, yes } => {
            lifecycle::recover(&inventory, yes).await.map(|()| 0)
        }
        Command::Adopt {
            inventory,
            dry_run,
            log,
            yes,
        } => etcd_deploy::commands::adopt::adopt(&inventory, dry_run, log, yes)
            .await
            .map(|()| 0),
        Command::Destroy {
            inventory,
            wipe_data,
            yes,
        } => lifecycle::destroy(&inventory, wipe_data, yes)
            .await
            .map(|()| 0),
        Command::Certs(CertsCommand::Rotate { inventory, rolling }) => {
            let args = apply_args(&inventory, rolling, plan::Scope::CertsRotate);
            apply::apply(&inventory, &args).await.map(|()| 0)
        }
        Command::Certs(CertsCommand::RotateCa { inventory, rolling }) => {
            let args = apply_args(&inventory, rolling, plan::Scope::CertsRotate);
            etcd_deploy::commands::certs::rotate_ca(&inventory, args)
                .await
                .map(|()| 0)
        }
        Command::Init {
            path,
            name,
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
            ..
        } if !from_cluster.is_empty() => from_cluster::from_cluster(
            &path,
            from_cluster::FromCluster {
                urls: from_cluster,
                name,
                user,
                become_root,
                identity_file: identity_file.map(|f| std::path::absolute(&f).unwrap_or(f)),
                known_hosts_file: known_hosts_file.map(|f| std::path::absolute(&f).unwrap_or(f)),
                ssh: !no_ssh,
                force,
                client_tls: match (cacert, cert, key) {
                    (Some(ca), Some(cert), Some(key)) => Some([ca, cert, key]),
                    _ => None,
                },
            },
        )
        .await
        .map(|()| 0),
        Command::Init {
            path,
            name,
            version,
            hosts,
            user,
            become_root,
            force,
            ..
        } => init::init(
            &path,
            init::InitArgs {
                name,
                version,
                hosts,
                user,
                become_root,
                force,
            },
        )
        .map(|()| 0),
        Command::Env { inventory } => lifecycle::env_vars(&inventory).map(|()| 0),
        Command::Defrag {
            inventory,
            min_free_percent,
            all,
        } => {
            let opts = plan::maintenance::DefragOptions {
                min_free_percent,
                all,
            };
            maintenance::defrag(&inventory, opts).await.map(|()| 0)
        }
        Command::Compact { inventory, retain } => {
            maintenance::compact(&inventory, retain).await.map(|()| 0)
        }
        Command::Alarm(AlarmCommand::List { inventory }) => maintenance::alarm_list(&inventory)
            .await
            .map(|none| if none { 0 } else { 1 }),
        Command::Alarm(AlarmCommand::Disarm { inventory }) => {
            maintenance::alarm_disarm(&inventory).await.map(|()| 0)
        }
        Command::Plan {
            inventory,
            out,
            snapshot_dir,
            detailed_exitcode,
        } => {
            let rolling = RollingArgs {
                no_snapshot: false,
                snapshot_dir,
                log: None,
                yes: false,
            };
            let args = apply_args(&inventory, rolling, plan::Scope::Apply);
            apply::plan(&inventory, &args.options, out.as_deref())
                .await
                .map(|planned| match planned {
                    apply::Planned::Blocked => 1,
                    apply::Planned::Changes if detailed_exitcode => 2,
                    _ => 0,
                })
        }
        Command::Status { inventory } => status::status(&inventory)
            .await
            .map(|healthy| if healthy { 0 } else { 1 }),
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

/// The commands that change things: with `-o json` they end with a summary.
fn changes(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Apply { .. } => "apply",
        Command::Upgrade { .. } => "upgrade",
        Command::Replace { .. } => "replace",
        Command::Adopt { dry_run: false, .. } => "adopt",
        Command::Init { .. } => "init",
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

fn main() {
    let cli = Cli::parse();
    set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::Trace,
    });
    let mode = if cli.output == Output::Json {
        output::Mode::Json
    } else {
        output::Mode::Text
    };
    let summarised = changes(&cli.command);
    output::init(mode, summarised.unwrap_or(""));
    let (code, error) = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(run(cli)) {
            Ok(code) => (code, None),
            Err(e) => {
                eprintln!("error: {e}");
                (e.exit_code(), Some(e.to_string()))
            }
        },
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            (1, Some(e.to_string()))
        }
    };
    if summarised.is_some()
        && let Some(summary) = output::summary(code, error)
    {
        match serde_json::to_string_pretty(&summary) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("error: cannot encode the summary: {e}"),
        }
    }
    etcd_deploy::remove_control_dir();
    std::process::exit(code);
}
