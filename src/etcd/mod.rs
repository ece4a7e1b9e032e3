//! Calls to a running etcd cluster through `etcd-client`: member list and
//! status, learner add and promote, health, maintenance, snapshots. How a
//! call connects (identity, reused clients, silence) is `connect.rs`; how
//! etcd's errors are classified, `errors.rs`. Every function takes the
//! client URLs to use; how those URLs are reached (directly or through an
//! SSH tunnel) is `access.rs`'s business.

mod api;
pub(crate) mod auth;
mod connect;
mod errors;
pub(crate) mod lock;

pub(crate) use api::{EtcdApi, Live};
pub(crate) use connect::set_client_tls;
use connect::{CALL_TIMEOUT, CONNECT_TIMEOUT, bounded_connect, change, client_tls, options, read};
pub(crate) use errors::{EtcdError, Kind, why_silent};

use crate::facts::{MemberInfo, MemberStatus, printable};
use crate::tls::ClientFiles;
use etcd_client::{
    Certificate, ConnectOptions, GetOptions, Identity, MemberAddOptions, TlsOptions,
};
use std::time::Duration;

pub(crate) async fn status(url: &str) -> Result<MemberStatus, EtcdError> {
    let s = read(&[url.to_string()], |mut c| async move { c.status().await }).await?;
    let id = s.header().map_or(0, |h| h.member_id());
    Ok(MemberStatus {
        id,
        // etcd's words, shown to people: no control characters.
        version: printable(s.version()),
        leader: s.leader(),
        raft_term: s.raft_term(),
        cluster_id: s.header().map_or(0, |h| h.cluster_id()),
        raft_index: s.raft_index(),
        raft_applied_index: s.raft_applied_index(),
        db_size: s.db_size(),
        is_learner: s.is_learner(),
        errors: s.errors().to_vec(),
        revision: s.header().map_or(0, |h| h.revision()),
        db_size_in_use: s.raft_used_db_size(),
        storage_version: printable(s.storage_version()),
        downgrade_target: s
            .downgrade_info()
            .filter(|d| d.enabled())
            .map(|d| printable(d.target_version()))
            .unwrap_or_default(),
    })
}

/// Whether the member at `url` (https) accepts the client identity `id`,
/// checking its server certificate against `id.ca` only: a fresh connection
/// (never a cached one, never the controller's own identity), one status
/// call. `Err` quotes the refusal (a handshake error, etcd's answer).
pub(crate) async fn accepts(url: &str, id: &ClientFiles) -> Result<(), EtcdError> {
    let opts = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(CALL_TIMEOUT)
        .with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(&id.ca))
                .identity(Identity::from_pem(&id.cert, &id.key)),
        );
    let mut c = bounded_connect(&[url], opts).await?;
    c.status().await?;
    Ok(())
}

pub(crate) async fn member_list(urls: &[String]) -> Result<Vec<MemberInfo>, EtcdError> {
    let list = read(urls, |mut c| async move { c.member_list().await }).await?;
    Ok(list.members().iter().map(info).collect())
}

fn info(m: &etcd_client::Member) -> MemberInfo {
    MemberInfo {
        id: m.id(),
        name: m.name().to_string(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        is_learner: m.is_learner(),
    }
}

/// Adds a learner with `peer_url`; returns its ID.
pub(crate) async fn add_learner(urls: &[String], peer_url: &str) -> Result<u64, EtcdError> {
    let peer = peer_url.to_string();
    let resp = change(urls, |mut c| async move {
        c.member_add([peer], Some(MemberAddOptions::new().with_is_learner()))
            .await
    })
    .await?;
    resp.member()
        .map(|m| m.id())
        .ok_or_else(|| EtcdError::new("member add returned no member"))
}

pub(crate) async fn promote(urls: &[String], id: u64) -> Result<(), EtcdError> {
    change(urls, |mut c| async move { c.member_promote(id).await }).await?;
    Ok(())
}

/// A member is healthy when it answers, knows a leader and reports no errors;
/// a voter must also serve a linearizable read (which needs quorum).
pub(crate) async fn check_health(url: &str) -> Result<MemberStatus, EtcdError> {
    Live.check_health(url).await
}

/// A read through the member that needs the leader (and quorum).
pub(crate) async fn linearizable_read(url: &str) -> Result<(), EtcdError> {
    read(&[url.to_string()], |mut c| async move {
        c.get("health", Some(GetOptions::new().with_count_only()))
            .await
    })
    .await?;
    Ok(())
}

/// Why a voter that names a leader is still cut off from it, if it is
/// (`EtcdApi::cut_off`).
pub(crate) async fn cut_off(url: &str) -> Option<String> {
    Live.cut_off(url).await
}

/// Formats a member ID as etcd's tools do.
pub(crate) fn id_hex(id: u64) -> String {
    format!("{id:x}")
}

/// Raised alarms (NOSPACE, CORRUPT), as `(member id, alarm name)`.
pub(crate) async fn alarms(urls: &[String]) -> Result<Vec<(u64, String)>, EtcdError> {
    use etcd_client::{AlarmAction, AlarmType};
    let r = read(urls, |mut c| async move {
        c.alarm(AlarmAction::Get, AlarmType::None, None).await
    })
    .await?;
    Ok(r.alarms()
        .iter()
        .map(|a| (a.member_id(), a.alarm().as_str_name().to_string()))
        .collect())
}

/// How long one member's defragmentation may take: it rewrites the whole
/// database file (etcd's own guide: minutes for gigabytes).
const DEFRAG_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The common name of etcd-deploy's client certificate (`None` without TLS).
pub(crate) fn client_common_name() -> Option<String> {
    let t = client_tls()?;
    crate::tls::cert_info(&t.cert).ok()?.common_name
}

/// Defragments the member at `url` (only that member: etcd defragments the
/// one it is asked on). Its own connection, with a timeout long enough for
/// a big database; the member answers nothing else until it is done.
pub(crate) async fn defragment(url: &str) -> Result<(), EtcdError> {
    let mut c = bounded_connect(&[url], options(DEFRAG_TIMEOUT, &[url])).await?;
    c.defragment().await?;
    Ok(())
}

/// Compacts the key-value history up to `revision` and waits until the
/// compaction is physically done (so a defragmentation after it reclaims
/// the space).
pub(crate) async fn compact(urls: &[String], revision: i64) -> Result<(), EtcdError> {
    use etcd_client::CompactionOptions;
    let mut c = bounded_connect(urls, options(DEFRAG_TIMEOUT, urls)).await?;
    c.compact(revision, Some(CompactionOptions::new().with_physical()))
        .await?;
    Ok(())
}

/// Makes every member commit a write to its database, so that the free
/// pages a compaction left are counted (bbolt frees them only when a later
/// write transaction begins, and etcd writes only when asked to): a lease
/// granted and revoked at once, which no key sees. Refused while NOSPACE is
/// raised (etcd's quota), which callers allow for.
pub(crate) async fn commit_pending_frees(urls: &[String]) -> Result<(), EtcdError> {
    let lease = change(urls, |mut c| async move { c.lease_grant(60, None).await }).await?;
    let id = lease.id();
    change(urls, |mut c| async move { c.lease_revoke(id).await }).await?;
    Ok(())
}

/// Clears one raised alarm (`NOSPACE`, ...) of member `member`.
pub(crate) async fn disarm(urls: &[String], member: u64, kind: &str) -> Result<(), EtcdError> {
    use etcd_client::{AlarmAction, AlarmOptions, AlarmType};
    let alarm = match kind {
        "NOSPACE" => AlarmType::Nospace,
        "CORRUPT" => AlarmType::Corrupt,
        other => return Err(EtcdError::new(format!("unknown alarm {other}"))),
    };
    let mut opts = AlarmOptions::new();
    opts.with_member(member);
    change(urls, |mut c| async move {
        c.alarm(AlarmAction::Deactivate, alarm, Some(opts)).await
    })
    .await?;
    Ok(())
}

/// Asks the leader (at `leader_url`) to hand leadership to `target`.
pub(crate) async fn move_leader(leader_url: &str, target: u64) -> Result<(), EtcdError> {
    change(&[leader_url.to_string()], |mut c| async move {
        c.move_leader(target).await
    })
    .await?;
    Ok(())
}

/// One of etcd's downgrade calls (etcd 3.6 and later), with the version
/// it takes (`3.5`): `Validate` changes nothing, `Enable` sets the cluster
/// version to the target at once, `Cancel` stops a downgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Downgrade {
    Validate(String),
    Enable(String),
    Cancel,
}

/// Makes a downgrade call; etcd answers with the cluster version.
pub(crate) async fn downgrade(urls: &[String], call: Downgrade) -> Result<String, EtcdError> {
    use etcd_client::DowngradeOptions;
    let opts = match call {
        Downgrade::Validate(v) => DowngradeOptions::Validate(v),
        Downgrade::Enable(v) => DowngradeOptions::Enable(v),
        Downgrade::Cancel => DowngradeOptions::Cancel,
    };
    let r = change(urls, |c| async move {
        c.maintenance_client().downgrade(opts).await
    })
    .await?;
    Ok(printable(r.version()))
}

pub(crate) async fn remove_member(urls: &[String], id: u64) -> Result<(), EtcdError> {
    change(urls, |mut c| async move { c.member_remove(id).await }).await?;
    Ok(())
}

/// Sets a member's peer URLs (`member update`): how the others reach it.
pub(crate) async fn update_peer_urls(
    urls: &[String],
    id: u64,
    peer_urls: Vec<String>,
) -> Result<(), EtcdError> {
    change(
        urls,
        |mut c| async move { c.member_update(id, peer_urls).await },
    )
    .await?;
    Ok(())
}

/// Whether the member's metrics listener (plain HTTP) serves etcd's metrics:
/// `/metrics` answers 200 with `etcd_server_has_leader` in it.
pub(crate) async fn metrics_answer(url: &str) -> Result<(), EtcdError> {
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|e| EtcdError::new(e.to_string()))?;
    let r = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .map_err(|e| EtcdError::new(format!("{url}/metrics: {}", root_cause(&e))))?;
    if !r.status().is_success() {
        return Err(EtcdError::new(format!(
            "{url}/metrics: HTTP {}",
            r.status()
        )));
    }
    let body = r
        .text()
        .await
        .map_err(|e| EtcdError::new(format!("{url}/metrics: {e}")))?;
    if !body.contains("etcd_server_has_leader") {
        return Err(EtcdError::new(format!("{url}/metrics: not etcd's metrics")));
    }
    Ok(())
}

/// The innermost cause of an error (reqwest's own message only says a
/// request failed; the OS says why: "Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The server and cluster versions a member reports on `/version`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Versions {
    pub etcdserver: String,
    pub etcdcluster: String,
}

pub(crate) async fn versions(url: &str) -> Result<Versions, EtcdError> {
    let resp = connect::http()?
        .get(format!("{}/version", url.trim_end_matches('/')))
        .send()
        .await
        .map_err(|e| EtcdError::new(e.to_string()))?;
    let body = resp
        .bytes()
        .await
        .map_err(|e| EtcdError::new(e.to_string()))?;
    let v: Versions = serde_json::from_slice(&body)
        .map_err(|e| EtcdError::new(format!("reading /version: {e}")))?;
    Ok(Versions {
        etcdserver: printable(&v.etcdserver),
        etcdcluster: printable(&v.etcdcluster),
    })
}

/// Streams a snapshot from the member at `url` into `sink`, chunk by chunk
/// (flat memory, whatever the database's size); `progress` hears the bytes
/// so far. etcd appends the SHA256 of the database to the stream: checked
/// here while it flows. Returns the revision it holds and its size.
pub(crate) async fn snapshot_into(
    url: &str,
    sink: &mut (dyn std::io::Write + Send),
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(i64, u64), EtcdError> {
    let mut c = bounded_connect(&[url], options(Duration::from_secs(3600), &[url])).await?;
    let revision = c
        .get(
            "etcd-deploy/snapshot",
            Some(GetOptions::new().with_count_only()),
        )
        .await?
        .header()
        .map_or(0, |h| h.revision());
    let mut stream = c.snapshot().await?;
    let mut check = SnapshotCheck::default();
    while let Some(part) = stream.message().await? {
        let blob = part.blob();
        check.update(blob);
        sink.write_all(blob)
            .map_err(|e| EtcdError::new(format!("writing the snapshot: {e}")))?;
        progress(check.len);
    }
    let len = check.len;
    check.finish()?;
    Ok((revision, len))
}

/// etcd's snapshot check, computed as the bytes flow: the last 32 bytes are
/// the SHA256 of everything before them.
#[derive(Default)]
pub(crate) struct SnapshotCheck {
    hasher: sha2::Sha256,
    /// The last (up to) 32 bytes seen, not yet hashed.
    tail: Vec<u8>,
    pub(crate) len: u64,
}

impl SnapshotCheck {
    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        use sha2::Digest;
        self.len += bytes.len() as u64;
        if bytes.len() >= 32 {
            self.hasher.update(&self.tail);
            self.tail.clear();
            let (body, last) = bytes.split_at(bytes.len() - 32);
            self.hasher.update(body);
            bytes = last;
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 32 {
            let extra = self.tail.len() - 32;
            self.hasher.update(&self.tail[..extra]);
            self.tail.drain(..extra);
        }
    }

    pub(crate) fn finish(self) -> Result<(), EtcdError> {
        use sha2::Digest;
        if self.len < 32 + 512 {
            return Err(EtcdError::new(format!(
                "snapshot too short ({} bytes)",
                self.len
            )));
        }
        if self.hasher.finalize().as_slice() != self.tail.as_slice() {
            return Err(EtcdError::new(
                "snapshot checksum mismatch: the stream was corrupted",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    fn classify(code: Code, msg: &str) -> bool {
        EtcdError::from(etcd_client::Error::GRpcStatus(Status::new(code, msg))).is_transient()
    }

    /// The streaming check agrees with etcd's rule whatever the chunking.
    #[test]
    fn snapshot_check_in_any_chunks() {
        use sha2::{Digest, Sha256};
        let db: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut snap = db.clone();
        snap.extend_from_slice(&Sha256::digest(&db));
        for chunk in [1, 7, 31, 32, 33, 512, 4096, 10_000] {
            let mut c = SnapshotCheck::default();
            snap.chunks(chunk).for_each(|p| c.update(p));
            assert_eq!(c.len, snap.len() as u64);
            assert!(c.finish().is_ok(), "chunks of {chunk}");
            let mut bad = snap.clone();
            bad[100] ^= 1;
            let mut c = SnapshotCheck::default();
            bad.chunks(chunk).for_each(|p| c.update(p));
            assert!(c.finish().is_err(), "corruption, chunks of {chunk}");
        }
        let mut short = SnapshotCheck::default();
        short.update(&[0; 100]);
        assert!(short.finish().is_err());
    }

    #[test]
    fn settling_errors_are_retried_the_rest_reported_at_once() {
        assert!(classify(Code::Unavailable, "etcdserver: unhealthy cluster"));
        assert!(classify(
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member which is in sync with leader"
        ));
        assert!(classify(
            Code::FailedPrecondition,
            "etcdserver: too many learner members in cluster"
        ));
        assert!(classify(
            Code::FailedPrecondition,
            "etcdserver: re-configuration failed due to not enough started members"
        ));
        assert!(!classify(
            Code::FailedPrecondition,
            "etcdserver: Peer URLs already exists"
        ));
        assert!(!classify(Code::NotFound, "etcdserver: member not found"));
        assert!(!classify(
            Code::InvalidArgument,
            "etcdserver: bad leader transferee"
        ));
        assert!(
            classify(Code::Cancelled, "Timeout expired"),
            "the client's own deadline"
        );
        assert!(!classify(Code::Cancelled, "operation was canceled"));
    }
}
