//! `Step::Access`: etcd's access control changed through its API, one
//! change at a time, each said as it is made. A password user's password
//! is read here, on the controller, from the file or environment variable
//! the inventory names, and goes only to etcd. Auth is turned on only once
//! etcd-deploy's own identity is proven: its client certificate's CN is
//! `root`, and etcd's user `root` holds the root role.

use super::Env;
use crate::error::Error;
use crate::etcd::auth::Call;
use crate::inventory::auth::ROOT;
use crate::plan::auth::AuthChange;

pub(super) async fn run(
    env: &Env<'_>,
    changes: &[AuthChange],
    urls: &[String],
) -> Result<(), Error> {
    let task = env.progress.task("access");
    for c in changes {
        task.step(&c.describe());
        let password = match c {
            AuthChange::AddUser {
                name,
                password: Some(_),
            }
            | AuthChange::SetPassword { name, .. } => Some(password_of(env, name)?),
            _ => None,
        };
        if *c == AuthChange::EnableAuth {
            own_identity_proven(urls).await?;
        }
        if let Err(e) = crate::etcd::auth::apply(urls, call(c, password)).await {
            let why = format!("{}: {}", c.describe(), e.message);
            task.fail(&why);
            return Err(Error::Blocked(format!(
                "changing etcd's access control stopped at: {why}; what came before is done, and the next apply plans the rest"
            )));
        }
    }
    task.done(&format!(
        "{} change(s) to users, roles and auth",
        changes.len()
    ));
    Ok(())
}

/// The etcd call that makes change `c`.
fn call(c: &AuthChange, password: Option<String>) -> Call {
    match c.clone() {
        AuthChange::EnableAuth => Call::EnableAuth,
        AuthChange::DisableAuth => Call::DisableAuth,
        AuthChange::AddRole { role } => Call::AddRole(role),
        AuthChange::DeleteRole { role } => Call::DeleteRole(role),
        AuthChange::Grant { role, grant } => Call::Grant(role, grant),
        AuthChange::Revoke { role, grant } => Call::Revoke(role, grant),
        AuthChange::AddUser { name, .. } => Call::AddUser(name, password),
        AuthChange::SetPassword { name, .. } => {
            Call::SetPassword(name, password.unwrap_or_default())
        }
        AuthChange::DeleteUser { name } => Call::DeleteUser(name),
        AuthChange::GrantRole { user, role } => Call::GrantRole { user, role },
        AuthChange::RevokeRole { user, role } => Call::RevokeRole { user, role },
    }
}

/// The password of client `name`, from where the inventory says.
fn password_of(env: &Env<'_>, name: &str) -> Result<String, Error> {
    let source = env
        .inv
        .auth
        .clients
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.password.as_ref());
    let Some(source) = source else {
        return Err(Error::Usage(format!(
            "client {name}: the inventory names no password for it; nothing was changed for it"
        )));
    };
    source
        .read()
        .map_err(|e| Error::Usage(format!("client {name}: {e}; nothing was changed for it")))
}

/// etcd-deploy keeps its access once auth is on: its certificate says
/// `root`, and etcd's `root` user holds the root role.
async fn own_identity_proven(urls: &[String]) -> Result<(), Error> {
    let cn = crate::etcd::client_common_name();
    if cn.as_deref() != Some(ROOT) {
        return Err(Error::Blocked(format!(
            "auth is not turned on: etcd-deploy's client certificate has CN {} where etcd would need `root` to let it in afterwards",
            cn.unwrap_or_else(|| "(none: no TLS)".into())
        )));
    }
    let have = crate::etcd::auth::facts(urls)
        .await
        .map_err(|e| Error::Blocked(format!("auth is not turned on: {}", e.message)))?;
    if !have
        .users
        .get(ROOT)
        .is_some_and(|r| r.iter().any(|r| r == ROOT))
    {
        return Err(Error::Blocked(
            "auth is not turned on: etcd's user root does not hold the root role".into(),
        ));
    }
    Ok(())
}
