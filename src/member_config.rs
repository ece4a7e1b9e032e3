//! Builds one member's etcd config file (read with `--config-file`) as data
//! and writes it with the YAML emitter (`yaml.rs`): values are never spliced
//! into text. Pure: same inventory and member in, same bytes out, which is
//! what the digest in the file's first line is compared against.

use crate::files::sha256_hex;
use crate::inventory::etcd_settings::{self, Written};
use crate::inventory::{Inventory, Member};
use crate::layout::{self, CLUSTER_MARKER, DIGEST_MARKER};
use crate::yaml::{self, Entry, KeyError, Node, Scalar};
use serde::Serialize;

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

/// Renders the config of `member`; `bootstrap` adds the first-start fields.
pub fn render(
    inv: &Inventory,
    member: &Member,
    bootstrap: Option<&Bootstrap>,
) -> Result<Rendered, KeyError> {
    render_with(inv, member, bootstrap.map(|b| first_start(inv, b)))
}

/// The config for `recover`'s one start of the seed member: its settings
/// and `force-new-cluster: true` (with `--config-file`, etcd ignores
/// command-line flags, so the flag must be in the file).
pub fn render_force_new_cluster(inv: &Inventory, member: &Member) -> Result<Rendered, KeyError> {
    render_with(
        inv,
        member,
        Some(vec![
            Entry::Comment(
                "One start only (etcd-deploy recover): membership becomes this member alone.",
            ),
            Entry::Pair("force-new-cluster".into(), Node::Scalar(Scalar::Bool(true))),
        ]),
    )
}

/// The config of pass 1 of a move to TLS (`plan::tls_move`): peer
/// certificates in place (to dial peers that already serve TLS), everything
/// still plain HTTP. etcd 3.5 cannot serve plain gRPC beside TLS on one
/// port, so clients move with pass 2.
pub fn render_tls_certificates(
    inv: &Inventory,
    member: &Member,
    bootstrap: Option<&Bootstrap>,
) -> Result<Rendered, KeyError> {
    let more = bootstrap.map(|b| first_start(inv, b));
    let plain = Member {
        tls: false,
        ..member.clone()
    };
    let mut doc = settings(&plain);
    doc.push(pair(
        "peer-transport-security",
        transport_security(member, "peer"),
    ));
    finish(inv, doc, more)
}

fn render_with(
    inv: &Inventory,
    member: &Member,
    more: Option<Vec<Entry>>,
) -> Result<Rendered, KeyError> {
    let mut doc = settings(member);
    // With access control, members load the CA's revocation list for
    // client certificates (etcd reads it again at each new connection).
    // etcd's config file has no key for it (`client-transport-security`
    // has none, and `--client-crl-file` is ignored beside a config file):
    // the file is read into etcd's own `ClientTLSInfo.CRLFile` field by
    // name (Go's JSON matches names without regard to case, so the keys
    // stay plain), which every etcd from 3.5 to 3.7 does (its
    // `copySecurityDetails` leaves the field alone). The lab checks that a revoked certificate is
    // refused.
    if member.tls
        && inv.auth.managed()
        && matches!(inv.tls, crate::inventory::TlsMode::Generate { .. })
    {
        doc.push(pair(
            "clienttlsinfo",
            Node::Map(vec![pair(
                "crlfile",
                Node::Scalar(Scalar::Plain(layout::crl_path(member))),
            )]),
        ));
    }
    finish(inv, doc, more)
}

fn finish(
    inv: &Inventory,
    mut doc: Vec<Entry>,
    more: Option<Vec<Entry>>,
) -> Result<Rendered, KeyError> {
    let settings_only = yaml::emit(&doc)?;
    let config_digest = sha256_hex(settings_only.as_bytes());
    let body = match more {
        Some(more) => {
            doc.extend(more);
            yaml::emit(&doc)?
        }
        None => settings_only,
    };
    let config = format!(
        "{DIGEST_MARKER}{config_digest}\n{CLUSTER_MARKER}{}; edits are overwritten.\n{body}",
        inv.cluster.name,
    );
    Ok(Rendered {
        config,
        config_digest,
    })
}

fn pair(key: &str, node: Node) -> Entry {
    Entry::Pair(key.to_string(), node)
}
fn text(key: &str, v: &str) -> Entry {
    pair(key, Node::Scalar(Scalar::Str(v.to_string())))
}
fn node(v: Written) -> Node {
    match v {
        Written::Text(t) => Node::Scalar(Scalar::Str(t)),
        Written::Int(n) => Node::Scalar(Scalar::Int(i64::try_from(n).unwrap_or(i64::MAX))),
        Written::Word(w) => Node::Scalar(Scalar::Plain(w.to_string())),
        Written::Words(ws) => Node::Seq(ws.iter().map(|w| Scalar::Plain(w.to_string())).collect()),
    }
}

/// Everything but the first-start fields: the settings table's rows
/// (`inventory::etcd_settings`), the TLS sections, then `extra`.
fn settings(m: &Member) -> Vec<Entry> {
    let s = &m.settings;
    let mut doc: Vec<Entry> = etcd_settings::written(m)
        .into_iter()
        .map(|(key, v)| pair(key, node(v)))
        .collect();
    if m.tls {
        doc.push(pair(
            "client-transport-security",
            transport_security(m, "server"),
        ));
        doc.push(pair(
            "peer-transport-security",
            transport_security(m, "peer"),
        ));
    }
    for (key, value) in &s.extra {
        // Validation allows only etcd's own keys with their types (inventory).
        let v = match value {
            toml::Value::Boolean(b) => Scalar::Bool(*b),
            toml::Value::Integer(i) => Scalar::Int(*i),
            toml::Value::String(t) => Scalar::Str(t.clone()),
            other => Scalar::Str(other.to_string()),
        };
        doc.push(pair(key, Node::Scalar(v)));
    }
    doc
}

/// A `*-transport-security` map with the member's `cert` pair and the CA.
fn transport_security(m: &Member, cert: &str) -> Node {
    let dir = layout::pki_dir(m);
    let file = |name: &str| Node::Scalar(Scalar::Plain(format!("{dir}/{name}")));
    Node::Map(vec![
        pair("cert-file", file(&format!("{cert}.crt"))),
        pair("key-file", file(&format!("{cert}.key"))),
        pair("trusted-ca-file", file("ca.crt")),
        pair("client-cert-auth", Node::Scalar(Scalar::Bool(true))),
    ])
}

fn first_start(inv: &Inventory, b: &Bootstrap) -> Vec<Entry> {
    vec![
        Entry::Comment(
            "Read only on the member's first start (while its data directory is empty).",
        ),
        text("initial-cluster", &b.initial_cluster),
        text("initial-cluster-token", &inv.cluster.token),
        text("initial-cluster-state", b.state),
    ]
}
