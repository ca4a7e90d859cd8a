//! HTTP/3 connections: QUIC (quinn) on a UDP socket at the TLS port's number, and HTTP/3 (the
//! h3 crate) on each connection.
//!
//! Each request stream is answered by the same service as every other protocol
//! (`Connection::respond`: resource, think, status, `Server-Timing`, log): its receiving half
//! is the request body, and the service's response is written as HEADERS and DATA frames. A
//! request whose `request_timeout` runs out unanswered (`respond = "never"`) has its stream
//! reset (H3_INTERNAL_ERROR) while the connection and its other streams carry on, as HTTP/2
//! resets its stream. The scenario's `max_concurrent_streams` is QUIC's stream limit
//! (MAX_STREAMS); `h2_idle_timeout` is QUIC's idle timeout; `max_connections` holds new
//! connections unanswered (quinn keeps a bounded number waiting, as a listen backlog does).
//!
//! Early data is accepted (0-RTT): a client resuming a session may send its first requests
//! in its first flight, and they are answered as they arrive.
//!
//! What a peer that is not a QUIC client can do is bounded by quinn: datagrams that are not
//! QUIC are dropped, unknown versions get a Version Negotiation, and past `RETRY_ABOVE`
//! handshakes under way a new one must first prove its address (a Retry round trip), so a
//! flood of Initials from forged addresses costs no connection state.

use crate::activity::Ending;
use crate::service::Connection;
use crate::Shared;
use bytes::{Buf, Bytes};
use h3::error::Code;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use httplab_transport::quic::reading;
use httplab_transport::QuicSettings;
use quinn::crypto::rustls::QuicServerConfig;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// ALPN for HTTP/3.
const ALPN_H3: &[u8] = httplab_tls::ALPN_H3;
/// HTTP/3's error codes for closing a connection (RFC 9114 §8.1).
const NO_ERROR: quinn::VarInt = quinn::VarInt::from_u32(0x100);
const INTERNAL_ERROR: quinn::VarInt = quinn::VarInt::from_u32(0x102);
/// Handshakes under way above which a new client must first prove its address (Retry).
const RETRY_ABOVE: usize = 256;
/// Connection attempts quinn holds before answering them (beyond: refused), and the bytes of
/// their datagrams it buffers.
const MAX_INCOMING: usize = 4096;
const INCOMING_BUFFER: u64 = 4 << 20;
/// A QUIC handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Sessions the server keeps for resumption (each a few hundred bytes).
const SESSIONS: usize = 4096;
/// Largest request field section accepted (RFC 9114 §4.2.2), as hyper's HTTP/2 default.
const MAX_FIELD_SECTION: u64 = 16 << 10;

type ReqStream<S> = h3::server::RequestStream<S, Bytes>;

/// The QUIC settings the scenario's `[server]` table and congestion control give.
pub(crate) fn settings(shared: &Shared) -> QuicSettings {
    let server = &shared.scenario.server;
    QuicSettings {
        congestion_control: shared.scenario.congestion_control.name.clone(),
        idle_timeout: server.h2_idle_timeout,
        max_concurrent_streams: server.max_concurrent_streams,
        stream_window: server.h2_stream_window,
        connection_window: crate::http2::connection_window(server),
    }
}

/// A QUIC endpoint on `socket` serving HTTP/3 with `tls`'s certificate (its ALPN replaced by
/// `h3`, early data on). Must run inside the server's runtime.
pub(crate) fn endpoint(
    socket: std::net::UdpSocket,
    tls: &rustls::ServerConfig,
    settings: &QuicSettings,
) -> std::io::Result<quinn::Endpoint> {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    tls.max_early_data_size = u32::MAX;
    // rustls takes early data only on stateful resumption (a session it can use once, so a
    // replayed first flight is refused): sessions kept here, not in tickets.
    tls.ticketer = Arc::new(Stateful);
    tls.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSIONS);
    let crypto = QuicServerConfig::try_from(tls)
        .map_err(|e| std::io::Error::other(format!("the TLS config cannot serve QUIC: {e}")))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(settings.transport().map_err(std::io::Error::other)?);
    config.max_incoming(MAX_INCOMING);
    config.incoming_buffer_size(INCOMING_BUFFER);
    config.incoming_buffer_size_total(INCOMING_BUFFER * 16);
    let runtime = quinn::default_runtime()
        .ok_or_else(|| std::io::Error::other("a QUIC endpoint needs a tokio runtime"))?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        runtime,
    )
}

/// Issues no tickets: resumption is stateful (`ServerConfig::session_storage`).
#[derive(Debug)]
struct Stateful;

impl rustls::server::ProducesTickets for Stateful {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// Accepts QUIC connections on `endpoint` until the server stops; returns the connections'
/// tasks for `shutdown` to wait on.
pub(crate) async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    controller: &'static str,
    mut stopped: watch::Receiver<bool>,
) -> JoinSet<()> {
    let scenario_cap = shared.scenario_cap();
    let handshaking = Arc::new(AtomicUsize::new(0));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        // The scenario's cap: beyond it, attempts wait unanswered in quinn's queue.
        let permit = match &scenario_cap {
            None => None,
            Some(limit) => tokio::select! {
                permit = limit.clone().acquire_owned() => permit.ok(),
                _ = stopped.changed() => break,
            },
        };
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
            _ = stopped.changed() => break,
        };
        if !incoming.remote_address_validated()
            && handshaking.load(Ordering::Relaxed) >= RETRY_ABOVE
        {
            let _ = incoming.retry();
            continue;
        }
        let number = shared.next_connection_number();
        handshaking.fetch_add(1, Ordering::Relaxed);
        let task = connection_task(
            shared.clone(),
            incoming,
            number,
            handshaking.clone(),
            controller,
            stopped.clone(),
        );
        connections.spawn(async move {
            task.await;
            drop(permit);
        });
    }
    endpoint.close(NO_ERROR, b"");
    connections
}

/// One QUIC connection from its first packet to its end.
async fn connection_task(
    shared: Arc<Shared>,
    incoming: quinn::Incoming,
    number: u64,
    handshaking: Arc<AtomicUsize>,
    controller: &'static str,
    mut stopped: watch::Receiver<bool>,
) {
    let peer = incoming.remote_address();
    let accepted = async {
        let mut connecting = incoming.accept().map_err(|e| e.to_string())?;
        // The whole ClientHello first: it carries the client's transport parameters, and until
        // they are read quinn has no stream budget to open the control stream with. An
        // `open_uni` made before then is never woken when they arrive (quinn 0.11 signals new
        // budget only for MAX_STREAMS frames), and the connection hangs unanswered. A
        // ClientHello spans two Initial datagrams when it is big (Chromium's with a
        // post-quantum key share, ~1.9 KB), and the second can come after the first is taken.
        tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting.handshake_data())
            .await
            .map_err(|_| "no whole ClientHello in time".to_string())?
            .map_err(|e| e.to_string())?;
        // Early data is taken: the connection serves 0-RTT requests before the handshake ends
        // (a server's `into_0rtt` always succeeds; the arm below is for completeness).
        match connecting.into_0rtt() {
            Ok((connection, _)) => Ok(connection),
            Err(connecting) => tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
                .await
                .map_err(|_| "handshake timed out".to_string())?
                .map_err(|e| e.to_string()),
        }
    };
    let connection = accepted.await;
    handshaking.fetch_sub(1, Ordering::Relaxed);
    let connection = match connection {
        Ok(connection) => connection,
        Err(e) => {
            tracing::debug!(connection = number, %peer, "QUIC handshake failed: {e}");
            return;
        }
    };
    let log = shared.log.clone();
    let clock = shared.clock;
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    log.connection_accepted(number, peer, clock.now(), None);
    let reader = connection.clone();
    log.quic_opened(
        number,
        Box::new(move || reading(&reader, clock.now(), controller)),
    );
    let activity = shared.registry.register(number);
    shared
        .peak
        .fetch_max(shared.registry.len() as u64, Ordering::Relaxed);
    let conn = Arc::new(Connection::new(
        shared.clone(),
        number,
        peer,
        None,
        activity.clone(),
    ));
    let serve = serve(connection.clone(), conn, &mut stopped);
    tokio::select! {
        () = serve => {}
        why = activity.ended() => {
            tracing::debug!(connection = number, %peer, "ended: {why:?}");
            let code = match why {
                Ending::Evicted => NO_ERROR,
                Ending::Stalled => INTERNAL_ERROR,
            };
            connection.close(code, b"");
        }
    }
    shared.registry.forget(number);
    log.quic_closed(number, reading(&connection, clock.now(), controller));
    log.connection_closed(number, clock.now());
}

/// HTTP/3 on `connection` until it ends, or the server stops (then GOAWAY).
async fn serve(
    connection: quinn::Connection,
    conn: Arc<Connection>,
    stopped: &mut watch::Receiver<bool>,
) {
    let (number, peer) = (conn.number, conn.peer);
    let built = h3::server::builder()
        .max_field_section_size(MAX_FIELD_SECTION)
        .build::<_, Bytes>(h3_quinn::Connection::new(connection))
        .await;
    let mut h3 = match built {
        Ok(h3) => h3,
        Err(e) => {
            tracing::debug!(connection = number, %peer, "HTTP/3 connection failed: {e}");
            return;
        }
    };
    let mut streams = JoinSet::new();
    loop {
        while streams.try_join_next().is_some() {}
        let resolver = tokio::select! {
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => resolver,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(connection = number, %peer, "HTTP/3 connection ended: {e}");
                    break;
                }
            },
            _ = stopped.changed() => {
                let _ = h3.shutdown(0).await;
                break;
            }
        };
        let conn = conn.clone();
        streams.spawn(async move {
            match resolver.resolve_request().await {
                Ok((request, stream)) => answer(&conn, request, stream).await,
                Err(e) => tracing::debug!(connection = conn.number, "HTTP/3 request: {e}"),
            }
        });
    }
    // Streams under way finish (bounded by the server's shutdown grace).
    while streams.join_next().await.is_some() {}
}

/// Answers one request stream with the lab's service.
async fn answer<S>(conn: &Connection, request: http::Request<()>, stream: ReqStream<S>)
where
    S: h3::quic::BidiStream<Bytes>,
    S::RecvStream: Send + Unpin,
{
    let (mut send, recv) = stream.split();
    let (head, ()) = request.into_parts();
    let request = http::Request::from_parts(head, RecvBody(recv));
    let response = match conn.respond(request).await {
        Ok(response) => response,
        Err(_timed_out) => {
            send.stop_stream(Code::H3_INTERNAL_ERROR);
            return;
        }
    };
    let (head, mut body) = response.into_parts();
    if let Err(e) = send
        .send_response(http::Response::from_parts(head, ()))
        .await
    {
        tracing::debug!(connection = conn.number, "HTTP/3 response head: {e}");
        return;
    }
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            if let Err(e) = send.send_data(data).await {
                tracing::debug!(connection = conn.number, "HTTP/3 response body: {e}");
                return;
            }
        }
    }
    if let Err(e) = send.finish().await {
        tracing::debug!(connection = conn.number, "HTTP/3 response end: {e}");
    }
}

/// A request stream's receiving half as a request body for the service.
struct RecvBody<S: h3::quic::RecvStream>(ReqStream<S>);

impl<S> Body for RecvBody<S>
where
    S: h3::quic::RecvStream + Unpin,
{
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut().0.poll_recv_data(cx) {
            Poll::Ready(Ok(Some(mut data))) => {
                let bytes = data.copy_to_bytes(data.remaining());
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The `Alt-Svc` value that advertises HTTP/3 at `addr`'s port (RFC 7838, RFC 9114 §3.1.1).
pub(crate) fn alt_svc(addr: SocketAddr) -> String {
    format!("h3=\":{}\"; ma=86400", addr.port())
}
