//! How the controller reaches each member's client port: directly, or through
//! an SSH local forward when the port cannot be routed to (firewalled, private
//! network). The choice is made once per member and remembered.

use crate::inventory::{self, Member};
use crate::ssh::{Host, HostError};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;

pub struct Access {
    mode: inventory::Access,
    urls: Mutex<HashMap<String, String>>,
    /// Members reached over another scheme than the inventory's, as their
    /// configs serve now (a TLS migration under way); set from the facts.
    schemes: std::sync::Mutex<HashMap<String, bool>>,
}

impl Access {
    pub fn new(mode: inventory::Access) -> Access {
        Access {
            mode,
            urls: Mutex::new(HashMap::new()),
            schemes: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Reach `member` over TLS (`Some(true)`), plain HTTP (`Some(false)`),
    /// or as the inventory says (`None`); a remembered URL of the other
    /// scheme is forgotten.
    pub async fn serve_as(&self, member: &Member, tls: Option<bool>) {
        let changed = match self.schemes.lock() {
            Ok(mut s) => match tls {
                Some(t) => s.insert(member.name.clone(), t) != Some(t),
                None => s.remove(&member.name).is_some(),
            },
            Err(_) => false,
        };
        if changed {
            self.urls.lock().await.remove(&member.name);
        }
    }

    /// Whether the controller talks TLS to `member` now.
    fn tls(&self, member: &Member) -> bool {
        self.schemes
            .lock()
            .ok()
            .and_then(|s| s.get(&member.name).copied())
            .unwrap_or(member.tls)
    }

    /// The member's advertised client URL in the scheme it serves now.
    pub fn client_url(&self, member: &Member) -> String {
        let scheme = if self.tls(member) { "https" } else { "http" };
        let url = member.client_url();
        match url.split_once("://") {
            Some((_, rest)) => format!("{scheme}://{rest}"),
            None => url,
        }
    }

    /// The member's client URL when it may be used without its host's SSH
    /// connection (a host that cannot be reached over SSH may still run a
    /// healthy etcd); `None` when the inventory says to tunnel.
    pub fn direct(&self, member: &Member) -> Option<String> {
        (self.mode != inventory::Access::Tunnel).then(|| self.client_url(member))
    }

    /// The client URL through the host's connection when there is one, else
    /// the direct one when the inventory allows it (`direct`).
    pub async fn url_or_direct(
        &self,
        member: &Member,
        host: Option<&Host>,
    ) -> Result<String, HostError> {
        match (host, self.direct(member)) {
            (Some(h), _) => self.url(member, h).await,
            (None, Some(u)) => Ok(u),
            (None, None) => Err(HostError::new(
                &member.name,
                "reach its client port",
                "no SSH connection to its host for the tunnel",
            )),
        }
    }

    /// The client URL to use for `member` from the controller.
    pub async fn url(&self, member: &Member, host: &Host) -> Result<String, HostError> {
        if let Some(u) = self.urls.lock().await.get(&member.name) {
            return Ok(u.clone());
        }
        let tunnel = match self.mode {
            inventory::Access::Direct => false,
            inventory::Access::Tunnel => true,
            inventory::Access::Auto => !routable(&member.advertise, member.client_port).await,
        };
        let url = if tunnel {
            let local = host.forward(&member.advertise, member.client_port).await?;
            // Member certificates name 127.0.0.1 too, so TLS checks pass through the tunnel.
            let scheme = if self.tls(member) { "https" } else { "http" };
            format!("{scheme}://{local}")
        } else {
            self.client_url(member)
        };
        self.urls
            .lock()
            .await
            .insert(member.name.clone(), url.clone());
        Ok(url)
    }
}

impl Access {
    /// The member's metrics URL as the controller reaches it, chosen like
    /// its client URL (directly, or through a forward over its host's SSH
    /// connection); `None` without a metrics listener.
    pub async fn metrics_url(
        &self,
        member: &Member,
        host: Option<&Host>,
    ) -> Result<Option<String>, HostError> {
        let (Some(port), Some(url)) = (member.metrics_port, member.metrics_url()) else {
            return Ok(None);
        };
        let tunnel = match self.mode {
            inventory::Access::Direct => false,
            inventory::Access::Tunnel => true,
            inventory::Access::Auto => !routable(&member.advertise, port).await,
        };
        if !tunnel {
            return Ok(Some(url));
        }
        let Some(h) = host else {
            return Err(HostError::new(
                &member.name,
                "reach its metrics port",
                "no SSH connection to its host for the tunnel",
            ));
        };
        let local = h.forward(&member.advertise, port).await?;
        Ok(Some(format!("http://{local}")))
    }
}

/// True when a TCP connection reaches the address: it is accepted, or refused
/// (the host answered; etcd is just not listening yet).
async fn routable(addr: &str, port: u16) -> bool {
    match tokio::time::timeout(
        Duration::from_millis(700),
        tokio::net::TcpStream::connect((addr, port)),
    )
    .await
    {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}
