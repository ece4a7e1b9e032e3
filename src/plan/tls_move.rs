//! Moving a running plain-HTTP cluster to TLS without downtime, when the
//! inventory turns `[tls]` on: two rolling passes, each one member at a
//! time (followers first, the leader last after moving leadership), each
//! member healthy and caught up before the next.
//!
//! 1. `Certificates`: each member gets its TLS files and its peer
//!    certificate in its config, everything still plain HTTP. Afterwards
//!    every member can dial a TLS peer with its own peer certificate.
//! 2. `Peers`: each member's peer URL becomes https (`member update`) and it
//!    restarts with its final config: peers and clients over TLS. Members
//!    not yet moved reach it over TLS; it reaches them over plain HTTP until
//!    they move. Clients move with it: etcd 3.5 cannot serve plain gRPC
//!    beside TLS on one port, so a client that must keep working lists each
//!    member's https URL beside its http one (and has a client certificate).
//!
//! And back (`[tls]` off, its `dir` kept for the controller's identity):
//! each member's peer URL becomes http and it restarts plain but for its
//! peer certificate (to dial members still on TLS); once every member has
//! moved, the usual config restarts drop the certificates.
//!
//! The run plans again after each pass (facts read anew).

use super::{RestartReason, Step, inventory_member};
use crate::facts::Facts;
use crate::inventory::Inventory;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsPass {
    /// Pass 1: peer certificates in every config; everything still plain.
    Certificates,
    /// Pass 2: peer URL https (`member update`), final config.
    Peers,
    /// Back to plain HTTP (the inventory turned `[tls]` off): peer URL http
    /// (`member update`), everything plain but its peer certificate (to
    /// dial the members still on TLS); a normal config restart drops that
    /// once every member has moved.
    Back,
}

impl TlsPass {
    /// What the plan says of the pass.
    pub fn note(self) -> &'static str {
        match self {
            TlsPass::Certificates => {
                "moving to TLS, pass 1 of 2: certificates in place, peer certificates in each config, still plain HTTP; pass 2 follows in this run"
            }
            TlsPass::Peers => {
                "moving to TLS, pass 2 of 2: each member's peer URL becomes https (member update), then it restarts with its final config (peers and clients over TLS)"
            }
            TlsPass::Back => {
                "moving back to plain HTTP: each member's peer URL becomes http (member update), then it restarts plain but for its peer certificate; config restarts without it follow in this run"
            }
        }
    }
}

/// The move writes every member's config and certificates itself, and
/// restarts the members it names (`order`, whatever config they have read):
/// those restart reasons are its own.
fn drop_restarts_it_makes(restart: &mut BTreeMap<String, Vec<RestartReason>>, order: &[String]) {
    restart.retain(|host, reasons| {
        reasons.retain(|r| {
            let moved = *r == RestartReason::StaleConfig && order.iter().any(|o| o == host);
            !(moved
                || matches!(
                    r,
                    RestartReason::ConfigChanged | RestartReason::CertificatesChanged
                ))
        });
        !reasons.is_empty()
    });
}

/// The move's step, if the cluster is moving to TLS (or back), with the
/// restart reasons it takes care of dropped from `restart`; an error when
/// it cannot go on (a host unreachable, TLS switched the wrong way, a
/// version change pending as well).
pub(super) fn decide(
    inv: &Inventory,
    facts: &Facts,
    restart: &mut BTreeMap<String, Vec<RestartReason>>,
    version_change: bool,
) -> Result<Option<Step>, String> {
    if let Some(why) = super::guards::tls_switched(inv, facts) {
        return Err(why);
    }
    let step = next(inv, facts)?;
    if let Some(Step::TlsMove { order, .. }) = &step {
        drop_restarts_it_makes(restart, order);
        if version_change {
            return Err(format!(
                "the cluster is moving to TLS ({} still on plain-HTTP peers): one change at a time; set the version back to the one it runs, apply, then change the version",
                order.join(", ")
            ));
        }
    }
    Ok(step)
}

/// The pass the cluster needs next, if it is moving to TLS: the members
/// whose peer URL is still plain http while the inventory says TLS.
fn next(inv: &Inventory, facts: &Facts) -> Result<Option<Step>, String> {
    let Some(list) = &facts.cluster.members else {
        return Ok(None);
    };
    let none = crate::facts::HostFacts::default();
    let host = |n: &str| facts.hosts.get(n).unwrap_or(&none);
    let started_tls = || {
        list.iter()
            .filter(|e| e.started())
            .filter_map(|e| Some((e, inventory_member(inv, e).filter(|m| m.tls)?)))
    };
    let plain_url =
        |e: &crate::facts::MemberInfo| e.peer_urls.iter().all(|u| u.starts_with("http://"));
    // Under way while a member's peer URL is plain or its config has no TLS.
    let under_way = started_tls().any(|(e, m)| plain_url(e) || !host(&m.name).config_tls);
    // Still to do: the peer URL, the final config, or its loading (a run
    // stopped between the config and the restart leaves it unread).
    let unfinished: Vec<&str> = if under_way {
        started_tls()
            .filter(|(e, m)| {
                let h = host(&m.name);
                plain_url(e) || !h.config_tls || h.config_stale
            })
            .map(|(_, m)| m.name.as_str())
            .collect()
    } else {
        Vec::new()
    };
    let tls: Vec<&str> = list
        .iter()
        .filter(|e| e.started() && e.peer_urls.iter().any(|u| u.starts_with("https://")))
        .filter_map(|e| inventory_member(inv, e).filter(|m| !m.tls))
        .map(|m| m.name.as_str())
        .collect();
    if unfinished.is_empty() && tls.is_empty() {
        return Ok(None);
    }
    if !facts.unreachable.is_empty() {
        return Err(format!(
            "moving the cluster to TLS needs every member, and {} cannot be reached; bring it back, then run it again",
            facts.unreachable_names()
        ));
    }
    // Pass 2 needs every running etcd to hold a peer certificate: one whose
    // config has none, or has one it has not read yet, gets pass 1 (again).
    let without_certs: Vec<&str> = unfinished
        .iter()
        .copied()
        .filter(|n| {
            let h = host(n);
            !h.config_tls && (!h.config_peer_certs || h.config_stale)
        })
        .collect();
    let (pass, mut order) = if !tls.is_empty() {
        (TlsPass::Back, tls)
    } else if without_certs.is_empty() {
        (TlsPass::Peers, unfinished)
    } else {
        (TlsPass::Certificates, without_certs)
    };
    // Members that do not serve first (they only come back), then
    // followers, the leader last.
    let leader = facts.cluster.leader();
    let is_leader = |n: &str| {
        inv.member(n)
            .and_then(|m| facts.cluster.entry(m))
            .is_some_and(|e| Some(e.id) == leader)
    };
    let serving = |n: &str| facts.cluster.status.get(n).is_some_and(|s| s.healthy());
    order.sort_by_key(|n| (serving(n), is_leader(n)));
    let leader = order.last().filter(|n| is_leader(n)).map(|n| n.to_string());
    Ok(Some(Step::TlsMove {
        pass,
        order: order.into_iter().map(String::from).collect(),
        leader,
    }))
}
