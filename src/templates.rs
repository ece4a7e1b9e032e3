//! Renders the host's systemd unit and (compose mode) the host's compose file
//! from minijinja templates. Which host file a member needs is its runtime's
//! business (`runtime/`); etcd's config file is not a template but data
//! written by a YAML emitter (`member_config.rs`).
//!
//! The templates under `templates/` are compiled into the binary; an inventory
//! may name a directory whose files of the same name replace them. Rendering
//! is pure: same inventory and member in, same bytes out, which is what the
//! digests in the facts are compared against.

use crate::inventory::Inventory;
use crate::layout::{self, UNIT_MARKER};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use std::path::Path;

/// No longer read: the config file is written by `member_config.rs`.
pub const RETIRED_CONFIG_TEMPLATE: &str = "etcd.conf.yml.j2";
pub const UNIT_TEMPLATE: &str = "etcd.service.j2";
pub const COMPOSE_TEMPLATE: &str = "compose.yml.j2";

const BUILTIN: [(&str, &str); 2] = [
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
