//! httplab-tls: everything the lab needs from TLS, and nothing about HTTP.
//!
//! It owns the rustls configurations (always the `ring` provider, TLS 1.2 and 1.3), the ALPN
//! identifiers the protocols ask for, the lab's certificates (a local CA and a `localhost` leaf
//! generated with rcgen into `certs/` on first use and reused afterwards, so a CA the user
//! trusted keeps working; each load checks their validity dates and the keys' file modes, see
//! `store` and `validity.rs`), the client configs for a server outside the lab (`remote.rs`:
//! the system's CAs, a CA file, or none), and `describe`, which turns a finished rustls
//! handshake into the core `TlsRecord`. It deliberately does not open sockets, time handshakes (the harness does,
//! and passes the duration in) or look at the bytes inside the TLS records.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod describe;
mod error;
mod generate;
mod remote;
mod spki;
mod store;
mod validity;

use std::sync::Arc;

pub use describe::describe;
pub use error::TlsError;
pub use remote::{remote_client_config, Trust};
pub use spki::spki_sha256_base64;
pub use store::CertStore;

/// ALPN id of HTTP/1.1 (RFC 7301).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";
/// ALPN id of HTTP/1.0 (IANA registry).
pub const ALPN_HTTP10: &[u8] = b"http/1.0";
/// ALPN id of HTTP/2 over TLS (RFC 9113).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN for HTTP/3 (RFC 9114), inside QUIC's handshake.
pub const ALPN_H3: &[u8] = b"h3";

/// The crypto provider every lab config uses: rustls's `ring` provider with its defaults.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
