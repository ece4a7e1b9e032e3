//! One `[[hosts]]` entry: its address, ports, data directory, SSH settings
//! (known_hosts, timeouts) and its own etcd settings.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn build_member(
    cx: &Ctx,
    raw: &RawInventory,
    h: &RawHost,
    i: usize,
    data_dir: &str,
    client_port: u16,
    peer_port: u16,
    base: &EtcdSettings,
    version: Version,
) -> Result<Member, InventoryError> {
    let field = |f: &str| format!("hosts[{i}].{f}");
    let address = h.address.get_ref().as_str();
    if !valid_address(address) {
        return Err(cx.field(
            &h.address,
            &field("address"),
            format!(
                "`{}` is not a host name or IP address (letters, digits, '-' and '.', not starting with '-')",
                shown(address)
            ),
        ));
    }
    let advertise = match &h.advertise {
        Some(a) if !valid_address(a.get_ref()) => {
            return Err(cx.field(
                a,
                &field("advertise"),
                format!("`{}` is not a host name or IP address", shown(a.get_ref())),
            ));
        }
        Some(a) => a.get_ref().clone(),
        None => address.to_string(),
    };
    let client_port = etcd_port(
        cx,
        h.client_port.as_ref(),
        &field("client_port"),
        client_port,
    )?;
    let peer_port = etcd_port(cx, h.peer_port.as_ref(), &field("peer_port"), peer_port)?;
    if client_port == peer_port {
        let span = h
            .peer_port
            .as_ref()
            .map(|p| p.span())
            .unwrap_or(h.name.span());
        return Err(cx.at(
            span,
            format!(
                "{}: client and peer port are both {client_port}",
                field("peer_port")
            ),
        ));
    }
    let data_dir = abs_path(
        cx,
        h.data_dir.as_ref(),
        &field("data_dir"),
        data_dir,
        DirUse::Data,
    )?;
    let settings = match &h.etcd {
        Some(e) => build_settings(cx, e, Some(base), version)?,
        None => base.clone(),
    };
    let ssh = build_ssh(cx, &merge_ssh(&raw.ssh, &h.ssh), address)?;
    Ok(Member {
        name: h.name.get_ref().clone(),
        ssh,
        advertise,
        client_port,
        peer_port,
        metrics_port: None,
        data_dir,
        settings,
        tls: false,
        runtime: Runtime::Systemd,
    })
}

/// A member's SSH settings (the host's own over `[ssh]`'s): user, port,
/// identity, host-key policy and file, connect timeout.
fn build_ssh(cx: &Ctx, ssh: &RawSsh, address: &str) -> Result<SshTarget, InventoryError> {
    let ssh_port = match &ssh.port {
        Some(p) => Some(port(cx, Some(p), "ssh.port", 22)?),
        None => None,
    };
    if let Some(u) = &ssh.user
        && !valid_user(u.get_ref())
    {
        return Err(cx.field(
            u,
            "ssh.user",
            format!("`{}` is not a user name", shown(u.get_ref())),
        ));
    }
    let identity_file = match &ssh.identity_file {
        Some(f) => {
            let p = relative_to(cx.path, f.get_ref());
            if !p.is_file() {
                return Err(cx.field(
                    f,
                    "ssh.identity_file",
                    format!("{} is not a file", shown(&p.display().to_string())),
                ));
            }
            Some(p)
        }
        None => None,
    };
    let host_key_policy = cx.choice(
        ssh.host_key_policy.as_ref(),
        "ssh.host_key_policy",
        HostKeyPolicy::AcceptNew,
        &[
            ("strict", HostKeyPolicy::Strict),
            ("accept-new", HostKeyPolicy::AcceptNew),
            ("off", HostKeyPolicy::Off),
        ],
    )?;
    // A known_hosts file ssh cannot use turns host-key checking off without a
    // word: refused unless checking is off on purpose.
    let known_hosts_file = match &ssh.known_hosts_file {
        Some(f) => {
            let p = relative_to(cx.path, f.get_ref());
            if host_key_policy != HostKeyPolicy::Off
                && let Some(why) = unusable_known_hosts(&p)
            {
                return Err(cx.field(
                    f,
                    "ssh.known_hosts_file",
                    format!(
                        "{} {why}; host keys would go unchecked (host_key_policy = \"off\" says so on purpose)",
                        shown(&p.display().to_string())
                    ),
                ));
            }
            Some(p)
        }
        None => None,
    };
    let connect_timeout_secs = match &ssh.connect_timeout_secs {
        None => 10,
        Some(t) if (1..=300).contains(t.get_ref()) => *t.get_ref(),
        Some(t) => {
            return Err(cx.field(t, "ssh.connect_timeout_secs", "takes 1 to 300 seconds"));
        }
    };
    Ok(SshTarget {
        address: address.to_string(),
        user: ssh.user.as_ref().map(|u| u.get_ref().clone()),
        port: ssh_port,
        identity_file,
        become_root: ssh.become_root.unwrap_or(false),
        host_key_policy,
        known_hosts_file,
        connect_timeout_secs,
    })
}

pub(super) fn merge_ssh(base: &RawSsh, host: &RawSsh) -> RawSsh {
    RawSsh {
        user: host.user.clone().or_else(|| base.user.clone()),
        port: host.port.clone().or_else(|| base.port.clone()),
        identity_file: host
            .identity_file
            .clone()
            .or_else(|| base.identity_file.clone()),
        become_root: host.become_root.or(base.become_root),
        host_key_policy: host
            .host_key_policy
            .clone()
            .or_else(|| base.host_key_policy.clone()),
        known_hosts_file: host
            .known_hosts_file
            .clone()
            .or_else(|| base.known_hosts_file.clone()),
        connect_timeout_secs: host
            .connect_timeout_secs
            .clone()
            .or_else(|| base.connect_timeout_secs.clone()),
    }
}

/// Why ssh cannot keep host keys in `p`: it must be a regular file (a
/// device like /dev/null, a pseudo file like /proc/version or a directory
/// drops every key), or not exist yet in an existing directory (accept-new
/// makes it).
pub(super) fn unusable_known_hosts(p: &Path) -> Option<&'static str> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() && !p.starts_with("/proc") && !p.starts_with("/sys") => None,
        Ok(_) => Some("is not a regular file"),
        Err(_) if p.parent().is_some_and(Path::is_dir) => None,
        Err(_) => Some("cannot be used (its directory must exist)"),
    }
}

/// A port etcd listens on: it runs as the etcd user without capabilities,
/// so never below 1024 (where sshd and other system services listen).
pub(super) fn etcd_port(
    cx: &Ctx,
    v: Option<&Spanned<u16>>,
    field: &str,
    default: u16,
) -> Result<u16, InventoryError> {
    let n = port(cx, v, field, default)?;
    match v {
        Some(p) if n < 1024 => Err(cx.field(
            p,
            field,
            format!("{n} is a privileged port: etcd runs as the unprivileged etcd user, so use a port from 1024 up (etcd's own are 2379 and 2380)"),
        )),
        _ => Ok(n),
    }
}

/// A user name ssh can be given: no option, no `@`, no spaces.
pub(super) fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-$".contains(&b))
        && !u.starts_with('-')
}
