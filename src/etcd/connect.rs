//! Connections to etcd: the controller's TLS identity, clients kept and
//! reused within a run (per set of endpoints), endpoints that met silence
//! remembered, and the two ways a call is made (a read retried once on a
//! fresh connection, a change never repeated).

use super::EtcdError;
use crate::tls::ClientFiles;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// etcd-deploy's client identity, once TLS is on; set once per process.
static CLIENT_TLS: std::sync::RwLock<Option<ClientFiles>> = std::sync::RwLock::new(None);

/// The controller's identity for https members; set per session (a CA
/// rotation changes it between passes), dropping connections made with
/// another one.
pub(crate) fn set_client_tls(files: Option<ClientFiles>) {
    if let Ok(mut t) = CLIENT_TLS.write() {
        if *t != files {
            if let Ok(mut m) = CLIENTS.lock() {
                m.clear();
            }
            if let Ok(mut h) = HTTP.lock() {
                *h = None;
            }
        }
        *t = files;
    }
}

/// The HTTP client for etcd's HTTP endpoints (`/version`, the auth status),
/// made once per identity and shared by every call of the run: its
/// connections (and their TLS handshakes) are kept and reused.
static HTTP: Mutex<Option<reqwest::Client>> = Mutex::new(None);

/// The shared HTTP client (`HTTP`), with the controller's identity for
/// https members when TLS is on.
pub(super) fn http() -> Result<reqwest::Client, EtcdError> {
    let mut shared = HTTP
        .lock()
        .map_err(|_| EtcdError::new("the HTTP client's lock is poisoned"))?;
    if let Some(c) = &*shared {
        return Ok(c.clone());
    }
    let mut b = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .use_rustls_tls();
    if let Some(t) = client_tls() {
        let ca = reqwest::Certificate::from_pem(t.ca.as_bytes())
            .map_err(|e| EtcdError::new(format!("the CA certificate: {e}")))?;
        let id = reqwest::Identity::from_pem(format!("{}\n{}", t.cert, t.key).as_bytes())
            .map_err(|e| EtcdError::new(format!("the client certificate: {e}")))?;
        b = b.add_root_certificate(ca).identity(id);
    }
    let c = b.build().map_err(|e| EtcdError::new(e.to_string()))?;
    *shared = Some(c.clone());
    Ok(c)
}

pub(super) fn client_tls() -> Option<ClientFiles> {
    CLIENT_TLS.read().ok().and_then(|t| t.clone())
}

/// Connection options; the client identity only for https endpoints (a
/// plain-HTTP member, e.g. during a move to TLS, is asked without TLS).
pub(super) fn options<S: AsRef<str>>(timeout: Duration, urls: &[S]) -> ConnectOptions {
    let opts = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(timeout);
    if !urls.iter().any(|u| u.as_ref().starts_with("https://")) {
        return opts;
    }
    match client_tls() {
        Some(t) => opts.with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(&t.ca))
                .identity(Identity::from_pem(&t.cert, &t.key)),
        ),
        None => opts,
    }
}

/// Clients reused within a run, one per set of endpoints (a member's own
/// URL, or the cluster's): the health and catch-up loops ask every 50 to
/// 100 ms, and a connection per call cost a TCP (and TLS) handshake each.
static CLIENTS: LazyLock<Mutex<HashMap<Vec<String>, Client>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Endpoints that did not answer at all within the connect timeout in this
/// run (packets dropped: a host powered off, a partition), with when: asked
/// again only after `SILENT_FOR`, so that one probe of a silent member
/// costs one connect timeout, not one per call.
static SILENT: LazyLock<Mutex<HashMap<Vec<String>, std::time::Instant>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const SILENT_FOR: Duration = Duration::from_secs(10);

fn silent_error() -> EtcdError {
    EtcdError::transient(format!(
        "no answer within {} s",
        CONNECT_TIMEOUT.as_secs_f32()
    ))
}

/// Whether `urls` stayed silent in the last `SILENT_FOR`.
fn silent(urls: &[String]) -> bool {
    SILENT
        .lock()
        .ok()
        .and_then(|m| m.get(urls).copied())
        .is_some_and(|at| at.elapsed() < SILENT_FOR)
}

/// A connection attempt that failed after `took`: one that waited out the
/// whole connect timeout met silence (no refusal, no answer), remembered.
fn note_silence(urls: &[String], took: Duration) -> bool {
    let quiet = took + Duration::from_millis(100) >= CONNECT_TIMEOUT;
    if quiet && let Ok(mut m) = SILENT.lock() {
        m.insert(urls.to_vec(), std::time::Instant::now());
    }
    quiet
}

pub(super) async fn client(urls: &[String]) -> Result<Client, EtcdError> {
    if let Some(c) = CLIENTS.lock().ok().and_then(|m| m.get(urls).cloned()) {
        return Ok(c);
    }
    if silent(urls) {
        return Err(silent_error());
    }
    let began = std::time::Instant::now();
    connect(urls).await.map_err(|e| {
        if note_silence(urls, began.elapsed()) {
            silent_error()
        } else {
            e
        }
    })
}

async fn connect(urls: &[String]) -> Result<Client, EtcdError> {
    // One scheme per connection: mid-way through a move to TLS some members
    // serve https and the rest plain http; those already moved are asked.
    let https: Vec<&String> = urls.iter().filter(|u| u.starts_with("https://")).collect();
    let c = if !https.is_empty() && https.len() < urls.len() {
        bounded_connect(&https, options(CALL_TIMEOUT, &https)).await?
    } else {
        bounded_connect(urls, options(CALL_TIMEOUT, urls)).await?
    };
    if let Ok(mut m) = CLIENTS.lock() {
        m.insert(urls.to_vec(), c.clone());
    }
    Ok(c)
}

/// `Client::connect`, bounded as a whole: the connect timeout covers the TCP
/// connection only, and a TLS handshake with a process that accepted it but
/// never answers (stopped, hung) would wait for ever.
pub(super) async fn bounded_connect<S: AsRef<str>>(
    urls: &[S],
    opts: ConnectOptions,
) -> Result<Client, EtcdError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(urls, Some(opts))).await {
        Ok(c) => Ok(c?),
        Err(_) => Err(EtcdError::transient(format!(
            "no answer within {} s (timed out)",
            CONNECT_TIMEOUT.as_secs_f32()
        ))),
    }
}

/// A failure of the connection rather than an answer from etcd: the cached
/// client is dropped, so that the next call connects afresh (a member that
/// restarted, a tunnel that was reopened).
fn connection_lost(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => matches!(
            s.code(),
            tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        _ => false,
    }
}

/// The connection was never made (a lazy connect failed inside the call),
/// as opposed to an answer from etcd.
fn never_connected(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            s.code() == tonic::Code::Unavailable && s.message() == "tcp connect error"
        }
        _ => false,
    }
}

pub(super) fn forget(urls: &[String]) {
    if let Ok(mut m) = CLIENTS.lock() {
        m.remove(urls);
    }
}

/// A read: on a lost connection, asked once more on a fresh one.
pub(super) async fn read<T, F, Fut>(urls: &[String], f: F) -> Result<T, EtcdError>
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let began = std::time::Instant::now();
    match bounded(urls, f(client(urls).await?)).await? {
        Err(e) if connection_lost(&e) => {
            forget(urls);
            // A lazy connection that met silence: not asked again.
            if never_connected(&e) && note_silence(urls, began.elapsed()) {
                return Err(silent_error());
            }
            Ok(bounded(urls, f(client(urls).await?)).await??)
        }
        r => Ok(r?),
    }
}

/// A call bounded as a whole: etcd-client's timeout covers the request once
/// a connection is ready, not the wait for one (a TLS handshake with a
/// process that accepted the connection but never answers: stopped, hung).
/// Past it the connection is dropped (not counted as silence: a member
/// that is starting holds calls the same way until it is ready).
async fn bounded<T>(urls: &[String], call: impl Future<Output = T>) -> Result<T, EtcdError> {
    match tokio::time::timeout(CALL_TIMEOUT + CONNECT_TIMEOUT, call).await {
        Ok(r) => Ok(r),
        Err(_) => {
            forget(urls);
            Err(EtcdError::transient(format!(
                "no answer within {} s (timed out)",
                (CALL_TIMEOUT + CONNECT_TIMEOUT).as_secs_f32()
            )))
        }
    }
}

/// A change (member add, promote, remove, leader move): never repeated here,
/// since it may have been applied; the callers' retries know how to resume.
pub(super) async fn change<T, F, Fut>(urls: &[String], f: F) -> Result<T, EtcdError>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    match bounded(urls, f(client(urls).await?)).await? {
        Err(e) => {
            if connection_lost(&e) {
                forget(urls);
            }
            Err(e.into())
        }
        Ok(v) => Ok(v),
    }
}
