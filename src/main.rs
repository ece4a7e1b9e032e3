//! Entry point: parse the command line, run the command, turn the outcome
//! into an exit code (0 success, 1 failure on hosts, 2 bad input).

use clap::Parser;
use etcd_deploy::cli::{Cli, Command, Output};
use etcd_deploy::commands::{apply, apply::Format, status};
use etcd_deploy::error::Error;

fn format(o: Output) -> Format {
    if o == Output::Json { Format::Json } else { Format::Text }
}

async fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Apply { inventory } => apply::apply(&inventory).await.map(|()| 0),
        Command::Plan { inventory, output } => apply::plan(&inventory, format(output)).await.map(|()| 0),
        Command::Status { inventory, output } => {
            status::status(&inventory, format(output)).await.map(|healthy| if healthy { 0 } else { 1 })
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
    std::process::exit(code);
}
