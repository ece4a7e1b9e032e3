//! The Rust ↔ shell argument contract, checked without hosts: every script
//! file's `# Arguments:` header names what it takes (and its first `shift`
//! says the same count), and every script a builder makes passes exactly
//! that, part by part (`script.rs`: each part takes its own arguments from
//! the front). A header word is one argument; `NAME...` takes the rest, or,
//! followed by `--`, everything up to a `--`; words from `(` on are prose.

use crate::script::Script;

/// One part's declared arguments.
#[derive(Debug, PartialEq)]
enum Arg {
    One,
    /// `NAME...`: the rest of the arguments.
    Rest,
    /// `NAME... --`: up to and including a literal `--`.
    UntilDashes,
}

/// The declared arguments of a script part (`# Arguments:` and its
/// continuation lines `#   ...`); none when it has no header.
fn declared(part: &str) -> Vec<Arg> {
    let mut words = Vec::new();
    let mut lines = part.lines().skip_while(|l| !l.starts_with("# Arguments:"));
    if let Some(first) = lines.next() {
        words.extend(first["# Arguments:".len()..].split_whitespace());
        for l in lines {
            match l.strip_prefix("#   ") {
                Some(more) => words.extend(more.split_whitespace()),
                None => break,
            }
        }
    }
    let words: Vec<&str> = words
        .into_iter()
        .take_while(|w| !w.starts_with('('))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w.ends_with("...") {
            if words.get(i + 1) == Some(&"--") {
                out.push(Arg::UntilDashes);
                i += 2;
                continue;
            }
            out.push(Arg::Rest);
        } else {
            out.push(Arg::One);
        }
        i += 1;
    }
    out
}

/// The parts of a script body: each script file starts with its
/// `# shellcheck shell=sh` line.
fn parts(body: &str) -> Vec<&str> {
    let marker = "# shellcheck shell=sh";
    let mut starts: Vec<usize> = body.match_indices(marker).map(|(i, _)| i).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &body[s..starts.get(k + 1).copied().unwrap_or(body.len())])
        .collect()
}

/// Whether `s` passes each part exactly what it declares.
fn contract(s: &Script) -> Result<(), String> {
    let mut pos = 0;
    let parts = parts(&s.body);
    for (k, part) in parts.iter().enumerate() {
        for a in declared(part) {
            match a {
                Arg::One if pos < s.args.len() => pos += 1,
                Arg::One => {
                    return Err(format!("{}: part {k} is short of arguments", s.name));
                }
                Arg::Rest => {
                    if parts[k + 1..].iter().any(|p| !declared(p).is_empty()) {
                        return Err(format!(
                            "{}: part {k} takes the rest, yet a later part takes arguments",
                            s.name
                        ));
                    }
                    pos = s.args.len();
                }
                Arg::UntilDashes => {
                    let end = s.args[pos..]
                        .iter()
                        .position(|a| a == "--")
                        .ok_or_else(|| format!("{}: part {k} finds no `--`", s.name))?;
                    pos += end + 1;
                }
            }
        }
    }
    if pos == s.args.len() {
        Ok(())
    } else {
        Err(format!(
            "{}: {} arguments passed, {pos} taken: {:?}",
            s.name,
            s.args.len(),
            s.args
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, Member, Version, parse};
    use crate::remote::{self, Source};
    use crate::runtime::{self, Restore};
    use std::path::Path;

    const FILES: [(&str, &str); 56] = [
        ("adopt_back", include_str!("remote/adopt_back.sh")),
        ("adopt_stop", include_str!("remote/adopt_stop.sh")),
        ("aside", include_str!("remote/aside.sh")),
        ("backup_data", include_str!("remote/backup_data.sh")),
        ("backup_install", include_str!("remote/backup_install.sh")),
        ("backup_job", include_str!("remote/backup_job.sh")),
        ("backup_list", include_str!("remote/backup_list.sh")),
        ("backup_remove", include_str!("remote/backup_remove.sh")),
        ("checked_input", include_str!("remote/checked_input.sh")),
        ("clock_end", include_str!("remote/clock_end.sh")),
        ("clock_start", include_str!("remote/clock_start.sh")),
        ("destroy_host", include_str!("remote/destroy_host.sh")),
        ("destroy_member", include_str!("remote/destroy_member.sh")),
        ("discover_member", include_str!("remote/discover_member.sh")),
        ("etcd_process", include_str!("remote/etcd_process.sh")),
        ("facts", include_str!("remote/facts.sh")),
        ("idle", include_str!("remote/idle.sh")),
        ("install_release", include_str!("remote/install_release.sh")),
        ("lock", include_str!("remote/lock.sh")),
        ("move_data_aside", include_str!("remote/move_data_aside.sh")),
        ("named_etcd", include_str!("remote/named_etcd.sh")),
        ("own_data", include_str!("remote/own_data.sh")),
        ("path_rule", include_str!("remote/path_rule.sh")),
        ("prepare_host", include_str!("remote/prepare_host.sh")),
        ("read_as", include_str!("remote/read_as.sh")),
        ("read_file", include_str!("remote/read_file.sh")),
        ("read_snapshot", include_str!("remote/read_snapshot.sh")),
        (
            "receive_snapshot",
            include_str!("remote/receive_snapshot.sh"),
        ),
        ("record", include_str!("remote/record.sh")),
        ("retire", include_str!("remote/retire.sh")),
        ("root_dir", include_str!("remote/root_dir.sh")),
        ("run_lock", include_str!("remote/run_lock.sh")),
        ("use_version", include_str!("remote/use_version.sh")),
        ("write_file", include_str!("remote/write_file.sh")),
        ("write_pki_file", include_str!("remote/write_pki_file.sh")),
        (
            "c/build_image",
            include_str!("runtime/compose/build_image.sh"),
        ),
        ("c/dc", include_str!("runtime/compose/dc.sh")),
        ("c/facts", include_str!("runtime/compose/facts.sh")),
        ("c/logs", include_str!("runtime/compose/logs.sh")),
        (
            "c/pull_image",
            include_str!("runtime/compose/pull_image.sh"),
        ),
        ("c/remove", include_str!("runtime/compose/remove.sh")),
        ("c/restore", include_str!("runtime/compose/restore.sh")),
        ("c/start", include_str!("runtime/compose/start.sh")),
        ("c/state", include_str!("runtime/compose/state.sh")),
        ("c/stop", include_str!("runtime/compose/stop.sh")),
        (
            "c/write_file",
            include_str!("runtime/compose/write_file.sh"),
        ),
        (
            "s/check_v2store",
            include_str!("runtime/systemd/check_v2store.sh"),
        ),
        (
            "s/data_revision",
            include_str!("runtime/systemd/data_revision.sh"),
        ),
        ("s/facts", include_str!("runtime/systemd/facts.sh")),
        ("s/logs", include_str!("runtime/systemd/logs.sh")),
        ("s/remove", include_str!("runtime/systemd/remove.sh")),
        ("s/restore", include_str!("runtime/systemd/restore.sh")),
        ("s/start", include_str!("runtime/systemd/start.sh")),
        ("s/state", include_str!("runtime/systemd/state.sh")),
        ("s/stop", include_str!("runtime/systemd/stop.sh")),
        (
            "s/write_unit",
            include_str!("runtime/systemd/write_unit.sh"),
        ),
    ];

    /// A script's first `shift N` takes as many arguments as its header
    /// names before any `NAME...`.
    #[test]
    fn every_header_matches_the_script_s_own_shift() {
        for (name, text) in FILES {
            let fixed = declared(text)
                .iter()
                .take_while(|a| **a == Arg::One)
                .count();
            let shift = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("shift "))
                .and_then(|n| n.trim().parse::<usize>().ok());
            if let Some(n) = shift {
                assert_eq!(n, fixed, "{name}: `shift {n}` against its header");
            }
        }
    }

    fn inventory(extra: &str) -> Inventory {
        parse(
            Path::new("inventory.toml"),
            &format!(
                "[cluster]\nname = \"t\"\nversion = \"3.5.1\"\n{extra}\n[backup]\nschedule = \"hourly\"\n[[hosts]]\nname = \"a\"\naddress = \"10.0.0.1\"\netcd = {{ extra = {{ \"wal-dir\" = \"/srv/etcd/wal\" }} }}\n"
            ),
        )
        .expect("inventory")
    }

    /// Every script a member's runtime and the common parts build.
    fn built(inv: &Inventory, m: &Member) -> Vec<Script> {
        let v = Version::parse("3.5.1").expect("version");
        let rt = runtime::of(m);
        let restore = Restore {
            initial_cluster: "a=http://10.0.0.1:2380".into(),
            token: "t".into(),
        };
        let b = inv.backup.clone().expect("backup");
        let mut all = vec![
            remote::prepare_host(inv, m),
            remote::install_release(inv, v, &"0".repeat(64), Source::Stdin),
            remote::install_release(inv, v, &"0".repeat(64), Source::Url("http://x/y")),
            remote::use_version(inv, v),
            remote::write_config(m),
            remote::read_config(m),
            remote::write_pki_file(m, "server.key", "0600"),
            remote::backup_data(m, "pre-recover-x", true),
            remote::move_data_aside(m),
            remote::retire(inv, m, true),
            remote::destroy_files(inv, m, true),
            remote::discover_member(&m.name, [2380, 2379]),
            remote::read_as("etcd", "/etc/x"),
            remote::adopt_stop(m, "unit", "etcd.service"),
            remote::adopt_back(m, "unit", "etcd.service", "enabled", "0:0", "700"),
            remote::aside(m, true),
            remote::receive_snapshot(m, &"0".repeat(64), "stamp")
                .then(
                    &rt.restore(inv, m, &restore).body,
                    rt.restore(inv, m, &restore).args,
                )
                .then(remote::OWN_DATA, Vec::<String>::new()),
            runtime::facts_script(inv, m),
            rt.write_host_file(inv, m),
            rt.start(inv, m, true),
            rt.stop(inv, m),
            rt.logs(inv, m),
            rt.remove(inv, m),
            crate::backup::install(inv, &b, m),
            crate::backup::remove(m),
            crate::backup::list(inv, &b, m),
            crate::backup::read("/var/backups/etcd/a/x.db"),
        ];
        all.extend(rt.watch(inv, m));
        all.extend(rt.data_revision(inv, m));
        all.extend(rt.check_v2store(inv, m));
        all
    }

    #[test]
    fn every_builder_passes_what_its_scripts_declare() {
        let systemd = inventory("");
        let compose = inventory("mode = \"compose\"\nimage = \"release\"");
        for inv in [&systemd, &compose] {
            for s in built(inv, &inv.members[0]) {
                assert_eq!(contract(&s), Ok(()), "{}", s.name);
            }
        }
        let v = Version::parse("3.5.1").expect("version");
        let rt = runtime::of(&compose.members[0]);
        for s in [
            rt.get_image(
                &compose,
                v,
                runtime::GetImage::Build("etcd-deploy/etcd:v3.5.1"),
            ),
            rt.get_image(
                &compose,
                v,
                runtime::GetImage::Pull("quay.io/coreos/etcd:v3.5.1"),
            ),
        ] {
            let s = s.expect("compose gets images");
            assert_eq!(contract(&s), Ok(()), "{}", s.name);
        }
    }

    #[test]
    fn a_wrong_count_is_found() {
        let s = Script::new("x", "# shellcheck shell=sh\n# Arguments: A B\n", ["1"]);
        assert!(contract(&s).is_err());
        let s = Script::new(
            "x",
            "# shellcheck shell=sh\n# Arguments: A B... (prose)\n",
            ["1", "2", "3"],
        );
        assert_eq!(contract(&s), Ok(()));
        let s = Script::new("x", "# shellcheck shell=sh\n# Arguments: A\n", ["1", "2"]);
        assert!(contract(&s).is_err());
    }
}
