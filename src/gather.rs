//! Gathers the facts: every host's facts script over SSH and every running
//! member's own view of the cluster, in parallel. What comes back is parsed
//! in `facts.rs`; nothing here decides anything.

use crate::access::Access;
use crate::etcd;
use crate::facts::{ClusterFacts, HostFacts, MemberStatus};
use crate::inventory::{Inventory, valid_url};
use crate::runtime;
use crate::ssh::{Host, HostError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Reads every connected host's facts in parallel; a host whose facts
/// script fails (its connection dropped) is returned with the reason.
pub(crate) async fn hosts(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
) -> (BTreeMap<String, HostFacts>, BTreeMap<String, String>) {
    let jobs = inv.members.iter().filter_map(|m| {
        let host = hosts.get(&m.name)?;
        Some(async move { (m.name.clone(), host_facts(inv, m, host).await) })
    });
    let mut facts = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for (name, r) in futures_util::future::join_all(jobs).await {
        match r {
            Ok(f) => {
                facts.insert(name, f);
            }
            Err(e) => {
                failed.insert(name, e);
            }
        }
    }
    (facts, failed)
}

/// One member's host facts (its facts script), or why they could not be read.
pub(crate) async fn host_facts(
    inv: &Inventory,
    m: &crate::inventory::Member,
    host: &Host,
) -> Result<HostFacts, String> {
    use crate::progress::{Verbosity, detail, verbosity};
    let clocked = verbosity() >= Verbosity::Verbose;
    let script = match clocked {
        true => crate::remote::clocked(runtime::facts_script(inv, m)),
        false => runtime::facts_script(inv, m),
    };
    let out = host
        .run("gather facts", &script)
        .await
        .map_err(|e| HostError::to_string(&e))?;
    // -v: the script's own time on the host, beside the round trip above.
    if let Some(us) = out
        .lines()
        .find_map(|l| l.strip_prefix("script_took_us="))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|_| clocked)
    {
        detail(
            &m.name,
            &format!(
                "the facts script ran {:.1} ms on the host",
                us as f64 / 1000.0
            ),
        );
    }
    Ok(HostFacts::parse(&out))
}

/// Which members the cluster facts ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Those etcd-deploy runs (and those whose host SSH cannot reach): what
    /// planning decides on.
    Running,
    /// Every member, whoever started its etcd: for the commands that only
    /// use etcd's API (a cluster made by hand, described by `init
    /// --from-cluster`).
    Every,
}

/// How long a member whose etcd has just started may take to answer
/// before its status counts.
const SETTLE: Duration = Duration::from_secs(10);

/// The member's status, asked again every 250 ms while it is not healthy,
/// for at most `wait`.
async fn settled_status(url: &str, wait: Duration) -> Result<MemberStatus, String> {
    let deadline = Instant::now() + wait;
    loop {
        let status = etcd::status(url).await;
        let settled = matches!(&status, Ok(s) if s.healthy());
        if settled || Instant::now() >= deadline {
            return status.map_err(|e| etcd::why_silent(&e.message));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asks every running member for its status and one of them for the member list.
pub(crate) async fn cluster(
    inv: &Inventory,
    hosts: &BTreeMap<String, Host>,
    host_facts: &BTreeMap<String, HostFacts>,
    unreachable: &BTreeMap<String, String>,
    access: &Access,
    ask: Ask,
) -> ClusterFacts {
    // Running members, and members whose host SSH cannot reach (their etcd
    // may still serve: asked directly unless the inventory says tunnel).
    let jobs = inv.members.iter().filter_map(|m| {
        let host = hosts.get(&m.name);
        let active = host_facts.get(&m.name).is_some_and(|f| f.active) || ask == Ask::Every;
        let running = active && host.is_some();
        let direct = access.direct(m).is_some() && unreachable.contains_key(&m.name);
        if !running && !direct {
            return None;
        }
        // Started moments ago (a run killed during its restart): asked
        // again until it answers healthy or has had SETTLE to come up.
        let settle = host_facts
            .get(&m.name)
            .and_then(|f| f.member_age)
            .and_then(|age| SETTLE.checked_sub(Duration::from_secs(age)))
            .unwrap_or_default();
        Some(async move {
            let url = access.url_or_direct(m, host).await.ok()?;
            let mut status = match settled_status(&url, settle).await {
                Ok(s) => s,
                Err(why) => return Some(Err((m.name.clone(), why))),
            };
            // A follower cut off from the leader still names it (etcd's
            // pre-vote keeps it); only a linearizable read shows the cut.
            if status.healthy()
                && let Some(why) = etcd::cut_off(&url).await
            {
                status.errors.push(why);
            }
            Some(Ok((m.name.clone(), url, status)))
        })
    });
    let (answers, silent): (Vec<_>, Vec<_>) = futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .flatten()
        .partition(Result::is_ok);
    let answers: Vec<_> = answers.into_iter().filter_map(Result::ok).collect();
    let silent: BTreeMap<String, String> = silent.into_iter().filter_map(Result::err).collect();
    let urls: Vec<String> = answers.iter().map(|(_, u, _)| u.clone()).collect();
    if urls.is_empty() {
        return ClusterFacts {
            silent,
            ..ClusterFacts::default()
        };
    }
    let (members, versions, alarms) = tokio::join!(
        etcd::member_list(&urls),
        etcd::versions(&urls[0]),
        etcd::alarms(&urls)
    );
    let members = members.ok();
    let (auth, auth_unread) = match inv.auth.managed() {
        false => (None, None),
        true => match etcd::auth::facts(&urls).await {
            Ok(mut a) => {
                if a.enabled {
                    a.passwords = etcd::auth::check_passwords(&urls, password_users(inv, &a)).await;
                }
                (Some(a), None)
            }
            Err(e) => (None, Some(crate::facts::printable_upto(&e.message, 300))),
        },
    };
    let known: Vec<String> = inv.members.iter().map(|m| m.peer_url()).collect();
    let others = members
        .iter()
        .flatten()
        .filter(|e| {
            !e.peer_urls
                .iter()
                .any(|u| known.iter().any(|k| crate::inventory::same_endpoint(u, k)))
        })
        .map(|e| async move {
            // A URL from etcd's member list, asked only when it is one
            // etcd-deploy itself would write.
            let status = match e.client_urls.first().filter(|u| valid_url(u)) {
                Some(u) => etcd::status(u).await.ok(),
                None => None,
            };
            (e.id, status)
        });
    let others = futures_util::future::join_all(others)
        .await
        .into_iter()
        .collect();
    ClusterFacts {
        members,
        status: answers.into_iter().map(|(n, _, s)| (n, s)).collect(),
        cluster_version: versions.ok().map(|v| v.etcdcluster),
        alarms: alarms
            .unwrap_or_default()
            .into_iter()
            .map(|(id, a)| crate::facts::alarm_label(&a, id))
            .collect(),
        others,
        silent,
        auth,
        auth_unread,
    }
}

/// The inventory's password users that etcd has, each with its password
/// as this controller reads it (or why it cannot).
fn password_users(
    inv: &Inventory,
    have: &crate::facts::AuthFacts,
) -> Vec<(String, Result<String, String>)> {
    inv.auth
        .clients
        .iter()
        .filter(|c| have.users.contains_key(&c.name))
        .filter_map(|c| Some((c.name.clone(), c.password.as_ref()?.read())))
        .collect()
}
