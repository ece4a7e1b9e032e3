//! Settings a running member has that `init --from-cluster` carries into
//! `[etcd] extra` (so that `adopt` keeps them): which keys are read of it
//! (`discover_member.sh`), and each value as the inventory takes it, typed
//! and checked against the cluster's version.

use super::validate;
use super::{ExtraKind, Version, etcd_keys, etcd_settings};

/// The `[etcd] extra` keys `init --from-cluster` reads of a running member
/// (`discover_member.sh`), so that adopting keeps them: every config key
/// some minor takes that the settings table does not hold, that `extra`
/// accepts, and that names no file (etcd-deploy lays out its own).
pub fn carried_extra_keys() -> impl Iterator<Item = &'static str> {
    etcd_keys::ETCD_KEYS
        .iter()
        .map(|(k, ..)| *k)
        .filter(|k| etcd_settings::setting(k).is_none() && !k.ends_with("-file"))
        .filter(|k| {
            !validate::REFUSED_KEYS
                .iter()
                .any(|(r, _)| k == r || (r.ends_with('-') && k.starts_with(r)))
        })
}

/// The `[etcd] extra` value for `key` from `raw`, a running member's text
/// for it (a flag's, an environment variable's or its config file's), when
/// etcd `version` takes the key and the text is of its type.
pub fn carried_extra_value(key: &str, raw: &str, version: Version) -> Option<toml::Value> {
    let (_, kind, _) = etcd_keys::ETCD_KEYS.iter().find(|(k, ..)| *k == key)?;
    if validate::key_refusal(key, version).is_some() {
        return None;
    }
    let raw = raw.trim();
    Some(match kind {
        ExtraKind::Bool => match raw {
            "" | "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            _ => return None,
        },
        ExtraKind::Int => toml::Value::Integer(raw.parse::<u32>().ok()?.into()),
        ExtraKind::Duration => toml::Value::Integer(go_duration_ns(raw)?),
        ExtraKind::Text => toml::Value::String(raw.to_string()),
    })
}

/// A Go duration (`1m30s`, `100ms`; a bare number is nanoseconds, as in
/// etcd's config file) in nanoseconds.
fn go_duration_ns(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|n| *n > 0)?;
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    (total.is_finite() && (0.0..9.2e18).contains(&total)).then_some(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A running member's text for a setting, as `[etcd] extra` gets it.
    #[test]
    fn carried_settings_take_the_type_and_name_the_version_wants() {
        let v36 = Version::parse("3.6.17").expect("version");
        let v35 = Version::parse("3.5.36").expect("version");
        let cases: [(&str, &str, Version, Option<toml::Value>); 9] = [
            (
                "feature-gates",
                "InitialCorruptCheck=true",
                v36,
                Some(toml::Value::String("InitialCorruptCheck=true".into())),
            ),
            ("feature-gates", "InitialCorruptCheck=true", v35, None),
            (
                "compaction-batch-limit",
                "500",
                v36,
                Some(toml::Value::Integer(500)),
            ),
            ("compaction-batch-limit", "lots", v36, None),
            (
                "compaction-sleep-interval",
                "1m30.5s",
                v36,
                Some(toml::Value::Integer(90_500_000_000)),
            ),
            (
                "compaction-sleep-interval",
                "10ms",
                v36,
                Some(toml::Value::Integer(10_000_000)),
            ),
            ("compaction-sleep-interval", "10 parsecs", v36, None),
            ("enable-pprof", "", v36, Some(toml::Value::Boolean(true))),
            ("enable-pprof", "maybe", v36, None),
        ];
        for (key, raw, version, want) in cases {
            assert_eq!(
                carried_extra_value(key, raw, version),
                want,
                "{key}={raw} on {version}"
            );
        }
        let carried: Vec<&str> = carried_extra_keys().collect();
        for not in ["name", "data-dir", "force-new-cluster", "client-cert-file"] {
            assert!(!carried.contains(&not), "{not}");
        }
        assert!(carried.contains(&"feature-gates"));
    }
}
