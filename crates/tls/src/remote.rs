//! Client configs for a server outside the lab (`run --target`): trusting the system's CA
//! bundle as curl does, a CA file the user names (`--cacert`), or nothing at all (`--insecure`,
//! which every output then says).
//!
//! It owns where the system bundle is looked for and the verifier that checks signatures but
//! not the chain. It deliberately shares everything else with the lab's own client configs
//! (versions, ALPN, resumption, `SSLKEYLOGFILE`), so a remote run differs only in whom it trusts.

use crate::store::client_config_from;
use crate::{provider, TlsError};
use httplab_core::TlsVersion;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Linux distributions keep the system's CA bundle, in curl's order of preference
/// (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine/Arch).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Whom a remote run trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's CA bundle (`$SSL_CERT_FILE`, else the distribution's file).
    System,
    /// The CAs in this PEM file only (`--cacert`).
    CaFile(PathBuf),
    /// No certificate check at all (`--insecure`); handshake signatures are still checked.
    Insecure,
}

impl Trust {
    /// How the runs' certificates were checked, for every output.
    pub fn describe(&self) -> String {
        match self {
            Trust::System => match system_bundle() {
                Some(path) => format!(
                    "certificate verified against the system's CAs ({})",
                    path.display()
                ),
                None => "certificate verified against the system's CAs".into(),
            },
            Trust::CaFile(path) => {
                format!("certificate verified against {} (--cacert)", path.display())
            }
            Trust::Insecure => "certificate NOT verified (--insecure)".into(),
        }
    }
}

/// The system bundle: `$SSL_CERT_FILE` when set, else the first of [`SYSTEM_BUNDLES`] present.
fn system_bundle() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(file));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A client config for a remote server that trusts as `trust` says; otherwise like
/// [`CertStore::client_config`](crate::CertStore::client_config).
pub fn remote_client_config(
    trust: &Trust,
    alpn: &[&[u8]],
    resumption: bool,
    version: Option<TlsVersion>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match trust {
        Trust::Insecure => None,
        Trust::CaFile(path) => Some(roots_in(path)?),
        Trust::System => {
            let path = system_bundle().ok_or_else(|| TlsError::Trust {
                path: PathBuf::from(SYSTEM_BUNDLES[0]),
                reason: "no system CA bundle found (nor $SSL_CERT_FILE): pass --cacert FILE, \
                         or --insecure to skip the check"
                    .into(),
            })?;
            Some(roots_in(&path)?)
        }
    };
    client_config_from(alpn, resumption, version, |builder| match roots {
        Some(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoChainCheck(provider())))
            .with_no_client_auth(),
    })
}

/// Every certificate of a PEM file, as trust anchors; a file with none usable is an error.
fn roots_in(path: &Path) -> Result<RootCertStore, TlsError> {
    let trust_err = |reason: String| TlsError::Trust {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| trust_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| trust_err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(trust_err("no usable CA certificate in it".into()));
    }
    Ok(roots)
}

/// `--insecure`: accepts any certificate chain for any name, but still checks that the server
/// signed the handshake with the key of the certificate it sent.
#[derive(Debug)]
struct NoChainCheck(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoChainCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
