//! TLS material on the controller: a cluster CA and certificates generated
//! with rcgen (`mode = "generate"`), or the operator's own files checked
//! before anything is pushed (`mode = "provided"`). Both use one layout in
//! the inventory's TLS directory:
//!
//! ```text
//! ca.crt  [ca.key]               the cluster CA (its key only when generated)
//! <member>.server.crt/.key       what the member presents to clients
//! <member>.peer.crt/.key         what the member presents to and checks of its peers
//! client.crt/.key                etcd-deploy's own client identity
//! operator.crt/.key              for people using etcdctl (see `etcd-deploy env`)
//! ca-new.crt/.key, ca-rotation    only while `certs rotate-ca` is under way
//! ```
//!
//! A CA rotation (`rotate_ca`) takes three passes, each rolled out before the
//! next, so that no member ever refuses a peer: `ca.crt` becomes old + new
//! CA (everyone trusts both); then the new CA signs every certificate (new
//! first in `ca.crt`, its key in `ca.key`); then `ca.crt` is the new CA only.
//!
//! Keys are written with mode 0600 and never printed or logged.

mod crl;
mod offline;
mod rotation;
mod trust;

pub use crl::crl;
pub use offline::{ca_key_offline, client_of, issue_operator};
pub use rotation::{
    CaPass, Probe, ProbeIds, ca_rotation, finish as finish_rotation, probe_ids, rotate_ca,
};
pub use trust::{fingerprints, foreign_ca, has_ca, pki_dir};

use crate::inventory::{Inventory, Member, TlsMode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
#[error("tls: {0}")]
pub struct TlsError(pub String);

fn err(what: impl std::fmt::Display) -> TlsError {
    TlsError(what.to_string())
}

/// The files of one member, as pushed to its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFiles {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub peer_cert: String,
    pub peer_key: String,
}

impl MemberFiles {
    /// The files in `layout::PKI_FILES` order, with their modes.
    pub fn files(&self) -> [(&'static str, &str, &'static str); 5] {
        [
            ("ca.crt", &self.ca, "0644"),
            ("server.crt", &self.server_cert, "0644"),
            ("server.key", &self.server_key, "0600"),
            ("peer.crt", &self.peer_cert, "0644"),
            ("peer.key", &self.peer_key, "0600"),
        ]
    }

    /// What the host's `pki_digest` fact must be.
    pub fn digest(&self) -> String {
        let all: String = self.files().iter().map(|(_, text, _)| *text).collect();
        crate::files::sha256_hex(all.as_bytes())
    }
}

/// A client identity (certificate, key) and the CA that signs the servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

pub struct Paths {
    dir: PathBuf,
}

impl Paths {
    pub fn new(dir: &Path) -> Paths {
        Paths {
            dir: dir.to_path_buf(),
        }
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    fn ca_new(&self) -> PathBuf {
        self.dir.join("ca-new.crt")
    }
    fn ca_new_key(&self) -> PathBuf {
        self.dir.join("ca-new.key")
    }
    fn rotation(&self) -> PathBuf {
        self.dir.join("ca-rotation")
    }
    /// The old CA during a rotation's last pass (its key was replaced in
    /// `ca.key` by pass 2): kept to check that no member trusts it any more.
    fn ca_old(&self) -> PathBuf {
        self.dir.join("ca-old.crt")
    }
    fn ca_old_key(&self) -> PathBuf {
        self.dir.join("ca-old.key")
    }
    pub fn cert(&self, who: &str) -> PathBuf {
        self.dir.join(format!("{who}.crt"))
    }
    pub fn key(&self, who: &str) -> PathBuf {
        self.dir.join(format!("{who}.key"))
    }
}

/// Names and addresses a member is reached by: its certificates must cover them.
pub fn member_sans(m: &Member) -> Vec<String> {
    let mut sans = vec![
        m.name.clone(),
        m.advertise.clone(),
        m.ssh.address.clone(),
        "localhost".into(),
        "127.0.0.1".into(),
    ];
    sans.dedup();
    let mut seen = std::collections::BTreeSet::new();
    sans.retain(|s| seen.insert(s.clone()));
    sans
}

/// Makes sure every file the inventory needs exists: in generate mode the
/// missing ones are created (`rotate` re-creates the member ones); in provided
/// mode they are checked. Nothing is pushed anywhere.
pub fn prepare(inv: &Inventory, rotate: bool) -> Result<(), TlsError> {
    match &inv.tls {
        TlsMode::Off { .. } => Ok(()),
        TlsMode::Generate {
            dir,
            renew_before_days,
        } => generate(inv, dir, rotate, *renew_before_days),
        TlsMode::Provided { dir } => validate(inv, dir),
    }
}

fn generate(inv: &Inventory, dir: &Path, rotate: bool, renew_days: u32) -> Result<(), TlsError> {
    let p = Paths::new(dir);
    if p.ca().exists() && !p.ca_key().exists() {
        return offline::check(inv, &p, rotate, renew_days);
    }
    std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    set_mode(dir, 0o700)?;
    let ca_key = if p.ca().exists() && p.ca_key().exists() {
        KeyPair::from_pem(&read(&p.ca_key())?)
            .map_err(|e| err(format!("{}: {e}", p.ca_key().display())))?
    } else {
        let (cert, key) = new_ca(inv)?;
        write_secret(&p.ca_key(), &key.serialize_pem())?;
        write_public(&p.ca(), &cert)?;
        key
    };
    if let Some(days) = expiring(&read(&p.ca())?, renew_days) {
        eprintln!(
            "warning: the CA ({}) expires in {days} days: rotate it before then with `etcd-deploy certs rotate-ca` (docs/security.md)",
            p.ca().display()
        );
    }
    // The signer is the first certificate of `ca.crt` (a bundle during a rotation).
    let issuer = Issuer::from_ca_cert_pem(&read(&p.ca())?, &ca_key)
        .map_err(|e| err(format!("{}: {e}", p.ca().display())))?;
    let both = [
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    for m in &inv.members {
        for kind in ["server", "peer"] {
            let who = format!("{}.{kind}", m.name);
            let pem = read(&p.cert(&who)).ok();
            let covers = pem
                .as_deref()
                .is_some_and(|pem| missing_sans(pem, &member_sans(m)).is_empty());
            let renew = pem.as_deref().and_then(|pem| expiring(pem, renew_days));
            if let Some(days) = renew {
                eprintln!(
                    "note: {who}.crt expires in {days} days (tls.renew_before_days = {renew_days}): renewed; the member restarts with it"
                );
            }
            if rotate || !covers || renew.is_some() || !p.key(&who).exists() {
                issue(&p, &issuer, &who, &m.name, member_sans(m), &both)?;
            }
        }
    }
    for who in ["client", "operator"] {
        let pem = read(&p.cert(who)).ok();
        let renew = pem.as_deref().and_then(|pem| expiring(pem, renew_days));
        // With access control, etcd takes the CN for the user: etcd-deploy
        // and its operators act as `root`.
        let cn = match (who, inv.auth.managed()) {
            (_, true) => crate::inventory::auth::ROOT,
            ("client", false) => "etcd-deploy",
            _ => "operator",
        };
        let other_cn = pem
            .as_deref()
            .and_then(|pem| cert_info(pem).ok())
            .is_some_and(|i| i.common_name.as_deref() != Some(cn));
        if renew.is_some() || other_cn || !p.cert(who).exists() || !p.key(who).exists() {
            issue(
                &p,
                &issuer,
                who,
                cn,
                vec![],
                &[ExtendedKeyUsagePurpose::ClientAuth],
            )?;
        }
    }
    clients(inv, &p, &issuer, renew_days)
}

/// Each `[[clients]]` entry gets a certificate (CN its name, or for a
/// password user a CN no user has: `Client::cert_cn`; client use only, its
/// `days`), in `clients/` under the pki directory; renewed inside
/// `renew_before_days` like the members'.
fn clients(
    inv: &Inventory,
    p: &Paths,
    issuer: &Issuer<'_, &KeyPair>,
    renew_days: u32,
) -> Result<(), TlsError> {
    if inv.auth.managed() {
        crl::update(inv, p, issuer)?;
    }
    let wanted = &inv.auth.clients;
    if wanted.is_empty() {
        return Ok(());
    }
    let dir = p.dir.join("clients");
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    set_mode(&dir, 0o700)?;
    let to = Paths::new(&dir);
    for c in wanted {
        let renew = read(&to.cert(&c.name))
            .ok()
            .and_then(|pem| expiring(&pem, renew_days));
        if renew.is_some() || !to.cert(&c.name).exists() || !to.key(&c.name).exists() {
            issue_for(
                &to,
                issuer,
                &c.name,
                &c.cert_cn(),
                vec![],
                &[ExtendedKeyUsagePurpose::ClientAuth],
                c.days,
            )?;
        }
    }
    Ok(())
}

/// A new self-signed cluster CA (10 years): its certificate PEM and key.
fn new_ca(inv: &Inventory) -> Result<(String, KeyPair), TlsError> {
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("etcd-deploy CA for {}", inv.cluster.name),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, 3650);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key))
}

fn issue(
    p: &Paths,
    issuer: &Issuer<'_, &KeyPair>,
    who: &str,
    cn: &str,
    sans: Vec<String>,
    eku: &[ExtendedKeyUsagePurpose],
) -> Result<(), TlsError> {
    issue_for(
        p,
        issuer,
        who,
        cn,
        sans,
        eku,
        crate::inventory::LEAF_CERT_DAYS,
    )
}

/// `issue`, valid for `days`.
fn issue_for(
    p: &Paths,
    issuer: &Issuer<'_, &KeyPair>,
    who: &str,
    cn: &str,
    sans: Vec<String>,
    eku: &[ExtendedKeyUsagePurpose],
    days: u32,
) -> Result<(), TlsError> {
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(sans).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = eku.to_vec();
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, i64::from(days));
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    write_secret(&p.key(who), &key.serialize_pem())?;
    write_public(&p.cert(who), &cert.pem())
}

/// Days left when a certificate expires within `window` days (or is past
/// it, or cannot be read); `None` when it has longer.
fn expiring(pem: &str, window: u32) -> Option<u64> {
    let left = match cert_info(pem) {
        Ok(i) => i
            .not_after
            .duration_since(SystemTime::now())
            .map(|d| d.as_secs() / 86400)
            .unwrap_or(0),
        Err(_) => 0,
    };
    (left < u64::from(window)).then_some(left)
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

/// Checks the operator's files: present, parseable, not expired, covering the
/// member's addresses, the key matching the certificate.
fn validate(inv: &Inventory, dir: &Path) -> Result<(), TlsError> {
    let p = Paths::new(dir);
    read(&p.ca())?;
    let mut whos: Vec<(String, Vec<String>)> = Vec::new();
    for m in &inv.members {
        for kind in ["server", "peer"] {
            whos.push((
                format!("{}.{kind}", m.name),
                member_sans(m)
                    .into_iter()
                    .filter(|s| s != "localhost" && s != "127.0.0.1")
                    .collect(),
            ));
        }
    }
    whos.push(("client".into(), vec![]));
    whos.push(("operator".into(), vec![]));
    for (who, sans) in whos {
        let cert = read(&p.cert(&who))?;
        let key = read(&p.key(&who))?;
        let info = cert_info(&cert).map_err(|e| err(format!("{}: {e}", p.cert(&who).display())))?;
        if info.not_after < SystemTime::now() {
            return Err(err(format!("{}: expired", p.cert(&who).display())));
        }
        let missing = missing_sans(&cert, &sans);
        if !missing.is_empty() {
            return Err(err(format!(
                "{}: the certificate does not cover {} (its member is reached by {})",
                p.cert(&who).display(),
                missing.join(", "),
                sans.join(", ")
            )));
        }
        let kp =
            KeyPair::from_pem(&key).map_err(|e| err(format!("{}: {e}", p.key(&who).display())))?;
        if kp.subject_public_key_info() != info.public_key_der {
            return Err(err(format!(
                "{} does not belong to {}",
                p.key(&who).display(),
                p.cert(&who).display()
            )));
        }
    }
    Ok(())
}

/// What etcd-deploy reads from a certificate.
pub struct CertInfo {
    pub not_after: SystemTime,
    /// The subject's CN (etcd's user name for a client certificate).
    pub common_name: Option<String>,
    pub sans: Vec<String>,
    pub public_key_der: Vec<u8>,
    /// Its serial number, as encoded (what a revocation list names).
    pub serial: Vec<u8>,
}

pub fn cert_info(pem: &str) -> Result<CertInfo, String> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = parsed
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let secs = cert.validity().not_after.timestamp();
    let not_after = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => sans.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => sans.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        sans.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    Ok(CertInfo {
        not_after,
        common_name,
        sans,
        public_key_der: cert.public_key().raw.to_vec(),
        serial: cert.tbs_certificate.raw_serial().to_vec(),
    })
}

fn missing_sans(pem: &str, want: &[String]) -> Vec<String> {
    match cert_info(pem) {
        Ok(info) => want
            .iter()
            .filter(|w| !info.sans.contains(w))
            .cloned()
            .collect(),
        Err(_) => want.to_vec(),
    }
}

pub fn member_files(inv: &Inventory, m: &Member) -> Result<Option<MemberFiles>, TlsError> {
    let dir = match &inv.tls {
        TlsMode::Off { .. } => return Ok(None),
        TlsMode::Generate { dir, .. } | TlsMode::Provided { dir } => dir,
    };
    let p = Paths::new(dir);
    let (s, pe) = (format!("{}.server", m.name), format!("{}.peer", m.name));
    let files = || -> Result<MemberFiles, TlsError> {
        Ok(MemberFiles {
            ca: read(&p.ca())?,
            server_cert: read(&p.cert(&s))?,
            server_key: read(&p.key(&s))?,
            peer_cert: read(&p.cert(&pe))?,
            peer_key: read(&p.key(&pe))?,
        })
    };
    match files() {
        Err(e) if ca_key_offline(inv) => Err(err(format!(
            "{} has no certificates for member {} and no CA key to make them (the CA key is kept elsewhere): run this from the machine that holds it ({})",
            dir.display(),
            m.name,
            e.0
        ))),
        r => r.map(Some),
    }
}

/// etcd-deploy's own client identity (`who` = "client"), or the operator's.
pub fn client_files(inv: &Inventory, who: &str) -> Result<Option<ClientFiles>, TlsError> {
    let dir = match &inv.tls {
        TlsMode::Off { dir: None } => return Ok(None),
        // Moving back from TLS: its members are reached with these until they move.
        TlsMode::Off { dir: Some(dir) } => {
            if !dir.join("ca.crt").is_file() {
                return Ok(None);
            }
            dir
        }
        TlsMode::Generate { dir, .. } | TlsMode::Provided { dir } => dir,
    };
    let p = Paths::new(dir);
    Ok(Some(ClientFiles {
        ca: read(&p.ca())?,
        cert: read(&p.cert(who))?,
        key: read(&p.key(who))?,
    }))
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|e| err(format!("{}: {e}", path.display())))
}

fn write_public(path: &Path, text: &str) -> Result<(), TlsError> {
    write_mode(path, text, 0o644)
}

fn write_secret(path: &Path, text: &str) -> Result<(), TlsError> {
    write_mode(path, text, 0o600)
}

fn write_mode(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    crate::files::write_atomic(path, text.as_bytes(), mode)
        .map_err(|e| err(format!("{}: {e}", path.display())))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err(format!("{}: {e}", path.display())))
}
