//! The certificate directory (`certs/` by default) and the rustls configs built from it.
//!
//! Files: `ca.pem` + `ca.key` (the lab CA, made once and then kept so a user who trusted it keeps
//! that trust, until it expires or is not valid yet: then a new CA is issued, and the user must
//! trust the new `ca.pem`) and `localhost.pem` + `localhost.key` (the server's leaf, re-issued
//! from the CA whenever it is missing, unreadable, expired, not valid yet, valid longer than the
//! CA or not signed by `ca.pem`). Private keys are created with mode 0600 from the first byte,
//! and a key its group or others may read is refused with the `chmod 600` that fixes it. Every
//! file is written to a temporary name and renamed into place, so a reader never sees half a
//! file, and the store is opened by one process (or thread) at a time, under a lock on
//! `certs/.lock`: two that found the directory empty would each generate a CA, and one's key
//! could end up beside the other's certificate. Each re-issue of a file that existed is a line on stderr (`note: …`), also kept for
//! the caller ([`CertStore::notices`]); a first generation is silent.

use crate::error::TlsError;
use crate::generate::{self, Pems};
use crate::provider;
use crate::validity::{self, check_key_mode, Validity};
use httplab_core::TlsVersion;
use rcgen::KeyPair;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, KeyLogFile, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const LEAF_CERT: &str = "localhost.pem";
const LEAF_KEY: &str = "localhost.key";
/// Held (an exclusive `flock`) while the store is opened.
const LOCK: &str = ".lock";
/// Environment variable naming the certificate directory.
const ENV_DIR: &str = "HTTPLAB_CERTS";

/// The lab's certificates, loaded and checked; cheap to build configs from.
pub struct CertStore {
    dir: PathBuf,
    ca: CertificateDer<'static>,
    leaf_chain: Vec<CertificateDer<'static>>,
    leaf_key: PrivateKeyDer<'static>,
    /// The CA's key, for leaves that cover a scenario's origins (issued in memory).
    ca_key: KeyPair,
    /// The CA's last valid second (Unix time): no leaf outlives it.
    ca_until: i64,
    notices: Vec<String>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// `$HTTPLAB_CERTS` if set, else `./certs`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os(ENV_DIR) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from("certs"),
        }
    }

    /// Opens the certificate directory, creating it and generating whatever is missing.
    ///
    /// On first use this generates a local CA (`ca.pem`, `ca.key`) and a leaf for `localhost`,
    /// `127.0.0.1` and `::1` signed by it (`localhost.pem`, `localhost.key`). Existing files are
    /// reused; a leaf that is missing or unusable is re-issued from the CA; an unusable CA is an
    /// error that names the file and says to delete the directory.
    pub fn open_or_create(dir: impl AsRef<Path>) -> Result<CertStore, TlsError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| TlsError::Io {
            path: dir.clone(),
            source,
        })?;
        let _lock = lock_dir(&dir)?;
        for key in [CA_KEY, LEAF_KEY] {
            check_key_mode(&dir.join(key))?;
        }
        let mut notices = Vec::new();
        let (mut ca, mut ca_key) = open_ca(&dir)?;
        let ca_validity = |ca: &CertificateDer<'static>| {
            Validity::of(ca).map_err(|reason| TlsError::UnusableCa {
                path: dir.join(CA_CERT),
                dir: dir.clone(),
                reason,
            })
        };
        if let Some(problem) = ca_validity(&ca)?.problem(validity::now()) {
            (ca, ca_key) = new_ca(&dir)?;
            notices.push(format!(
                "{}: the lab CA {problem}: issued a new one (a browser or curl that trusted the \
                 old ca.pem must trust the new one)",
                dir.join(CA_CERT).display()
            ));
        }
        let ca_until = ca_validity(&ca)?.not_after;
        let leaf = load_leaf(&dir, &ca).and_then(|leaf| {
            let until = Validity::of(&leaf.0[0])?.not_after;
            if until > ca_until {
                return Err(format!(
                    "{}: valid until {}, after its CA (until {})",
                    dir.join(LEAF_CERT).display(),
                    validity::date(until),
                    validity::date(ca_until)
                ));
            }
            Ok(leaf)
        });
        let (leaf_chain, leaf_key) = match leaf {
            Ok(leaf) => leaf,
            Err(unusable) => {
                if dir.join(LEAF_CERT).exists() {
                    notices.push(format!("{unusable}: issued a new leaf"));
                }
                let days_left = ca_until.div_euclid(86_400) - generate::today();
                let Pems { cert, key } = generate::issue_leaf(&ca_key, days_left)?;
                write_file(&dir.join(LEAF_KEY), key.as_bytes(), 0o600)?;
                write_file(&dir.join(LEAF_CERT), cert.as_bytes(), 0o644)?;
                load_leaf(&dir, &ca).map_err(|reason| TlsError::UnusableCa {
                    path: dir.join(CA_CERT),
                    dir: dir.clone(),
                    reason: format!(
                        "a leaf signed with {CA_KEY} does not verify against it ({reason})"
                    ),
                })?
            }
        };
        for notice in &notices {
            eprintln!("note: {notice}");
        }
        Ok(CertStore {
            dir,
            ca,
            leaf_chain,
            leaf_key,
            ca_key,
            ca_until,
            notices,
        })
    }

    /// What opening the store re-issued, one line each (already printed on stderr).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The certificate directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate a client must trust (`curl --cacert`).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// A server config presenting the `localhost` leaf, offering `alpn` in that order of
    /// preference, with TLS 1.2 and 1.3 enabled (the client's `version` decides) and
    /// `SSLKEYLOGFILE` honoured.
    ///
    /// Resumption works for both versions: rustls's in-memory session cache (TLS 1.2 session
    /// ids) plus a ring `Ticketer` (TLS 1.2 session tickets, RFC 5077, and TLS 1.3 tickets).
    /// That state lives in the returned config: share one `Arc` across connections.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        self.config_with(self.leaf_chain.clone(), self.leaf_key.clone_key(), alpn)
    }

    /// Like [`server_config`](Self::server_config), presenting a leaf that also covers every
    /// one of `names` (host names: a scenario's origins, all served by one lab server, as one
    /// certificate covers a site's hosts and lets HTTP/2 clients coalesce them). The leaf is
    /// issued in memory by the lab CA, valid as the `localhost` one is; the files are left as
    /// they are.
    pub fn server_config_for(
        &self,
        names: &[String],
        alpn: &[&[u8]],
    ) -> Result<Arc<ServerConfig>, TlsError> {
        if names.iter().all(|n| n == "localhost") {
            return self.server_config(alpn);
        }
        let days_left = self.ca_until.div_euclid(86_400) - generate::today();
        let Pems { cert, key } = generate::issue_leaf_for(&self.ca_key, days_left, names)?;
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Generated(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| TlsError::Generated(e.to_string()))?;
        self.config_with(chain, key, alpn)
    }

    fn config_with(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        alpn: &[&[u8]],
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        config.key_log = Arc::new(KeyLogFile::new());
        Ok(Arc::new(config))
    }

    /// A client config trusting only the lab CA, offering `alpn`, with `SSLKEYLOGFILE`
    /// honoured. `version`: `None` offers TLS 1.3 and 1.2 (the lab server picks 1.3),
    /// `Some(v)` offers only `v`. `resumption` false disables session resumption entirely;
    /// true keeps rustls's default in-memory session cache, which resumes TLS 1.3 with a ticket
    /// and TLS 1.2 with a ticket or session id (held by the returned config: share one `Arc`
    /// across connections to resume).
    pub fn client_config(
        &self,
        alpn: &[&[u8]],
        resumption: bool,
        version: Option<TlsVersion>,
    ) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = self.roots()?;
        client_config_from(alpn, resumption, version, |builder| {
            builder.with_root_certificates(roots).with_no_client_auth()
        })
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        roots_of(&self.ca).map_err(|reason| TlsError::UnusableCa {
            path: self.ca_cert_path(),
            dir: self.dir.clone(),
            reason,
        })
    }
}

/// A client config offering `alpn` and `version` (`None`: TLS 1.3 and 1.2), resuming sessions
/// when `resumption` says so, with `SSLKEYLOGFILE` honoured; `trust` says whom it trusts.
pub(crate) fn client_config_from(
    alpn: &[&[u8]],
    resumption: bool,
    version: Option<TlsVersion>,
    trust: impl FnOnce(rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>) -> ClientConfig,
) -> Result<Arc<ClientConfig>, TlsError> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match version {
        None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
    };
    let mut config =
        trust(ClientConfig::builder_with_provider(provider()).with_protocol_versions(versions)?);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = if resumption {
        Resumption::default()
    } else {
        Resumption::disabled()
    };
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(Arc::new(config))
}

/// Loads the CA, or generates it when neither of its files exists.
fn open_ca(dir: &Path) -> Result<(CertificateDer<'static>, KeyPair), TlsError> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    let unusable = |path: &Path, reason: String| TlsError::UnusableCa {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        reason,
    };
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => new_ca(dir),
        (true, false) => Err(unusable(
            &key_path,
            format!("missing, but {CA_CERT} exists, so no new leaf can be signed"),
        )),
        (false, true) => Err(unusable(
            &cert_path,
            format!("missing, but {CA_KEY} exists"),
        )),
        (true, true) => {
            let key_pem = read_file(&key_path)?;
            let key_text = String::from_utf8(key_pem)
                .map_err(|_| unusable(&key_path, "not a PEM file".into()))?;
            let key = KeyPair::from_pem(&key_text)
                .map_err(|e| unusable(&key_path, format!("not a usable private key ({e})")))?;
            let cert = CertificateDer::from_pem_slice(&read_file(&cert_path)?)
                .map_err(|e| unusable(&cert_path, format!("no PEM certificate in it ({e})")))?;
            let key_der = PrivateKeyDer::try_from(key.serialize_der())
                .map_err(|e| unusable(&key_path, e.to_string()))?;
            CertifiedKey::from_der(vec![cert.clone()], key_der, &provider())
                .map_err(|e| unusable(&cert_path, format!("does not match {CA_KEY} ({e})")))?;
            roots_of(&cert).map_err(|reason| unusable(&cert_path, reason))?;
            Ok((cert, key))
        }
    }
}

/// Generates the CA and writes its files over any there.
fn new_ca(dir: &Path) -> Result<(CertificateDer<'static>, KeyPair), TlsError> {
    let (pems, key) = generate::generate_ca()?;
    write_ca(dir, &pems)?;
    let cert =
        CertificateDer::from_pem_slice(pems.cert.as_bytes()).map_err(|e| TlsError::UnusableCa {
            path: dir.join(CA_CERT),
            dir: dir.to_path_buf(),
            reason: format!("generated PEM unreadable: {e}"),
        })?;
    Ok((cert, key))
}

fn write_ca(dir: &Path, pems: &Pems) -> Result<(), TlsError> {
    write_file(&dir.join(CA_KEY), pems.key.as_bytes(), 0o600)?;
    write_file(&dir.join(CA_CERT), pems.cert.as_bytes(), 0o644)
}

/// Loads the leaf and checks it: its key matches, and it verifies for `localhost` against the
/// CA today. The error is a reason to re-issue it.
fn load_leaf(
    dir: &Path,
    ca: &CertificateDer<'static>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let cert_path = dir.join(LEAF_CERT);
    let key_path = dir.join(LEAF_KEY);
    let cert_pem = fs::read(&cert_path).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let Some(end_entity) = chain.first().cloned() else {
        return Err(format!("{}: no certificate in it", cert_path.display()));
    };
    let key_pem = fs::read(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider()).map_err(|e| {
        format!(
            "{} does not match {}: {e}",
            key_path.display(),
            cert_path.display()
        )
    })?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots_of(ca)?), provider())
        .build()
        .map_err(|e| e.to_string())?;
    let localhost = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(&end_entity, &chain[1..], &localhost, &[], UnixTime::now())
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    Ok((chain, key))
}

fn roots_of(ca: &CertificateDer<'static>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| format!("not a usable trust anchor ({e})"))?;
    Ok(roots)
}

/// Waits for, and takes, the store's lock; it is released when the file returned is dropped.
fn lock_dir(dir: &Path) -> Result<fs::File, TlsError> {
    let path = dir.join(LOCK);
    let io_err = |source| TlsError::Io {
        path: path.clone(),
        source,
    };
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err)?;
    file.lock().map_err(io_err)?;
    Ok(file)
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` via a temporary file created with `mode` (so a key is never
/// readable by others, not even briefly) and an atomic rename.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&tmp)(e)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests;
