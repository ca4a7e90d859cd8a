//! httplab-server: the lab origin, the server the scenarios describe.
//!
//! It owns the accept loop (TCP_NODELAY, one task per connection, numbered in acceptance order,
//! each socket watched so the log holds its `TCP_INFO`),
//! the TLS accept when configured, HTTP/1.0 and HTTP/1.1 through hyper's http1 server, and the
//! server side of the timeline: for every request, when it arrived, when its think time ended and
//! when its last body byte was handed to the connection, kept in a `ServerLog` and reported to
//! the client in a `Server-Timing` header. It deliberately knows nothing of the client, the link
//! or the run: it serves the scenario's resources to whoever connects, and its records are
//! offsets from the `Clock` it is given, so the harness can line them up with its own.
//! When a run asks for a pipelining model (`set_pipelining`), HTTP/1.x connections are served by
//! the server's own loop (`pipeline.rs`) instead of hyper, serially or in parallel, with each
//! response's head-of-line wait reported in `Server-Timing`.
//! HTTP/2 (`http2.rs`, hyper's http2 server with the scenario's SETTINGS) is chosen per
//! connection: over TLS by ALPN (`h2`; anything else or none is HTTP/1.x), in cleartext by the
//! client's opening bytes (`preface.rs`: the HTTP/2 preface means h2c with prior knowledge).
//! Every protocol is answered by the same service (`service.rs`), so HTTP/2 responses carry
//! the same `Server-Timing` and leave the same log records.
//!
//! The scenario's misbehaviours live on every path: `respond = "never"` and `request_timeout`
//! (see `service.rs`: HTTP/1.x closes the connection, HTTP/2 resets the stream), think-time
//! distributions, and `max_connections` (here: the accept loop stops accepting at the cap, so
//! further connections wait in the kernel's listen backlog; `ServerLog::connections` shows when
//! each was accepted). `keep_alive_timeout` and `max_requests_per_connection` are HTTP/1.x
//! notions and apply to HTTP/1.x only: hyper's `header_read_timeout` (which runs from the end
//! of a response until the next request head is read) and the pipelining loop's own idle
//! timer; `Connection: close` on the last allowed response. HTTP/2 connections ignore them.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod alarm;
mod body;
mod http2;
mod log;
mod pipeline;
mod preface;
mod service;
mod thread;

pub use http2::MIN_CONNECTION_WINDOW;
pub use httplab_core::ServerConnectionRecord;
pub use log::ServerLog;
pub use pipeline::{MAX_HEAD, MAX_HEADERS, MAX_READ_AHEAD};
pub use thread::ServerThread;

use httplab_core::{Clock, PipeliningModel, Scenario};
use httplab_socket::Watched;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

/// Connections served at once; further ones wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long `shutdown` lets in-flight connections finish before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A TLS handshake that takes longer than this is abandoned.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A cleartext connection that sends nothing for this long is closed (hyper's own default
/// for reading a request head).
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A running lab origin. Dropping it stops the accept loop too, but only `shutdown` waits.
pub struct LabServer {
    local_addr: SocketAddr,
    log: ServerLog,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    accept_task: JoinHandle<JoinSet<()>>,
}

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub scenario: Arc<Scenario>,
    pub clock: Clock,
    pub log: ServerLog,
    /// The pipelining model for connections accepted from now on.
    pub pipelining: PipeliningSwitch,
    /// Numbers requests that carry no request id, for their think-time draws.
    anonymous: AtomicU64,
    /// Think times ending at one instant end together.
    pub alarms: alarm::Alarms,
}

impl Shared {
    /// A draw number for a request without `x-httplab-request`, disjoint from request ids.
    pub(crate) fn next_anonymous(&self) -> u64 {
        (1 << 32) + self.anonymous.fetch_add(1, Ordering::Relaxed)
    }
}

/// `Option<PipeliningModel>` that the accept loop reads while the run changes it.
#[derive(Default)]
pub(crate) struct PipeliningSwitch(AtomicU8);

impl PipeliningSwitch {
    const HYPER: u8 = 0;
    const SERIAL: u8 = 1;
    const PARALLEL: u8 = 2;

    fn set(&self, model: Option<PipeliningModel>) {
        let value = match model {
            None => Self::HYPER,
            Some(PipeliningModel::Serial) => Self::SERIAL,
            Some(PipeliningModel::Parallel) => Self::PARALLEL,
        };
        self.0.store(value, Ordering::SeqCst);
    }

    fn get(&self) -> Option<PipeliningModel> {
        match self.0.load(Ordering::SeqCst) {
            Self::SERIAL => Some(PipeliningModel::Serial),
            Self::PARALLEL => Some(PipeliningModel::Parallel),
            _ => None,
        }
    }
}

impl LabServer {
    /// Serves `scenario`'s resources on the already-bound `listener` until shutdown.
    ///
    /// `tls`: `Some(config)` runs a TLS handshake on every connection (the config's ALPN list
    /// is what the server offers; `h2` in it enables HTTP/2 over TLS), `None` serves cleartext
    /// (HTTP/1.x, or h2c when a client opens with the HTTP/2 preface). The pipelining model starts as the scenario's first
    /// (`scenario.server.pipelining`), none (hyper) if it lists none; see `set_pipelining`.
    /// Must be called within a tokio runtime; outside one it returns an error instead of
    /// panicking.
    pub fn start(
        listener: TcpListener,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<LabServer> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            std::io::Error::other(format!("LabServer::start needs a tokio runtime: {e}"))
        })?;
        Self::spawn(&runtime, listener, scenario, clock, tls)
    }

    /// Like [`start`](Self::start), on `thread`'s runtime rather than the caller's: the
    /// server's tasks then never share a thread with the caller's (the lab's client).
    /// `listener` must be non-blocking.
    pub fn start_on(
        thread: &ServerThread,
        listener: std::net::TcpListener,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<LabServer> {
        let runtime = thread.handle();
        // The listener registers with the reactor of the runtime it is made in.
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        Self::spawn(runtime, listener, scenario, clock, tls)
    }

    fn spawn(
        runtime: &tokio::runtime::Handle,
        listener: TcpListener,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<LabServer> {
        let local_addr = listener.local_addr()?;
        let log = ServerLog::default();
        let pipelining = PipeliningSwitch::default();
        pipelining.set(scenario.server.pipelining.first().copied());
        let shared = Arc::new(Shared {
            scenario,
            clock,
            log: log.clone(),
            pipelining,
            anonymous: AtomicU64::new(0),
            alarms: alarm::Alarms::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let accept_task = runtime.spawn(accept_loop(listener, shared.clone(), acceptor, stopped));
        Ok(LabServer {
            local_addr,
            log,
            shared,
            stop,
            accept_task,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How HTTP/1.x connections accepted from now on treat pipelined requests: `None` serves
    /// them with hyper (which handles them one at a time), `Some(model)` with the server's own
    /// loop, serially or in parallel, reporting each response's `hol` in `Server-Timing`.
    /// Connections already open keep their model.
    pub fn set_pipelining(&self, model: Option<PipeliningModel>) {
        self.shared.pipelining.set(model);
    }

    /// The pipelining model new connections get.
    pub fn pipelining(&self) -> Option<PipeliningModel> {
        self.shared.pipelining.get()
    }

    /// A handle on the server's request log.
    pub fn log(&self) -> ServerLog {
        self.log.clone()
    }

    /// Stops accepting, lets in-flight connections finish their current response (idle
    /// keep-alive connections close at once), and aborts whatever is left after
    /// `SHUTDOWN_GRACE`.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut connections = match self.accept_task.await {
            Ok(connections) => connections,
            Err(e) => {
                tracing::error!("lab server accept loop ended abnormally: {e}");
                return;
            }
        };
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "lab server: {} connection(s) still open after {SHUTDOWN_GRACE:?}, aborting",
                connections.len()
            );
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) -> JoinSet<()> {
    // Beyond the cap, `accept` is not called: connections wait in the listen backlog.
    let cap = shared
        .scenario
        .server
        .max_connections
        .map_or(MAX_CONNECTIONS, |m| (m as usize).min(MAX_CONNECTIONS));
    let limit = Arc::new(Semaphore::new(cap));
    let mut connections = JoinSet::new();
    let mut next_connection: u64 = 0;
    loop {
        while let Some(done) = connections.try_join_next() {
            if let Err(e) = done {
                tracing::error!("lab server connection task failed: {e}");
            }
        }
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped.changed() => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("lab server accept failed: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let number = next_connection;
        next_connection += 1;
        let log = shared.log.clone();
        let clock = shared.clock;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(connection = number, %peer, "TCP_NODELAY failed: {e}");
        }
        let closing = log.clone();
        let tcp = Watched::new(
            tcp,
            clock,
            Box::new(move |reading| closing.socket_closed(number, reading)),
        );
        log.connection_accepted(number, peer.to_string(), clock.now(), Some(tcp.probe()));
        let conn = service::Connection::new(shared.clone(), number, peer, Some(tcp.probe()));
        let serve = serve_connection(
            tcp,
            conn,
            shared.pipelining.get(),
            tls.clone(),
            stopped.clone(),
            permit,
        );
        connections.spawn(async move {
            serve.await;
            log.connection_closed(number, clock.now());
        });
    }
    connections
}

/// Serves one accepted connection: TLS if configured, then HTTP/2 when ALPN chose `h2` (TLS)
/// or the client opened with the HTTP/2 preface (cleartext), else HTTP/1.x with hyper, or with
/// the server's own loop when a `pipelining` model was set when it was accepted.
async fn serve_connection(
    mut tcp: Watched<TcpStream>,
    conn: service::Connection,
    pipelining: Option<PipeliningModel>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let (connection, peer) = (conn.number, conn.peer);
    match tls {
        None => {
            let sniffed = tokio::select! {
                sniffed = tokio::time::timeout(FIRST_BYTES_TIMEOUT, preface::sniff(&mut tcp)) => sniffed,
                _ = stopped.changed() => return,
            };
            let (opening, first) = match sniffed {
                Ok(Ok(sniffed)) => sniffed,
                Ok(Err(e)) => {
                    tracing::debug!(connection, %peer, "reading the first bytes failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(connection, %peer, "no request within {FIRST_BYTES_TIMEOUT:?}");
                    return;
                }
            };
            let io = preface::Rewind::new(first, tcp);
            if opening == preface::Opening::H2 {
                http2::serve(io, conn, stopped).await;
            } else {
                serve_http1(io, conn, pipelining, stopped).await;
            }
        }
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    if stream.get_ref().1.alpn_protocol() == Some(httplab_tls::ALPN_H2) {
                        http2::serve(stream, conn, stopped).await;
                    } else {
                        serve_http1(stream, conn, pipelining, stopped).await;
                    }
                }
                Ok(Err(e)) => tracing::debug!(connection, %peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(connection, %peer, "TLS handshake timed out"),
            }
        }
    }
}

/// The hyper service of one connection, whatever its HTTP version: every request (an HTTP/1.x
/// exchange or an HTTP/2 stream) goes to `Connection::respond`.
#[derive(Clone)]
pub(crate) struct LabService(pub Arc<service::Connection>);

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for LabService {
    type Response = http::Response<body::LabBody>;
    type Error = service::TimedOut;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let conn = self.0.clone();
        Box::pin(async move { conn.respond(request).await })
    }
}

/// Serves one hyper connection to its end; if the server stops first, asks it to finish
/// gracefully (HTTP/1.x closes after the response in progress, HTTP/2 sends GOAWAY and lets
/// open streams finish) and waits for that.
pub(crate) async fn until_stopped<C: GracefulConnection>(
    connection: C,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), C::Error> {
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}

async fn serve_http1<S>(
    io: S,
    conn: service::Connection,
    pipelining: Option<PipeliningModel>,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if let Some(model) = pipelining {
        return pipeline::serve(io, conn, model, stopped).await;
    }
    let number = conn.number;
    let peer = conn.peer;
    let keep_alive_timeout = conn.shared.scenario.server.keep_alive_timeout;
    let service = LabService(Arc::new(conn));
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .half_close(true)
        .timer(TokioTimer::new());
    if let Some(idle) = keep_alive_timeout {
        // hyper starts this timer when it begins reading the next request head, i.e. as soon
        // as the previous response is written: an idle keep-alive connection closes after it.
        builder.header_read_timeout(idle);
    }
    let http = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = until_stopped(http, &mut stopped).await {
        tracing::debug!(connection = number, %peer, "HTTP connection ended with an error: {e}");
    }
}
