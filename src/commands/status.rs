//! `status`: one row per member, from what each member says of itself.

use super::output::{self, Mode};
use super::{Open, Session, with_session};
use crate::error::Error;
use crate::etcd;
use crate::etcd_log::log_cause;
use crate::facts::{Facts, printable, unreachable_reason};
use crate::inventory::Member;
use crate::runtime;
use crate::tls;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    /// The SSH address: members sharing a host are listed together.
    pub host: String,
    pub id: Option<String>,
    pub client_url: String,
    pub version: Option<String>,
    /// The cluster version it reports (`/version`'s `etcdcluster`): what
    /// every member may use; it moves only once all run the new minor.
    pub cluster_version: Option<String>,
    /// The version of its database file (etcd 3.6 and later).
    pub storage_version: Option<String>,
    pub leader: bool,
    pub learner: bool,
    pub raft_term: Option<u64>,
    pub raft_index: Option<u64>,
    pub db_size: Option<i64>,
    /// `healthy`, or why not.
    pub health: String,
    /// When the member's server certificate expires (RFC 3339), with TLS.
    pub cert_expires: Option<String>,
    /// Its metrics URL (what Prometheus scrapes), when it has a listener.
    pub metrics_url: Option<String>,
}

/// Prints one row per inventory member, reachable or not, and returns
/// whether every member is healthy. Bounded by the SSH connect timeout (all
/// hosts in parallel) plus etcd's own short timeouts.
pub async fn status(path: &Path) -> Result<bool, Error> {
    with_session(path, &Open::early_facts(), async |s: &Session| {
        let facts = s.facts().await?;
        let rows =
            futures_util::future::join_all(s.inv.members.iter().map(|m| row(s, &facts, m))).await;
        let mut rows: Vec<Row> = rows;
        // Grouped by host, in the order hosts first appear in the inventory.
        let first: Vec<String> = rows.iter().map(|r| r.host.clone()).collect();
        rows.sort_by_key(|r| first.iter().position(|h| *h == r.host));
        let all_healthy = rows.iter().all(|r| r.health == "healthy");
        if let Some(who) = super::run_lock::shown(s, &facts).await {
            eprintln!("run lock: held by {who}");
        }
        match output::mode() {
            Mode::Json => println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            ),
            Mode::Text => print!("{}", table(&rows)),
        }
        Ok(all_healthy)
    })
    .await
}

/// The cause of a failing member, from its own log (`etcd_log::log_cause`).
async fn log_cause_of(s: &Session, m: &Member) -> Option<String> {
    let host = s.hosts.get(&m.name)?;
    let log = host
        .run("read the log", &runtime::of(m).logs(&s.inv, m))
        .await
        .ok()?;
    log_cause(&log)
}

/// What is known of one member: what it says of itself, else what its host
/// says, else why neither could be asked.
async fn row(s: &Session, facts: &Facts, m: &Member) -> Row {
    let entry = facts.cluster.entry(m);
    let host_facts = facts.hosts.get(&m.name);
    let unreachable = facts.unreachable.get(&m.name);
    let url = s
        .access
        .url_or_direct(m, s.hosts.get(&m.name))
        .await
        .map_err(|e| e.detail);
    // A member the facts found healthy (it answered, names a leader,
    // reports no error and served a linearizable read moments ago) is not
    // asked again; any other is, for the reason. Its cluster version and
    // its metrics are asked meanwhile.
    let gathered = facts.cluster.status.get(&m.name).filter(|st| st.healthy());
    let cluster_version = async {
        match &url {
            Ok(url) => etcd::versions(url).await.ok().map(|v| v.etcdcluster),
            Err(_) => None,
        }
    };
    let health = async {
        match (&url, gathered) {
            (_, Some(st)) => (Some(st.clone()), Ok(())),
            (Err(e), None) => (None, Err(e.clone())),
            (Ok(url), None) => match etcd::check_health(url).await {
                Ok(st) => (Some(st), Ok(())),
                Err(e) => (etcd::status(url).await.ok(), Err(printable(&e.to_string()))),
            },
        }
    };
    let metrics = async {
        match host_facts.is_some_and(|h| h.active) {
            true => metrics_trouble(s, m).await,
            false => None,
        }
    };
    let (cluster_version, (status, etcd_health), metrics) =
        tokio::join!(cluster_version, health, metrics);
    let mut problems = Vec::new();
    if let Some(why) = unreachable {
        problems.push(format!(
            "host unreachable over SSH ({})",
            unreachable_reason(why)
        ));
    }
    match (&etcd_health, host_facts) {
        (Ok(()), _) => {}
        (Err(_), Some(h)) if h.crash_looping => problems.push(match log_cause_of(s, m).await {
            Some(cause) => format!("crash-looping: {cause}"),
            None => "crash-looping (see its log)".into(),
        }),
        (Err(_), Some(h)) if !h.active && entry.is_some_and(|e| e.started()) => {
            problems.push("down (etcd is not running)".into())
        }
        // No member answers (no member list): a host with data is a
        // stopped member, not a missing one.
        (Err(_), Some(h)) if !h.active && h.has_data => {
            problems.push("down (etcd is not running)".into())
        }
        (Err(_), Some(h)) if !h.active && entry.is_none() => {
            problems.push("not a member (run apply)".into())
        }
        (Err(e), _) => match &status {
            Some(st) => problems.push(st.trouble().unwrap_or_else(|| format!("unhealthy: {e}"))),
            None => problems.push(format!("etcd does not answer ({e})")),
        },
    }
    problems.extend(metrics);
    if let Some(st) = &status {
        let mine = format!("on {:x}", st.id);
        for a in facts.cluster.alarms.iter().filter(|a| a.ends_with(&mine)) {
            problems.push(format!("alarm {}", a.trim_end_matches(&mine).trim()));
        }
    }
    let expiry = server_cert_expiry(s, m);
    let health = if problems.is_empty() {
        "healthy".to_string()
    } else {
        problems.join("; ")
    };
    Row {
        name: m.name.clone(),
        host: m.ssh.address.clone(),
        id: status
            .as_ref()
            .map(|st| st.id)
            .or(entry.map(|e| e.id))
            .map(etcd::id_hex),
        // Mid-way through a move to TLS (or back): the scheme it serves now.
        client_url: s.access.client_url(m),
        version: status.as_ref().map(|st| st.version.clone()),
        cluster_version,
        storage_version: status
            .as_ref()
            .map(|st| st.storage_version.clone())
            .filter(|v| !v.is_empty()),
        leader: status.as_ref().is_some_and(|st| st.leader == st.id),
        learner: status
            .as_ref()
            .map(|st| st.is_learner)
            .or(entry.map(|e| e.is_learner))
            .unwrap_or(false),
        raft_term: status.as_ref().map(|st| st.raft_term),
        raft_index: status.as_ref().map(|st| st.raft_index),
        db_size: status.as_ref().map(|st| st.db_size),
        health,
        cert_expires: expiry.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        metrics_url: m.metrics_url(),
    }
}

/// When the member's server certificate expires (TLS), with a warning
/// when that is less than 30 days away.
fn server_cert_expiry(s: &Session, m: &Member) -> Option<std::time::SystemTime> {
    let t = tls::member_files(&s.inv, m)
        .ok()
        .flatten()
        .and_then(|f| tls::cert_info(&f.server_cert).ok())
        .map(|i| i.not_after)?;
    let left = t
        .duration_since(std::time::SystemTime::now())
        .map(|d| d.as_secs() / 86400)
        .unwrap_or(0);
    if left < 30 {
        eprintln!(
            "warning: {}: its server certificate expires in {left} days; run `etcd-deploy certs rotate`",
            m.name
        );
    }
    Some(t)
}

/// Why the member's metrics listener does not serve etcd's metrics, when
/// it has one and it does not.
async fn metrics_trouble(s: &Session, m: &Member) -> Option<String> {
    let url = match s.access.metrics_url(m, s.hosts.get(&m.name)).await {
        Ok(u) => u?,
        Err(e) => return Some(format!("metrics listener not reached ({})", e.detail)),
    };
    etcd::metrics_answer(&url).await.err().map(|e| {
        format!(
            "metrics listener does not answer ({})",
            printable(&e.message)
        )
    })
}

fn table(rows: &[Row]) -> String {
    let dash = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.host.clone(),
                r.name.clone(),
                r.id.clone().unwrap_or_else(dash),
                r.client_url.clone(),
                r.version.clone().unwrap_or_else(dash),
                r.cluster_version.clone().unwrap_or_else(dash),
                r.storage_version.clone().unwrap_or_else(dash),
                if r.leader { "*".into() } else { String::new() },
                if r.learner {
                    "yes".into()
                } else {
                    String::new()
                },
                r.raft_term.map_or_else(dash, |v| v.to_string()),
                r.raft_index.map_or_else(dash, |v| v.to_string()),
                r.db_size
                    .map_or_else(dash, |b| super::human_bytes(u64::try_from(b).unwrap_or(0))),
                r.cert_expires
                    .as_deref()
                    .map_or_else(dash, |t| t.get(..10).unwrap_or(t).to_string()),
                r.health.clone(),
            ]
        })
        .collect();
    super::table(
        &[
            "HOST",
            "NAME",
            "ID",
            "CLIENT URL",
            "VERSION",
            "CLUSTER",
            "STORAGE",
            "LEADER",
            "LEARNER",
            "TERM",
            "INDEX",
            "DB SIZE",
            "CERT EXPIRES",
            "HEALTH",
        ],
        &cells,
    )
}
