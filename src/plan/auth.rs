//! Access control planned like the rest (`inventory::auth` against
//! `facts::AuthFacts`): the roles, grants and users to add, change or
//! remove, and auth turned on or off, as one step (`Step::Access`) in the
//! order that never locks etcd-deploy out: auth off first when asked; then
//! roles and their grants, the `root` user (etcd-deploy's own identity,
//! its client certificate's CN) with the root role, the clients and their
//! roles; then what is taken away; auth on last.

use super::{Plan, Scope, Step};
use crate::facts::{AuthFacts, Facts, Grant, PasswordCheck};
use crate::inventory::Inventory;
use crate::inventory::auth::ROOT;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One change to etcd's access control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AuthChange {
    DisableAuth,
    AddRole {
        role: String,
    },
    Grant {
        role: String,
        grant: Grant,
    },
    /// A user; `password` says where its password comes from (`None`: a
    /// certificate user, no password).
    AddUser {
        name: String,
        password: Option<String>,
    },
    /// A password user's password set from where it comes from: etcd
    /// refused it (`checked`), or auth goes on and etcd could not check it.
    SetPassword {
        name: String,
        password: String,
        checked: bool,
    },
    GrantRole {
        user: String,
        role: String,
    },
    Revoke {
        role: String,
        grant: Grant,
    },
    RevokeRole {
        user: String,
        role: String,
    },
    DeleteUser {
        name: String,
    },
    DeleteRole {
        role: String,
    },
    EnableAuth,
}

impl AuthChange {
    /// Takes something away (asked for like a member's removal).
    pub fn removes(&self) -> bool {
        matches!(
            self,
            AuthChange::DisableAuth
                | AuthChange::Revoke { .. }
                | AuthChange::RevokeRole { .. }
                | AuthChange::DeleteUser { .. }
                | AuthChange::DeleteRole { .. }
        )
    }

    /// As the plan shows it (a password never: only where it comes from).
    pub fn describe(&self) -> String {
        match self {
            AuthChange::DisableAuth => {
                "turn etcd's auth OFF (every client may then do anything)".into()
            }
            AuthChange::EnableAuth => "turn etcd's auth on".into(),
            AuthChange::AddRole { role } => format!("add role {role}"),
            AuthChange::DeleteRole { role } => format!("delete role {role}"),
            AuthChange::Grant { role, grant } => format!("grant {role} {}", grant.describe()),
            AuthChange::Revoke { role, grant } => {
                format!("revoke from {role} {}", grant.describe())
            }
            AuthChange::AddUser {
                name,
                password: None,
            } => {
                format!("add user {name} (its certificate's CN, no password)")
            }
            AuthChange::AddUser {
                name,
                password: Some(from),
            } => {
                format!("add user {name} (password from {from})")
            }
            AuthChange::SetPassword {
                name,
                password,
                checked: true,
            } => format!("set the password of user {name} (etcd refused the one from {password})"),
            AuthChange::SetPassword {
                name,
                password,
                checked: false,
            } => format!(
                "set the password of user {name} from {password} (auth is off: etcd could not check it)"
            ),
            AuthChange::DeleteUser { name } => format!("delete user {name}"),
            AuthChange::GrantRole { user, role } => format!("give user {user} role {role}"),
            AuthChange::RevokeRole { user, role } => format!("take role {role} from user {user}"),
        }
    }
}

/// The changes that make etcd's access control what the inventory says.
pub fn changes(inv: &Inventory, have: &AuthFacts) -> Vec<AuthChange> {
    let a = &inv.auth;
    let want_roles: BTreeMap<&str, BTreeSet<Grant>> = a
        .roles
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.permissions.iter().map(Grant::of).collect(),
            )
        })
        .collect();
    let mut want_users: BTreeMap<&str, (BTreeSet<&str>, Option<String>)> = a
        .clients
        .iter()
        .map(|c| {
            let roles = c.roles.iter().map(String::as_str).collect();
            (
                c.name.as_str(),
                (roles, c.password.as_ref().map(|p| p.describe())),
            )
        })
        .collect();
    want_users.insert(ROOT, (BTreeSet::from([ROOT]), None));

    let mut first = Vec::new();
    let mut add = Vec::new();
    let mut take = Vec::new();
    let mut last = Vec::new();
    if a.enabled == Some(false) && have.enabled {
        first.push(AuthChange::DisableAuth);
    }
    for (role, grants) in &want_roles {
        let had: BTreeSet<&Grant> = have.roles.get(*role).into_iter().flatten().collect();
        if !have.roles.contains_key(*role) {
            add.push(AuthChange::AddRole {
                role: role.to_string(),
            });
        }
        for g in grants.iter().filter(|g| !had.contains(g)) {
            add.push(AuthChange::Grant {
                role: role.to_string(),
                grant: g.clone(),
            });
        }
        for g in had.into_iter().filter(|g| !grants.contains(*g)) {
            take.push(AuthChange::Revoke {
                role: role.to_string(),
                grant: g.clone(),
            });
        }
    }
    // etcd-deploy's own user first: it must hold the root role before auth
    // goes on, whatever else fails on the way.
    let users = std::iter::once(ROOT).chain(want_users.keys().copied().filter(|u| *u != ROOT));
    for user in users {
        let Some((roles, password)) = want_users.get(user) else {
            continue;
        };
        let had: BTreeSet<&str> = have
            .users
            .get(user)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let check = have.passwords.get(user).copied();
        // A certificate's user (made without a password) that is now a
        // password user: etcd cannot give it one, so it is made again.
        let remade = password.is_some() && check == Some(PasswordCheck::NoPassword);
        if remade {
            add.push(AuthChange::DeleteUser {
                name: user.to_string(),
            });
        }
        if remade || !have.users.contains_key(user) {
            add.push(AuthChange::AddUser {
                name: user.to_string(),
                password: password.clone(),
            });
        } else if let Some(from) = password {
            // etcd refused it; or auth goes on now and nothing could check
            // it: set before etcd starts asking for it.
            let unchecked = !have.enabled && a.enabled == Some(true);
            if check == Some(PasswordCheck::Other) || unchecked {
                add.push(AuthChange::SetPassword {
                    name: user.to_string(),
                    password: from.clone(),
                    checked: !unchecked,
                });
            }
        }
        let had = if remade { BTreeSet::new() } else { had };
        for r in roles.iter().filter(|r| !had.contains(*r)) {
            add.push(AuthChange::GrantRole {
                user: user.to_string(),
                role: r.to_string(),
            });
        }
        for r in had.iter().filter(|r| !roles.contains(*r)) {
            take.push(AuthChange::RevokeRole {
                user: user.to_string(),
                role: r.to_string(),
            });
        }
    }
    for user in have
        .users
        .keys()
        .filter(|u| !want_users.contains_key(u.as_str()))
    {
        take.push(AuthChange::DeleteUser { name: user.clone() });
    }
    for role in have
        .roles
        .keys()
        .filter(|r| r.as_str() != ROOT && !want_roles.contains_key(r.as_str()))
    {
        take.push(AuthChange::DeleteRole { role: role.clone() });
    }
    if a.enabled == Some(true) && !have.enabled {
        last.push(AuthChange::EnableAuth);
    }
    first
        .into_iter()
        .chain(add)
        .chain(take)
        .chain(last)
        .collect()
}

/// etcd's access control made what the inventory says, after everything
/// else, when the inventory manages it and members answer.
pub(super) fn last(p: &mut Plan, inv: &Inventory, facts: &Facts) {
    if p.blocked.is_some() || !inv.auth.managed() || !matches!(p.scope, Scope::Apply) {
        return;
    }
    if facts.cluster.members.is_none() {
        // A cluster being made: its access is planned once it answers.
        if !p.is_empty() {
            p.replan = true;
        }
        return;
    }
    let Some(have) = &facts.cluster.auth else {
        p.notes.push(format!(
            "etcd's users and roles could not be read with etcd-deploy's identity ({}): access control is left as it is (is auth on without a `root` user for etcd-deploy's certificate?)",
            facts.cluster.auth_unread.as_deref().unwrap_or("no answer")
        ));
        return;
    };
    for (user, _) in have
        .passwords
        .iter()
        .filter(|(_, c)| **c == PasswordCheck::Unread)
    {
        p.notes.push(format!(
            "the password of user {user} could not be read on this controller: etcd-deploy did not check it"
        ));
    }
    if !have.enabled
        && inv.auth.enabled != Some(true)
        && inv.auth.clients.iter().any(|c| c.password.is_some())
    {
        p.notes.push(
            "etcd's auth is off: it checks no password, so etcd-deploy cannot see whether a password user's password is the inventory's (it sets them all when auth goes on)".into(),
        );
    }
    let changes = changes(inv, have);
    if !changes.is_empty() {
        p.steps.push(Step::Access { changes });
    }
}
