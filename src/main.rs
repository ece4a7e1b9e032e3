//! Entry point: parse the command line, set how much is said and in which
//! form, run the command (`commands::dispatch`), print the summary of a
//! changing command with `-o json`, exit with the command's code (0
//! success, 1 failure on hosts, 2 bad input).

use clap::Parser;
use etcd_deploy::cli::{Cli, Output};
use etcd_deploy::commands::{dispatch, output};
use etcd_deploy::progress::{Verbosity, set_verbosity};

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
    let summarised = dispatch::changes(&cli.command);
    output::init(mode, summarised.unwrap_or(""));
    let (code, error) = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => match rt.block_on(dispatch::run(cli.command)) {
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
