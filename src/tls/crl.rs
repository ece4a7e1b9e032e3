//! Revoking client certificates for good: a `[[clients]]` entry that
//! leaves the inventory (or changes kind, certificate user to password
//! user or back) has its certificate's serial added to
//! `revoked.json` in the pki directory (its files moved to
//! `clients/revoked/`), and the CA signs a revocation list of every such
//! serial, `crl.der` (DER: etcd reads nothing else), which every member
//! loads as `client-crl-file` and reads again at each new connection — no
//! restart. The list is signed again only when the serials change, so that
//! a re-run pushes nothing.

use super::{Issuer, KeyPair, Paths, TlsError, err, read};
use crate::inventory::Inventory;
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use serde::{Deserialize, Serialize};
use std::path::Path;
use time::OffsetDateTime;

/// One revoked certificate, as `revoked.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Revoked {
    name: String,
    /// The certificate's serial, hex.
    serial: String,
    /// RFC 3339.
    at: String,
}

fn ledger(dir: &Path) -> Vec<Revoked> {
    std::fs::read_to_string(dir.join("revoked.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Revokes the certificates in `clients/` of clients the inventory no
/// longer names, then signs the list again if its serials changed.
pub(super) fn update(
    inv: &Inventory,
    p: &Paths,
    issuer: &Issuer<'_, &KeyPair>,
) -> Result<(), TlsError> {
    let clients = p.dir.join("clients");
    let mut revoked = ledger(&p.dir);
    let before = revoked.len();
    if let Ok(entries) = std::fs::read_dir(&clients) {
        for e in entries.flatten() {
            let path = e.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".crt"))
                .map(str::to_string)
            else {
                continue;
            };
            let info = super::cert_info(&read(&path)?).map_err(err)?;
            let (serial, cn) = (info.serial, info.common_name);
            // Kept while its client is, as the same kind: a client that
            // became a password user (or stopped being one) has a new
            // certificate, and the old one must not say who it is any more.
            let kept = inv
                .auth
                .clients
                .iter()
                .any(|c| c.name == name && cn.as_deref() == Some(c.cert_cn().as_str()));
            if kept {
                continue;
            }
            let serial = hex::encode(serial);
            let aside = clients.join("revoked");
            std::fs::create_dir_all(&aside)
                .map_err(|e| err(format!("{}: {e}", aside.display())))?;
            std::fs::rename(&path, aside.join(format!("{name}-{serial}.crt")))
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            let _ = std::fs::remove_file(clients.join(format!("{name}.key")));
            revoked.push(Revoked {
                name,
                serial,
                at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            });
        }
    }
    if revoked.len() != before {
        let text = serde_json::to_string_pretty(&revoked).map_err(err)?;
        crate::files::write_atomic(&p.dir.join("revoked.json"), text.as_bytes(), 0o600)
            .map_err(|e| err(format!("revoked.json: {e}")))?;
    }
    let crl = p.dir.join("crl.der");
    if revoked.len() == before && crl.is_file() {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(3650),
        crl_number: SerialNumber::from(u64::try_from(revoked.len()).unwrap_or(u64::MAX) + 1),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .filter_map(|r| hex::decode(&r.serial).ok())
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&s),
                revocation_time: now,
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let list = params.signed_by(issuer).map_err(err)?;
    crate::files::write_atomic(&crl, list.der(), 0o644)
        .map_err(|e| err(format!("{}: {e}", crl.display())))
}

/// The revocation list members load (`None`: access control is not
/// managed, or no list has been signed; an operator's pki has none).
pub fn crl(inv: &Inventory) -> Option<Vec<u8>> {
    let crate::inventory::TlsMode::Generate { dir, .. } = &inv.tls else {
        return None;
    };
    if !inv.auth.managed() {
        return None;
    }
    std::fs::read(dir.join("crl.der")).ok()
}
