//! A certificate's public-key pin: the SHA-256 of its SubjectPublicKeyInfo, in base64, as
//! Chromium's `--ignore-certificate-errors-spki-list` takes it (and HPKP pinned). A browser
//! run against the lab's server trusts the lab's leaf by it, without installing the lab CA.

use crate::error::TlsError;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::Path;

/// The SPKI pin of the first certificate in the PEM file at `path`.
pub fn spki_sha256_base64(path: &Path) -> Result<String, TlsError> {
    let bad = |reason: String| TlsError::Trust {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let cert = CertificateDer::pem_slice_iter(&pem)
        .next()
        .ok_or_else(|| bad("no certificate".into()))?
        .map_err(|e| bad(e.to_string()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).map_err(|e| bad(e.to_string()))?;
    let spki = parsed.tbs_certificate.subject_pki.raw;
    let sha256 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .ok_or_else(|| bad("no TLS 1.3 suite to hash with".into()))?
        .common
        .hash_provider
        .hash(spki);
    Ok(base64::engine::general_purpose::STANDARD.encode(sha256.as_ref()))
}
