//! The calls the executor makes to a cluster, behind one trait: `Live`
//! makes them with the functions of this module (gRPC and HTTP); the
//! executor's tests hand it an in-process fake of the cluster instead
//! (`fake.rs`). The executor reaches etcd only through `Env::etcd`.

use super::{Downgrade, EtcdError, Versions};
use crate::facts::{MemberInfo, MemberStatus};
use futures_util::future::BoxFuture;

/// An answer of the cluster, later.
pub(crate) type Answer<'a, T> = BoxFuture<'a, Result<T, EtcdError>>;

/// What the executor asks of a cluster. Each call takes the client URLs to
/// use; how they are reached is `access.rs`'s business.
pub(crate) trait EtcdApi: Send + Sync {
    fn status<'a>(&'a self, url: &'a str) -> Answer<'a, MemberStatus>;
    /// A read through the member that needs the leader (and quorum).
    fn linearizable_read<'a>(&'a self, url: &'a str) -> Answer<'a, ()>;
    fn member_list<'a>(&'a self, urls: &'a [String]) -> Answer<'a, Vec<MemberInfo>>;
    /// `member add --learner`: the new member's ID.
    fn add_learner<'a>(&'a self, urls: &'a [String], peer_url: &'a str) -> Answer<'a, u64>;
    fn promote<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()>;
    fn remove_member<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()>;
    /// Asks the leader (at `leader_url`) to hand leadership to `target`.
    fn move_leader<'a>(&'a self, leader_url: &'a str, target: u64) -> Answer<'a, ()>;
    /// `member update`: how the others reach member `id`.
    fn update_peer_urls<'a>(
        &'a self,
        urls: &'a [String],
        id: u64,
        peer_urls: Vec<String>,
    ) -> Answer<'a, ()>;
    /// The server and cluster versions on `/version`.
    fn versions<'a>(&'a self, url: &'a str) -> Answer<'a, Versions>;
    /// Raised alarms, as `(member id, alarm name)`.
    fn alarms<'a>(&'a self, urls: &'a [String]) -> Answer<'a, Vec<(u64, String)>>;
    fn disarm<'a>(&'a self, urls: &'a [String], member: u64, kind: &'a str) -> Answer<'a, ()>;
    fn defragment<'a>(&'a self, url: &'a str) -> Answer<'a, ()>;
    fn compact<'a>(&'a self, urls: &'a [String], revision: i64) -> Answer<'a, ()>;
    /// A write that makes bbolt release the pages a defragmentation freed.
    fn commit_pending_frees<'a>(&'a self, urls: &'a [String]) -> Answer<'a, ()>;
    /// One of etcd's downgrade calls; the cluster version it answers with.
    fn downgrade<'a>(&'a self, urls: &'a [String], call: Downgrade) -> Answer<'a, String>;

    /// A member is healthy when it answers, knows a leader and reports no
    /// errors; a voter must also serve a linearizable read (which needs
    /// quorum).
    fn check_health<'a>(&'a self, url: &'a str) -> Answer<'a, MemberStatus> {
        Box::pin(async move {
            let s = self.status(url).await?;
            if s.leader == 0 {
                return Err(EtcdError::transient("no leader"));
            }
            if !s.errors().is_empty() {
                return Err(EtcdError::new(s.errors().join("; ")));
            }
            if !s.is_learner {
                self.linearizable_read(url).await?;
            }
            Ok(s)
        })
    }

    /// Why a voter that names a leader is still cut off from it, if it is:
    /// it cannot serve a linearizable read (etcd's pre-vote keeps the old
    /// leader's name in its status). `None` when it serves one.
    fn cut_off<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            self.linearizable_read(url).await.err().map(|e| {
                format!(
                    "cannot serve a linearizable read (cut off from the leader?): {}",
                    e.message
                )
            })
        })
    }
}

/// The real cluster, through this module's functions.
pub(crate) struct Live;

impl EtcdApi for Live {
    fn status<'a>(&'a self, url: &'a str) -> Answer<'a, MemberStatus> {
        Box::pin(super::status(url))
    }
    fn linearizable_read<'a>(&'a self, url: &'a str) -> Answer<'a, ()> {
        Box::pin(super::linearizable_read(url))
    }
    fn member_list<'a>(&'a self, urls: &'a [String]) -> Answer<'a, Vec<MemberInfo>> {
        Box::pin(super::member_list(urls))
    }
    fn add_learner<'a>(&'a self, urls: &'a [String], peer_url: &'a str) -> Answer<'a, u64> {
        Box::pin(super::add_learner(urls, peer_url))
    }
    fn promote<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()> {
        Box::pin(super::promote(urls, id))
    }
    fn remove_member<'a>(&'a self, urls: &'a [String], id: u64) -> Answer<'a, ()> {
        Box::pin(super::remove_member(urls, id))
    }
    fn move_leader<'a>(&'a self, leader_url: &'a str, target: u64) -> Answer<'a, ()> {
        Box::pin(super::move_leader(leader_url, target))
    }
    fn update_peer_urls<'a>(
        &'a self,
        urls: &'a [String],
        id: u64,
        peer_urls: Vec<String>,
    ) -> Answer<'a, ()> {
        Box::pin(super::update_peer_urls(urls, id, peer_urls))
    }
    fn versions<'a>(&'a self, url: &'a str) -> Answer<'a, Versions> {
        Box::pin(super::versions(url))
    }
    fn alarms<'a>(&'a self, urls: &'a [String]) -> Answer<'a, Vec<(u64, String)>> {
        Box::pin(super::alarms(urls))
    }
    fn disarm<'a>(&'a self, urls: &'a [String], member: u64, kind: &'a str) -> Answer<'a, ()> {
        Box::pin(super::disarm(urls, member, kind))
    }
    fn defragment<'a>(&'a self, url: &'a str) -> Answer<'a, ()> {
        Box::pin(super::defragment(url))
    }
    fn compact<'a>(&'a self, urls: &'a [String], revision: i64) -> Answer<'a, ()> {
        Box::pin(super::compact(urls, revision))
    }
    fn commit_pending_frees<'a>(&'a self, urls: &'a [String]) -> Answer<'a, ()> {
        Box::pin(super::commit_pending_frees(urls))
    }
    fn downgrade<'a>(&'a self, urls: &'a [String], call: Downgrade) -> Answer<'a, String> {
        Box::pin(super::downgrade(urls, call))
    }
}
