//! The one rule for the directories etcd-deploy creates, hands to the etcd
//! user, writes or removes on a host (data_dir, install_dir, backup.dir,
//! `wal-dir`), stated in docs/security.md ("Paths root acts on"). It is
//! applied twice: by validation, on the path as the inventory writes it, and
//! on the host right before acting, on the path with its symlinks resolved
//! (`remote/path_rule.sh`, whose lists are these, passed as arguments).
//!
//! A managed directory is either **dedicated** (strictly below one of
//! `ROOTS`), or, for a data directory only, **etcd's already** (anywhere
//! else that is not forbidden, when the host shows it holds etcd's data and
//! nothing else: a hand-made cluster's data where it lives). It is never a
//! system directory or a parent of one, never inside `NEVER_WITHIN` (the
//! system's own trees, homes, world-writable directories, package
//! managers' and container engines' state, etcd-deploy's own directories).

/// Below these, a directory of its own is etcd-deploy's to make and use.
pub const ROOTS: [&str; 7] = [
    "/var/lib",
    "/var/backups",
    "/var/opt",
    "/opt",
    "/srv",
    "/data",
    "/mnt",
];

/// Nothing etcd-deploy manages lies inside these (or is one of them).
pub const NEVER_WITHIN: [&str; 53] = [
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/sys",
    "/tmp",
    "/usr/bin",
    "/usr/games",
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local/bin",
    "/usr/local/etc",
    "/usr/local/games",
    "/usr/local/include",
    "/usr/local/lib",
    "/usr/local/man",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/local/src",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var/cache",
    "/var/lib/apt",
    "/var/lib/containerd",
    "/var/lib/dbus",
    "/var/lib/docker",
    "/var/lib/dpkg",
    "/var/lib/kubelet",
    "/var/lib/machines",
    "/var/lib/private",
    "/var/lib/rpm",
    "/var/lib/systemd",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/run",
    "/var/spool",
    "/var/tmp",
];

/// What the rule says about a plain absolute path (no `.`, `..` or `//`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Strictly below one of `ROOTS`: etcd-deploy may make it and use it.
    Dedicated,
    /// Neither dedicated nor forbidden: a data directory that already holds
    /// etcd's data (and nothing else) only.
    EtcdsOnly,
    /// Never: why.
    Never(Why),
}

/// Why a path is never managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Inside this tree.
    Inside(&'static str),
    /// The root directory, a system directory, or a parent of one.
    System,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Inside(t) => write!(f, "inside {t}"),
            Why::System => f.write_str("a system directory or a parent of one"),
        }
    }
}

/// `inner` is `outer` or lies under it.
pub fn within(inner: &str, outer: &str) -> bool {
    inner == outer || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
}

/// The rule for one path (trailing slashes ignored).
pub fn verdict(path: &str) -> Verdict {
    let p = path.trim_end_matches('/');
    if let Some(t) = NEVER_WITHIN.iter().find(|t| within(p, t)) {
        return Verdict::Never(Why::Inside(t));
    }
    if p.is_empty() || ROOTS.iter().chain(&NEVER_WITHIN).any(|s| within(s, p)) {
        return Verdict::Never(Why::System);
    }
    if ROOTS.iter().any(|r| within(p, r)) {
        Verdict::Dedicated
    } else {
        Verdict::EtcdsOnly
    }
}

/// The lists as `remote/path_rule.sh` takes them: the roots, then `--`, then
/// the trees never used.
pub fn script_args() -> Vec<String> {
    let mut args: Vec<String> = ROOTS.iter().map(|s| s.to_string()).collect();
    args.push("--".into());
    args.extend(NEVER_WITHIN.iter().map(|s| s.to_string()));
    args.push("--".into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_on_the_paths_the_attack_study_used() {
        let never = [
            "/var/lib/dpkg/info",
            "/lib/systemd/system",
            "/root/.ssh",
            "/home/alice",
            "/var/lib/dpkg",
            "/var/spool/cron",
            "/bin/x",
            "/sbin/x",
            "/lib64/x",
            "/var/tmp/x",
            "/",
            "/var",
            "/var/lib",
            "/usr/local",
            "/usr",
            "/opt",
            "/etc/etcd",
            "/tmp/etcd",
            "/usr/local/bin/etcd",
        ];
        for p in never {
            assert!(
                matches!(verdict(p), Verdict::Never(_)),
                "{p}: {:?}",
                verdict(p)
            );
        }
        for p in [
            "/var/lib/etcd",
            "/var/lib/etcd/",
            "/opt/etcd",
            "/srv/etcd/wal",
            "/data/etcd",
            "/mnt/ssd/etcd",
            "/var/backups/etcd",
            "/var/lib/dpkg-etcd",
        ] {
            assert_eq!(verdict(p), Verdict::Dedicated, "{p}");
        }
        for p in [
            "/usr/local/docker/etcdd/data",
            "/etcd-data",
            "/var/etcd/data",
        ] {
            assert_eq!(verdict(p), Verdict::EtcdsOnly, "{p}");
        }
    }

    #[test]
    fn the_lists_hold_no_tree_twice() {
        for (i, a) in NEVER_WITHIN.iter().enumerate() {
            for b in &NEVER_WITHIN[i + 1..] {
                assert!(!within(a, b) && !within(b, a), "{a} {b}");
            }
            assert!(!ROOTS.iter().any(|r| within(r, a)), "{a}");
        }
    }
}
