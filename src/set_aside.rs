//! The data directories that `restore`, `recover` and rejoining members set
//! aside beside a member's data directory (never deleted by etcd-deploy),
//! and what each holds: read from the host (`remote/aside.sh`), parsed and
//! described here, oldest first, so that the documented undo names the
//! right one. A restore's own data carries a note of the restore that made
//! it until that restore has finished everywhere: data set aside with that
//! note is a killed restore's result, not data the member ran with.

use serde::Serialize;

/// One directory set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Aside {
    /// Its full path on the host.
    pub path: String,
    /// When it was set aside (`YYYYMMDDHHMMSS`, UTC; `.stale-*` in the host's time).
    pub at: String,
    /// What it holds, in words.
    pub holds: String,
}

/// `20261207T013308Z` (files::stamp) as `20261207013308`.
fn stamp(v: &str) -> Option<String> {
    let ok = v.len() == 16
        && v.as_bytes()[8] == b'T'
        && v.ends_with('Z')
        && v[..8]
            .bytes()
            .chain(v[9..15].bytes())
            .all(|b| b.is_ascii_digit());
    ok.then(|| format!("{}{}", &v[..8], &v[9..15]))
}

/// A SHA256 as the note holds it.
fn sha(v: &str) -> Option<&str> {
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then_some(v)
}

/// Parses `aside.sh`'s output for the data directory `data_dir`: entries
/// whose name or note is not what etcd-deploy writes are left out.
pub(crate) fn parse(data_dir: &str, out: &str) -> Vec<Aside> {
    let mut found: Vec<Aside> = Vec::new();
    for line in out.lines() {
        if let Some(suffix) = line.strip_prefix("aside=") {
            let (at, holds) = if let Some(s) = suffix.strip_prefix("pre-restore-") {
                let Some(at) = stamp(s) else { continue };
                (at, format!("the data it had when restore {s} began"))
            } else if let Some(s) = suffix.strip_prefix("pre-recover-") {
                let Some(at) = stamp(s) else { continue };
                (at, format!("the data it had when recover {s} began"))
            } else if let Some(s) = suffix.strip_prefix("stale-") {
                if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                (
                    s.to_string(),
                    "data of an earlier life of this host, moved aside when it joined again".into(),
                )
            } else {
                continue;
            };
            found.push(Aside {
                path: format!("{data_dir}.{suffix}"),
                at,
                holds,
            });
        } else if let Some(note) = line.strip_prefix("made=")
            && let Some(last) = found.last_mut()
        {
            let mut words = note.split(' ');
            if let (Some(s), Some(h)) = (words.next(), words.next().and_then(sha))
                && stamp(s).is_some()
            {
                last.holds = format!(
                    "what restore {s} made from snapshot {}… and never finished (not data the member ran with), set aside by a later run",
                    &h[..12]
                );
            }
        }
    }
    found.sort_by(|a, b| a.at.cmp(&b.at));
    found
}

/// The listing a command prints: per member, its directories oldest first.
pub(crate) fn describe(per_member: &[(String, Vec<Aside>)]) -> String {
    let mut out = String::new();
    for (name, list) in per_member.iter().filter(|(_, l)| !l.is_empty()) {
        for (k, a) in list.iter().enumerate() {
            let who = if k == 0 { name.as_str() } else { "" };
            out.push_str(&format!("  {who:<12} {}  {}\n", a.path, a.holds));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member a killed restore had already restored, then restored again:
    /// the older directory is what it ran with, the newer the killed run's.
    #[test]
    fn a_killed_restores_data_is_told_from_the_members_own() {
        let sha = "ab".repeat(32);
        let out = format!(
            "aside=pre-restore-20261207T020000Z\nmade=20261207T013000Z {sha}\naside=pre-restore-20261207T013000Z\naside=stale-20261101120000\naside=pre-restore-x;rm\nmade=../../etc y\naside=pre-recover-20261207T030000Z\n"
        );
        let got = parse("/var/lib/etcd", &out);
        let paths: Vec<&str> = got.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/var/lib/etcd.stale-20261101120000",
                "/var/lib/etcd.pre-restore-20261207T013000Z",
                "/var/lib/etcd.pre-restore-20261207T020000Z",
                "/var/lib/etcd.pre-recover-20261207T030000Z",
            ]
        );
        assert_eq!(
            got[1].holds,
            "the data it had when restore 20261207T013000Z began"
        );
        assert!(
            got[2]
                .holds
                .starts_with("what restore 20261207T013000Z made from snapshot abababababab"),
            "{}",
            got[2].holds
        );
        assert_eq!(
            got[3].holds,
            "the data it had when recover 20261207T030000Z began"
        );
    }
}
