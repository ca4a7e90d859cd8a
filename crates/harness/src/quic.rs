//! The connector's QUIC side (HTTP/3): a UDP socket where the client's sockets live (the
//! link's client namespace, or the host), a quinn endpoint on it, and the handshake, timed as
//! one phase (`ssl`; QUIC has no TCP connect). With a session ticket from an earlier connection
//! of the same browser, the connection goes 0-RTT: it is handed to the client at once, its
//! first requests leave in the first flight, and whether the server accepted them is known
//! when the handshake completes.
//!
//! Each connection is watched until it closes, for its record: when and why it ended, the TLS
//! side (ALPN, handshake kind), and quinn's own account of the path (RTT estimate, congestion
//! window, packets lost; [`QuicInfo`]).

use httplab_core::{Clock, CloseReason, HandshakeKind, QuicInfo, TlsRecord};
use quinn::crypto::rustls::{HandshakeData, QuicClientConfig};
use quinn::{ConnectionError, Endpoint, EndpointConfig, TransportConfig};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a QUIC handshake may take before the request fails: as long as a TCP connect and
/// TLS handshake together may.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client configuration for one target: its TLS config (ALPN `h3`, early data when the
/// scenario resumes sessions) and the scenario's transport settings.
pub(crate) fn client_config(
    tls: Arc<rustls::ClientConfig>,
    transport: Arc<TransportConfig>,
) -> io::Result<quinn::ClientConfig> {
    let crypto = QuicClientConfig::try_from(tls)
        .map_err(|e| io::Error::other(format!("the TLS config cannot run QUIC: {e}")))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport);
    Ok(config)
}

/// What the record of one QUIC connection needs, filled in as it goes.
#[derive(Debug, Default)]
pub(crate) struct QuicState {
    pub(crate) tls: Option<TlsRecord>,
    pub(crate) closed_at: Option<Duration>,
    pub(crate) close_reason: Option<CloseReason>,
    /// Read as it closed.
    pub(crate) info: Option<QuicInfo>,
}

/// One opened QUIC connection, as the connector keeps it.
pub(crate) struct QuicOpened {
    pub(crate) connection: quinn::Connection,
    pub(crate) state: Arc<Mutex<QuicState>>,
    /// The controller's name, for readings.
    pub(crate) controller: &'static str,
    pub(crate) clock: Clock,
}

impl QuicOpened {
    /// Its reading now: at close if it has closed, else as it stands.
    pub(crate) fn info(&self) -> QuicInfo {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .info
            .clone()
            .unwrap_or_else(|| read(&self.connection, self.clock, self.controller))
    }
}

/// A connection ready for requests, and the handshake time it cost them.
pub(crate) struct Opened {
    pub(crate) quic: QuicOpened,
    pub(crate) local_addr: String,
    pub(crate) handshake: Duration,
    pub(crate) early: bool,
    pub(crate) recorded: watch::Receiver<bool>,
}

/// Opens a QUIC connection to `addr` (`host` for SNI) from `socket`.
pub(crate) async fn open(
    socket: std::net::UdpSocket,
    addr: SocketAddr,
    host: &str,
    config: quinn::ClientConfig,
    controller: &'static str,
    clock: Clock,
) -> io::Result<Opened> {
    open_within(
        socket,
        (addr, host),
        config,
        controller,
        clock,
        HANDSHAKE_TIMEOUT,
    )
    .await
}

/// [`open`], giving up on a handshake with no answer after `timeout`.
pub(crate) async fn open_within(
    socket: std::net::UdpSocket,
    (addr, host): (SocketAddr, &str),
    config: quinn::ClientConfig,
    controller: &'static str,
    clock: Clock,
    timeout: Duration,
) -> io::Result<Opened> {
    let runtime = quinn::default_runtime()
        .ok_or_else(|| io::Error::other("a QUIC endpoint needs a tokio runtime"))?;
    let local_addr = socket.local_addr()?.to_string();
    let endpoint = Endpoint::new(EndpointConfig::default(), None, socket, runtime)?;
    let started = clock.now();
    let connecting = endpoint
        .connect_with(config, addr, host)
        .map_err(|e| io::Error::other(format!("QUIC connect to {addr}: {e}")))?;
    let (connection, accepted) = match connecting.into_0rtt() {
        Ok((connection, accepted)) => (connection, Some(accepted)),
        Err(connecting) => {
            let connection = tokio::time::timeout(timeout, connecting)
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no QUIC handshake with {addr} within {timeout:?}: is UDP blocked \
                             on the way (a firewall on the host, in the lab's network namespaces \
                             or on the network), or does the server not serve HTTP/3 on UDP \
                             port {}?",
                            addr.port()
                        ),
                    )
                })?
                .map_err(|e| io::Error::other(format!("QUIC handshake with {addr}: {e}")))?;
            (connection, None)
        }
    };
    let handshake = clock.now() - started;
    let early = accepted.is_some();
    let state = Arc::new(Mutex::new(QuicState::default()));
    if !early {
        state.lock().unwrap_or_else(|p| p.into_inner()).tls =
            Some(tls_record(&connection, HandshakeKind::Full, handshake));
    }
    let (done, recorded) = watch::channel(false);
    tokio::spawn(follow(
        endpoint,
        connection.clone(),
        accepted,
        started,
        (state.clone(), done),
        controller,
        clock,
    ));
    Ok(Opened {
        quic: QuicOpened {
            connection,
            state,
            controller,
            clock,
        },
        local_addr,
        handshake,
        early,
        recorded,
    })
}

/// Follows a connection to its end: the 0-RTT verdict and the handshake's length first, then
/// its close, read for the record. Holds the endpoint until then (its driver carries the
/// connection's packets).
async fn follow(
    endpoint: Endpoint,
    connection: quinn::Connection,
    accepted: Option<quinn::ZeroRttAccepted>,
    started: Duration,
    (state, done): (Arc<Mutex<QuicState>>, watch::Sender<bool>),
    controller: &'static str,
    clock: Clock,
) {
    if let Some(accepted) = accepted {
        let kind = match accepted.await {
            true => HandshakeKind::ZeroRtt,
            // Rejected early data is sent again after the handshake; the session resumed.
            false => HandshakeKind::Resumed,
        };
        let handshake = clock.now() - started;
        state.lock().unwrap_or_else(|p| p.into_inner()).tls =
            Some(tls_record(&connection, kind, handshake));
    }
    let why = connection.closed().await;
    let at = clock.now();
    let reason = match why {
        ConnectionError::LocallyClosed => CloseReason::WorkloadDone,
        ConnectionError::ApplicationClosed(_) | ConnectionError::ConnectionClosed(_) => {
            CloseReason::ServerClosed
        }
        ConnectionError::TimedOut => CloseReason::Error("QUIC idle timeout".into()),
        other => CloseReason::Error(other.to_string()),
    };
    let info = read(&connection, clock, controller);
    {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.closed_at = Some(at);
        s.close_reason = Some(reason);
        s.info = Some(info);
    }
    let _ = done.send(true);
    // Let the CONNECTION_CLOSE leave before the endpoint goes (bounded by quinn: 3 PTOs).
    endpoint.wait_idle().await;
}

fn tls_record(
    connection: &quinn::Connection,
    kind: HandshakeKind,
    handshake: Duration,
) -> TlsRecord {
    let alpn = connection
        .handshake_data()
        .and_then(|d| d.downcast::<HandshakeData>().ok())
        .and_then(|d| d.protocol)
        .map(|p| String::from_utf8_lossy(&p).into_owned());
    TlsRecord {
        version: "TLSv1.3".into(),
        // quinn does not say which suite its TLS session chose.
        cipher: "unknown (inside QUIC)".into(),
        key_exchange_group: None,
        alpn,
        handshake_kind: kind,
        handshake,
    }
}

/// quinn's account of `connection` now.
fn read(connection: &quinn::Connection, clock: Clock, controller: &'static str) -> QuicInfo {
    httplab_transport::quic::reading(connection, clock.now(), controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose UDP port swallows every datagram, as a host that blocks UDP does: the
    /// handshake fails at its timeout with an error that names UDP.
    #[tokio::test]
    async fn a_handshake_nobody_answers_fails_naming_udp() {
        let hole = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        let addr = hole.local_addr().expect("its address");
        let certs = httplab_tls::CertStore::open_or_create(httplab_testkit::temp_dir("certs"))
            .expect("certs");
        let tls = certs.client_config(&[b"h3"], false, None).expect("tls");
        let settings = httplab_transport::QuicSettings {
            congestion_control: "cubic".into(),
            idle_timeout: Duration::from_secs(30),
            max_concurrent_streams: 100,
            stream_window: 1 << 20,
            connection_window: 1 << 20,
        };
        let config = client_config(tls, settings.transport().expect("transport")).expect("quic");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        let timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let failed = open_within(
            socket,
            (addr, "localhost"),
            config,
            "cubic",
            Clock::start(),
            timeout,
        )
        .await
        .err()
        .expect("no handshake");
        // It waited its timeout (the Initial was sent and resent unanswered), not less.
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        assert_eq!(failed.kind(), io::ErrorKind::TimedOut);
        let message = failed.to_string();
        assert!(message.contains("is UDP blocked"), "{message}");
        assert!(
            message.contains(&format!("UDP port {}", addr.port())),
            "{message}"
        );
        // The datagrams did arrive: the client tried.
        let mut buf = [0u8; 1500];
        hole.set_nonblocking(true).expect("nonblocking");
        assert!(
            hole.recv_from(&mut buf).is_ok_and(|(n, _)| n >= 1200),
            "a padded Initial"
        );
    }
}
