//! Members as instances `etcd@NAME` of one systemd template unit, so that
//! several members can share a host; the release is the host's `current`
//! link. systemd reports an etcd that exits at once as a failed start.

use super::{HostFile, MemberRuntime, Restore};
use crate::files::sha256_hex;
use crate::inventory::{Inventory, Member, Version};
use crate::layout;
use crate::remote;
use crate::script::{HOST_LOCK, Script};
use crate::templates::{TemplateError, Templates};

pub(super) struct Systemd;

impl MemberRuntime for Systemd {
    fn log_name(&self) -> &'static str {
        "journal"
    }

    fn facts(&self, inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-facts",
            include_str!("systemd/facts.sh"),
            [
                inv.cluster.install_dir.clone(),
                layout::current_link(inv),
                layout::UNIT_PATH.to_string(),
                layout::unit_drop_in(m),
                layout::unit(m),
                layout::container(inv, m),
            ],
        )
    }

    /// The template unit; its digest covers the member's drop-in too
    /// (`facts.sh` reads both files the same way).
    fn host_file(
        &self,
        t: &Templates,
        inv: &Inventory,
        m: &Member,
        _version_of: &dyn Fn(&Member) -> Version,
    ) -> Result<HostFile, TemplateError> {
        let text = t.render_unit(inv)?;
        Ok(HostFile {
            digest: sha256_hex(format!("{text}{}", drop_in(m)).as_bytes()),
            text,
            service_digest: None,
        })
    }

    fn write_host_file(&self, _inv: &Inventory, m: &Member) -> Script {
        let mut args = vec![
            layout::UNIT_PATH.to_string(),
            layout::unit_drop_in(m),
            drop_in(m),
        ];
        args.extend(writable(m));
        Script::new(
            "etcd-deploy-write-unit",
            include_str!("systemd/write_unit.sh"),
            args,
        )
        .after(HOST_LOCK, Vec::<String>::new())
        .under_path_rule()
    }

    fn switch_version(
        &self,
        _t: &Templates,
        inv: &Inventory,
        _m: &Member,
        v: Version,
    ) -> Result<(Script, Option<String>), TemplateError> {
        Ok((remote::use_version(inv, v), None))
    }

    fn start(&self, _inv: &Inventory, m: &Member, restart: bool) -> Script {
        let verb = if restart { "restart" } else { "start" };
        Script::new(
            "etcd-deploy-start",
            include_str!("systemd/start.sh"),
            [layout::unit(m), verb.to_string()],
        )
    }

    fn stop(&self, _inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-stop",
            include_str!("systemd/stop.sh"),
            [layout::unit(m)],
        )
    }

    fn logs(&self, _inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-logs",
            include_str!("systemd/logs.sh"),
            [layout::unit(m)],
        )
    }

    fn watch(&self, _inv: &Inventory, m: &Member) -> Option<Script> {
        Some(Script::new(
            "etcd-deploy-unit-state",
            include_str!("systemd/state.sh"),
            [layout::unit(m)],
        ))
    }

    fn crashed(&self, watched: &str) -> Option<String> {
        crashed(watched)
    }

    fn restore(&self, inv: &Inventory, m: &Member, r: &Restore) -> Script {
        Script::new(
            "etcd-deploy-restore",
            include_str!("systemd/restore.sh"),
            [
                layout::current_link(inv),
                m.name.clone(),
                r.initial_cluster.clone(),
                r.token.clone(),
                m.peer_url(),
            ],
        )
    }

    fn data_revision(&self, inv: &Inventory, m: &Member) -> Option<Script> {
        Some(Script::new(
            "etcd-deploy-data-revision",
            include_str!("systemd/data_revision.sh"),
            [layout::current_link(inv), layout::data_dir(m).to_string()],
        ))
    }

    fn check_v2store(&self, inv: &Inventory, m: &Member) -> Option<Script> {
        Some(Script::new(
            "etcd-deploy-check-v2store",
            include_str!("systemd/check_v2store.sh"),
            [
                layout::current_link(inv),
                layout::data_dir(m).to_string(),
                m.separate_wal_dir().unwrap_or_default().to_string(),
            ],
        ))
    }

    fn remove(&self, _inv: &Inventory, m: &Member) -> Script {
        Script::new(
            "etcd-deploy-destroy",
            include_str!("systemd/remove.sh"),
            [layout::unit(m), layout::unit_drop_in(m)],
        )
    }
}

/// systemd's own exit statuses (`EXIT_CHDIR` 200 to `EXIT_CREDENTIALS` 243):
/// the process failed while systemd was setting it up, before etcd ran.
const SYSTEMD_SETUP_FAILED: std::ops::RangeInclusive<u32> = 200..=243;

/// How many times systemd may fail to set etcd's process up before the
/// member counts as crashed (a transient failure, such as a cgroup that is
/// still being torn down from the stop just before, passes on the retry).
const SETUP_RETRIES: u32 = 2;

/// Why `state.sh`'s `KEY=VALUE` words say etcd is not running, if they do.
/// An exit that systemd caused while setting the process up is waited out
/// (systemd restarts it) until it happened `SETUP_RETRIES` times: that is not
/// etcd's verdict on its config, and rolling back for it would blame the
/// wrong thing.
fn crashed(watched: &str) -> Option<String> {
    let value = |key: &str| {
        watched
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    };
    let number = |key: &str| value(key).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let restarts = number("NRestarts");
    let status = number("ExecMainStatus");
    let sub = value("SubState").unwrap_or("");
    let active = value("ActiveState").unwrap_or("");
    let exited = sub == "auto-restart" || active == "failed";
    if !exited {
        return None;
    }
    if SYSTEMD_SETUP_FAILED.contains(&status) {
        return (restarts >= SETUP_RETRIES || active == "failed").then(|| {
            format!(
                "systemd could not start etcd: exit status {status} is systemd's own (setting the process up failed before etcd ran; restarted {restarts} times)"
            )
        });
    }
    Some(if sub == "auto-restart" {
        format!("etcd keeps exiting (systemd restarted it {restarts} times)")
    } else {
        "etcd exited and systemd gave up restarting it (unit failed)".into()
    })
}

/// The directories the member's etcd writes: its data directory, and, when
/// `etcd.extra` moves the WAL out of it, the WAL directory's parent (etcd
/// makes `<wal-dir>.tmp` there and renames it; validation keeps that parent
/// out of the system's directories).
fn writable(m: &Member) -> Vec<String> {
    let mut paths = vec![layout::data_dir(m).to_string()];
    if let Some((parent, _)) = m.separate_wal_dir().and_then(|w| w.rsplit_once('/')) {
        paths.push(parent.to_string());
    }
    paths
}

/// The member's drop-in: the template unit makes the whole system read-only
/// to etcd (`ProtectSystem=strict`, `ProtectHome=yes`); this names what this
/// member may write. Paths are validated plain and never in a home
/// (inventory's path rule), so they need no quoting in a unit file.
pub(super) fn drop_in(m: &Member) -> String {
    format!(
        "# etcd-deploy: what etcd member {} may write (the unit makes the rest read-only).\n[Service]\nReadWritePaths={}\n",
        m.name,
        writable(m).join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::crashed;

    #[test]
    fn what_the_unit_state_says() {
        let cases = [
            (
                "ActiveState=active SubState=running NRestarts=0 ExecMainStatus=0",
                None,
            ),
            (
                "ActiveState=activating SubState=start NRestarts=0 ExecMainStatus=0",
                None,
            ),
            (
                "NRestarts=0 ExecMainStatus=1 ActiveState=activating SubState=auto-restart",
                Some("etcd keeps exiting (systemd restarted it 0 times)"),
            ),
            (
                "ActiveState=failed SubState=failed NRestarts=3 ExecMainStatus=1",
                Some("etcd exited and systemd gave up restarting it (unit failed)"),
            ),
            // systemd failed to set the process up (219/CGROUP): retried first.
            (
                "ActiveState=activating SubState=auto-restart NRestarts=0 ExecMainStatus=219",
                None,
            ),
            (
                "ActiveState=activating SubState=auto-restart NRestarts=1 ExecMainStatus=219",
                None,
            ),
            (
                "ActiveState=activating SubState=auto-restart NRestarts=2 ExecMainStatus=219",
                Some("systemd could not start etcd: exit status 219 is systemd's own"),
            ),
            (
                "ActiveState=failed SubState=failed NRestarts=0 ExecMainStatus=217",
                Some("systemd could not start etcd: exit status 217 is systemd's own"),
            ),
            ("", None),
        ];
        for (state, want) in cases {
            let got = crashed(state);
            match want {
                None => assert_eq!(got, None, "{state}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.starts_with(w)),
                    "{state}: {got:?}"
                ),
            }
        }
    }
}
