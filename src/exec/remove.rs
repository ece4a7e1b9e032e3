//! A member leaving the cluster (scale-in, the second half of a
//! replacement): quorum checked again against the live membership,
//! leadership moved off it, `member remove`, then its service stopped and
//! disabled over SSH, its data kept or wiped as the plan says.

use super::Env;
use super::gates::{etcd_err, guard, leader_url, move_leadership, retry, urls};
use crate::error::Error;
use crate::etcd::{self, Kind};
use crate::facts::MemberInfo;
use crate::inventory::{Member, host_of_url, valid_address, valid_name};
use crate::plan::{Data, ids_of, quorum};
use crate::remote;
use crate::ssh::{Host, HostError};
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs one removal; `live` holds the inventory members known to serve.
pub(super) async fn run(
    env: &Env<'_>,
    name: &str,
    id: u64,
    data: Data,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let task = env.progress.task(name);
    guard(&task, async {
        let cluster = urls(env, live).await?;
        let list = etcd::member_list(&cluster)
            .await
            .map_err(|e| etcd_err(name, "read member list", e))?;
        let Some(entry) = list.iter().find(|e| e.id == id) else {
            task.step("already removed");
            return Ok(());
        };
        quorum::check_removal(&list, &[id], &ids_of(&list, live))
            .map_err(|why| HostError::new(name, "member remove", why.to_string()))?;
        // Its host, reached like the inventory's hosts but at its advertised address.
        let member = retired_member(env, name, entry);
        let host = match &member {
            Some(m) => Host::connect(m).await.map_err(|e| e.to_string()),
            None => Err(
                "its name or advertised address is not one etcd-deploy would use (see `etcdctl member list`)"
                    .to_string(),
            ),
        };
        let leader = leader_url(env, live).await.ok();
        let leader_is_it = match &leader {
            Some(u) => etcd::status(u).await.map(|s| s.id == id).unwrap_or(false),
            None => true,
        };
        if leader_is_it && let (Some(m), Ok(h)) = (&member, &host) {
            task.step("move leadership to another member");
            let url = env.access.url(m, h).await?;
            move_leadership(env, name, &url, id, None, live).await?;
        }
        task.step(&format!("member remove {id:x}"));
        retry(name, "member remove", Duration::from_secs(30), || async {
            match etcd::remove_member(&cluster, id).await {
                Err(e) if e.kind == Kind::MemberNotFound => Ok(()),
                r => r,
            }
        })
        .await?;
        let wipe = data == Data::Wipe;
        match host {
            Ok(h) => {
                task.step(if wipe {
                    "stop and disable etcd, wipe its data"
                } else {
                    "stop and disable etcd (data kept)"
                });
                let r = match &member {
                    Some(m) => h.run("stop removed member", &remote::retire(env.inv, m, wipe)).await,
                    None => Ok(String::new()),
                };
                h.close().await;
                r?;
            }
            Err(why) => env.progress.line(&format!(
                "warning: {name}: removed from the cluster, but its host could not be reached to stop etcd ({why}); stop and disable etcd there by hand"
            )),
        }
        Ok(())
    })
    .await?;
    task.done("removed from the cluster, etcd stopped");
    Ok(())
}

/// A stand-in `Member` for a host that left the inventory: the inventory's
/// SSH settings and layout, its own name, address and ports. These come from
/// etcd's member list, not from the operator: a name or address etcd-deploy
/// would not accept in an inventory gives no host (the member still leaves
/// the cluster; stopping it is left to the operator, with a warning).
fn retired_member(env: &Env<'_>, name: &str, e: &MemberInfo) -> Option<Member> {
    if !valid_name(name) {
        return None;
    }
    let template = env.inv.members.first()?;
    let peer = e.peer_urls.first()?;
    let port = |u: &str| {
        u.rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
    };
    // Client URLs carry the host's address; peer URLs may carry a container name.
    let address = e
        .client_urls
        .first()
        .and_then(|u| host_of_url(u))
        .or_else(|| host_of_url(peer))
        .filter(|a| valid_address(a))?;
    let mut m = template.clone();
    m.name = name.to_string();
    m.ssh.address = address.clone();
    m.peer_port = port(peer)?;
    m.client_port = e
        .client_urls
        .first()
        .and_then(|u| port(u))
        .unwrap_or(template.client_port);
    m.advertise = address;
    Some(m)
}
