//! A CA rotation in three passes (`rotate_ca` writes each pass's files on
//! the controller; `certs rotate-ca` rolls them out), and what proves that a
//! pass is loaded everywhere before the next one starts: the identities the
//! controller probes each member with (`probe_ids`). The files on the
//! controller say which pass was written; only the members' answers say
//! which pass they run.

use super::{
    ClientFiles, Paths, TlsError, err, generate, new_ca, read, write_public, write_secret,
};
use crate::inventory::{Inventory, TlsMode};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};

/// The passes of a CA rotation, each rolled out to every member before the
/// next one's files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaPass {
    /// `ca.crt` holds the old and the new CA: every member trusts both.
    TrustBoth,
    /// Every certificate is signed by the new CA (both still trusted).
    Reissued,
    /// `ca.crt` is the new CA only: the old one is trusted nowhere.
    OldDropped,
}

/// The pass whose files are in place, if a rotation is under way (pass 3
/// counts until it is checked on every member and `finish` has run).
pub fn ca_rotation(inv: &Inventory) -> Option<CaPass> {
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return None;
    };
    match std::fs::read_to_string(Paths::new(dir).rotation())
        .ok()?
        .trim()
    {
        "trust-both" => Some(CaPass::TrustBoth),
        "reissued" => Some(CaPass::Reissued),
        "old-dropped" => Some(CaPass::OldDropped),
        _ => None,
    }
}

/// Writes the files of the next pass of a CA rotation (generate mode only)
/// and says which it is; the caller rolls them out, and checks that every
/// member has loaded them, before the next call.
pub fn rotate_ca(inv: &Inventory) -> Result<CaPass, TlsError> {
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return Err(err(
            "a CA rotation needs tls.mode = \"generate\" (with provided certificates, rotate your CA with your own tools and put the files in tls.dir)",
        ));
    };
    if super::ca_key_offline(inv) {
        return Err(err(format!(
            "a CA rotation needs the CA's key, and {} has none (the CA key is kept elsewhere): run it from the machine that holds it",
            dir.display()
        )));
    }
    let p = Paths::new(dir);
    let old = read(&p.ca())?;
    match ca_rotation(inv) {
        None => {
            let (cert, key) = new_ca(inv)?;
            write_secret(&p.ca_new_key(), &key.serialize_pem())?;
            write_public(&p.ca_new(), &cert)?;
            write_public(&p.ca(), &format!("{}\n{}", old.trim_end(), cert.trim_end()))?;
            write_public(&p.rotation(), "trust-both\n")?;
            Ok(CaPass::TrustBoth)
        }
        Some(CaPass::TrustBoth) => {
            let new = read(&p.ca_new())?;
            let first_old = first_cert(&old);
            // The old CA is kept until pass 3 is checked: its key signs the
            // certificate that must be refused everywhere by then.
            write_secret(&p.ca_old_key(), &read(&p.ca_key())?)?;
            write_public(&p.ca_old(), &format!("{first_old}\n"))?;
            write_secret(&p.ca_key(), &read(&p.ca_new_key())?)?;
            write_public(&p.ca(), &format!("{}\n{first_old}\n", new.trim_end()))?;
            // Every certificate again, now signed by the new CA.
            for m in &inv.members {
                for kind in ["server", "peer"] {
                    let _ = std::fs::remove_file(p.cert(&format!("{}.{kind}", m.name)));
                }
            }
            for who in ["client", "operator"] {
                let _ = std::fs::remove_file(p.cert(who));
            }
            generate(inv, dir, true, 0)?;
            write_public(&p.rotation(), "reissued\n")?;
            Ok(CaPass::Reissued)
        }
        Some(CaPass::Reissued | CaPass::OldDropped) => {
            write_public(&p.ca(), &read(&p.ca_new())?)?;
            write_public(&p.rotation(), "old-dropped\n")?;
            Ok(CaPass::OldDropped)
        }
    }
}

/// Ends a rotation whose pass 3 is loaded everywhere: the new CA's own
/// files, the old CA and the marker go (`ca.crt`/`ca.key` are the new CA).
pub fn finish(inv: &Inventory) -> Result<(), TlsError> {
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return Ok(());
    };
    let p = Paths::new(dir);
    for f in [p.ca_new(), p.ca_new_key(), p.ca_old(), p.ca_old_key()] {
        let _ = std::fs::remove_file(f);
    }
    std::fs::remove_file(p.rotation()).or_else(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(err(format!("{}: {e}", p.rotation().display()))),
    })
}

/// The first certificate of a PEM bundle.
fn first_cert(pem: &str) -> &str {
    pem.split_inclusive("-----END CERTIFICATE-----")
        .next()
        .unwrap_or("")
        .trim()
}

/// One question asked of every member to tell whether it runs a pass:
/// connect with `id` (trusting `id.ca` for the server) and see whether it
/// is `accepted`.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What a member that runs the pass does, in words.
    pub shows: &'static str,
    pub id: ClientFiles,
    pub accepted: bool,
}

/// The probes that show a pass is loaded on a member, made fresh for this
/// run (short-lived client certificates from the CAs on the controller;
/// nothing is written). `None` outside a rotation.
pub struct ProbeIds {
    pub pass: CaPass,
    pub probes: Vec<Probe>,
}

/// The probes for the pass whose files are in place, if any: pass 1 is
/// loaded where a client certificate of the new CA is accepted; pass 2
/// where the member also serves a certificate of the new CA (the probe
/// trusts only it); pass 3 where a client certificate of the old CA is
/// refused.
pub fn probe_ids(inv: &Inventory) -> Result<Option<ProbeIds>, TlsError> {
    let Some(pass) = ca_rotation(inv) else {
        return Ok(None);
    };
    let TlsMode::Generate { dir, .. } = &inv.tls else {
        return Ok(None);
    };
    let p = Paths::new(dir);
    let new_ca = read(&p.ca_new())?;
    let new_key = read(&p.ca_new_key())?;
    // Pass 1's ca.crt: the old and the new CA.
    let both = read(&p.ca())?;
    let new_client = |roots: &str| -> Result<ClientFiles, TlsError> {
        let (cert, key) = ephemeral(&new_ca, &new_key)?;
        Ok(ClientFiles {
            ca: roots.to_string(),
            cert,
            key,
        })
    };
    let probes = match pass {
        CaPass::TrustBoth => vec![Probe {
            shows: "accepts a client certificate of the new CA",
            id: new_client(&both)?,
            accepted: true,
        }],
        CaPass::Reissued => vec![Probe {
            shows: "serves a certificate of the new CA and accepts one",
            id: new_client(&new_ca)?,
            accepted: true,
        }],
        CaPass::OldDropped => {
            let mut v = vec![Probe {
                shows: "serves a certificate of the new CA and accepts one",
                id: new_client(&new_ca)?,
                accepted: true,
            }];
            // A rotation begun by an older etcd-deploy kept no old CA key.
            if let (Ok(old), Ok(old_key)) = (read(&p.ca_old()), read(&p.ca_old_key())) {
                let (cert, key) = ephemeral(&old, &old_key)?;
                v.push(Probe {
                    shows: "refuses a client certificate of the old CA",
                    id: ClientFiles {
                        ca: new_ca.clone(),
                        cert,
                        key,
                    },
                    accepted: false,
                });
            }
            v
        }
    };
    Ok(Some(ProbeIds { pass, probes }))
}

/// A client certificate and key for one probe (a day's validity, CN
/// `etcd-deploy-probe`), signed by the CA `ca_pem`/`ca_key_pem`; kept in
/// memory only.
fn ephemeral(ca_pem: &str, ca_key_pem: &str) -> Result<(String, String), TlsError> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(err)?;
    let issuer = Issuer::from_ca_cert_pem(first_cert(ca_pem), &ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "etcd-deploy-probe");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    super::validity(&mut params, 1);
    let cert = params.signed_by(&key, &issuer).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}
