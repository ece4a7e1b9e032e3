//! Renders the member's etcd config, the host's systemd unit and (compose
//! mode) the host's compose file from minijinja templates. Which host file a
//! member needs is its runtime's business (`runtime/`).
//!
//! The templates under `templates/` are compiled into the binary; an inventory
//! may name a directory whose files of the same name replace them. Rendering
//! is pure: same inventory and member in, same bytes out, which is what the
//! digests in the facts are compared against.

use crate::files::sha256_hex;
use crate::inventory::{Inventory, Member};
use crate::layout::{self, CLUSTER_MARKER, DIGEST_MARKER, UNIT_MARKER};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const CONFIG_TEMPLATE: &str = "etcd.conf.yml.j2";
pub const UNIT_TEMPLATE: &str = "etcd.service.j2";
pub const COMPOSE_TEMPLATE: &str = "compose.yml.j2";

const BUILTIN: [(&str, &str); 3] = [
    (
        CONFIG_TEMPLATE,
        include_str!("../templates/etcd.conf.yml.j2"),
    ),
    (UNIT_TEMPLATE, include_str!("../templates/etcd.service.j2")),
    (
        COMPOSE_TEMPLATE,
        include_str!("../templates/compose.yml.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {source:#}")]
    Render {
        name: String,
        source: minijinja::Error,
    },
    #[error("template directory {dir}: cannot read {name}: {source}")]
    Read {
        dir: String,
        name: String,
        source: std::io::Error,
    },
}

/// How a member joins: read by etcd only while its data directory is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bootstrap {
    /// `name=peer-url,...`
    pub initial_cluster: String,
    /// `new` or `existing`
    pub state: &'static str,
}

/// The rendered config of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub config: String,
    /// Digest of the settings only (bootstrap fields excluded): what decides a restart.
    pub config_digest: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the built-in templates, replaced by any of the same name in the
    /// inventory's `templates_dir`.
    pub fn load(inv: &Inventory) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .map_err(|source| TemplateError::Render {
                    name: "syntax".into(),
                    source,
                })?,
        );
        env.add_filter("yaml", yaml_filter);
        for (name, builtin) in BUILTIN {
            let text = match &inv.cluster.templates_dir {
                Some(dir) => read_override(dir, name)?.unwrap_or_else(|| builtin.to_string()),
                None => builtin.to_string(),
            };
            env.add_template_owned(name, text)
                .map_err(|source| TemplateError::Render {
                    name: name.to_string(),
                    source,
                })?;
        }
        Ok(Templates { env })
    }

    /// Renders the config of `member`; `bootstrap` adds the first-start fields.
    /// (The host's unit or compose file: `runtime::of(member).host_file`.)
    pub fn render(
        &self,
        inv: &Inventory,
        member: &Member,
        bootstrap: Option<&Bootstrap>,
    ) -> Result<Rendered, TemplateError> {
        let ctx = base_context(inv, member);
        let settings_only = self.render_one(
            CONFIG_TEMPLATE,
            context! { bootstrap => Value::from(()), ..ctx.clone() },
        )?;
        let config_digest = sha256_hex(settings_only.as_bytes());
        let body = match bootstrap {
            Some(b) => self.render_one(
                CONFIG_TEMPLATE,
                context! { bootstrap => Value::from(Serde(b)), ..ctx.clone() },
            )?,
            None => settings_only,
        };
        let config = format!(
            "{DIGEST_MARKER}{config_digest}\n{CLUSTER_MARKER}{}; edits are overwritten.\n{}",
            inv.cluster.name,
            ensure_newline(body)
        );
        Ok(Rendered {
            config,
            config_digest,
        })
    }

    /// Renders the systemd template unit of a host, with etcd-deploy's own
    /// first line naming the cluster (facts read it: never template text).
    pub fn render_unit(&self, inv: &Inventory) -> Result<String, TemplateError> {
        let body = ensure_newline(self.render_one(UNIT_TEMPLATE, unit_context(inv))?);
        Ok(format!("{UNIT_MARKER}{}\n{body}", inv.cluster.name))
    }

    /// Renders the compose template with `ctx` (built by the compose
    /// runtime, `runtime/compose.rs`).
    pub fn render_compose(&self, ctx: Value) -> Result<String, TemplateError> {
        Ok(ensure_newline(self.render_one(COMPOSE_TEMPLATE, ctx)?))
    }

    /// The compose template's text (part of every service's digest).
    pub fn compose_source(&self) -> String {
        self.env
            .get_template(COMPOSE_TEMPLATE)
            .map(|t| t.source().to_string())
            .unwrap_or_default()
    }

    fn render_one(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let err = |source| TemplateError::Render {
            name: name.to_string(),
            source,
        };
        self.env
            .get_template(name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)
    }
}

fn read_override(dir: &Path, name: &str) -> Result<Option<String>, TemplateError> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TemplateError::Read {
            dir: dir.display().to_string(),
            name: name.to_string(),
            source,
        }),
    }
}

fn base_context(inv: &Inventory, m: &Member) -> Value {
    let s = &m.settings;
    let extra: BTreeMap<&str, Value> = s
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), Value::from(Serde(v))))
        .collect();
    context! {
        cluster => context! { name => &inv.cluster.name, token => &inv.cluster.token, version => inv.cluster.version.to_string() },
        member => context! {
            name => &m.name,
            data_dir => layout::data_dir(m),
            peer_url => m.peer_url(),
            client_url => m.client_url(),
            listen_peer_url => m.listen_peer_url(),
            listen_client_url => m.listen_client_url(),
            advertise => &m.advertise,
            client_port => m.client_port,
            peer_port => m.peer_port,
        },
        settings => context! {
            heartbeat_interval_ms => s.heartbeat_interval_ms,
            election_timeout_ms => s.election_timeout_ms,
            snapshot_count => s.snapshot_count,
            quota_backend_bytes => s.quota_backend_bytes,
            auto_compaction_mode => &s.auto_compaction_mode,
            auto_compaction_retention => &s.auto_compaction_retention,
            log_level => &s.log_level,
            extra => extra,
        },
        paths => context! { binary => layout::etcd_binary(inv), config => layout::config_path(m), data_dir => layout::data_dir(m) },
        tls => context! { enabled => m.tls, dir => layout::pki_dir(m) },
    }
}

/// The unit is one file per host, shared by its members: no member variables.
fn unit_context(inv: &Inventory) -> Value {
    context! {
        cluster => context! { name => &inv.cluster.name, token => &inv.cluster.token, version => inv.cluster.version.to_string() },
        paths => context! { binary => layout::etcd_binary(inv), config_dir => layout::CONFIG_DIR },
    }
}

/// Writes a value as a YAML scalar or flow collection (JSON is valid YAML,
/// and quoting every string rules out YAML's surprises like `no` or `1e3`).
fn yaml_filter(v: Value) -> Result<String, minijinja::Error> {
    serde_json::to_string(&v)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
