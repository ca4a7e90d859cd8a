//! A server outside the lab (`run --target URL`): the real network is the link. The lab's
//! clients connect to the address the URL's host resolved to, name the host in every request
//! and TLS handshake, and trust as the user said (`httplab_tls::Trust`).
//!
//! It owns the target's description and the path's round trip, measured as the least of a few
//! TCP connects (the handshake costs one round trip; the least of several is the one that
//! waited on nothing else). It deliberately starts no server and emulates nothing.

use httplab_tls::Trust;
use rustls_pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one probe's TCP connect may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A remote server to run against instead of the lab's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    /// The URL's host: the `Host` header, `:authority` and the name TLS verifies.
    pub host: String,
    /// The address it resolved to, and the URL's port.
    pub addr: SocketAddr,
    /// `None`: cleartext (`http://`); else TLS (`https://`), trusting as said.
    pub trust: Option<Trust>,
}

/// The path's round trip to `addr`: the least of `tries` TCP connects, each closed at once.
pub async fn probe_rtt(addr: SocketAddr, tries: u32) -> io::Result<Duration> {
    let mut least: Option<Duration> = None;
    for _ in 0..tries.max(1) {
        let started = Instant::now();
        let stream = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("a TCP connect to {addr} took over {PROBE_TIMEOUT:?}"),
                )
            })??;
        let took = started.elapsed();
        drop(stream);
        least = Some(least.map_or(took, |l| l.min(took)));
    }
    Ok(least.unwrap_or_default())
}

/// How long the QUIC probe waits for the handshake: the first Initial and two resends (quinn
/// resends an unanswered Initial after about a second, then two).
pub const QUIC_PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// One QUIC handshake (ALPN `h3`) with the target before an h3 run, so a server that serves no
/// HTTP/3 on its port's UDP side, or a path that drops UDP, is one clear error up front, not
/// every h3 request waiting out its handshake. `tls` is the client config (ALPN `h3`). It opens
/// the connection as the runs will (`quic::open`), within [`QUIC_PROBE_TIMEOUT`], and closes it.
pub async fn probe_quic(
    addr: SocketAddr,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
) -> io::Result<()> {
    let any: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let config = crate::quic::client_config(tls, Arc::new(quinn::TransportConfig::default()))?;
    let opened = crate::quic::open_within(
        std::net::UdpSocket::bind(any)?,
        (addr, host),
        config,
        "cubic",
        httplab_core::Clock::start(),
        QUIC_PROBE_TIMEOUT,
    )
    .await?;
    opened.quic.connection.close(0u32.into(), b"probe");
    Ok(())
}

/// One TLS handshake with the target before the runs, so a certificate the client does not
/// trust is one clear error rather than every request failing: the rustls error as it is.
pub async fn probe_tls(
    addr: SocketAddr,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<()> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tcp = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out"))??;
    tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    Ok(())
}
