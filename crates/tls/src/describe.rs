//! `describe`: a finished rustls handshake as the core `TlsRecord`.

use httplab_core::{HandshakeKind, TlsRecord};
use std::time::Duration;

/// The record of a finished handshake, from rustls's `CommonState` (both `ClientConnection` and
/// `ServerConnection` deref to it). `handshake` is the duration the caller measured.
///
/// Names are rustls's own (`TLS13_AES_128_GCM_SHA256`, `X25519`) except the version, written
/// the way Wireshark and DevTools do (`TLSv1.3`). On a connection whose handshake has not
/// finished the version and cipher read `unknown` and the kind `Full`.
pub fn describe(conn: &rustls::CommonState, handshake: Duration) -> TlsRecord {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher = conn.negotiated_cipher_suite().map_or_else(
        || "unknown".to_string(),
        |s| name(s.suite().as_str(), s.suite()),
    );
    let key_exchange_group = conn
        .negotiated_key_exchange_group()
        .map(|g| name(g.name().as_str(), g.name()));
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let handshake_kind = match conn.handshake_kind() {
        Some(rustls::HandshakeKind::Resumed) => HandshakeKind::Resumed,
        Some(rustls::HandshakeKind::FullWithHelloRetryRequest) => {
            HandshakeKind::FullWithHelloRetryRequest
        }
        Some(rustls::HandshakeKind::Full) | None => HandshakeKind::Full,
    };
    TlsRecord {
        version,
        cipher,
        key_exchange_group,
        alpn,
        handshake_kind,
        handshake,
    }
}

fn name(known: Option<&'static str>, value: impl std::fmt::Debug) -> String {
    known.map_or_else(|| format!("{value:?}"), str::to_string)
}
