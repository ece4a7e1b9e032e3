//! Entry point: parse the command line, run the command, turn the outcome
//! into an exit code (0 success, 1 failure on hosts, 2 bad input).

use clap::Parser;
use etcd_deploy::cli::{CertsCommand, Cli, Command, Output, RollingArgs, SnapshotCommand};
use etcd_deploy::commands::{apply, apply::Format, init, lifecycle, status};
use etcd_deploy::error::Error;
use etcd_deploy::inventory::Version;
use etcd_deploy::plan;
use std::path::Path;

fn format(o: Output) -> Format {
    if o == Output::Json {
        Format::Json
    } else {
        Format::Text
    }
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
            scope,
            snapshot_dir,
            ..Default::default()
        },
        log: r.log,
        version: None,
        yes: r.yes,
        saved: None,
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
            lifecycle::snapshot_save(&inventory, out).await.map(|()| 0)
        }
        Command::Restore {
            inventory,
            snapshot,
            yes,
        } => lifecycle::restore(&inventory, &snapshot, yes)
            .await
            .map(|()| 0),
        Command::Recover { inventory, yes } => {
            lifecycle::recover(&inventory, yes).await.map(|()| 0)
        }
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
        Command::Init {
            path,
            name,
            version,
            hosts,
            user,
            force,
        } => init::init(
            &path,
            init::InitArgs {
                name,
                version,
                hosts,
                user,
                force,
            },
        )
        .map(|()| 0),
        Command::Env { inventory } => lifecycle::env_vars(&inventory).map(|()| 0),
        Command::Plan {
            inventory,
            output,
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
            apply::plan(&inventory, format(output), &args.options, out.as_deref())
                .await
                .map(|changes| if detailed_exitcode && changes { 2 } else { 0 })
        }
        Command::Status { inventory, output } => status::status(&inventory, format(output))
            .await
            .map(|healthy| if healthy { 0 } else { 1 }),
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(run(cli)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            1
        }
    };
    etcd_deploy::remove_control_dir();
    std::process::exit(code);
}
