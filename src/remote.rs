//! The shell scripts run on hosts, as pure functions of their inputs. Each is
//! idempotent and leaves nothing half-written: files go to a temporary name
//! and are renamed into place. Where systemd and compose mode differ, the
//! functions here pick the member's runtime (compose scripts: `compose.rs`).

use crate::compose;
use crate::inventory::{Inventory, Member, Version};
use crate::layout;
use crate::ssh::quote;

/// Serialises host-level changes (release, link, unit) between members that
/// share a host and are prepared at the same time.
const HOST_LOCK: &str = "exec 9>/run/etcd-deploy.lock\nflock 9\n";

/// The `etcd` system user, and the directories it owns.
pub fn prepare_host(inv: &Inventory, m: &Member) -> String {
    format!(
        "set -e
id -u etcd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir {data} --shell /usr/sbin/nologin etcd
install -d -m 0700 -o etcd -g etcd {data}
install -d -m 0755 {install} /etc/etcd
",
        data = quote(layout::data_dir(m)),
        install = quote(&inv.cluster.install_dir),
    )
}

/// Where the tarball comes from on the host.
pub enum Source<'a> {
    /// Sent on the script's stdin.
    Stdin,
    /// Downloaded by the host.
    Url(&'a str),
}

/// Receives or downloads a release tarball, checks its SHA256, and unpacks it
/// into the versioned directory. On a mismatch nothing is installed.
pub fn install_release(inv: &Inventory, version: Version, sha256: &str, source: Source) -> String {
    // Members sharing a host prepare it together: the first one installs,
    // the others find the same release in place (and drain their copy).
    let drain = if matches!(source, Source::Stdin) {
        "cat >/dev/null; "
    } else {
        ""
    };
    let fetch = match source {
        Source::Stdin => "cat > \"$f\"".to_string(),
        Source::Url(url) => format!(
            "if command -v curl >/dev/null; then curl -fsSL --retry 2 -o \"$f\" {u}; else wget -q -O \"$f\" {u}; fi",
            u = quote(url)
        ),
    };
    format!(
        "set -e
{HOST_LOCK}dest={dest}
if [ -x \"$dest/etcd\" ] && [ \"$(cat \"$dest/.sha256\" 2>/dev/null)\" = {sha} ]; then {drain}exit 0; fi
f=$(mktemp /tmp/etcd-deploy-release.XXXXXX)
trap 'rm -f \"$f\"' EXIT
{fetch}
actual=$(sha256sum \"$f\" | cut -d' ' -f1)
if [ \"$actual\" != {sha} ]; then
  echo \"checksum mismatch for etcd {version}: expected {sha}, got $actual; nothing was installed\" >&2
  exit 1
fi
rm -rf \"$dest.tmp\"
mkdir -p \"$dest.tmp\"
tar -xzf \"$f\" -C \"$dest.tmp\" --strip-components=1 --no-same-owner
[ -x \"$dest.tmp/etcd\" ] || {{ echo \"the tarball has no etcd binary\" >&2; rm -rf \"$dest.tmp\"; exit 1; }}
chmod -R go-w \"$dest.tmp\"
echo {sha} > \"$dest.tmp/.sha256\"
rm -rf \"$dest\"
mv \"$dest.tmp\" \"$dest\"
",
        sha = quote(sha256),
        dest = quote(&layout::version_dir(inv, version)),
    )
}

/// Points the `current` link at a version (atomically) and links the binaries
/// into the operator's PATH.
pub fn use_version(inv: &Inventory, version: Version) -> String {
    let current = quote(&layout::current_link(inv));
    let mut s = format!(
        "set -e\nln -sfn {target} {current}.tmp\nmv -T {current}.tmp {current}\n",
        target = quote(&format!("etcd-v{version}"))
    );
    for b in layout::BINARIES {
        s.push_str(&format!(
            "if [ -e {current}/{b} ]; then ln -sfn {current}/{b} {dir}/{b}; else rm -f {dir}/{b}; fi\n",
            dir = layout::BIN_LINK_DIR
        ));
    }
    s
}

/// Writes stdin to `path` atomically with `mode`; then runs `after`.
pub fn write_file(path: &str, mode: &str, after: &str) -> String {
    let p = quote(path);
    format!(
        "set -e\nmkdir -p \"$(dirname {p})\"\ncat > {p}.tmp\nchmod {mode} {p}.tmp\nmv {p}.tmp {p}\n{after}"
    )
}

/// Writes one TLS file (from stdin) into the member's PKI directory, owned by
/// the etcd user so that only it (and root) can read the keys.
pub fn write_pki_file(m: &Member, name: &str, mode: &str) -> String {
    let dir = quote(&layout::pki_dir(m));
    let p = format!("{dir}/{}", quote(name));
    format!(
        "set -e\ninstall -d -m 0700 -o etcd -g etcd {dir}\ncat > {p}.tmp\nchown etcd:etcd {p}.tmp\nchmod {mode} {p}.tmp\nmv {p}.tmp {p}\n"
    )
}

/// Writes the host's systemd unit or compose file (from stdin).
pub fn write_host_file(inv: &Inventory, m: &Member) -> String {
    match m.compose() {
        None => format!(
            "{HOST_LOCK}{}",
            write_file(layout::UNIT_PATH, "0644", "systemctl daemon-reload\n")
        ),
        Some(_) => format!("{HOST_LOCK}{}", compose::write_file(inv)),
    }
}

pub fn write_config(m: &Member) -> String {
    write_file(&layout::config_path(m), "0644", "")
}

/// Enables and starts (or restarts) the member; systemd waits for etcd's
/// READY notification, i.e. until it serves clients. Under compose, a restart
/// recreates the container.
pub fn start(inv: &Inventory, m: &Member, restart: bool) -> String {
    if m.compose().is_some() {
        return compose::start(inv, m, restart);
    }
    format!(
        "set -e\nsystemctl enable --quiet {u}\nsystemctl {verb} {u}\n",
        u = layout::unit(m),
        verb = if restart { "restart" } else { "start" }
    )
}

/// The journal's (or container log's) last lines, for error messages.
pub fn journal_tail(inv: &Inventory, m: &Member) -> String {
    if m.compose().is_some() {
        return compose::logs_tail(inv, m);
    }
    format!(
        "journalctl -u {} -n 15 --no-pager -o cat 2>/dev/null || true",
        layout::unit(m)
    )
}

/// Moves a data directory from an earlier life aside (never deletes it) and
/// makes a fresh one.
pub fn move_data_aside(m: &Member) -> String {
    let d = quote(layout::data_dir(m));
    format!(
        "set -e\nif [ -d {d}/member ]; then mv {d} {d}.stale-$(date +%Y%m%d%H%M%S); fi\ninstall -d -m 0700 -o etcd -g etcd {d}\n"
    )
}

/// Stops and disables a removed member's etcd, whichever way it ran (the
/// inventory no longer says); its data stays unless `wipe`.
pub fn retire(inv: &Inventory, m: &Member, wipe: bool) -> String {
    let mut s = format!(
        "set -e\n{}if systemctl cat {u} >/dev/null 2>&1; then\n  systemctl disable --now --quiet {u} 2>/dev/null || systemctl stop {u}\n  systemctl reset-failed {u} 2>/dev/null || true\nfi\n",
        compose::remove_container(inv, m),
        u = layout::unit(m)
    );
    if wipe {
        // The data directory as the member's own config names it: the inventory
        // no longer says where a removed member kept its data.
        let c = quote(&layout::config_path(m));
        s.push_str(&format!(
            "d=$(sed -n 's/^data-dir: \"\\(.*\\)\"$/\\1/p' {c} 2>/dev/null)\nif [ -n \"$d\" ]; then rm -rf \"$d\"; fi\nrm -f {c}\n"
        ));
    }
    s
}

/// Stops the member (if running).
pub fn stop(inv: &Inventory, m: &Member) -> String {
    match m.compose() {
        None => format!("systemctl stop {}\n", layout::unit(m)),
        Some(_) => compose::stop(inv, m),
    }
}

/// Receives a snapshot on stdin, checks it, moves the old data directory
/// aside (never deleting it) and restores the snapshot into a fresh one.
pub fn restore_snapshot(
    inv: &Inventory,
    m: &Member,
    sha256: &str,
    initial_cluster: &str,
    token: &str,
    stamp: &str,
) -> String {
    let args = format!(
        "--name {} --initial-cluster {} --initial-cluster-token {} --initial-advertise-peer-urls {}",
        quote(&m.name),
        quote(initial_cluster),
        quote(token),
        quote(&m.peer_url())
    );
    let restore = match m.compose() {
        // The host may have no etcd binaries: the member's image restores.
        Some(_) => compose::restore_command(inv, m, inv.cluster.version, &args),
        None => format!(
            "c={current}\nif [ -x \"$c/etcdutl\" ]; then tool=\"$c/etcdutl\"; else tool=\"$c/etcdctl\"; export ETCDCTL_API=3; fi\n\"$tool\" snapshot restore \"$f\" --data-dir \"$d\" {args} >/dev/null",
            current = quote(&layout::current_link(inv))
        ),
    };
    format!(
        "set -e
f=$(mktemp /tmp/etcd-deploy-snapshot.XXXXXX)
trap 'rm -f \"$f\"' EXIT
cat > \"$f\"
[ \"$(sha256sum \"$f\" | cut -d' ' -f1)\" = {sha} ] || {{ echo 'the snapshot arrived corrupted' >&2; exit 1; }}
d={data}
if [ -e \"$d\" ]; then mv \"$d\" \"$d.pre-restore-{stamp}\"; fi
{restore}
chown -R etcd:etcd \"$d\"
chmod 0700 \"$d\"
",
        sha = quote(sha256),
        data = quote(layout::data_dir(m)),
    )
}

/// Stops and disables the member and removes its files; the data directory
/// stays unless `wipe_data`. The host's last member also takes the template
/// unit, the releases and the binary links with it.
pub fn destroy(inv: &Inventory, m: &Member, wipe_data: bool) -> String {
    let stop = match m.compose() {
        Some(_) => compose::remove_container(inv, m),
        None => format!(
            "systemctl disable --now --quiet {u} 2>/dev/null || true\nsystemctl reset-failed {u} 2>/dev/null || true\n",
            u = layout::unit(m)
        ),
    };
    let mut s = format!(
        "set -e
{HOST_LOCK}{stop}rm -rf {config} {pki}
",
        config = quote(&layout::config_path(m)),
        pki = quote(&layout::pki_dir(m)),
    );
    if wipe_data {
        s.push_str(&format!("rm -rf {}\n", quote(layout::data_dir(m))));
    }
    if m.compose().is_some() {
        s.push_str(&compose::remove_host_files(inv));
    }
    s.push_str(&format!(
        "if systemctl list-units --no-legend --state=active,activating,reloading 'etcd@*' | grep -q .; then exit 0; fi
rm -f {unit_path}
rmdir {config_dir}/pki {config_dir} 2>/dev/null || true
systemctl daemon-reload
",
        unit_path = quote(layout::UNIT_PATH),
        config_dir = quote(layout::CONFIG_DIR),
    ));
    let current = layout::current_link(inv);
    for b in layout::BINARIES {
        let link = format!("{}/{b}", layout::BIN_LINK_DIR);
        s.push_str(&format!(
            "if [ \"$(readlink {l})\" = {t} ]; then rm -f {l}; fi\n",
            l = quote(&link),
            t = quote(&format!("{current}/{b}"))
        ));
    }
    s.push_str(&format!("rm -rf {}\n", quote(&inv.cluster.install_dir)));
    s
}

/// Compose mode: builds the image of the version just installed from its release.
pub fn build_image(inv: &Inventory, v: Version, reference: &str) -> String {
    format!("{HOST_LOCK}{}", compose::build_image(inv, v, reference))
}

/// Compose mode: pulls the image from its registry (unless present).
pub fn pull_image(reference: &str) -> String {
    format!("{HOST_LOCK}{}", compose::pull_image(reference))
}
