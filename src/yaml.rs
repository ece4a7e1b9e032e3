//! A small YAML emitter for the files etcd-deploy writes as YAML (etcd's
//! config file). The document is built as data and only this file turns it
//! into text, so no value can become YAML syntax: keys are checked, every
//! string that is not provably a plain word is double-quoted with escapes.

use std::fmt::Write as _;

/// A scalar value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// Always double-quoted (JSON string syntax, a subset of YAML's).
    Str(String),
    /// Written bare when it can only be read back as this string (letters,
    /// digits, `/ . _ -`, not a YAML 1.1 boolean or null); quoted otherwise.
    Plain(String),
    Int(i64),
    Bool(bool),
}

/// A value: a scalar, a flow sequence of scalars, or a block mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Scalar(Scalar),
    Seq(Vec<Scalar>),
    Map(Vec<Entry>),
}

/// One line (or block) of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Pair(String, Node),
    /// A `# ...` line; the text is etcd-deploy's own.
    Comment(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("YAML key {0:?} is not a plain key (lowercase letters, digits, '-')")]
pub struct KeyError(pub String);

/// Writes a block mapping, one key per line, nested maps indented by two.
pub(crate) fn emit(entries: &[Entry]) -> Result<String, KeyError> {
    let mut out = String::new();
    emit_map(&mut out, entries, 0)?;
    Ok(out)
}

fn emit_map(out: &mut String, entries: &[Entry], indent: usize) -> Result<(), KeyError> {
    for e in entries {
        let pad = " ".repeat(indent);
        match e {
            Entry::Comment(c) => {
                let _ = writeln!(out, "{pad}# {}", c.replace(['\n', '\r'], " "));
            }
            Entry::Pair(k, v) => {
                if !plain_key(k) {
                    return Err(KeyError(k.clone()));
                }
                match v {
                    Node::Scalar(s) => {
                        let _ = writeln!(out, "{pad}{k}: {}", scalar(s));
                    }
                    Node::Seq(items) => {
                        let items: Vec<String> = items.iter().map(scalar).collect();
                        let _ = writeln!(out, "{pad}{k}: [{}]", items.join(", "));
                    }
                    Node::Map(inner) => {
                        let _ = writeln!(out, "{pad}{k}:");
                        emit_map(out, inner, indent + 2)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn plain_key(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Plain(p) if plain_word(p) => p.clone(),
        Scalar::Str(t) | Scalar::Plain(t) => quoted(t),
    }
}

/// Double-quoted with JSON's escapes, which YAML's double-quoted style shares.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// True when YAML 1.1 and 1.2 both read `s` unquoted as exactly this string.
fn plain_word(s: &str) -> bool {
    const SPECIAL: [&str; 14] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf", "Null",
        "NULL",
    ];
    let first_ok = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
    first_ok
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        && !SPECIAL.iter().any(|w| w.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(k: &str, v: Node) -> Entry {
        Entry::Pair(k.into(), v)
    }

    #[test]
    fn values_cannot_become_syntax() {
        let doc = [
            pair(
                "name",
                Node::Scalar(Scalar::Str("x\ndata-dir: /etc\n\"".into())),
            ),
            pair(
                "a",
                Node::Scalar(Scalar::Plain("/etc/etcd/pki/a.crt".into())),
            ),
            pair("b", Node::Scalar(Scalar::Plain("no".into()))),
            pair("c", Node::Scalar(Scalar::Plain("1e3".into()))),
            pair("d", Node::Scalar(Scalar::Plain("a: b".into()))),
            pair("e", Node::Seq(vec![Scalar::Plain("stderr".into())])),
            pair(
                "f",
                Node::Map(vec![pair("g", Node::Scalar(Scalar::Bool(true)))]),
            ),
            Entry::Comment("why"),
            pair("h", Node::Scalar(Scalar::Int(-3))),
        ];
        assert_eq!(
            emit(&doc).as_deref(),
            Ok("name: \"x\\ndata-dir: /etc\\n\\\"\"\n\
                a: /etc/etcd/pki/a.crt\n\
                b: \"no\"\n\
                c: \"1e3\"\n\
                d: \"a: b\"\n\
                e: [stderr]\n\
                f:\n  g: true\n\
                # why\n\
                h: -3\n")
        );
    }

    #[test]
    fn keys_are_checked_not_quoted() {
        for bad in ["data-dir\nx", "Data-Dir", "data-dir ", "", "-x", "a:b"] {
            assert_eq!(
                emit(&[pair(bad, Node::Scalar(Scalar::Int(1)))]),
                Err(KeyError(bad.into()))
            );
        }
    }
}
