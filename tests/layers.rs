//! The dependency rule, checked on every test run (docs/architecture.md):
//! inventory → facts → plan → exec → commands, no cycle between top-level
//! modules, the plan free of SSH, etcd and the executor, and the executor
//! used by the command layer only. Reads the `crate::` paths in `src/`.
//! Test-only code counts too: the in-process fake (`fake.rs`) implements
//! the seams of what it stands in for (`ssh::Transport`, `ssh::Dial`,
//! `etcd::EtcdApi`) and nothing in production reaches it.

// Test code: a failed expectation is a failed test; helpers are shared
// between this crate's modules only.
#![allow(clippy::expect_used, clippy::unwrap_used, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `src/`, as (path relative to `src/`, text).
fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&src).expect("under src").to_path_buf();
                out.push((rel, std::fs::read_to_string(&p).expect("read file")));
            }
        }
    }
    out
}

/// Top-level module → the top-level modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources() {
        let first = rel.components().next().expect("component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let deps = g.entry(module.clone()).or_default();
        for name in crate_paths(&text) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    g
}

/// The top-level modules a file names through `crate::`: `crate::a::b`
/// and every first segment of a group, `crate::{a, b::c}`.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_cycle() {
    let g = graph();
    assert!(g.len() > 10, "modules found: {g:?}");
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" → "));
    }
}

#[test]
fn pure_layers_depend_only_on_what_is_below_them() {
    let g = graph();
    let allowed: [(&str, &[&str]); 6] = [
        ("inventory", &[]),
        ("yaml", &[]),
        ("member_config", &["inventory", "layout", "files", "yaml"]),
        ("layout", &["inventory"]),
        ("facts", &["inventory", "layout"]),
        ("plan", &["inventory", "facts", "layout"]),
    ];
    for (module, may) in allowed {
        let deps = g
            .get(module)
            .unwrap_or_else(|| panic!("no module {module}"));
        let extra: Vec<&String> = deps.iter().filter(|d| !may.contains(&d.as_str())).collect();
        assert!(extra.is_empty(), "{module} must not depend on {extra:?}");
    }
}

/// The modules other than `except` that name `module`.
fn users_of(g: &BTreeMap<String, BTreeSet<String>>, module: &str, except: &str) -> Vec<String> {
    g.iter()
        .filter(|(m, deps)| deps.contains(module) && m.as_str() != except)
        .map(|(m, _)| m.clone())
        .collect()
}

#[test]
fn only_the_command_layer_uses_the_executor() {
    let users = users_of(&graph(), "exec", "commands");
    assert!(users.is_empty(), "exec used by {users:?}");
}

/// The infrastructure (hosts, SSH, etcd's API, scripts, files) is used by
/// the layers above it and never reaches up into planning, execution or
/// the commands.
#[test]
fn the_infrastructure_never_imports_the_layers_above() {
    let g = graph();
    let infrastructure = [
        "ssh",
        "etcd",
        "remote",
        "runtime",
        "script",
        "files",
        "release",
        "templates",
        "tls",
        "access",
        "backup",
        "snapshot",
        "records",
        "host_lock",
        "set_aside",
        "etcd_log",
        "progress",
        "interrupt",
        "gather",
        "layout",
        "yaml",
        "member_config",
    ];
    for module in infrastructure {
        let deps = g
            .get(module)
            .unwrap_or_else(|| panic!("no module {module}"));
        let up: Vec<&String> = deps
            .iter()
            .filter(|d| ["plan", "exec", "commands", "cli"].contains(&d.as_str()))
            .collect();
        assert!(up.is_empty(), "{module} must not import {up:?}");
    }
}

#[test]
fn grouped_imports_count() {
    assert_eq!(
        crate_paths("use crate::{inventory::X, plan};\nlet a = crate::facts::y;"),
        ["inventory", "plan", "facts"]
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g).map(|c| c.join(",")),
        Some("a,b,c,a".to_string())
    );
}

/// Which runtime a member has is asked only where runtimes are defined
/// (`src/inventory/`: the variants and their traits; `src/runtime/`: the
/// types that run members): everything else reads `Runtime::traits` or
/// calls `runtime::of`, so a new runtime touches no plan or executor file.
#[test]
fn only_the_runtimes_tell_runtimes_apart() {
    let mut found = Vec::new();
    for (rel, text) in sources() {
        if rel.starts_with("runtime") || rel.starts_with("inventory") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("Runtime::") || code.contains("runtime::compose") {
                found.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "runtimes told apart in:\n{}",
        found.join("\n")
    );
}

/// The fake of the hosts and the cluster is reached only by the executor's
/// tests, through the executor's seams (`Env::etcd`, `Env::dial`, a
/// `Host` over a transport): no production module names it.
#[test]
fn only_the_executor_s_tests_use_the_fake() {
    let users = users_of(&graph(), "fake", "exec");
    assert!(users.is_empty(), "fake used by {users:?}");
    for (rel, text) in sources() {
        if rel.starts_with("exec") && !rel.ends_with("tests.rs") {
            assert!(
                !text.contains("crate::fake"),
                "{} names the fake",
                rel.display()
            );
        }
    }
}
