//! Errors of the certificate store and config builders. Each names the file involved and says
//! what the user can do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source} (check that the directory is writable, or set HTTPLAB_CERTS to another directory)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the lab CA is unusable: {reason}. Delete the directory {dir} to generate a new CA (and trust the new ca.pem again)")]
    UnusableCa {
        path: PathBuf,
        dir: PathBuf,
        reason: String,
    },
    #[error("{path}: {reason}. Delete this file to have it generated again")]
    UnusableLeaf { path: PathBuf, reason: String },
    #[error("{path}: the private key is readable by group or others (mode {mode:04o}): run `chmod 600 {path}` and try again")]
    KeyReadable { path: PathBuf, mode: u32 },
    #[error("generating certificates with rcgen failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {reason}")]
    Trust { path: PathBuf, reason: String },
    #[error("reading back a certificate rcgen generated failed: {0}")]
    Generated(String),
    #[error("building the rustls configuration failed: {0}")]
    Config(#[from] rustls::Error),
}
