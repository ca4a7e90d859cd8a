//! httplab-server: the lab origin, the server the scenarios describe.
//!
//! It owns the accept loop (`accept.rs`: TCP_NODELAY, one task per connection, numbered in
//! acceptance order, each socket watched so the log holds its `TCP_INFO`),
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
//! Every wait on a peer is bounded (`[server]` keys, README "Limits and timeouts"): a
//! cleartext connection's first bytes and every HTTP/1.x request head (`request_head_timeout`:
//! the sniffing here, hyper's `header_read_timeout`, the pipelining loop's own timer), request
//! bodies (`body_timeout` and `min_body_rate`, `service.rs` and `pace.rs`), idle HTTP/2
//! connections (`h2_idle_timeout`, `http2.rs`), and responses the client stops taking
//! (`send_timeout`, one watch in `accept.rs` for every path). At the server's own ceiling
//! (`MAX_CONNECTIONS`) the accept loop keeps accepting and evicts the connection idle the
//! longest or reading a body too slowly (`activity.rs`), so a new client is served while idle
//! or slow peers hold thousands of connections; only when none can be evicted do new ones wait
//! in the listen backlog.
//!
//! The scenario's misbehaviours live on every path: `respond = "never"` and `request_timeout`
//! (see `service.rs`: HTTP/1.x closes the connection, HTTP/2 resets the stream), think-time
//! distributions, and `max_connections` (here: the accept loop stops accepting at the cap, so
//! further connections wait in the kernel's listen backlog; `ServerLog::connections` shows when
//! each was accepted; no eviction there, the backlog is what the scenario teaches).
//! `keep_alive_timeout` and `max_requests_per_connection` are HTTP/1.x
//! notions and apply to HTTP/1.x only: hyper's `header_read_timeout` (which runs from the end
//! of a response until the next request head is read; the smaller of `keep_alive_timeout` and
//! `request_head_timeout`, one timer in hyper) and the pipelining loop's own idle
//! timer; `Connection: close` on the last allowed response. HTTP/2 connections ignore them.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod accept;
mod activity;
mod alarm;
mod body;
mod http2;
mod http3;
mod log;
mod nodelay;
mod pace;
mod pipeline;
mod preface;
mod service;
mod thread;

pub use http2::MIN_CONNECTION_WINDOW;
pub use httplab_core::ServerConnectionRecord;
pub use log::{ServerLog, Tally, MAX_LOGGED_METHOD, MAX_LOGGED_PATH};
pub use pipeline::{MAX_HEAD, MAX_HEADERS, MAX_READ_AHEAD};
pub use service::MAX_REQUEST_BODY;
pub use thread::ServerThread;

use httplab_core::{Clock, PipeliningModel, Scenario};
use httplab_socket::Watched;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Connections served at once. At this ceiling a new connection evicts the one idle the
/// longest or uploading too slowly; when none can be evicted, new ones wait in the listen
/// backlog.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long `shutdown` lets in-flight connections finish before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A TLS handshake that takes longer than this is abandoned.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// At the ceiling with nothing to evict, how often the accept loop looks again.
const ADMISSION_RECHECK: Duration = Duration::from_millis(50);
/// After an idle HTTP/2 connection's GOAWAY, how long it may take to close gracefully (h2
/// waits for the client's answer to a PING) before it is dropped.
const GOAWAY_GRACE: Duration = Duration::from_millis(500);

/// A running lab origin. Dropping it stops the accept loop too, but only `shutdown` waits.
pub struct LabServer {
    /// Where it listens: one address per listener, the first the main one.
    local_addrs: Vec<SocketAddr>,
    log: ServerLog,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    accept_task: JoinHandle<JoinSet<()>>,
    /// The TLS configuration, for HTTP/3 (`serve_quic`); `None` in cleartext.
    tls: Option<Arc<rustls::ServerConfig>>,
    runtime: tokio::runtime::Handle,
    /// HTTP/3's accept loops, one per UDP socket.
    quic_tasks: Vec<JoinHandle<JoinSet<()>>>,
}

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub scenario: Arc<Scenario>,
    pub clock: Clock,
    pub log: ServerLog,
    /// The pipelining model for connections accepted from now on.
    pub pipelining: pipeline::Switch,
    /// Numbers requests that carry no request id, for their think-time draws.
    anonymous: AtomicU64,
    /// Think times ending at one instant end together.
    pub alarms: alarm::Alarms,
    /// Every live connection's activity, for admission at the ceiling.
    registry: activity::Registry,
    /// Connections accepted so far.
    accepted: AtomicU64,
    /// The most connections open at once since `take_peak_connections` last ran.
    peak: AtomicU64,
    /// The server's own connection ceiling ([`MAX_CONNECTIONS`] unless raised).
    ceiling: AtomicUsize,
    /// The next connection's number, TCP and QUIC alike.
    numbers: AtomicU64,
    /// `Alt-Svc` for every response, once HTTP/3 is served (`serve_quic`).
    pub alt_svc: std::sync::OnceLock<http::HeaderValue>,
    /// Accepted connections come with TCP_NODELAY from their listener (`nodelay::on_accept`).
    nodelay_inherited: bool,
}

impl Shared {
    /// The number of a connection accepted now, in one sequence over TCP and QUIC.
    pub(crate) fn next_connection_number(&self) -> u64 {
        self.numbers.fetch_add(1, Ordering::Relaxed)
    }

    /// A draw number for a request without `x-httplab-request`, disjoint from request ids.
    pub(crate) fn next_anonymous(&self) -> u64 {
        (1 << 32) + self.anonymous.fetch_add(1, Ordering::Relaxed)
    }

    /// The scenario's `[server] max_connections` as permits, one held per connection, TCP or
    /// QUIC: beyond it an accept loop takes no more, and attempts wait unanswered (in the listen
    /// backlog, or quinn's queue), as the scenario teaches; nobody is evicted for it. Never above
    /// the server's own ceiling (the scenario refuses more anyway).
    pub(crate) fn scenario_cap(&self) -> Option<Arc<tokio::sync::Semaphore>> {
        let cap = self.scenario.server.max_connections?;
        Some(Arc::new(tokio::sync::Semaphore::new(
            (cap as usize).min(MAX_CONNECTIONS),
        )))
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
        Self::start_with_log(listener, scenario, clock, tls, ServerLog::default())
    }

    /// Like [`start`](Self::start), logging into `log`: e.g. a [`ServerLog::counting`] one for
    /// a server whose records nobody takes (`httplab serve`), so its memory stays bounded.
    pub fn start_with_log(
        listener: TcpListener,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
        log: ServerLog,
    ) -> std::io::Result<LabServer> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            std::io::Error::other(format!("LabServer::start needs a tokio runtime: {e}"))
        })?;
        Self::spawn(&runtime, vec![listener], scenario, clock, tls, log)
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
        Self::start_on_all(thread, vec![listener], scenario, clock, tls)
    }

    /// Like [`start_on`](Self::start_on), accepting on every one of `listeners` (at least
    /// one): a scenario's origins each have an address of their own, and one server serves
    /// them all, telling them apart by the requests' `Host`.
    pub fn start_on_all(
        thread: &ServerThread,
        listeners: Vec<std::net::TcpListener>,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<LabServer> {
        Self::start_on_all_with_log(
            thread,
            listeners,
            scenario,
            clock,
            tls,
            ServerLog::default(),
        )
    }

    /// Like [`start_on_all`](Self::start_on_all), logging into `log` (a counting one under
    /// load, whose memory stays bounded).
    pub fn start_on_all_with_log(
        thread: &ServerThread,
        listeners: Vec<std::net::TcpListener>,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
        log: ServerLog,
    ) -> std::io::Result<LabServer> {
        let runtime = thread.handle();
        // The listeners register with the reactor of the runtime they are made in.
        let listeners = {
            let _entered = runtime.enter();
            listeners
                .into_iter()
                .map(TcpListener::from_std)
                .collect::<std::io::Result<Vec<_>>>()?
        };
        Self::spawn(runtime, listeners, scenario, clock, tls, log)
    }

    fn spawn(
        runtime: &tokio::runtime::Handle,
        listeners: Vec<TcpListener>,
        scenario: Arc<Scenario>,
        clock: Clock,
        tls: Option<Arc<rustls::ServerConfig>>,
        log: ServerLog,
    ) -> std::io::Result<LabServer> {
        let local_addrs = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        if local_addrs.is_empty() {
            return Err(std::io::Error::other("a lab server needs a listener"));
        }
        let nodelay_inherited = nodelay::on_accept(&listeners);
        let pipelining = pipeline::Switch::default();
        pipelining.set(scenario.server.pipelining.first().copied());
        let shared = Arc::new(Shared {
            scenario,
            clock,
            log: log.clone(),
            pipelining,
            anonymous: AtomicU64::new(0),
            alarms: alarm::Alarms::default(),
            registry: activity::Registry::default(),
            accepted: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            ceiling: AtomicUsize::new(MAX_CONNECTIONS),
            numbers: AtomicU64::new(0),
            alt_svc: std::sync::OnceLock::new(),
            nodelay_inherited,
        });
        let (stop, stopped) = watch::channel(false);
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let tls = acceptor.as_ref().map(|a| a.config().clone());
        let limit = shared.scenario.server.send_timeout;
        runtime.spawn(accept::watch_sends(Arc::downgrade(&shared), limit));
        let accept_task = runtime.spawn(accept::accept_loop(
            listeners,
            shared.clone(),
            acceptor,
            stopped,
        ));
        Ok(LabServer {
            local_addrs,
            log,
            shared,
            stop,
            accept_task,
            tls,
            runtime: runtime.clone(),
            quic_tasks: Vec::new(),
        })
    }

    /// Serves HTTP/3 as well, on `sockets` (UDP, non-blocking; one per listener, each at its
    /// listener's address and port), with the TLS server's certificate, and advertises it in
    /// every response's `Alt-Svc`. Only a TLS server can.
    pub fn serve_quic(&mut self, sockets: Vec<std::net::UdpSocket>) -> std::io::Result<()> {
        let Some(tls) = &self.tls else {
            return Err(std::io::Error::other("HTTP/3 needs a TLS server"));
        };
        let settings = http3::settings(&self.shared);
        let controller = settings.controller_name();
        let _entered = self.runtime.enter();
        for socket in sockets {
            let addr = socket.local_addr()?;
            let endpoint = http3::endpoint(socket, tls, &settings)?;
            let _ = self.shared.alt_svc.set(
                http::HeaderValue::try_from(http3::alt_svc(addr)).map_err(std::io::Error::other)?,
            );
            self.quic_tasks.push(self.runtime.spawn(http3::accept_loop(
                endpoint,
                self.shared.clone(),
                controller,
                self.stop.subscribe(),
            )));
        }
        Ok(())
    }

    /// The address the server listens on (its first listener's).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every address the server listens on, in the order its listeners were given.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// How HTTP/1.x connections accepted from now on treat pipelined requests: `None` serves
    /// them with hyper (which handles them one at a time), `Some(model)` with the server's own
    /// loop, serially or in parallel, reporting each response's `hol` in `Server-Timing`.
    /// Connections already open keep their model.
    pub fn set_pipelining(&self, model: Option<PipeliningModel>) {
        self.shared.pipelining.set(model);
    }

    /// Connections open now (accepted, not yet closed).
    pub fn open_connections(&self) -> usize {
        self.shared.registry.len()
    }

    /// The most connections open at once since the last call (or the start), and a fresh
    /// count from those open now: a load run reads it once a second, and misses no peak
    /// between its readings.
    pub fn take_peak_connections(&self) -> u64 {
        let now = self.shared.registry.len() as u64;
        self.shared.peak.swap(now, Ordering::Relaxed).max(now)
    }

    /// Raises the server's own connection ceiling from [`MAX_CONNECTIONS`] to `ceiling` (a
    /// load of many browsers, which the machine was checked to hold); never lowers it.
    pub fn raise_ceiling(&self, ceiling: usize) {
        self.shared.ceiling.fetch_max(ceiling, Ordering::Relaxed);
    }

    /// Connections accepted since the server started.
    pub fn accepted_connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
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
        let connections = match self.accept_task.await {
            Ok(connections) => connections,
            Err(e) => {
                tracing::error!("lab server accept loop ended abnormally: {e}");
                return;
            }
        };
        let mut all = vec![connections];
        for task in self.quic_tasks {
            match task.await {
                Ok(quic) => all.push(quic),
                Err(e) => tracing::error!("lab server QUIC accept loop ended abnormally: {e}"),
            }
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for set in &mut all {
                while set.join_next().await.is_some() {}
            }
        })
        .await;
        if drained.is_err() {
            let left: usize = all.iter().map(JoinSet::len).sum();
            tracing::warn!(
                "lab server: {left} connection(s) still open after {SHUTDOWN_GRACE:?}, aborting"
            );
            for set in &mut all {
                set.abort_all();
                while set.join_next().await.is_some() {}
            }
        }
    }
}

/// Serves one accepted connection: TLS if configured, then HTTP/2 when ALPN chose `h2` (TLS)
/// or the client opened with the HTTP/2 preface (cleartext), else HTTP/1.x with hyper, or with
/// the server's own loop when a `pipelining` model was set when it was accepted.
///
/// Each way of serving is boxed: inline, this future (and the task's, which holds it) was tens
/// of kilobytes, the largest of the four, and a task's future is moved whole at each stage of
/// its life (spawned, run, finished); copying it was 80% of the server's instructions per
/// `Connection: close` request.
async fn serve_connection(
    mut tcp: Watched<TcpStream>,
    conn: service::Connection,
    pipelining: Option<PipeliningModel>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let (connection, peer) = (conn.number, conn.peer);
    let head_timeout = conn.shared.scenario.server.request_head_timeout;
    match tls {
        None => {
            let sniffed = tokio::select! {
                sniffed = tokio::time::timeout(head_timeout, preface::sniff(&mut tcp)) => sniffed,
                _ = stopped.changed() => return,
            };
            let (opening, first) = match sniffed {
                Ok(Ok(sniffed)) => sniffed,
                Ok(Err(e)) => {
                    tracing::debug!(connection, %peer, "reading the first bytes failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(connection, %peer, "no request within {head_timeout:?}");
                    return;
                }
            };
            let io = preface::Rewind::new(first, tcp);
            if opening == preface::Opening::H2 {
                Box::pin(http2::serve(io, conn, stopped)).await;
            } else {
                Box::pin(serve_http1(io, conn, pipelining, stopped)).await;
            }
        }
        Some(acceptor) => Box::pin(serve_tls(tcp, acceptor, conn, pipelining, stopped)).await,
    }
}

/// The TLS handshake, then HTTP/2 if ALPN chose `h2`, else HTTP/1.x. Apart from
/// `serve_connection`, whose future would otherwise hold room for the TLS stream (twice,
/// 2.5 KB) on cleartext connections too, and be copied with it.
async fn serve_tls(
    tcp: Watched<TcpStream>,
    acceptor: tokio_rustls::TlsAcceptor,
    conn: service::Connection,
    pipelining: Option<PipeliningModel>,
    stopped: watch::Receiver<bool>,
) {
    let (connection, peer) = (conn.number, conn.peer);
    let accept = Box::pin(acceptor.accept(tcp));
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(stream)) => {
            if stream.get_ref().1.alpn_protocol() == Some(httplab_tls::ALPN_H2) {
                Box::pin(http2::serve(stream, conn, stopped)).await;
            } else {
                Box::pin(serve_http1(stream, conn, pipelining, stopped)).await;
            }
        }
        Ok(Err(e)) => tracing::debug!(connection, %peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(connection, %peer, "TLS handshake timed out"),
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
/// open streams finish) and waits for that. If `idle` completes first (an idle HTTP/2
/// connection), asks the same but waits at most `GOAWAY_GRACE`.
pub(crate) async fn until_stopped<C: GracefulConnection>(
    connection: C,
    stopped: &mut watch::Receiver<bool>,
    idle: impl Future<Output = ()>,
) -> Result<(), C::Error> {
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = idle => {
            connection.as_mut().graceful_shutdown();
            tokio::time::timeout(GOAWAY_GRACE, connection).await.unwrap_or(Ok(()))
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
        // Boxed: inline, its 3.6 KB would size hyper's path too, and this future is moved
        // into its box whole.
        return Box::pin(pipeline::serve(io, conn, model, stopped)).await;
    }
    let number = conn.number;
    let peer = conn.peer;
    let server = &conn.shared.scenario.server;
    // hyper starts this timer when it begins reading a request head: at the connection's start
    // and as soon as the previous response is written. One timer bounds both the head and the
    // idle keep-alive wait, so it is the smaller of the two.
    let head_timeout = server
        .keep_alive_timeout
        .map_or(server.request_head_timeout, |idle| {
            idle.min(server.request_head_timeout)
        });
    let service = LabService(Arc::new(conn));
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .half_close(true)
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let http = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = until_stopped(http, &mut stopped, std::future::pending()).await {
        tracing::debug!(connection = number, %peer, "HTTP connection ended with an error: {e}");
    }
}
