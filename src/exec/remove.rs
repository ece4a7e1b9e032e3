//! A member leaving the cluster (scale-in, the second half of a
//! replacement): quorum checked again against the live membership,
//! leadership moved off it, `member remove`, then its service stopped and
//! disabled over SSH, its data kept or wiped as the plan says.

use super::Env;
use super::gates::{etcd_err, guard, leader_url, move_leadership, quorum_gate, retry, urls};
use crate::error::Error;
use crate::etcd::Kind;
use crate::facts::RecordedMember;
use crate::inventory::{Member, valid_address, valid_name};
use crate::plan::Data;
use crate::records;
use crate::remote;
use crate::ssh::Host;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs one removal; `live` holds the inventory members known to serve.
pub(super) async fn run(
    env: &Env<'_>,
    name: &str,
    id: u64,
    recorded: Option<&RecordedMember>,
    data: Data,
    live: &BTreeSet<String>,
) -> Result<(), Error> {
    let task = env.progress.task(name);
    let stopped = guard(&task, async {
        let cluster = urls(env, live).await?;
        let list = env
            .etcd
            .member_list(&cluster)
            .await
            .map_err(|e| etcd_err(name, "read member list", e))?;
        // Its host, reached only as etcd-deploy's own record says.
        let member = recorded.and_then(|r| retired_member(env, name, r));
        let host = match &member {
            Some(m) => env.dial.connect(m).await.map_err(|e| e.to_string()),
            None => Err("etcd-deploy has no record of its host".to_string()),
        };
        if !list.iter().any(|e| e.id == id) {
            task.step("already removed from the cluster");
            return stop_on_host(env, name, member.as_ref(), host, data, &task).await;
        }
        task.step("check quorum");
        quorum_gate(env, name, "remove it", &[id], &[], live).await?;
        let leader = leader_url(env, live).await.ok();
        let leader_is_it = match &leader {
            Some(u) => env
                .etcd
                .status(u)
                .await
                .map(|s| s.id == id)
                .unwrap_or(false),
            None => true,
        };
        if leader_is_it && let (Some(m), Ok(h)) = (&member, &host) {
            task.step("move leadership to another member");
            let url = env.access.url(m, h).await?;
            move_leadership(env, name, &url, id, None, live).await?;
        }
        task.step(&format!("member remove {id:x}"));
        retry(name, "member remove", Duration::from_secs(30), || async {
            match env.etcd.remove_member(&cluster, id).await {
                Err(e) if e.kind == Kind::MemberNotFound => Ok(()),
                r => r,
            }
        })
        .await?;
        stop_on_host(env, name, member.as_ref(), host, data, &task).await
    })
    .await?;
    task.done(&format!(
        "removed from the cluster, {outcome}",
        outcome = stopped.outcome()
    ));
    Ok(())
}

/// Stops and disables a former member's etcd on its recorded host (an
/// earlier run removed it from the cluster and was stopped before this):
/// the `Retire` step.
pub(super) async fn retire(
    env: &Env<'_>,
    name: &str,
    recorded: &RecordedMember,
    data: Data,
) -> Result<(), Error> {
    let task = env.progress.task(name);
    let outcome = guard(&task, async {
        let member = retired_member(env, name, recorded);
        let host = match &member {
            Some(m) => env.dial.connect(m).await.map_err(|e| e.to_string()),
            None => Err("its record is not one etcd-deploy would write".to_string()),
        };
        stop_on_host(env, name, member.as_ref(), host, data, &task).await
    })
    .await?;
    task.done(&format!("no longer a member, {}", outcome.outcome()));
    Ok(())
}

/// What became of a removed member's etcd.
#[derive(Clone, Copy)]
enum Stopped {
    Yes,
    HostUnreachable,
}

impl Stopped {
    fn outcome(self) -> &'static str {
        match self {
            Stopped::Yes => "etcd stopped and disabled",
            Stopped::HostUnreachable => "its etcd NOT stopped (host unreachable; see the warning)",
        }
    }
}

/// Stops (and with `Data::Wipe`, wipes) a removed member on its host, then
/// drops etcd-deploy's record of it.
async fn stop_on_host(
    env: &Env<'_>,
    name: &str,
    member: Option<&Member>,
    host: Result<Host, String>,
    data: Data,
    task: &crate::progress::Task,
) -> Result<Stopped, Error> {
    let wipe = data == Data::Wipe;
    let stopped = match host {
        Ok(h) => {
            task.step(if wipe {
                "stop and disable etcd, wipe its data"
            } else {
                "stop and disable etcd (data kept)"
            });
            let r = match member {
                Some(m) => {
                    h.run("stop removed member", &remote::retire(env.inv, m, wipe))
                        .await
                }
                None => Ok(String::new()),
            };
            h.close().await;
            r?;
            Stopped::Yes
        }
        Err(why) => {
            env.progress.warn(&format!(
                "{name}: not a member any more, but its host could not be reached to stop etcd ({why}); stop and disable etcd there by hand"
            ));
            Stopped::HostUnreachable
        }
    };
    if let Err(e) = records::forget(env.inv, env.hosts, name).await {
        env.progress.warn(&format!(
            "{name}: etcd-deploy's records could not be updated everywhere ({e}); the next run writes them again"
        ));
    }
    Ok(stopped)
}

/// A stand-in `Member` for a host that left the inventory: the inventory's
/// SSH settings and layout, with the recorded name, SSH destination,
/// address and ports.
fn retired_member(env: &Env<'_>, name: &str, r: &RecordedMember) -> Option<Member> {
    if !valid_name(name) || !valid_address(&r.address) || !valid_address(&r.advertise) {
        return None;
    }
    let mut m = env.inv.members.first()?.clone();
    m.name = name.to_string();
    m.ssh.address = r.address.clone();
    m.ssh.port = r.port;
    m.ssh.user = r.user.clone().or(m.ssh.user);
    m.advertise = r.advertise.clone();
    m.client_port = r.client_port;
    m.peer_port = r.peer_port;
    Some(m)
}
