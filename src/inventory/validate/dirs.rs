//! The directories an inventory names: plain absolute paths under the path
//! rule (`path_rule.rs`), none inside another; paths on the controller are
//! relative to the inventory file.

use super::*;

/// Why the directories of `member` (data, a separate WAL) clash with the
/// install directory or with those of the members before it on its host:
/// one contains another (destroy removes the releases, --wipe-data a
/// member's data, a restore moves a data directory aside).
pub(super) fn nested_dirs(install_dir: &str, before: &[Member], member: &Member) -> Option<String> {
    let own: Vec<(&str, &str)> = std::iter::once(("data directory", member.data_dir.as_str()))
        .chain(member.separate_wal_dir().map(|w| ("wal-dir", w)))
        .collect();
    for (what, d) in &own {
        if within(d, install_dir) || within(install_dir, d) {
            return Some(format!(
                "its {what} {d} and install_dir {install_dir} must not contain one another"
            ));
        }
    }
    for m in before.iter().filter(|m| m.same_host(member)) {
        let theirs = std::iter::once(m.data_dir.as_str()).chain(m.separate_wal_dir());
        for t in theirs {
            if let Some((what, d)) = own.iter().find(|(_, d)| within(d, t) || within(t, d)) {
                return Some(format!(
                    "its {what} {d} and {t} of `{}` on the same host must not contain one another; members sharing a host need their own directories",
                    m.name
                ));
            }
        }
    }
    None
}

/// What a managed directory is for: only a data directory may lie outside
/// the dedicated roots (where a hand-made cluster keeps its data).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DirUse {
    Data,
    Other,
}

pub(super) fn abs_path(
    cx: &Ctx,
    value: Option<&Spanned<String>>,
    field: &str,
    default: &str,
    dir_use: DirUse,
) -> Result<String, InventoryError> {
    match value {
        None => Ok(default.to_string()),
        Some(v) => {
            let p = v.get_ref();
            if !plain_abs_path(p) {
                return Err(cx.field(
                    v,
                    field,
                    format!(
                        "`{}` must be an absolute path of letters, digits and / . _ - + @ (no spaces, `%`, quotes, `.` or `..` parts)",
                        shown(p)
                    ),
                ));
            }
            let p = p.trim_end_matches('/');
            let why = match path_rule::verdict(p) {
                Verdict::Dedicated => None,
                Verdict::EtcdsOnly if dir_use == DirUse::Data => None,
                Verdict::EtcdsOnly => Some(format!("not below {}", path_rule::ROOTS.join(", "))),
                Verdict::Never(why) => Some(why.to_string()),
            };
            if let Some(why) = why {
                return Err(cx.field(
                    v,
                    field,
                    format!("`{}` is {why}: etcd-deploy takes a directory it manages over (owner, mode) and destroy removes what it put there; use a directory of its own below {} (like /var/lib/etcd, /opt/etcd, /srv/etcd), see docs/security.md", shown(p), path_rule::ROOTS.join(", ")),
                ));
            }
            Ok(p.to_string())
        }
    }
}

/// An absolute path that needs no quoting anywhere it goes (shell, YAML,
/// systemd), with no `.` or `..` parts.
pub fn plain_abs_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 255
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@".contains(&b))
        && !p.contains("//")
        && !p.split('/').any(|c| c == ".." || c == ".")
}

/// Paths in the inventory are relative to the inventory file; `~/` is the home directory.
pub(super) fn relative_to(inventory: &Path, p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        inventory.parent().unwrap_or(Path::new(".")).join(p)
    }
}
