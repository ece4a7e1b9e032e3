//! How each etcd minor spells a setting: etcd 3.6 renamed most
//! `experimental-*` keys and turned some into feature gates, 3.7 removed the
//! old names (`etcd_keys::RENAMED`). Validation uses this to name a key's
//! spelling in the inventory's version; a version change (`upgrade --to`,
//! `downgrade --to`, each leg of a chain) uses it to write every member the
//! spelling its new binary reads (`respell`).

use super::Version;
use super::etcd_keys;
use std::collections::BTreeMap;

/// What a minor's renaming says of `key` in minor `minor`.
pub(super) enum Renamed {
    /// `key` is an old name: from 3.`since` on it is `new` (a key, or
    /// `feature-gates=Gate=true`).
    Since { new: &'static str, since: u32 },
    /// `key` is a new name: before 3.`since` it was `old`.
    Before { old: &'static str, since: u32 },
}

pub(super) fn renamed(key: &str, minor: u32) -> Option<Renamed> {
    etcd_keys::RENAMED.iter().find_map(|&(old, new, since)| {
        if old == key && minor >= since {
            Some(Renamed::Since { new, since })
        } else if new == key && minor < since {
            Some(Renamed::Before { old, since })
        } else {
            None
        }
    })
}

/// The minor the key table checks `version` as: the newest it knows that
/// is not newer than `version` (a newer minor is checked as the newest).
pub(super) fn table_minor(version: Version) -> u32 {
    etcd_keys::MINORS
        .iter()
        .copied()
        .filter(|m| *m <= version.minor || version.major > 3)
        .max()
        .unwrap_or(version.minor)
}

/// Whether etcd of table minor `minor` takes config key `key`.
fn takes(key: &str, minor: u32) -> bool {
    etcd_keys::ETCD_KEYS
        .iter()
        .any(|(k, _, minors)| *k == key && minors.contains(&minor))
}

const GATES: &str = "feature-gates";

/// `extra` as etcd `version` spells it, and a line for each key written
/// under another name. A key `version` takes stays as it is; an old name
/// becomes the new one, an old boolean becomes its feature gate (merged
/// into one `feature-gates`), and back again for an older version. A key
/// with no counterpart in `version` is kept: the version change's check
/// refuses it, naming why (`Inventory::extra_refusal`).
pub(crate) fn respell(
    extra: &BTreeMap<String, toml::Value>,
    version: Version,
) -> (BTreeMap<String, toml::Value>, Vec<String>) {
    let minor = table_minor(version);
    let mut out = BTreeMap::new();
    let mut notes = Vec::new();
    let mut gates: Vec<String> = Vec::new();
    let at = format!("etcd {}.{}", version.major, version.minor);
    for (key, value) in extra {
        if key == GATES {
            let list = value.as_str().unwrap_or_default();
            if takes(GATES, minor) {
                gates.extend(gate_list(list).map(|(g, on)| format!("{g}={on}")));
                continue;
            }
            // Before feature gates: each gate as the boolean key it was.
            let mut kept = Vec::new();
            for (gate, on) in gate_list(list) {
                match old_key_of_gate(gate) {
                    Some(old) => {
                        notes.push(format!(
                            "etcd.extra: feature gate {gate} is written `{old}: {on}` for {at}"
                        ));
                        out.insert(old.to_string(), toml::Value::Boolean(on));
                    }
                    None => kept.push(format!("{gate}={on}")),
                }
            }
            if !kept.is_empty() {
                out.insert(GATES.into(), toml::Value::String(kept.join(",")));
            }
            continue;
        }
        if takes(key, minor) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        match renamed(key, minor) {
            Some(Renamed::Since { new, .. }) if new.starts_with("feature-gates=") => {
                let gate = new
                    .trim_start_matches("feature-gates=")
                    .trim_end_matches("=true");
                let on = value.as_bool().unwrap_or(true);
                notes.push(format!(
                    "etcd.extra: `{key}` is written as feature gate {gate}={on} for {at}"
                ));
                gates.push(format!("{gate}={on}"));
            }
            Some(Renamed::Since { new, .. }) if !new.contains('=') => {
                notes.push(format!("etcd.extra: `{key}` is written `{new}` for {at}"));
                out.insert(new.to_string(), value.clone());
            }
            Some(Renamed::Before { old, .. }) if !old.contains('=') => {
                notes.push(format!("etcd.extra: `{key}` is written `{old}` for {at}"));
                out.insert(old.to_string(), value.clone());
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !gates.is_empty() {
        out.insert(GATES.into(), toml::Value::String(gates.join(",")));
    }
    (out, notes)
}

/// `Gate=true,Other=false` as pairs (a gate without `=` is on, as etcd
/// reads it; a value other than true/false is kept for etcd to refuse).
fn gate_list(list: &str) -> impl Iterator<Item = (&str, bool)> {
    list.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| match g.split_once('=') {
            Some((name, v)) => (name.trim(), v.trim() != "false"),
            None => (g, true),
        })
}

/// The boolean key a feature gate replaced (3.6), if one did.
fn old_key_of_gate(gate: &str) -> Option<&'static str> {
    let new = format!("feature-gates={gate}=true");
    etcd_keys::RENAMED
        .iter()
        .find(|(_, n, _)| *n == new)
        .map(|(old, ..)| *old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    fn extra(pairs: &[(&str, toml::Value)]) -> BTreeMap<String, toml::Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn shown(m: &BTreeMap<String, toml::Value>) -> Vec<String> {
        m.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Each row: the inventory's keys, the version they are written for,
    /// the keys written.
    #[test]
    fn each_version_gets_its_own_spelling() {
        use toml::Value::{Boolean as B, Integer as I, String as S};
        type Case<'a> = (Vec<(&'a str, toml::Value)>, &'a str, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            // 3.5 names on 3.6: taken as they are (deprecated there).
            (
                vec![("experimental-compact-hash-check-time", I(60))],
                "3.6.17",
                vec!["experimental-compact-hash-check-time=60"],
            ),
            // 3.5 names on 3.7: the new names, booleans as gates.
            (
                vec![
                    ("experimental-compact-hash-check-time", I(60)),
                    ("experimental-initial-corrupt-check", B(true)),
                    ("experimental-txn-mode-write-with-shared-buffer", B(false)),
                ],
                "3.7.4",
                vec![
                    "compact-hash-check-time=60",
                    "feature-gates=\"InitialCorruptCheck=true,TxnModeWriteWithSharedBuffer=false\"",
                ],
            ),
            // Gates already set are kept beside the converted ones.
            (
                vec![
                    ("feature-gates", S("StopGRPCServiceOnDefrag=true".into())),
                    ("experimental-initial-corrupt-check", B(true)),
                ],
                "3.7.4",
                vec!["feature-gates=\"InitialCorruptCheck=true,StopGRPCServiceOnDefrag=true\""],
            ),
            // 3.6 names back to 3.5 (a downgrade).
            (
                vec![
                    ("compact-hash-check-time", I(60)),
                    (
                        "feature-gates",
                        S("InitialCorruptCheck=true,TxnModeWriteWithSharedBuffer=false".into()),
                    ),
                ],
                "3.5.36",
                vec![
                    "experimental-compact-hash-check-time=60",
                    "experimental-initial-corrupt-check=true",
                    "experimental-txn-mode-write-with-shared-buffer=false",
                ],
            ),
            // No counterpart: kept, for the version change to refuse.
            (
                vec![("enable-v2", B(true))],
                "3.6.17",
                vec!["enable-v2=true"],
            ),
            (
                vec![("feature-gates", S("NoSuchGate=true".into()))],
                "3.5.36",
                vec!["feature-gates=\"NoSuchGate=true\""],
            ),
        ];
        for (keys, version, want) in cases {
            let (got, _) = respell(&extra(&keys), v(version));
            assert_eq!(shown(&got), want, "{keys:?} for {version}");
        }
    }

    #[test]
    fn says_what_it_wrote_under_another_name() {
        let (_, notes) = respell(
            &extra(&[(
                "experimental-initial-corrupt-check",
                toml::Value::Boolean(true),
            )]),
            v("3.7.4"),
        );
        assert_eq!(
            notes,
            [
                "etcd.extra: `experimental-initial-corrupt-check` is written as feature gate InitialCorruptCheck=true for etcd 3.7"
            ]
        );
    }
}
