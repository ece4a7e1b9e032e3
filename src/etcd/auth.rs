//! etcd's access control through its API: reading users, roles and
//! whether auth is on (`facts::AuthFacts`), and making one change (`Call`,
//! what the executor turns each of the plan's changes into). A password
//! passes through here in memory only: never into an argument list, a log
//! or an error message.

use super::EtcdError;
use super::connect::{change, read};
use crate::facts::{AuthFacts, Grant, PasswordCheck};
use crate::inventory::auth::Access;
use etcd_client::{Permission, PermissionType, RoleRevokePermissionOptions, UserAddOptions};
use std::collections::BTreeMap;

fn access_of(t: i32) -> Access {
    match t {
        0 => Access::Read,
        1 => Access::Write,
        _ => Access::Readwrite,
    }
}

fn permission_type(a: Access) -> PermissionType {
    match a {
        Access::Read => PermissionType::Read,
        Access::Write => PermissionType::Write,
        Access::Readwrite => PermissionType::Readwrite,
    }
}

/// Whether auth is on: etcd's `AuthStatus`, through its JSON gateway (the
/// client library has no call for it), with the controller's identity;
/// with auth on, etcd refuses that request for the certificate's CN.
async fn enabled(url: &str) -> Result<bool, EtcdError> {
    let http = super::connect::http()?;
    let r = http
        .post(format!("{url}/v3/auth/status"))
        .body("{}")
        .send()
        .await
        .map_err(|e| EtcdError::transient(format!("auth status: {e}")))?;
    let code = r.status();
    let body = r
        .bytes()
        .await
        .map_err(|e| EtcdError::new(format!("auth status: {e}")))?;
    // With auth on, etcd refuses any gateway request made with a client
    // certificate that has a CN (the CN would not be used): that refusal is
    // its answer.
    if String::from_utf8_lossy(&body)
        .contains("CommonName of client sending a request against gateway")
    {
        return Ok(true);
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        EtcdError::new(format!(
            "auth status: {code}: {e}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })?;
    Ok(v.get("enabled")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false))
}

/// etcd's users, roles and whether auth is on, as `urls` answer: the two
/// lists, then every user and role asked at once (one connection, its
/// calls side by side), since a plan reads them all every time.
pub(crate) async fn facts(urls: &[String]) -> Result<AuthFacts, EtcdError> {
    use futures_util::future::try_join_all;
    let Some(first) = urls.first() else {
        return Err(EtcdError::new("no member to ask"));
    };
    let (enabled, users, roles) = tokio::try_join!(
        enabled(first),
        read(urls, |mut c| async move { c.user_list().await }),
        read(urls, |mut c| async move { c.role_list().await }),
    )?;
    let users = try_join_all(users.users().iter().map(|u| async move {
        let got = read(urls, |mut c| {
            let name = u.clone();
            async move { c.user_get(name).await }
        })
        .await?;
        let mut roles = got.roles().to_vec();
        roles.sort();
        Ok::<_, EtcdError>((printable(u), roles.iter().map(|r| printable(r)).collect()))
    }));
    let roles = try_join_all(roles.roles().iter().map(|r| async move {
        let got = read(urls, |mut c| {
            let name = r.clone();
            async move { c.role_get(name).await }
        })
        .await?;
        let mut g: Vec<Grant> = got
            .permissions()
            .iter()
            .map(|p| Grant::from_etcd(p.key(), p.range_end(), access_of(p.get_type())))
            .collect();
        g.sort();
        Ok::<_, EtcdError>((printable(r), g))
    }));
    let (users, roles) = tokio::try_join!(users, roles)?;
    Ok(AuthFacts {
        enabled,
        users: users.into_iter().collect(),
        roles: roles.into_iter().collect(),
        ..AuthFacts::default()
    })
}

/// What etcd says to each password user's password (auth on only; a
/// user etcd does not have is not asked). etcd compares it with its hash
/// and answers yes or no; the password goes nowhere else. The users are
/// asked at once: each answer costs etcd a bcrypt comparison.
pub(crate) async fn check_passwords(
    urls: &[String],
    users: Vec<(String, Result<String, String>)>,
) -> BTreeMap<String, PasswordCheck> {
    let asks = users.into_iter().map(|(name, password)| async move {
        let Ok(password) = password else {
            return Some((name, PasswordCheck::Unread));
        };
        let said = read(urls, |c| {
            let (n, pw) = (name.clone(), password.clone());
            async move {
                let mut a = c.auth_client();
                a.authenticate(n, pw).await
            }
        })
        .await;
        let check = match said {
            Ok(_) => PasswordCheck::Current,
            Err(e) if e.message.contains("no password user") => PasswordCheck::NoPassword,
            Err(e) if e.message.contains("authentication failed") => PasswordCheck::Other,
            // Not answered: nothing is known, and nothing is planned for it.
            Err(_) => return None,
        };
        Some((name, check))
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn printable(s: &str) -> String {
    crate::facts::printable_upto(s, 256)
}

/// One change to etcd's access control.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    EnableAuth,
    DisableAuth,
    AddRole(String),
    DeleteRole(String),
    Grant(String, Grant),
    Revoke(String, Grant),
    /// A user, with its password (`None`: a certificate user).
    AddUser(String, Option<String>),
    SetPassword(String, String),
    DeleteUser(String),
    GrantRole {
        user: String,
        role: String,
    },
    RevokeRole {
        user: String,
        role: String,
    },
}

/// Makes one change through `urls`.
pub(crate) async fn apply(urls: &[String], call: Call) -> Result<(), EtcdError> {
    change(urls, move |mut cl| async move {
        match call {
            Call::EnableAuth => cl.auth_enable().await.map(|_| ()),
            Call::DisableAuth => cl.auth_disable().await.map(|_| ()),
            Call::AddRole(role) => cl.role_add(role).await.map(|_| ()),
            Call::DeleteRole(role) => cl.role_delete(role).await.map(|_| ()),
            Call::Grant(role, grant) => {
                let mut p = Permission::new(permission_type(grant.access), grant.key.as_bytes());
                let end = grant.range_end_bytes();
                if !end.is_empty() {
                    p = p.with_range_end(end);
                }
                cl.role_grant_permission(role, p).await.map(|_| ())
            }
            Call::Revoke(role, grant) => {
                let end = grant.range_end_bytes();
                let opts = (!end.is_empty())
                    .then(|| RoleRevokePermissionOptions::new().with_range_end(end));
                cl.role_revoke_permission(role, grant.key.as_bytes(), opts)
                    .await
                    .map(|_| ())
            }
            Call::AddUser(name, Some(pw)) => cl.user_add(name, pw, None).await.map(|_| ()),
            Call::AddUser(name, None) => cl
                .user_add(name, "", Some(UserAddOptions::new().with_no_pwd()))
                .await
                .map(|_| ()),
            Call::SetPassword(name, pw) => cl.user_change_password(name, pw).await.map(|_| ()),
            Call::DeleteUser(name) => cl.user_delete(name).await.map(|_| ()),
            Call::GrantRole { user, role } => cl.user_grant_role(user, role).await.map(|_| ()),
            Call::RevokeRole { user, role } => cl.user_revoke_role(user, role).await.map(|_| ()),
        }
    })
    .await
}
