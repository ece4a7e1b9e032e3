//! `[etcd]` (and a host's `etcd`): the tuning fields and `extra`, checked
//! against etcd's own config keys for the cluster's version; keys
//! etcd-deploy sets itself or that only a recovery or a test should set are
//! refused.

use super::*;
use crate::inventory::spelling::{Renamed, renamed, table_minor};

/// Builds settings from `raw`, each unset field taken from `base` (or etcd's default).
pub(super) fn build_settings(
    cx: &Ctx,
    raw: &RawEtcd,
    base: Option<&EtcdSettings>,
    version: Version,
) -> Result<EtcdSettings, InventoryError> {
    let heartbeat = raw
        .heartbeat_interval_ms
        .as_ref()
        .map(|h| *h.get_ref())
        .or(base.map(|b| b.heartbeat_interval_ms))
        .unwrap_or(100);
    let election = raw
        .election_timeout_ms
        .as_ref()
        .map(|e| *e.get_ref())
        .or(base.map(|b| b.election_timeout_ms))
        .unwrap_or(1000);
    // Where to point: the field set here, else the one set in [etcd].
    let at = |f: Option<&Spanned<u32>>| f.map_or(0..0, |v| v.span());
    let span = raw
        .election_timeout_ms
        .as_ref()
        .or(raw.heartbeat_interval_ms.as_ref());
    if heartbeat == 0 {
        return Err(cx.at(
            at(raw.heartbeat_interval_ms.as_ref()),
            "etcd.heartbeat_interval_ms: must be at least 1",
        ));
    }
    // etcd refuses to start with more (its own limit).
    if election > 50_000 {
        return Err(cx.at(
            at(raw.election_timeout_ms.as_ref()),
            format!("etcd.election_timeout_ms: {election} is above etcd's maximum of 50000"),
        ));
    }
    if u64::from(election) < u64::from(heartbeat) * 5 {
        return Err(cx.at(
            at(span),
            format!(
                "etcd.election_timeout_ms ({election}) must be at least 5 times etcd.heartbeat_interval_ms ({heartbeat})"
            ),
        ));
    }
    let auto_compaction_mode = match &raw.auto_compaction_mode {
        Some(m) if !matches!(m.get_ref().as_str(), "periodic" | "revision") => {
            return Err(cx.field(
                m,
                "etcd.auto_compaction_mode",
                format!(
                    "`{}`: expected \"periodic\" or \"revision\"",
                    shown(m.get_ref())
                ),
            ));
        }
        Some(m) => Some(m.get_ref().clone()),
        None => base.and_then(|b| b.auto_compaction_mode.clone()),
    };
    let auto_compaction_retention = match &raw.auto_compaction_retention {
        Some(r) if !valid_retention(r.get_ref()) => {
            return Err(cx.field(
                r,
                "etcd.auto_compaction_retention",
                format!(
                    "`{}`: expected a number (hours, or revisions in revision mode) or a duration like \"1h\" or \"30m\"",
                    shown(r.get_ref())
                ),
            ));
        }
        Some(r) => Some(r.get_ref().clone()),
        None => base.and_then(|b| b.auto_compaction_retention.clone()),
    };
    let log_level = match &raw.log_level {
        Some(l)
            if !matches!(
                l.get_ref().as_str(),
                "debug" | "info" | "warn" | "error" | "panic" | "fatal"
            ) =>
        {
            return Err(cx.field(
                l,
                "etcd.log_level",
                format!(
                    "`{}`: expected debug, info, warn, error, panic or fatal",
                    l.get_ref()
                ),
            ));
        }
        Some(l) => l.get_ref().clone(),
        None => base.map_or_else(|| "info".to_string(), |b| b.log_level.clone()),
    };
    let extra = build_extra(cx, raw, base, version)?;
    Ok(EtcdSettings {
        heartbeat_interval_ms: heartbeat,
        election_timeout_ms: election,
        snapshot_count: raw.snapshot_count.or(base.and_then(|b| b.snapshot_count)),
        quota_backend_bytes: raw
            .quota_backend_bytes
            .or(base.and_then(|b| b.quota_backend_bytes)),
        auto_compaction_mode,
        auto_compaction_retention,
        log_level,
        extra,
    })
}

/// `extra`: the base's keys, then this table's, each a key of etcd's
/// config file for `version` (never one etcd-deploy sets, never one only a
/// recovery or a test should set) with a value of its type.
fn build_extra(
    cx: &Ctx,
    raw: &RawEtcd,
    base: Option<&EtcdSettings>,
    version: Version,
) -> Result<BTreeMap<String, toml::Value>, InventoryError> {
    let mut extra = base.map(|b| b.extra.clone()).unwrap_or_default();
    if let Some(table) = &raw.extra {
        for k in table.get_ref().keys() {
            // etcd's config keys are lowercase words joined by '-'; anything
            // else could not be one (and a newline would add YAML lines).
            let plain = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && k.as_bytes()[0].is_ascii_lowercase();
            let normal = k.trim().to_ascii_lowercase().replace('_', "-");
            if etcd_settings::managed(&normal) {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!(
                        "`{}` is set by etcd-deploy itself; use the inventory's own field for it",
                        shown(k)
                    ),
                ));
            }
            if let Some((_, instead)) = REFUSED_KEYS
                .iter()
                .find(|(key, _)| normal == *key || (key.ends_with('-') && normal.starts_with(key)))
            {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!("`{}` is not set through the inventory: {instead}", shown(k)),
                ));
            }
            if !plain {
                return Err(cx.field(
                    table,
                    "etcd.extra",
                    format!(
                        "`{}` is not an etcd config key (lowercase words joined by '-', like max-request-bytes)",
                        shown(k)
                    ),
                ));
            }
            check_extra(cx, table, k, &table.get_ref()[k], version)?;
        }
        extra.extend(table.get_ref().iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(extra)
}

/// Settings only a recovery or a test should set, and what does the job
/// safely (a key ending in `-` refuses every key it begins).
pub(crate) const REFUSED_KEYS: [(&str, &str); 4] = [
    (
        "force-new-cluster",
        "a member that keeps it makes a one-member cluster of itself at every restart; `etcd-deploy recover` uses it once and takes it out again",
    ),
    (
        "unsafe-",
        "etcd's unsafe settings (no fsync) lose acknowledged writes when a host loses power",
    ),
    (
        "discovery",
        "the members are the inventory's hosts; etcd-deploy writes initial-cluster itself",
    ),
    (
        "discovery-",
        "the members are the inventory's hosts; etcd-deploy writes initial-cluster itself",
    ),
];

/// etcd's auto-compaction-retention: a number, or a Go duration (`1h30m`).
pub(super) fn valid_retention(r: &str) -> bool {
    if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let mut rest = r;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(*u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// An `extra` key must be one etcd's config file takes in the cluster's
/// minor version (etcd ignores unknown keys silently), with a value of its type.
pub(super) fn check_extra(
    cx: &Ctx,
    table: &Spanned<BTreeMap<String, toml::Value>>,
    key: &str,
    value: &toml::Value,
    version: Version,
) -> Result<(), InventoryError> {
    let known = etcd_keys::ETCD_KEYS.iter().find(|(k, ..)| *k == key);
    let Some(&(_, kind, _)) = known else {
        return Err(cx.field(
            table,
            "etcd.extra",
            format!("`{}` is not a key of etcd's config file", shown(key)),
        ));
    };
    if let Some(why) = key_refusal(key, version) {
        return Err(cx.field(table, "etcd.extra", why));
    }
    let fits = match kind {
        ExtraKind::Bool => value.is_bool(),
        ExtraKind::Int | ExtraKind::Duration => value.as_integer().is_some_and(|i| i >= 0),
        ExtraKind::Text => value.is_str(),
    };
    if !fits {
        let want = match kind {
            ExtraKind::Bool => "true or false",
            ExtraKind::Int => "a whole number",
            ExtraKind::Duration => {
                "a whole number of nanoseconds (etcd reads durations so in its config file)"
            }
            ExtraKind::Text => "a string",
        };
        return Err(cx.field(table, "etcd.extra", format!("`{key}` takes {want}")));
    }
    // The unit lets etcd write only its data (and WAL) directory, named in
    // a systemd drop-in: a plain absolute path, as data_dir.
    if key == "wal-dir"
        && let Some(p) = value.as_str()
    {
        if !plain_abs_path(p) {
            return Err(cx.field(
                table,
                "etcd.extra",
                format!(
                    "`wal-dir` must be an absolute path of letters, digits and / . _ - + @, not `{}`",
                    shown(p)
                ),
            ));
        }
        // etcd makes the WAL as `<wal-dir>.tmp` and renames it: it writes the
        // parent, which etcd-deploy therefore gives it (and must not be shared).
        let p = p.trim_end_matches('/');
        let parent = p.rsplit_once('/').map_or("", |(a, _)| a);
        if path_rule::verdict(parent) != Verdict::Dedicated {
            return Err(cx.field(
                table,
                "etcd.extra",
                format!(
                    "`wal-dir` `{p}`: etcd writes the WAL directory's parent `{parent}`, so it must be a directory of its own below {} (like /srv/etcd/wal), see docs/security.md",
                    path_rule::ROOTS.join(", ")
                ),
            ));
        }
    }
    // etcd refuses to start on a URL list it cannot parse (one member at a
    // time would fail and be rolled back; better to say so here).
    if key.ends_with("-urls")
        && let Some(list) = value.as_str()
        && !list.split(',').all(|u| valid_url(u.trim()))
    {
        return Err(cx.field(
            table,
            "etcd.extra",
            format!(
                "`{key}` takes comma-separated http:// or https:// URLs with a host and port, not `{}`",
                shown(list)
            ),
        ));
    }
    Ok(())
}

/// Warnings for `extra` keys that `version` still takes under a name it
/// deprecated (3.6 takes the `experimental-*` names 3.7 no longer does).
pub(super) fn deprecated_names(
    extra: &BTreeMap<String, toml::Value>,
    version: Version,
) -> Vec<String> {
    let minor = table_minor(version);
    extra
        .keys()
        .filter_map(|k| match renamed(k, minor)? {
            Renamed::Since { new, since } => Some(format!(
                "etcd.extra: `{k}` is deprecated since etcd 3.{since} and gone in a later minor; use `{new}` (a minor upgrade past it would be refused)"
            )),
            Renamed::Before { .. } => None,
        })
        .collect()
}

/// Why etcd `version` does not take config key `key` (a key of some etcd
/// version), naming its spelling there when a minor renamed it; `None`
/// when it takes it. Also what refuses a version change whose target does
/// not take a setting the inventory has (`Inventory::extra_refusal`).
pub(crate) fn key_refusal(key: &str, version: Version) -> Option<String> {
    let minor = table_minor(version);
    let (_, _, minors) = etcd_keys::ETCD_KEYS.iter().find(|(k, ..)| *k == key)?;
    if minors.contains(&minor) {
        return None;
    }
    let only: Vec<String> = minors.iter().map(|m| format!("3.{m}")).collect();
    let why = match renamed(key, minor) {
        Some(Renamed::Since { new, since }) => match new.strip_prefix("feature-gates=") {
            Some(gate) => {
                format!("etcd 3.{since} made it a feature gate: feature-gates = \"{gate}\"")
            }
            None => format!("etcd 3.{since} renamed it `{new}`"),
        },
        Some(Renamed::Before { old, since }) => format!("before 3.{since} its name is `{old}`"),
        None => match minors.iter().max() {
            Some(last) if *last < minor => {
                format!(
                    "only of {}: etcd 3.{} removed it",
                    only.join(", "),
                    last + 1
                )
            }
            _ => format!("only of {}", only.join(", ")),
        },
    };
    Some(format!(
        "`{key}` is not a config key of etcd {}.{} ({why})",
        version.major, version.minor
    ))
}
