//! Who may touch which keys (`[auth]`, `[[roles]]`, `[[clients]]`): etcd's
//! users, roles and grants as the inventory declares them, planned and
//! applied like the rest (`plan::auth`). A client is a certificate's common
//! name, which etcd takes as the user's name once auth is on; a client that
//! cannot use certificates has a password, read from a file or an
//! environment variable the inventory names (never from the inventory).

use std::path::PathBuf;

/// What a permission allows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
    Readwrite,
}

impl Access {
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "readwrite" => Some(Access::Readwrite),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Readwrite => "readwrite",
        }
    }
}

/// One grant of a role: a key, or every key under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Permission {
    pub key: String,
    /// `key` is a prefix: every key that starts with it.
    pub prefix: bool,
    pub access: Access,
}

/// `[[roles]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// Where a password user's password is read from, on the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
}

impl PasswordSource {
    /// Where, as said in plans and messages (never the password).
    pub fn describe(&self) -> String {
        match self {
            PasswordSource::File(p) => format!("file {}", p.display()),
            PasswordSource::Env(v) => format!("${v}"),
        }
    }

    /// The password, read now on the controller (a line's end dropped).
    /// The error says where it was looked for, never what was found.
    pub fn read(&self) -> Result<String, String> {
        let pw = match self {
            PasswordSource::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("its password file {}: {e}", p.display()))?,
            PasswordSource::Env(v) => std::env::var(v).unwrap_or_default(),
        };
        let pw = pw.trim_end_matches(['\n', '\r']).to_string();
        if pw.is_empty() {
            return Err(format!("no password in {}", self.describe()));
        }
        Ok(pw)
    }
}

/// `[[clients]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The certificate's common name and etcd's user name.
    pub name: String,
    /// The roles it holds (`root` among them with `root = true`).
    pub roles: Vec<String>,
    /// Days its certificate is issued for (generate mode).
    pub days: u32,
    /// A password user: where its password comes from. Its certificate
    /// (members require one on every connection) names no user.
    pub password: Option<PasswordSource>,
}

impl Client {
    /// The common name of the client's certificate: its name, which etcd
    /// takes as the user; for a password user, a name no etcd user can
    /// have (the inventory's names have no spaces), so that the
    /// certificate only lets it connect and the password says who it is.
    pub fn cert_cn(&self) -> String {
        match self.password {
            None => self.name.clone(),
            Some(_) => format!("{} (password)", self.name),
        }
    }
}

/// What the inventory says about access control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// `[auth] enabled`: etcd checks every request against the user's roles.
    /// `None`: the inventory says nothing, and etcd's setting stays as it is.
    pub enabled: Option<bool>,
    pub roles: Vec<Role>,
    pub clients: Vec<Client>,
}

/// etcd's own role that may do everything (and the user of that name).
pub const ROOT: &str = "root";

impl Auth {
    /// Whether the inventory manages users and roles at all.
    pub fn managed(&self) -> bool {
        self.enabled.is_some() || !self.roles.is_empty() || !self.clients.is_empty()
    }
}
