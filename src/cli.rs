//! The command line (clap types only).

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// Output: text (tables for status) for people, json for scripts. The
    /// reading commands print their data as JSON; the changing ones print
    /// one JSON summary at the end (their lines go to stderr)
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// More detail on stderr: -v each remote script run, with its host and
    /// time; -vv its arguments too
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress lines: only warnings, failures and the outcome
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do, changing nothing
    #[command(
        after_help = "Example:\n  etcd-deploy plan inventory.toml\n  etcd-deploy plan inventory.toml --output json\n  etcd-deploy plan inventory.toml --detailed-exitcode   # 0: no changes, 2: changes, 1: error or blocked"
    )]
    Plan {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Also save the plan to FILE, for `apply --plan FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Where snapshots are saved before a version change (as `apply` would)
        #[arg(long, value_name = "DIR")]
        snapshot_dir: Option<PathBuf>,
        /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on
        /// errors or when the plan is blocked: for CI (as `terraform plan -detailed-exitcode`)
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the cluster match the inventory: install, configure, bootstrap, join members one at a time
    #[command(
        after_help = "Example:\n  etcd-deploy apply inventory.toml\n\nRe-running it on a converged cluster changes nothing; after an interruption it carries on."
    )]
    Apply {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Carry out exactly the plan saved by `plan --out FILE`, refused if
        /// the inventory or the cluster changed since
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// One row per member: ID, version, leader, learner, raft term and index, DB size, health
    #[command(
        after_help = "Example:\n  etcd-deploy status inventory.toml\n  etcd-deploy status inventory.toml --output json\n\nExits 1 when any member is not healthy."
    )]
    Status {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
    },
    /// Rolling version change, one member at a time: followers first, the leader last (leadership moved first)
    #[command(
        after_help = "Example:\n  etcd-deploy upgrade inventory.toml --to 3.5.1\n\nChecks first (one minor version at a time, every member healthy, no learner, no alarm), saves a snapshot, then restarts one member at a time on the new release, each healthy and caught up before the next; a member that does not come back is rolled back. Re-running resumes. Then set cluster.version in the inventory."
    )]
    Upgrade {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// The version to move every member to
        #[arg(long, value_name = "X.Y.Z")]
        to: String,
        /// Allow moving to an older patch release of the cluster's minor version
        #[arg(long)]
        allow_downgrade: bool,
        /// Only put the release (and, in compose mode, its image) on every host;
        /// restart nothing. The upgrade run later then only swaps members.
        #[arg(long)]
        prepare_only: bool,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// Back to an older version the way etcd allows: a minor down through etcd's downgrade API, one member at a time
    #[command(
        after_help = "Example:\n  etcd-deploy downgrade inventory.toml --to 3.6.17\n\nA minor downgrade (3.7 to 3.6, 3.6 to 3.5; etcd 3.6 and later): checks the cluster is healthy, saves a snapshot, asks etcd to validate and enable the downgrade (the cluster version drops to the older minor at once), waits for every member's storage version to follow, then restarts one member at a time on the older release, followers first, the leader last, each healthy and caught up before the next; etcd ends the downgrade when the last one runs it. Two minors down go one at a time. A patch downgrade is a plain rolling change. Re-running resumes; `apply` with the newer version cancels an unfinished downgrade (etcd's downgrade cancel) and goes back up. Then set cluster.version in the inventory."
    )]
    Downgrade {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// The version to move every member to
        #[arg(long, value_name = "X.Y.Z")]
        to: String,
        /// Only put the release (and, in compose mode, its image) on every host;
        /// restart nothing
        #[arg(long)]
        prepare_only: bool,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// Take over a running cluster etcd-deploy did not make, one member at a time, keeping its data, IDs and URLs
    #[command(
        after_help = "Example:\n  etcd-deploy init inventory.toml --from-cluster http://10.0.0.11:2379 --user admin --become\n  etcd-deploy adopt inventory.toml --dry-run\n  etcd-deploy adopt inventory.toml\n\nShows what runs each member now (its unit or container, data directory, settings) and which settings change, then, after consent: followers first, the leader last (leadership moved first), each member's etcd-deploy config written, its old unit or container stopped and disabled (left on disk), its data given to the etcd user, etcd-deploy's own unit or container started, healthy and caught up before the next. A member that does not come up goes back to what ran it before. Re-running resumes. Refused before anything changes: members of two clusters, a member the inventory does not name, a data directory missing or not the inventory's, TLS, an unhealthy cluster."
    )]
    Adopt {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Show what was found and the plan; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also write every step to FILE as JSON lines
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Do not ask for consent (each member's etcd is stopped and started under etcd-deploy)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Rolling node replacement: add NEW (learner, caught up, promoted), then remove OLD and stop it
    #[command(
        after_help = "Example:\n  # in inventory.toml, replace the [[hosts]] entry of etcd-2 by one for etcd-4, then:\n  etcd-deploy replace inventory.toml etcd-2 --with etcd-4\n\nThe cluster never drops below the quorum of its original size. A leader is relieved of leadership first. A member that is down is removed first, when quorum allows it. OLD's data directory is kept unless --wipe."
    )]
    Replace {
        /// The inventory file (see inventory.example.toml)
        inventory: PathBuf,
        /// The member to replace (no longer in the inventory)
        old: String,
        /// Its replacement (in the inventory)
        #[arg(long = "with", value_name = "NEW")]
        new: String,
        /// Delete OLD's data directory once it is out of the cluster
        #[arg(long)]
        wipe: bool,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// Write a commented inventory (TLS generation on) from flags, or prompts on a terminal
    #[command(
        after_help = "Example:\n  etcd-deploy init inventory.toml --host etcd-1=10.0.0.11 --host etcd-2=10.0.0.12 --host etcd-3=10.0.0.13 --version 3.7.4 --user admin --become\n  etcd-deploy init found.toml --from-cluster http://10.0.0.11:2379 --user admin --become   # describe a running cluster"
    )]
    Init(InitArgs),
    /// Snapshots: save one (from a caught-up follower) onto this machine, list the saved ones
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Disaster recovery: restore a snapshot onto every member (old data moved aside, never deleted)
    #[command(
        after_help = "Example:\n  etcd-deploy restore inventory.toml snapshots/prod-20261124T195338Z-rev1042.db\n\nShows the plan (--dry-run stops there), then prepares hosts that need it, stops every member, moves each data directory aside, restores the snapshot on every member with a fresh initial cluster token and the inventory's membership, starts them all, verifies. Asks for the cluster name unless --yes."
    )]
    Restore {
        /// The inventory file (see inventory.example.toml)
        inventory: PathBuf,
        /// The snapshot file (on this machine)
        #[arg(required_unless_present = "latest", conflicts_with = "latest")]
        snapshot: Option<PathBuf>,
        /// Use the newest good snapshot: saved here (`snapshots/` beside the
        /// inventory) or by the hosts' scheduled snapshots ([backup]),
        /// fetched from its host and checked first
        #[arg(long)]
        latest: bool,
        /// Show the plan; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Quorum lost for good: rebuild the cluster from the survivor with the most data
    #[command(
        after_help = "Example:\n  etcd-deploy recover inventory.toml\n\nFor a cluster that has lost quorum for good (refused while any member follows a leader). Starts the stopped survivors to ask each how much data it has, shows which one seeds the new cluster (highest committed raft index) and what the others lose, then (after the cluster name is typed, or with --yes): stops every member, backs up every survivor's data directory to <data_dir>.pre-recover-<time>, starts the seed once with force-new-cluster and again with its normal config, and joins the inventory's other members to it one at a time with fresh data. Put fresh hosts in the inventory in place of dead ones first."
    )]
    Recover {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Stop and disable every member, remove units, configs and releases (data kept unless --wipe-data)
    #[command(
        after_help = "Example:\n  etcd-deploy destroy inventory.toml --dry-run\n  etcd-deploy destroy inventory.toml --wipe-data --yes\n\nShows the plan (--dry-run stops there), then asks for the cluster name unless --yes."
    )]
    Destroy {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Delete the data directories too
        #[arg(long)]
        wipe_data: bool,
        /// Show the plan; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// TLS certificates
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Example:\n  etcd-deploy completions bash > /etc/bash_completion.d/etcd-deploy\n  etcd-deploy completions zsh > \"${fpath[1]}/_etcd-deploy\"\n  etcd-deploy completions fish > ~/.config/fish/completions/etcd-deploy.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into DIR
    #[command(
        after_help = "Example:\n  etcd-deploy man | man -l -\n  etcd-deploy man --dir /usr/local/share/man/man1"
    )]
    Man {
        /// Write etcd-deploy.1 and etcd-deploy-COMMAND.1 into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Defragment members one at a time (followers first, the leader last), giving free pages back to the file system
    #[command(
        after_help = "Example:\n  etcd-deploy defrag inventory.toml\n  etcd-deploy defrag inventory.toml --all\n\netcd answers nothing on a member while it defragments: one member at a time, each only when quorum holds without it, leadership moved off the leader first. A member with little to reclaim (under --min-free-percent of its file, or under 1 MB) is left alone, unless --all or a NOSPACE alarm is raised (then every member is: the alarm stops writes everywhere, and etcd's free-page count lags a compaction until writes resume)."
    )]
    Defrag {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Leave alone a member whose free pages are under this percentage of its database file
        #[arg(long, value_name = "PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        min_free_percent: u8,
        /// Defragment every member that answers, however little it would give back
        #[arg(long)]
        all: bool,
    },
    /// Compact the key-value history, keeping the last N revisions readable
    #[command(
        after_help = "Example:\n  etcd-deploy compact inventory.toml --retain 10000\n\nOlder revisions are gone afterwards (a watch or read at one fails with 'required revision has been compacted'); waits until the compaction is done on disk. Then `etcd-deploy defrag` gives the space back to the file system."
    )]
    Compact {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// How many of the latest revisions stay readable
        #[arg(long, value_name = "N")]
        retain: u64,
    },
    /// Alarms: list the raised ones, or clear them (NOSPACE once the database is under its quota again)
    #[command(subcommand)]
    Alarm(AlarmCommand),
    /// Print ETCDCTL_* variables to use etcdctl against the cluster
    #[command(
        after_help = "Example:\n  eval \"$(etcd-deploy env inventory.toml)\"\n  etcdctl member list -w table"
    )]
    Env {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// New member certificates (same CA), rolled out one member at a time, each healthy before the next
    #[command(after_help = "Example:\n  etcd-deploy certs rotate inventory.toml")]
    Rotate {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// One pass of a CA rotation (three in all): trust old and new CA, reissue every certificate from the new CA, drop the old CA
    #[command(
        after_help = "Example:\n  etcd-deploy certs rotate-ca inventory.toml   # pass 1: ca.crt holds both CAs\n  # give clients the new ca.crt\n  etcd-deploy certs rotate-ca inventory.toml   # pass 2: certificates from the new CA\n  # give clients their new certificates\n  etcd-deploy certs rotate-ca inventory.toml   # pass 3: the old CA dropped\n\nEach pass is rolled out one member at a time (leader last), each healthy before the next; no member ever refuses a peer. An interrupted pass is finished by the next run, which stops there. Generate mode only."
    )]
    RotateCa {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        #[command(flatten)]
        rolling: RollingArgs,
    },
    /// A personal client certificate from the cluster CA, for one person or pipeline: its own pki directory without the CA key
    #[command(after_help = "Example (on the machine that holds the CA key):
  etcd-deploy certs operator inventory.toml alice --out /tmp/alice-pki
  # hand /tmp/alice-pki over (a secret store); on her machine:
  ETCD_DEPLOY_PKI=~/alice-pki etcd-deploy status inventory.toml

The directory holds ca.crt, client.crt and client.key (CN NAME); with it etcd-deploy runs every command that needs no new certificate (see docs/team.md). Running it again issues a new certificate.")]
    Operator {
        /// The inventory file (see inventory.example.toml)
        inventory: PathBuf,
        /// The certificate's common name: the person or pipeline (etcd's user name when auth is on)
        name: String,
        /// Where to write the files (default: operators/NAME in the pki directory)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// A [[clients]] entry's certificate, key and CA written out for handing over (made by apply)
    #[command(
        after_help = "Example:\n  etcd-deploy certs client inventory.toml app1 --out /tmp/app1\n  etcd-deploy certs client inventory.toml kube-apiserver --out /tmp/k8s --layout kubeadm\n\nWith --layout kubeadm the files are named as kubeadm expects for an external etcd (etcd/ca.crt, apiserver-etcd-client.crt, apiserver-etcd-client.key: copy DIR to /etc/kubernetes/pki), and the kube-apiserver flags and kubeadm's etcd.external settings are printed."
    )]
    Client {
        /// The inventory file (see inventory.example.toml)
        inventory: PathBuf,
        /// The client's name, as in [[clients]]
        name: String,
        /// Where to write the files (made 0700; keys 0600)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// File names: plain (ca.crt, NAME.crt, NAME.key) or kubeadm's for an external etcd
        #[arg(long, value_enum, default_value = "plain")]
        layout: ClientLayout,
    },
}

/// How `certs client` names the files it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientLayout {
    Plain,
    Kubeadm,
}

#[derive(Debug, Subcommand)]
pub enum AlarmCommand {
    /// The raised alarms (NOSPACE, CORRUPT) with the member that raised each; exits 1 when any is
    #[command(
        after_help = "Example:\n  etcd-deploy alarm list inventory.toml\n  etcd-deploy alarm list inventory.toml -o json"
    )]
    List {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
    },
    /// Clear the raised alarms: NOSPACE only once the member's database is under its quota (compact and defrag first); CORRUPT never
    #[command(
        after_help = "Example:\n  etcd-deploy compact inventory.toml --retain 1000\n  etcd-deploy defrag inventory.toml\n  etcd-deploy alarm disarm inventory.toml"
    )]
    Disarm {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stream a consistent snapshot (from a caught-up follower, else the leader); its SHA256 is checked and the file written atomically
    #[command(
        after_help = "Example:\n  etcd-deploy snapshot save inventory.toml\n  etcd-deploy snapshot save inventory.toml --out /backups/etcd.db"
    )]
    Save {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// The file to write (default: snapshots/<cluster>-<time>-rev<revision>.db beside the inventory)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The snapshots saved on this machine, newest first, each checked (etcd's appended SHA256)
    #[command(
        after_help = "Example:\n  etcd-deploy snapshot list inventory.toml\n  etcd-deploy snapshot list inventory.toml --dir /backups -o json"
    )]
    List {
        /// The inventory file (see inventory.example.toml)
        #[arg(env = "ETCD_DEPLOY_INVENTORY", default_value = "inventory.toml")]
        inventory: PathBuf,
        /// Where the snapshots are (default: `snapshots/` beside the inventory)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Options of the commands that may restart members.
#[derive(Debug, Clone, clap::Args)]
pub struct RollingArgs {
    /// Do not save a snapshot before a version change
    #[arg(long)]
    pub no_snapshot: bool,
    /// Where snapshots are saved (default: `snapshots/` beside the inventory)
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Also write every step to FILE as JSON lines
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Go ahead with steps that remove members or delete data (otherwise
    /// asked on a terminal, and refused without one)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Wait this long (e.g. 2m) for the cluster's run lock when another run
    /// holds it, instead of stopping at once
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The same as text (status prints a table either way).
    #[value(hide = true)]
    Table,
    Text,
    Json,
}

/// `init`'s options: a new inventory from flags (or prompts), or one that
/// describes a running cluster (`--from-cluster`).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it
    #[arg(default_value = "inventory.toml")]
    pub path: PathBuf,
    /// Cluster name
    #[arg(long)]
    pub name: Option<String>,
    /// etcd version (X.Y.Z)
    #[arg(long)]
    pub version: Option<String>,
    /// A member: NAME=ADDRESS or ADDRESS (repeat for each)
    #[arg(
        long = "host",
        value_name = "NAME=ADDRESS",
        conflicts_with = "from_cluster"
    )]
    pub hosts: Vec<String>,
    /// Describe a running cluster instead: a client URL of it (repeat for
    /// more); members, addresses, ports and version from etcd, each
    /// member's data directory and settings from its host over SSH
    #[arg(long, value_name = "URL")]
    pub from_cluster: Vec<String>,
    /// With --from-cluster: SSH private key for the hosts
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub identity_file: Option<PathBuf>,
    /// With --from-cluster: known_hosts file for the hosts
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub known_hosts_file: Option<PathBuf>,
    /// With --from-cluster: ask etcd only, not the hosts
    #[arg(long, requires = "from_cluster")]
    pub no_ssh: bool,
    /// With an https --from-cluster URL: the CA that signed the members' certificates
    #[arg(long, value_name = "FILE", requires_all = ["from_cluster", "cert", "key"])]
    pub cacert: Option<PathBuf>,
    /// With an https --from-cluster URL: a client certificate the cluster accepts
    #[arg(long, value_name = "FILE", requires_all = ["from_cluster", "cacert", "key"])]
    pub cert: Option<PathBuf>,
    /// With an https --from-cluster URL: the client certificate's key
    #[arg(long, value_name = "FILE", requires_all = ["from_cluster", "cacert", "cert"])]
    pub key: Option<PathBuf>,
    /// SSH user
    #[arg(long)]
    pub user: Option<String>,
    /// Run remote commands through `sudo -n` (a user that is not root)
    #[arg(long = "become")]
    pub become_root: bool,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}
