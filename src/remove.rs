//! Removing a member that is no longer in the inventory (scale-in, the second
//! half of a replacement): safety checks, leadership off it, `member remove`,
//! then its service stopped and disabled over SSH, its data kept unless asked.

use crate::error::Error;
use crate::etcd::{self, MemberInfo};
use crate::exec::{self, Env};
use crate::inventory::{Member, host_of_url};
use crate::remote;
use crate::ssh::{Host, HostError};
use crate::upgrade;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs one removal; `live` holds the inventory members known to serve.
pub(crate) async fn run(
    env: &Env<'_>,
    name: &str,
    id: u64,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let task = env.progress.task(name);
    exec::guard(&task, async {
        let cluster = exec::urls(env, live).await?;
        let list = etcd::member_list(&cluster).await.map_err(|e| exec::etcd_err(name, "read member list", e))?;
        let Some(entry) = list.iter().find(|e| e.id == id) else {
            task.step("already removed");
            return Ok(());
        };
        check_quorum(name, &list, id, live.len())?;
        // Its host, reached like the inventory's hosts but at its advertised address.
        let member = retired_member(env, name, entry);
        let host = match &member {
            Some(m) => Host::connect(m).await.map_err(|e| e.to_string()),
            None => Err("its peer URL names no host".to_string()),
        };
        let leader = upgrade::leader_url(env, live).await.ok();
        let leader_is_it = match &leader {
            Some(u) => etcd::status(u).await.map(|s| s.id == id).unwrap_or(false),
            None => true,
        };
        if leader_is_it && let (Some(m), Ok(h)) = (&member, &host) {
            task.step("move leadership to another member");
            let url = env.access.url(m, h).await?;
            upgrade::move_leadership(env, name, &url, id, None, live).await?;
        }
        task.step(&format!("member remove {id:x}"));
        exec::retry(name, "member remove", Duration::from_secs(30), || async {
            match etcd::remove_member(&cluster, id).await {
                Err(e) if e.message.contains("member not found") => Ok(()),
                r => r,
            }
        })
        .await?;
        match host {
            Ok(h) => {
                task.step(if env.wipe { "stop and disable etcd, wipe its data" } else { "stop and disable etcd (data kept)" });
                let r = match &member {
                    Some(m) => h.run("stop removed member", &remote::retire(env.inv, m, env.wipe)).await,
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

/// Never the last member; never leave fewer healthy voters than quorum needs.
fn check_quorum(
    name: &str,
    list: &[MemberInfo],
    id: u64,
    healthy_others: usize,
) -> Result<(), Error> {
    let voters = list.iter().filter(|e| !e.is_learner).count();
    let removing_voter = list.iter().any(|e| e.id == id && !e.is_learner);
    let remaining = voters - usize::from(removing_voter);
    if remaining == 0 {
        return Err(HostError::new(
            name,
            "member remove",
            "it is the last voting member; etcd-deploy never removes the last one",
        )
        .into());
    }
    if healthy_others < remaining / 2 + 1 {
        return Err(HostError::new(
            name,
            "member remove",
            format!("{healthy_others} healthy members would remain of {remaining} voters; quorum needs {}", remaining / 2 + 1),
        )
        .into());
    }
    Ok(())
}

/// A stand-in `Member` for a host that left the inventory: the inventory's
/// SSH settings and layout, its own name, address and ports.
fn retired_member(env: &Env<'_>, name: &str, e: &MemberInfo) -> Option<Member> {
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
        .or_else(|| host_of_url(peer))?;
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
