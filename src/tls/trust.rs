//! Whose CA a cluster trusts, against the controller's pki directory. A
//! controller without the cluster's CA (a second machine with the same
//! inventory, a lost or wrong pki directory) must never make a CA of its
//! own for that cluster, nor roll out certificates signed by another: the
//! hosts' `ca.crt` (fingerprints in the facts, or read before a first CA
//! would be made) is compared with the pki's, and a cluster that shares no
//! CA with it stops the command before anything changes (exit 2).

use crate::files::sha256_hex;
use crate::inventory::{Inventory, TlsMode};
use std::path::Path;

/// SHA256 fingerprints (lowercase hex, of the DER) of the certificates in
/// `pem`, a CA bundle.
pub fn fingerprints(pem: &str) -> Vec<String> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| sha256_hex(&p.contents))
        .collect()
}

/// The pki directory whose CA the cluster must trust, when TLS is on.
pub fn pki_dir(inv: &Inventory) -> Option<&Path> {
    match &inv.tls {
        TlsMode::Generate { dir, .. } | TlsMode::Provided { dir } => Some(dir),
        TlsMode::Off { .. } => None,
    }
}

/// Whether the pki directory holds a CA certificate.
pub fn has_ca(inv: &Inventory) -> bool {
    pki_dir(inv).is_some_and(|d| d.join("ca.crt").is_file())
}

/// A fingerprint as people compare them: `AB:CD:…`.
fn shown(fp: &str) -> String {
    fp.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Why the controller's pki is not this cluster's, if it is not: a member
/// host (`trusted`: each host's CA fingerprints, empty when it has none)
/// trusts CAs that share none with the pki directory's `ca.crt` (or there
/// is none). The message says what to do; nothing was changed.
pub fn foreign_ca<'a>(
    inv: &Inventory,
    trusted: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Option<String> {
    let dir = pki_dir(inv)?;
    let ours = std::fs::read_to_string(dir.join("ca.crt"))
        .map(|pem| fingerprints(&pem))
        .unwrap_or_default();
    let (host, theirs) = trusted
        .into_iter()
        .find(|(_, theirs)| !theirs.is_empty() && !theirs.iter().any(|t| ours.contains(t)))?;
    let theirs: Vec<String> = theirs.iter().map(|t| shown(t)).collect();
    let has = if ours.is_empty() {
        "which holds no CA".to_string()
    } else {
        format!(
            "whose CA is another ({})",
            ours.iter().map(|o| shown(o)).collect::<Vec<_>>().join(", ")
        )
    };
    Some(format!(
        "this cluster's CA (fingerprint {}, trusted by {host}) is not in {} ({has}): copy the pki directory from the machine that made the cluster, or point tls.dir (or ETCD_DEPLOY_PKI) at your shared copy (docs/team.md). Nothing was changed, and no CA was made",
        theirs.join(", "),
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate's fingerprint is the SHA256 of its DER, as `openssl
    /// x509 -fingerprint -sha256` prints it.
    #[test]
    fn a_bundle_gives_each_certificate_s_fingerprint() {
        let one = rcgen::generate_simple_self_signed(vec!["a".into()]).expect("cert");
        let two = rcgen::generate_simple_self_signed(vec!["b".into()]).expect("cert");
        let bundle = format!("{}{}", one.cert.pem(), two.cert.pem());
        let fps = fingerprints(&bundle);
        assert_eq!(fps.len(), 2);
        assert_eq!(fps[0], sha256_hex(one.cert.der()));
        assert_eq!(fps[1], sha256_hex(two.cert.der()));
        assert_eq!(shown("ab01"), "AB:01");
        assert!(
            fingerprints("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_empty()
        );
    }
}
