//! Where etcd-deploy puts things on a host: one place, so facts, plans and
//! steps agree on every path.

use crate::inventory::{Inventory, Member, Version};

/// The first line of a config file etcd-deploy wrote; carries the digest of
/// its settings. Written by the tool, outside any template.
pub(crate) const DIGEST_MARKER: &str = "# etcd-deploy settings-digest: ";
/// The second line: which cluster the member belongs to (so that another
/// cluster's apply on the same host never takes its files over).
pub(crate) const CLUSTER_MARKER: &str = "# Managed by etcd-deploy for cluster ";

/// The first line of the systemd template unit etcd-deploy writes, followed
/// by the cluster's name (outside the template, so an override keeps it).
pub(crate) const UNIT_MARKER: &str = "# etcd-deploy: template unit of etcd cluster ";

/// The systemd template unit; each member runs as its instance `etcd@NAME`,
/// so several members can share a host.
pub(crate) const UNIT_PATH: &str = "/etc/systemd/system/etcd@.service";
/// A member's own drop-in for the template unit: what it may write.
pub(crate) fn unit_drop_in(m: &Member) -> String {
    format!(
        "/etc/systemd/system/etcd@{}.service.d/etcd-deploy.conf",
        m.name
    )
}
/// Links to the current binaries for operators' shells.
pub(crate) use crate::inventory::BIN_LINK_DIR;
/// Where members' config files live: `/etc/etcd/NAME.conf.yml`.
pub(crate) use crate::inventory::CONFIG_DIR;
pub(crate) const BINARIES: [&str; 3] = ["etcd", "etcdctl", "etcdutl"];
/// The unit instance that runs a member.
pub(crate) fn unit(m: &Member) -> String {
    format!("etcd@{}.service", m.name)
}

pub(crate) fn config_path(m: &Member) -> String {
    format!("{CONFIG_DIR}/{}.conf.yml", m.name)
}

/// A member's TLS files, readable by the etcd user only (keys 0600).
pub(crate) fn pki_dir(m: &Member) -> String {
    format!("{CONFIG_DIR}/pki/{}", m.name)
}
/// The CA's revocation list for client certificates (DER), beside the
/// member's TLS files; not among `PKI_FILES`: a new list needs no restart.
pub(crate) fn crl_path(m: &Member) -> String {
    format!("{}/{CRL_FILE}", pki_dir(m))
}
pub(crate) const CRL_FILE: &str = "client-crl.der";
/// The PKI files in a fixed order: the order their digest is computed in.
pub(crate) const PKI_FILES: [&str; 5] =
    ["ca.crt", "server.crt", "server.key", "peer.crt", "peer.key"];

/// etcd-deploy's own state on a host: a root-only directory holding, per
/// cluster, its records of the members (`facts::records`).
pub(crate) const STATE_DIR: &str = "/var/lib/etcd-deploy";
/// The records of `inv`'s cluster on a host (0600, root's).
pub(crate) fn records_path(inv: &Inventory) -> String {
    format!("{STATE_DIR}/{}.members.json", inv.cluster.name)
}

/// The cluster's run lock on a host (`host_lock.rs`), its holder's line
/// beside it with `.holder` added: in a root-only directory on the run-time
/// file system (a lock outlives no boot, and `destroy` leaves nothing).
pub(crate) fn run_lock_path(inv: &Inventory) -> String {
    format!("/run/etcd-deploy/{}.run-lock", inv.cluster.name)
}

/// The versioned install directory, e.g. `/opt/etcd/etcd-v3.5.1`.
pub(crate) fn version_dir(inv: &Inventory, v: Version) -> String {
    format!("{}/etcd-v{v}", inv.cluster.install_dir)
}

/// The stable link to the version in use; an upgrade switches it.
pub(crate) fn current_link(inv: &Inventory) -> String {
    format!("{}/current", inv.cluster.install_dir)
}

pub(crate) fn etcd_binary(inv: &Inventory) -> String {
    format!("{}/etcd", current_link(inv))
}

pub(crate) fn data_dir(member: &Member) -> &str {
    &member.data_dir
}

/// Compose mode: one directory per cluster on each host, holding the host's
/// compose file and the `.env` with the etcd user's IDs it refers to.
pub(crate) fn compose_dir(inv: &Inventory) -> String {
    format!("{CONFIG_DIR}/compose/{}", inv.cluster.name)
}

pub(crate) fn compose_file(inv: &Inventory) -> String {
    format!("{}/compose.yml", compose_dir(inv))
}

/// The compose project (lowercase: compose insists on it).
pub(crate) fn compose_project(inv: &Inventory) -> String {
    format!(
        "etcd-{}",
        inv.cluster.name.to_ascii_lowercase().replace('.', "-")
    )
}

/// The container of a member, named so that `docker logs` needs no lookup.
pub(crate) fn container(inv: &Inventory, m: &Member) -> String {
    format!("{}-{}", compose_project(inv), m.name)
}

/// The user-defined bridge of the members sharing a host.
pub(crate) fn compose_network(inv: &Inventory) -> String {
    compose_project(inv)
}

/// Where the release binaries sit in an image, as in the official image.
pub(crate) const IMAGE_BIN_DIR: &str = "/usr/local/bin";

/// What the scripts (and the plan) say when a host has no compose at all.
pub(crate) const NO_COMPOSE: &str =
    "neither `docker compose` nor `docker-compose` is installed on this host";
