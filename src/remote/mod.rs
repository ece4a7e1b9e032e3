//! The host-level actions, the same whichever way members run: the etcd
//! user and directories, releases, the `current` link, config and TLS files,
//! data moved aside, a removed member retired, the host cleaned by
//! `destroy`, and the common part of the facts. Each is a script file beside
//! this one taking its values as arguments (see `script.rs`); what differs
//! between systemd and compose is in `runtime/`.
//!
//! Every script is idempotent and leaves nothing half-written: files go to
//! a temporary name and are renamed into place.

use crate::inventory::{Inventory, Member, Version, etcd_settings};
use crate::layout;
use crate::script::{HOST_LOCK, IDLE, Script, flag};

/// The `etcd` system user, and the directories it owns.
pub(crate) fn prepare_host(inv: &Inventory, m: &Member) -> Script {
    Script::new(
        "etcd-deploy-prepare-host",
        include_str!("prepare_host.sh"),
        [
            layout::data_dir(m),
            inv.cluster.install_dir.as_str(),
            layout::CONFIG_DIR,
        ],
    )
    .under_path_rule()
}

/// Where the tarball comes from on the host.
pub(crate) enum Source<'a> {
    /// Sent on the script's stdin.
    Stdin,
    /// Downloaded by the host.
    Url(&'a str),
}

/// Receives or downloads a release tarball, checks its SHA256, and unpacks it
/// into the versioned directory. On a mismatch nothing is installed.
pub(crate) fn install_release(
    inv: &Inventory,
    version: Version,
    sha256: &str,
    source: Source,
) -> Script {
    // Pushed bytes were checked on the controller (`release.rs`); a download
    // by the host is checked there.
    let (source, checked) = match source {
        Source::Stdin => ("-", true),
        Source::Url(u) => (u, false),
    };
    Script::new(
        "etcd-deploy-install-release",
        include_str!("install_release.sh"),
        [
            layout::version_dir(inv, version),
            sha256.to_string(),
            version.to_string(),
            source.to_string(),
            flag(checked).to_string(),
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .after(IDLE, Vec::<String>::new())
    .under_path_rule()
}

/// Points the `current` link at a version (atomically) and links the binaries
/// into the operator's PATH.
pub(crate) fn use_version(inv: &Inventory, version: Version) -> Script {
    let mut args = vec![
        layout::current_link(inv),
        format!("etcd-v{version}"),
        layout::BIN_LINK_DIR.to_string(),
    ];
    args.extend(layout::BINARIES.iter().map(|b| b.to_string()));
    Script::new(
        "etcd-deploy-use-version",
        include_str!("use_version.sh"),
        args,
    )
    .after(HOST_LOCK, Vec::<String>::new())
    .under_path_rule()
}

/// Writes the member's config file (from stdin).
pub(crate) fn write_config(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-write-config",
        include_str!("write_file.sh"),
        [layout::config_path(m), "0644".to_string()],
    )
}

/// Writes (the input) or removes etcd-deploy's records of `inv`'s members
/// on a host (`facts::records`).
pub(crate) fn record(inv: &Inventory, write: bool) -> Script {
    Script::new("etcd-deploy-record", ROOT_DIR, Vec::<String>::new())
        .then(
            include_str!("record.sh"),
            [
                if write { "write" } else { "remove" }.to_string(),
                layout::records_path(inv),
            ],
        )
        .after(HOST_LOCK, Vec::<String>::new())
}

/// Reads the member's config file as it is (empty when missing): what a
/// failed config change goes back to.
pub(crate) fn read_config(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-read-config",
        include_str!("read_file.sh"),
        [layout::config_path(m)],
    )
}

/// Writes one TLS file (from stdin) into the member's PKI directory, owned by
/// the etcd user so that only it (and root) can read the keys.
pub(crate) fn write_pki_file(m: &Member, name: &str, mode: &str) -> Script {
    Script::new(
        "etcd-deploy-write-pki-file",
        include_str!("write_pki_file.sh"),
        [layout::pki_dir(m), name.to_string(), mode.to_string()],
    )
}

/// Backs up the member's data directory to `<data_dir>.<suffix>` before
/// `recover`: copied for the seed (which keeps its data), moved for a
/// member that joins again with fresh data.
pub(crate) fn backup_data(m: &Member, suffix: &str, keep_in_place: bool) -> Script {
    Script::new(
        "etcd-deploy-backup-data",
        include_str!("backup_data.sh"),
        [
            layout::data_dir(m).to_string(),
            suffix.to_string(),
            if keep_in_place { "copy" } else { "move" }.to_string(),
        ],
    )
    .under_path_rule()
}

/// Moves a data directory from an earlier life aside (never deletes it) and
/// makes a fresh one.
pub(crate) fn move_data_aside(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-move-data-aside",
        include_str!("move_data_aside.sh"),
        [layout::data_dir(m)],
    )
    .under_path_rule()
}

/// Stops and disables a removed member's etcd, whichever way it ran (the
/// inventory no longer says); its data stays unless `wipe`.
pub(crate) fn retire(inv: &Inventory, m: &Member, wipe: bool) -> Script {
    Script::new(
        "etcd-deploy-retire",
        include_str!("retire.sh"),
        [
            layout::unit(m),
            layout::unit_drop_in(m),
            layout::container(inv, m),
            layout::config_path(m),
            flag(wipe).to_string(),
        ],
    )
    .under_path_rule()
}

/// The common part of `destroy` for one member: config and TLS files, data
/// if `wipe_data`; then, once nothing of etcd runs on the host any more, the
/// template unit, the releases and the binary links.
pub(crate) fn destroy_files(inv: &Inventory, m: &Member, wipe_data: bool) -> Script {
    let mut host = vec![
        layout::UNIT_PATH.to_string(),
        layout::CONFIG_DIR.to_string(),
        layout::current_link(inv),
        inv.cluster.install_dir.clone(),
        layout::BIN_LINK_DIR.to_string(),
    ];
    host.extend(layout::BINARIES.iter().map(|b| b.to_string()));
    Script::new(
        "etcd-deploy-destroy",
        include_str!("destroy_member.sh"),
        [
            layout::config_path(m),
            layout::pki_dir(m),
            layout::data_dir(m).to_string(),
            m.separate_wal_dir().unwrap_or_default().to_string(),
            flag(wipe_data).to_string(),
        ],
    )
    .then(include_str!("destroy_host.sh"), host)
    .after(HOST_LOCK, Vec::<String>::new())
    .under_path_rule()
}

/// The part that makes and checks a root-only directory of etcd-deploy's.
pub(crate) const ROOT_DIR: &str = include_str!("root_dir.sh");

/// The facts script of member `m`'s host: the etcd processes named as the
/// member first (the runtime's part asks Docker or systemd about the other
/// runtime only when one runs outside or inside its unit), then the
/// runtime's own part (`runtime`: it sets `member_pid`), then what every
/// host gives, whatever its runtime.
pub(crate) fn facts(inv: &Inventory, m: &Member, runtime: Script) -> Script {
    let mut args = vec![
        layout::config_path(m),
        layout::data_dir(m).to_string(),
        layout::pki_dir(m),
        inv.cluster.install_dir.clone(),
    ];
    args.extend(crate::backup::fact_paths(m));
    args.push(crate::backup::unit(m));
    args.push(layout::records_path(inv));
    args.push(layout::run_lock_path(inv));
    args.extend(
        layout::PKI_FILES
            .iter()
            .map(|f| format!("{}/{f}", layout::pki_dir(m))),
    );
    Script::new("etcd-deploy-facts", ETCD_PROCESS, Vec::<String>::new())
        .then(
            include_str!("named_etcd.sh"),
            [
                m.name.clone(),
                layout::unit(m),
                layout::container(inv, m),
                m.peer_port.to_string(),
                m.client_port.to_string(),
            ]
            .into_iter()
            .chain(etcd_settings::foreign_keys().map(str::to_string))
            .chain(["--".to_string()]),
        )
        .then(&runtime.body, runtime.args)
        .then(include_str!("facts.sh"), args)
}

/// `script` with its own time on the host measured (`-v`): a part in front
/// notes when it started, one after it prints `script_took_us=`.
pub(crate) fn clocked(script: Script) -> Script {
    script
        .after(include_str!("clock_start.sh"), Vec::<String>::new())
        .then(include_str!("clock_end.sh"), Vec::<String>::new())
}

/// What runs member `name` on a host etcd-deploy did not set up (`init
/// --from-cluster`): its process (a system service's or a container's,
/// listening on one of `ports`), unit, settings' source, data directory,
/// and the settings `init --from-cluster` writes into `[etcd]`.
pub(crate) fn discover_member(name: &str, ports: [u16; 2]) -> Script {
    Script::new(
        "etcd-deploy-discover-member",
        ETCD_PROCESS,
        Vec::<String>::new(),
    )
    .then(
        include_str!("discover_member.sh"),
        [name.to_string(), ports[0].to_string(), ports[1].to_string()]
            .into_iter()
            .chain(etcd_settings::described_keys().map(|(k, _)| k.to_string()))
            .chain(crate::inventory::carried_extra_keys().map(String::from)),
    )
}

/// Reads a file a member's process names (its TLS files), as the user that
/// process runs as: what it can read and nothing more, at most 64 KiB.
pub(crate) fn read_as(user: &str, path: &str) -> Script {
    Script::new(
        "etcd-deploy-read-as",
        include_str!("read_as.sh"),
        [user, path],
    )
}

/// `adopt`: stops and disables what runs the member now (`kind`: `unit`,
/// `container` or `none`; `who`: the unit or container), both left on disk,
/// and gives its data to the etcd user.
pub(crate) fn adopt_stop(m: &Member, kind: &str, who: &str) -> Script {
    Script::new(
        "etcd-deploy-adopt-stop",
        include_str!("adopt_stop.sh"),
        [
            kind,
            who,
            layout::data_dir(m),
            m.separate_wal_dir().unwrap_or_default(),
        ],
    )
    .under_path_rule()
}

/// `adopt`'s way back: the data to its previous owner and mode, what ran
/// the member before started again (`was`: enablement or restart policy).
pub(crate) fn adopt_back(
    m: &Member,
    kind: &str,
    who: &str,
    was: &str,
    owner: &str,
    mode: &str,
) -> Script {
    Script::new(
        "etcd-deploy-adopt-back",
        include_str!("adopt_back.sh"),
        [
            kind,
            who,
            was,
            owner,
            mode,
            layout::data_dir(m),
            m.separate_wal_dir().unwrap_or_default(),
        ],
    )
    .under_path_rule()
}

/// Part: functions reading a running etcd process's settings.
const ETCD_PROCESS: &str = include_str!("etcd_process.sh");

/// The first part of a restore: the snapshot received on stdin and checked,
/// the data directory moved aside. The runtime's part restores it.
pub(crate) fn receive_snapshot(m: &Member, sha256: &str, stamp: &str) -> Script {
    Script::new(
        "etcd-deploy-restore",
        include_str!("receive_snapshot.sh"),
        [sha256, layout::data_dir(m), stamp],
    )
    .under_path_rule()
}

/// The data directories set aside beside the member's (`set_aside.rs`
/// reads the output); `clear` removes the note of the restore that made its
/// data first (that restore has finished).
pub(crate) fn aside(m: &Member, clear: bool) -> Script {
    Script::new(
        "etcd-deploy-aside",
        include_str!("aside.sh"),
        [layout::data_dir(m), if clear { "yes" } else { "no" }],
    )
    .under_path_rule()
}

/// The last part of a restore: the restored data belongs to etcd.
pub(crate) const OWN_DATA: &str = include_str!("own_data.sh");

#[cfg(test)]
mod path_rule_tests;

#[cfg(test)]
mod tests;
