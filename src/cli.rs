//! The command line (clap types only).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "etcd-deploy",
    version,
    about = "Stand up and operate etcd clusters on Linux hosts over SSH",
    long_about = "Stand up and operate etcd clusters on Linux hosts over SSH, with nothing installed on the hosts beforehand.\n\nExit codes: 0 success, 1 failure on hosts, 2 bad input (nothing was touched).",
    after_help = "Example:\n  etcd-deploy plan inventory.toml\n  etcd-deploy apply inventory.toml\n  etcd-deploy status inventory.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make the cluster match the inventory: install, configure, bootstrap, join members one at a time
    #[command(
        after_help = "Example:\n  etcd-deploy apply inventory.toml\n\nRe-running it on a converged cluster changes nothing; after an interruption it carries on."
    )]
    Apply {
        /// The inventory file (see inventory.example.toml)
        inventory: PathBuf,
    },
    /// Show what apply would do, changing nothing
    #[command(after_help = "Example:\n  etcd-deploy plan inventory.toml\n  etcd-deploy plan inventory.toml --output json")]
    Plan {
        inventory: PathBuf,
        #[arg(long, short, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// One row per member: ID, version, leader, learner, raft term and index, DB size, health
    #[command(
        after_help = "Example:\n  etcd-deploy status inventory.toml\n  etcd-deploy status inventory.toml --output json\n\nExits 1 when any member is not healthy."
    )]
    Status {
        inventory: PathBuf,
        #[arg(long, short, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Text,
    Json,
}
