//! `init --from-cluster`'s access tables: a running cluster's users, roles
//! and grants, and whether its auth is on, written as `[auth]`, `[[roles]]`
//! and `[[clients]]`, so that `adopt` and `apply` keep them as they are.
//! What etcd says is untrusted: names the inventory would not accept and
//! grants it cannot express are left out, each said in the file and the
//! output, never written into it.

use crate::etcd;
use crate::facts::{AuthFacts, PasswordCheck};
use crate::inventory::auth::ROOT;
use crate::inventory::valid_name;
use std::collections::BTreeMap;

/// What was found: the tables, and what the operator should know.
pub(super) struct FoundAccess {
    pub text: String,
    pub said: Vec<String>,
}

/// The cluster's access control through `urls` (`None`: nothing to
/// manage, or it could not be read: said in `said`).
pub(super) async fn read(urls: &[String], tls: bool) -> FoundAccess {
    let mut said = Vec::new();
    let have = match etcd::auth::facts(urls).await {
        Ok(h) => h,
        Err(e) => {
            said.push(format!(
                "etcd's users and roles could not be read with the identity given ({}): the inventory leaves access control alone",
                e.message
            ));
            return FoundAccess {
                text: String::new(),
                said,
            };
        }
    };
    let others = |names: Vec<&String>| names.into_iter().any(|k| k != ROOT);
    if !have.enabled && !others(have.users.keys().collect()) && !others(have.roles.keys().collect())
    {
        return FoundAccess {
            text: String::new(),
            said,
        };
    }
    if !tls {
        said.push(
            "the cluster has users or roles, but no TLS: etcd-deploy manages access control only with TLS (it is root by its certificate), so the inventory leaves it alone".into(),
        );
        return FoundAccess {
            text: String::new(),
            said,
        };
    }
    // Which users have a password: etcd says so only with auth on (a user
    // made without one answers "no password user" to any).
    let kinds = if have.enabled {
        let ask = have
            .users
            .keys()
            .filter(|u| *u != ROOT)
            .map(|u| (u.clone(), Ok(String::new())))
            .collect();
        etcd::auth::check_passwords(urls, ask).await
    } else {
        BTreeMap::new()
    };
    render(&have, &kinds, said)
}

/// The tables for `have` (`kinds`: what etcd said to an empty password).
fn render(
    have: &AuthFacts,
    kinds: &BTreeMap<String, PasswordCheck>,
    mut said: Vec<String>,
) -> FoundAccess {
    let mut s = format!(
        "\n# Access control as the cluster has it (read by `init --from-cluster`).\n[auth]\nenabled = {}\n",
        have.enabled
    );
    let roles: Vec<&String> = have
        .roles
        .keys()
        .filter(|r| *r != ROOT && valid_name(r))
        .collect();
    let dropped = have.roles.len() - roles.len() - usize::from(have.roles.contains_key(ROOT));
    if dropped > 0 {
        said.push(format!(
            "{dropped} role(s) left out: names etcd-deploy does not accept; apply would delete them"
        ));
    }
    for role in &roles {
        let mut perms = Vec::new();
        let mut inexpressible = 0;
        for g in &have.roles[*role] {
            if g.range_end.is_some() || g.key.is_empty() || g.key.contains('\\') {
                inexpressible += 1;
                continue;
            }
            let kind = if g.prefix { "prefix" } else { "key" };
            perms.push(format!(
                "{{ {kind} = {}, access = \"{}\" }}",
                toml_str(&g.key),
                g.access.as_str()
            ));
        }
        s.push_str(&format!(
            "\n[[roles]]\nname = {}\npermissions = [{}]\n",
            toml_str(role),
            perms.join(", ")
        ));
        if inexpressible > 0 {
            s.push_str(&format!(
                "# {inexpressible} grant(s) of this role left out: a range or a key the inventory cannot name; apply would revoke them\n"
            ));
            said.push(format!(
                "role {role}: {inexpressible} grant(s) left out (a range, or a key the inventory cannot name); apply would revoke them"
            ));
        }
    }
    let mut unchecked = false;
    for (user, their) in have.users.iter().filter(|(u, _)| *u != ROOT) {
        if !valid_name(user) {
            said.push(
                "a user left out: a name etcd-deploy does not accept; apply would delete it".into(),
            );
            continue;
        }
        let mut known: Vec<&String> = their.iter().filter(|r| roles.contains(r)).collect();
        known.sort();
        s.push_str(&format!(
            "\n[[clients]]\nname = {}\nroles = [{}]\n",
            toml_str(user),
            known
                .iter()
                .map(|r| toml_str(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if their.iter().any(|r| r == ROOT) {
            s.push_str("root = true\n");
        }
        match kinds.get(user) {
            Some(PasswordCheck::Other) => {
                let var = format!(
                    "ETCD_PASSWORD_{}",
                    user.to_ascii_uppercase().replace(['-', '.'], "_")
                );
                s.push_str(&format!(
                    "# it logs in with a password: etcd-deploy checks it against ${var} (or give password_file)\npassword_env = \"{var}\"\n"
                ));
            }
            Some(_) => {}
            None => unchecked |= !have.enabled,
        }
    }
    if unchecked {
        s.push_str(
            "\n# etcd's auth is off, so it could not say which users have a password: give such a\n# client password_file or password_env before auth goes on.\n",
        );
    }
    FoundAccess { text: s, said }
}

fn toml_str(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Grant;
    use crate::inventory::auth::Access;

    /// Names the inventory would not take and grants it cannot say are left
    /// out and said; the rest parses as an inventory that keeps it.
    #[test]
    fn what_the_inventory_cannot_hold_is_left_out_and_said() {
        let g = |key: &str, end: &[u8]| Grant::from_etcd(key.as_bytes(), end, Access::Read);
        let have = AuthFacts {
            enabled: false,
            users: BTreeMap::from([
                ("root".into(), vec!["root".into()]),
                ("ops".into(), vec!["root".into(), "app".into()]),
                ("bad name\n[x]".into(), vec!["app".into()]),
            ]),
            roles: BTreeMap::from([
                (
                    "app".into(),
                    vec![
                        g("/app/", b"/app0"),
                        g("/a", b"/z"),
                        g("", b"\0"),
                        g("/k\"", b""),
                    ],
                ),
                ("evil\"role".into(), vec![]),
            ]),
            passwords: BTreeMap::new(),
        };
        let f = render(&have, &BTreeMap::new(), Vec::new());
        assert!(
            f.text.contains("[[roles]]\nname = \"app\"\npermissions = [{ prefix = \"/app/\", access = \"read\" }, { key = '/k\"', access = \"read\" }]\n# 2 grant(s) of this role left out"),
            "{}",
            f.text
        );
        assert!(
            f.text
                .contains("[[clients]]\nname = \"ops\"\nroles = [\"app\"]\nroot = true\n"),
            "{}",
            f.text
        );
        assert!(!f.text.contains("bad name") && !f.text.contains("evil"));
        assert!(f.text.contains("etcd's auth is off, so it could not say"));
        let said = f.said.join("\n");
        assert!(said.contains("1 role(s) left out") && said.contains("a user left out"));
        assert!(said.contains("role app: 2 grant(s) left out"), "{said}");
        let inv = format!(
            "[cluster]\nname = \"c\"\nversion = \"3.5.1\"\n\n[tls]\nmode = \"generate\"\n{}\n[[hosts]]\nname = \"etcd-1\"\naddress = \"10.0.0.1\"\n",
            f.text
        );
        let parsed = crate::inventory::parse(std::path::Path::new("found.toml"), &inv)
            .expect("the tables parse");
        assert_eq!(parsed.auth.clients.len(), 1);
    }
}
