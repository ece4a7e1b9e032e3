//! `init`: writes a commented inventory from flags (or prompts on a
//! terminal), TLS generation on, and checks that it parses.

use crate::error::Error;
use crate::inventory::{self, Version};
use std::io::IsTerminal;
use std::path::Path;

/// What the operator told `init`.
#[derive(Debug, Clone, Default)]
pub struct InitArgs {
    pub name: Option<String>,
    pub version: Option<String>,
    /// `NAME=ADDRESS` (or just `ADDRESS`, named etcd-N).
    pub hosts: Vec<String>,
    pub user: Option<String>,
    /// Remote commands through `sudo -n` (the user is not root).
    pub become_root: bool,
    pub force: bool,
}

pub fn init(path: &Path, mut args: InitArgs) -> Result<(), Error> {
    if path.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        )));
    }
    let interactive = std::io::stdin().is_terminal();
    if args.hosts.is_empty() {
        if !interactive {
            return Err(Error::Usage(
                "no hosts: pass --host NAME=ADDRESS (one per member)".into(),
            ));
        }
        let line = ask("Hosts (addresses or NAME=ADDRESS, separated by spaces)", "")?;
        args.hosts = line.split_whitespace().map(String::from).collect();
    }
    if args.version.is_none() && interactive {
        args.version = Some(ask("etcd version", inventory::newest_release())?);
    }
    let version = args
        .version
        .unwrap_or_else(|| inventory::newest_release().to_string());
    if Version::parse(&version).is_none() {
        return Err(Error::Usage(format!(
            "--version: `{version}` is not a release version like 3.7.4"
        )));
    }
    let text = render(
        &args.name.unwrap_or_else(|| "etcd".into()),
        &version,
        &args.hosts,
        args.user.as_deref(),
        args.become_root,
    );
    inventory::parse(path, &text)?;
    std::fs::write(path, &text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    super::output::changed();
    super::output::result("inventory", serde_json::json!(path));
    super::output::say(&format!(
        "Wrote {} ({} hosts, etcd {version}, TLS generated into pki/). Next: etcd-deploy plan {}",
        path.display(),
        args.hosts.len(),
        path.display()
    ));
    Ok(())
}

fn ask(question: &str, default: &str) -> Result<String, Error> {
    let line = super::prompt(&if default.is_empty() {
        format!("{question}: ")
    } else {
        format!("{question} [{default}]: ")
    })?;
    Ok(if line.is_empty() {
        default.to_string()
    } else {
        line.to_string()
    })
}

/// The inventory text: every setting shown, the ones left at their defaults commented.
pub fn render(
    name: &str,
    version: &str,
    hosts: &[String],
    user: Option<&str>,
    become_root: bool,
) -> String {
    let mut s = format!(
        r#"# etcd-deploy inventory (written by `etcd-deploy init`). Reference: docs/inventory.md
#   etcd-deploy plan  <this file>    what apply would do
#   etcd-deploy apply <this file>    make the cluster match this file

[cluster]
name = "{name}"
version = "{version}"
# data_dir = "/var/lib/etcd"
# install_dir = "/opt/etcd"
# client_port = 2379
# peer_port = 2380

[release]
# "github", "google", or your mirror's base URL (laid out like the release pages).
source = "github"
# "controller": download here and push over SSH; "host": each host downloads.
fetch = "controller"

[ssh]
# Unset keys fall through to ~/.ssh/config.
{user}{become}
host_key_policy = "accept-new"

[tls]
# A cluster CA and member certificates are generated into pki/ beside this
# file (keys mode 0600); client and peer traffic is https with client certificates.
mode = "generate"
dir = "pki"
"#,
        user = user.map_or_else(
            || "# user = \"admin\"\n".to_string(),
            |u| format!("user = \"{u}\"\n")
        ),
        become = if become_root {
            "become = true            # run remote commands through sudo -n"
        } else {
            "# become = true          # run remote commands through sudo -n"
        },
    );
    for (i, h) in hosts.iter().enumerate() {
        let (n, addr) = match h.split_once('=') {
            Some((n, a)) => (n.to_string(), a.to_string()),
            None => (format!("etcd-{}", i + 1), h.clone()),
        };
        s.push_str(&format!(
            "\n[[hosts]]\nname = \"{n}\"\naddress = \"{addr}\"\n"
        ));
    }
    s
}
