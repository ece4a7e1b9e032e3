//! The host-level actions, the same whichever way members run: the etcd
//! user and directories, releases, the `current` link, config and TLS files,
//! data moved aside, a removed member retired, the host cleaned by
//! `destroy`, and the common part of the facts. Each is a script file beside
//! this one taking its values as arguments (see `script.rs`); what differs
//! between systemd and compose is in `runtime/`.
//!
//! Every script is idempotent and leaves nothing half-written: files go to
//! a temporary name and are renamed into place.

use crate::inventory::{Inventory, Member, Version};
use crate::layout;
use crate::script::{HOST_LOCK, Script, flag};

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
    let source = match source {
        Source::Stdin => "-",
        Source::Url(u) => u,
    };
    Script::new(
        "etcd-deploy-install-release",
        include_str!("install_release.sh"),
        [
            layout::version_dir(inv, version),
            sha256.to_string(),
            version.to_string(),
            source.to_string(),
        ],
    )
    .after(HOST_LOCK, Vec::<String>::new())
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
}

/// Writes the member's config file (from stdin).
pub(crate) fn write_config(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-write-config",
        include_str!("write_file.sh"),
        [layout::config_path(m), "0644".to_string()],
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

/// Moves a data directory from an earlier life aside (never deletes it) and
/// makes a fresh one.
pub(crate) fn move_data_aside(m: &Member) -> Script {
    Script::new(
        "etcd-deploy-move-data-aside",
        include_str!("move_data_aside.sh"),
        [layout::data_dir(m)],
    )
}

/// Stops and disables a removed member's etcd, whichever way it ran (the
/// inventory no longer says); its data stays unless `wipe`.
pub(crate) fn retire(inv: &Inventory, m: &Member, wipe: bool) -> Script {
    Script::new(
        "etcd-deploy-retire",
        include_str!("retire.sh"),
        [
            layout::unit(m),
            layout::container(inv, m),
            layout::config_path(m),
            flag(wipe).to_string(),
        ],
    )
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
            flag(wipe_data).to_string(),
        ],
    )
    .then(include_str!("destroy_host.sh"), host)
    .after(HOST_LOCK, Vec::<String>::new())
}

/// The facts every member's host gives, whatever its runtime (the runtime's
/// own part follows).
pub(crate) fn facts(m: &Member) -> Script {
    let mut args = vec![
        layout::config_path(m),
        layout::data_dir(m).to_string(),
        layout::pki_dir(m),
    ];
    args.extend(layout::PKI_FILES.iter().map(|f| f.to_string()));
    Script::new("etcd-deploy-facts", include_str!("facts.sh"), args)
}

/// The first part of a restore: the snapshot received on stdin and checked,
/// the data directory moved aside. The runtime's part restores it.
pub(crate) fn receive_snapshot(m: &Member, sha256: &str, stamp: &str) -> Script {
    Script::new(
        "etcd-deploy-restore",
        include_str!("receive_snapshot.sh"),
        [sha256, layout::data_dir(m), stamp],
    )
}

/// The last part of a restore: the restored data belongs to etcd.
pub(crate) const OWN_DATA: &str = include_str!("own_data.sh");
