//! The steps a plan is made of (membership and service changes, run one at
//! a time, in order), and what each means for safety: which members it
//! takes out of service (`Step::service`, read by the plan-time quorum
//! check) and whether the operator must agree to it (`Step::destructive`).
//! Both are exhaustive matches: a new kind of step must say.

use super::{Rollout, adopt, tls_move};
use crate::facts::{RecordedMember, Records};
use crate::inventory::Version;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Why a running member restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartReason {
    /// Its service keeps failing: restarted once, its log's cause shown if
    /// it fails again (restarts in this order: repairs first).
    CrashLooping,
    /// Its config still holds `force-new-cluster` (a `recover` stopped
    /// before the seed went back to its normal config): its normal config
    /// is written and it restarts on it, before any member joins. Until
    /// then any restart (a reboot) would make it a one-member cluster
    /// again and cost every write made since.
    ForceNewCluster,
    /// It runs an older config than the one on its host (a run stopped
    /// between writing it and the restart): restarted on the config it has,
    /// before anything else, like a repair.
    StaleConfig,
    /// It runs older TLS files than the ones on its host (a run stopped
    /// between writing them and the restart, e.g. mid-way through a pass of
    /// a CA rotation): restarted on the files it has, like a repair.
    StaleCertificates,
    UnitChanged,
    ContainerChanged,
    CertificatesChanged,
    ConfigChanged,
}

impl RestartReason {
    /// A restart that returns the member to what it was meant to run (a
    /// crash loop, files it has not loaded, recover's one-off config): done
    /// before anything else, by any command, and the member counts as
    /// serving once it is back.
    pub fn is_repair(self) -> bool {
        matches!(
            self,
            RestartReason::CrashLooping
                | RestartReason::ForceNewCluster
                | RestartReason::StaleConfig
                | RestartReason::StaleCertificates
        )
    }

    /// The member restarts on the files it has: nothing is written first.
    pub fn keeps_files(self) -> bool {
        matches!(
            self,
            RestartReason::StaleConfig | RestartReason::StaleCertificates
        )
    }
}

/// What happens to a removed member's data directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    #[default]
    Keep,
    /// Deleted (`replace --wipe`): the directory its own config names.
    Wipe,
}

/// What a member whose upgrade fails goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollback {
    /// The version it ran before (in the step's `from`); the rollout stops.
    PreviousVersion,
    /// Nothing to go back to (its earlier version is unknown): stop there.
    Stop,
}

/// What a restore restores, onto which members, and how (`Step::Restore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreStep {
    /// On this machine, checked before the plan was made; checked again
    /// against `sha256` on each host.
    pub snapshot: PathBuf,
    pub sha256: String,
    pub members: Vec<String>,
    /// Each data directory is moved aside as `<data_dir>.pre-restore-<stamp>`.
    pub stamp: String,
    /// New: the restored cluster never mixes with the old one.
    pub token: String,
    /// `name=peer-url,...` of every member.
    pub initial_cluster: String,
}

/// One membership or service step; these run one at a time, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Start the first member of a new cluster (`initial-cluster-state new`).
    Bootstrap { host: String },
    /// Start members that are already in the cluster but stopped, together
    /// (when no member answers, quorum may need several of them at once);
    /// those in `configs` have no config file (`destroy` kept their data and
    /// removed it): theirs is written first.
    Start {
        hosts: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        configs: Vec<String>,
    },
    /// Make a started learner a voting member.
    Promote { host: String, id: u64 },
    /// Add as a learner (unless `added`), write config (`existing`), start,
    /// wait until healthy, promote.
    Join {
        host: String,
        /// The ID of an earlier `member add` whose member never started.
        added: Option<u64>,
        /// Data from an earlier life of this host is moved aside first.
        stale_data: bool,
        /// The service is running already: only wait and promote.
        running: bool,
    },
    /// Write the changed config and/or unit and restart, waiting for health
    /// (`Step::restart` makes it: the decisions below follow from the
    /// reasons, and the executor reads only the decisions).
    Restart {
        host: String,
        reasons: Vec<RestartReason>,
        /// The inventory's config is written first; else it restarts on
        /// the files it has (it had not read them yet).
        write_config: bool,
        /// The config it runs now is kept, and goes back (with another
        /// restart) if it is not healthy with the new one.
        keep_for_rollback: bool,
        /// recover's seed going back to its normal config: when it is the
        /// only voter, restarted without the live quorum gate (any later
        /// start would be worse).
        lone_seed: bool,
    },
    /// Remove a member that is no longer in the inventory: leadership off it
    /// first, `member remove`, then stop and disable its service.
    Remove {
        /// Its etcd name (or ID if it never started).
        name: String,
        id: u64,
        /// Where etcd-deploy reaches its host to stop etcd: its own record
        /// of the member (never an address from etcd's member list); `None`
        /// when it has none, and the operator stops it by hand.
        host: Option<RecordedMember>,
        leader: bool,
        /// It answered when the facts were gathered.
        alive: bool,
        data: Data,
    },
    /// etcd-deploy's records of its members (`facts::records`) written to
    /// the hosts of `members`, whose copies differ, before anything else
    /// changes: what lets any controller find a member's host later.
    Record {
        members: Vec<String>,
        records: Records,
    },
    /// etcd's users, roles, grants and auth made what the inventory says
    /// (`plan::auth`), through its API, in `changes`' order.
    Access {
        changes: Vec<super::auth::AuthChange>,
    },
    /// Stop and disable the etcd of a former member on its recorded host:
    /// an earlier run removed it from the cluster and stopped before this.
    Retire {
        name: String,
        host: RecordedMember,
        data: Data,
    },
    /// Taking over members someone else runs (`adopt`), one at a time in
    /// `order` (followers first, the leader last): etcd-deploy's config
    /// written, the previous unit or container stopped and disabled, the
    /// data handed to the etcd user, etcd-deploy's own started, healthy and
    /// caught up before the next; back to the previous one if it fails.
    Adopt {
        order: Vec<String>,
        /// The leader's name, if among `order` (leadership moves off it first).
        leader: Option<String>,
        previous: BTreeMap<String, adopt::Previous>,
    },
    /// One pass of moving a plain-HTTP cluster to TLS (`tls_move.rs`), one
    /// member at a time in `order`, the leader last.
    TlsMove {
        pass: tls_move::TlsPass,
        order: Vec<String>,
        leader: Option<String>,
    },
    /// A rolling version change, one member at a time, the leader last.
    Upgrade {
        rollout: Rollout,
        /// The version each member ran before, to roll back to.
        from: BTreeMap<String, Version>,
        /// A snapshot is saved from the leader into this directory first.
        snapshot_to: Option<PathBuf>,
        rollback: Rollback,
        /// Members whose config changes too (a setting, or its name in the
        /// new version): written with the switch, the old one kept for the
        /// way back.
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        configs: BTreeSet<String>,
    },
    /// Disaster recovery (`restore`, `lifecycle.rs`): every member in
    /// `members` stopped, then each one's data directory moved aside as
    /// `<data_dir>.pre-restore-<stamp>` (never deleted) and the snapshot
    /// restored in its place with a fresh cluster token and the inventory's
    /// membership, then all started together; the membership verified.
    Restore(RestoreStep),
    /// `destroy`: on every member's host, etcd stopped and disabled, its
    /// unit or container, config, TLS files and scheduled snapshots removed
    /// (the snapshots saved stay), then what the host shares (releases,
    /// link, template unit) once no member is left there.
    Destroy { members: Vec<String>, data: Data },
}

impl Step {
    /// The restart of `host` for `reasons`, with what follows from them.
    pub fn restart(host: &str, reasons: Vec<RestartReason>) -> Step {
        let forced = reasons.contains(&RestartReason::ForceNewCluster);
        Step::Restart {
            host: host.to_string(),
            write_config: !reasons.iter().all(|r| r.keeps_files()),
            // Never back to recover's one-off config.
            keep_for_rollback: reasons.contains(&RestartReason::ConfigChanged) && !forced,
            lone_seed: forced,
            reasons,
        }
    }

    /// The inventory hosts this step acts on (the steps wait for them to be prepared).
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            Step::Start { hosts, .. } => hosts.iter().map(String::as_str).collect(),
            Step::Bootstrap { host }
            | Step::Promote { host, .. }
            | Step::Join { host, .. }
            | Step::Restart { host, .. } => vec![host],
            Step::Upgrade { rollout, .. } => rollout.order.iter().map(String::as_str).collect(),
            Step::Adopt { order, .. } | Step::TlsMove { order, .. } => {
                order.iter().map(String::as_str).collect()
            }
            Step::Restore(RestoreStep { members, .. }) | Step::Destroy { members, .. } => {
                members.iter().map(String::as_str).collect()
            }
            // Not an inventory host, or a file only: nothing to wait for.
            Step::Remove { .. }
            | Step::Retire { .. }
            | Step::Record { .. }
            | Step::Access { .. } => vec![],
        }
    }

    pub fn symbol(&self) -> char {
        match self {
            Step::Bootstrap { .. } | Step::Join { .. } => '+',
            Step::Remove { .. } | Step::Retire { .. } | Step::Destroy { .. } => '-',
            Step::Start { .. }
            | Step::Promote { .. }
            | Step::Restart { .. }
            | Step::Upgrade { .. }
            | Step::Adopt { .. }
            | Step::TlsMove { .. }
            | Step::Record { .. }
            | Step::Access { .. }
            | Step::Restore(_) => '~',
        }
    }
}

/// What a step does to the service of the members it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service<'a> {
    /// Changes no member's service: adds to the cluster (bootstrap, join,
    /// promote) or stops a former member that is no longer in it.
    Keeps,
    /// Brings these back into service (stopped or crash-looping): they
    /// count as serving afterwards, and their start costs nothing.
    Restores(Vec<&'a str>),
    /// Takes each of these out of service in turn; with `back`, each counts
    /// as serving again once it is back (it must be healthy before the next).
    Cycles { members: Vec<&'a str>, back: bool },
    /// Takes a member out of the cluster for good (its quorum is checked
    /// with the member removed: `quorum::check_step`).
    Removes,
    /// Stops all of these at once, knowingly (restore, destroy): there is
    /// no quorum to keep, and the operator agrees to it (`destructive`).
    StopsAll(Vec<&'a str>),
}

impl Step {
    /// Which members the step takes out of service, and how.
    pub fn service(&self) -> Service<'_> {
        match self {
            Step::Bootstrap { .. }
            | Step::Join { .. }
            | Step::Promote { .. }
            | Step::Record { .. }
            | Step::Access { .. }
            | Step::Retire { .. } => Service::Keeps,
            Step::Start { hosts, .. } => {
                Service::Restores(hosts.iter().map(String::as_str).collect())
            }
            Step::Restart { host, reasons, .. }
                if reasons.contains(&RestartReason::CrashLooping) =>
            {
                Service::Restores(vec![host])
            }
            Step::Restart { host, reasons, .. } => Service::Cycles {
                members: vec![host],
                back: reasons.iter().any(|r| r.is_repair()),
            },
            Step::Upgrade { rollout, .. } => Service::Cycles {
                members: rollout.order.iter().map(String::as_str).collect(),
                back: false,
            },
            Step::TlsMove { order, .. } | Step::Adopt { order, .. } => Service::Cycles {
                members: order.iter().map(String::as_str).collect(),
                back: true,
            },
            Step::Remove { .. } => Service::Removes,
            Step::Restore(RestoreStep { members, .. }) | Step::Destroy { members, .. } => {
                Service::StopsAll(members.iter().map(String::as_str).collect())
            }
        }
    }

    /// What the operator agrees to (`--yes`, or asked on a terminal), if
    /// the step needs it: a member leaving the cluster, data deleted, a
    /// service someone else runs taken over.
    pub fn destructive(&self) -> Option<String> {
        match self {
            Step::Upgrade { rollout, from, .. } if rollout.downgrade => {
                let froms: BTreeSet<String> = from.values().map(ToString::to_string).collect();
                let how = match rollout.etcd_downgrade {
                    super::DowngradeCall::Enable { major, minor } => format!(
                        " through etcd's downgrade: the cluster version drops to {major}.{minor} and what the newer minor added is no longer available"
                    ),
                    _ => String::new(),
                };
                let froms: Vec<String> = froms.into_iter().collect();
                let froms = match froms.join("/") {
                    f if f.is_empty() => f,
                    f => f + " ",
                };
                Some(format!(
                    "downgrades etcd {froms}to {} on {}{how}",
                    rollout.to,
                    rollout.order.join(", ")
                ))
            }
            Step::Remove { name, data, .. } => Some(match data {
                Data::Keep => format!("removes member {name} from the cluster and stops its etcd"),
                Data::Wipe => format!(
                    "removes member {name} from the cluster, stops its etcd and DELETES its data directory"
                ),
            }),
            Step::Retire { name, host, data } => Some(match data {
                Data::Keep => format!("stops the etcd of former member {name} on {}", host.address),
                Data::Wipe => format!(
                    "stops the etcd of former member {name} on {} and DELETES its data directory",
                    host.address
                ),
            }),
            Step::Access { changes } if changes.iter().any(|c| c.removes()) => Some(format!(
                "takes access away: {}",
                changes
                    .iter()
                    .filter(|c| c.removes())
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Step::Adopt { order, .. } => Some(format!(
                "takes over {}: stops and disables the etcd service or container that runs each now (left on disk) and starts etcd-deploy's own on the same data",
                order.join(", ")
            )),
            Step::Restore(RestoreStep {
                snapshot, members, ..
            }) => Some(format!(
                "replaces the data of every member ({}) with {}; current data is moved aside, not deleted",
                members.join(", "),
                snapshot.display()
            )),
            Step::Destroy { members, data } => Some(format!(
                "stops etcd on {} and removes its units, configs and releases {}",
                members.join(", "),
                match data {
                    Data::Keep => "(data directories are kept)",
                    Data::Wipe => "and DELETES their data directories",
                }
            )),
            Step::Bootstrap { .. }
            | Step::Start { .. }
            | Step::Promote { .. }
            | Step::Join { .. }
            | Step::Restart { .. }
            | Step::TlsMove { .. }
            | Step::Record { .. }
            | Step::Access { .. }
            | Step::Upgrade { .. } => None,
        }
    }
}
