//! `[auth]`, `[[roles]]`, `[[clients]]`: names etcd and certificates can
//! carry, permissions that say one thing, roles that exist, passwords that
//! come from elsewhere.

use super::super::auth::{Access, Auth, Client, PasswordSource, Permission, ROOT, Role};
use super::super::raw::{RawClient, RawRole};
use super::*;

/// The longest key or prefix a permission may name.
const MAX_KEY: usize = 1024;

pub(super) fn build_auth(
    cx: &Ctx,
    raw: &RawInventory,
    tls: &TlsMode,
) -> Result<Auth, InventoryError> {
    let mut roles: Vec<Role> = Vec::new();
    for r in &raw.roles {
        let role = build_role(cx, r)?;
        if roles.iter().any(|o| o.name == role.name) {
            return Err(cx.field(
                &r.get_ref().name,
                "roles.name",
                format!("role `{}` is declared twice", role.name),
            ));
        }
        roles.push(role);
    }
    let mut clients: Vec<Client> = Vec::new();
    for c in &raw.clients {
        let client = build_client(cx, c.get_ref(), &roles)?;
        // A certificate that is always inside its renewal window would be
        // issued again at every apply.
        if let (
            TlsMode::Generate {
                renew_before_days, ..
            },
            Some(d),
        ) = (tls, &c.get_ref().days)
            && client.days <= *renew_before_days
        {
            return Err(cx.field(
                d,
                "clients.days",
                format!(
                    "{} days is inside tls.renew_before_days ({renew_before_days}): the certificate would be issued again at every apply; give more days",
                    client.days
                ),
            ));
        }
        if clients.iter().any(|o| o.name == client.name) {
            return Err(cx.field(
                &c.get_ref().name,
                "clients.name",
                format!("client `{}` is declared twice", client.name),
            ));
        }
        clients.push(client);
    }
    let enabled = raw.auth.as_ref().and_then(|a| a.get_ref().enabled.as_ref());
    if let Some(e) = enabled
        && *e.get_ref()
        && matches!(tls, TlsMode::Off { .. })
    {
        return Err(cx.field(
            e,
            "auth.enabled",
            "etcd's auth needs [tls]: etcd-deploy reaches the cluster as user root by its client certificate, and certificate users need TLS",
        ));
    }
    Ok(Auth {
        enabled: enabled.map(|e| *e.get_ref()),
        roles,
        clients,
    })
}

fn build_role(cx: &Ctx, r: &Spanned<RawRole>) -> Result<Role, InventoryError> {
    let raw = r.get_ref();
    check_name(cx, &raw.name, "roles.name")?;
    if raw.name.get_ref() == ROOT {
        return Err(cx.field(
            &raw.name,
            "roles.name",
            "`root` is etcd's own role (everything): give it to a client with `root = true`",
        ));
    }
    let mut permissions = Vec::new();
    for p in &raw.permissions {
        let pr = p.get_ref();
        let (key, prefix) = match (&pr.key, &pr.prefix) {
            (Some(k), None) => (k, false),
            (None, Some(k)) => (k, true),
            _ => {
                return Err(cx.at(
                    p.span(),
                    "roles.permissions: name exactly one of `key` (one key) or `prefix` (every key under it)",
                ));
            }
        };
        let k = key.get_ref();
        if k.is_empty() || k.len() > MAX_KEY || k.chars().any(char::is_control) {
            return Err(cx.field(
                key,
                if prefix {
                    "roles.permissions.prefix"
                } else {
                    "roles.permissions.key"
                },
                format!(
                    "`{}` is not a key: 1 to {MAX_KEY} characters, no control characters",
                    shown(k)
                ),
            ));
        }
        let Some(access) = Access::parse(pr.access.get_ref()) else {
            return Err(cx.field(
                &pr.access,
                "roles.permissions.access",
                format!(
                    "`{}` is not one of read, write, readwrite",
                    shown(pr.access.get_ref())
                ),
            ));
        };
        permissions.push(Permission {
            key: k.clone(),
            prefix,
            access,
        });
    }
    permissions.sort();
    permissions.dedup();
    Ok(Role {
        name: raw.name.get_ref().clone(),
        permissions,
    })
}

fn build_client(cx: &Ctx, c: &RawClient, roles: &[Role]) -> Result<Client, InventoryError> {
    check_name(cx, &c.name, "clients.name")?;
    if c.name.get_ref() == ROOT {
        return Err(cx.field(
            &c.name,
            "clients.name",
            "`root` is etcd-deploy's own identity (its client certificate): name the client after who uses it",
        ));
    }
    let mut names = Vec::new();
    for r in &c.roles {
        if r.get_ref() == ROOT {
            return Err(cx.field(r, "clients.roles", "give the root role with `root = true`"));
        }
        if !roles.iter().any(|d| &d.name == r.get_ref()) {
            return Err(cx.field(
                r,
                "clients.roles",
                format!("no [[roles]] entry is named `{}`", shown(r.get_ref())),
            ));
        }
        names.push(r.get_ref().clone());
    }
    if c.root.as_ref().is_some_and(|r| *r.get_ref()) {
        names.push(ROOT.to_string());
    }
    names.sort();
    names.dedup();
    let days = match &c.days {
        None => LEAF_CERT_DAYS,
        Some(d) if (1..=3650).contains(d.get_ref()) => *d.get_ref(),
        Some(d) => return Err(cx.field(d, "clients.days", "between 1 and 3650")),
    };
    let password = match (&c.password_file, &c.password_env) {
        (None, None) => None,
        (Some(f), None) => {
            let v = f.get_ref();
            if v.is_empty() || v.chars().any(char::is_control) {
                return Err(cx.field(f, "clients.password_file", "not a path"));
            }
            let p = Path::new(v);
            let base = cx.path.parent().unwrap_or(Path::new("."));
            Some(PasswordSource::File(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }))
        }
        (None, Some(e)) => {
            let v = e.get_ref();
            let ok = v.len() <= 128
                && v.starts_with(|ch: char| ch.is_ascii_uppercase() || ch == '_')
                && v.chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_');
            if !ok {
                return Err(cx.field(
                    e,
                    "clients.password_env",
                    format!(
                        "`{}` is not an environment variable's name (A-Z, 0-9, _)",
                        shown(v)
                    ),
                ));
            }
            Some(PasswordSource::Env(v.clone()))
        }
        (Some(f), Some(_)) => {
            return Err(cx.field(
                f,
                "clients.password_file",
                "give password_file or password_env, not both",
            ));
        }
    };
    Ok(Client {
        name: c.name.get_ref().clone(),
        roles: names,
        days,
        password,
    })
}
