//! The lab's connector: TCP connect and TLS handshake, each timed, each connection registered,
//! each socket with the scenario's TCP congestion control (read back from the kernel before it
//! connects).
//!
//! One connector serves a run: every connection is numbered in one sequence, whichever of the
//! scenario's origins it goes to, and whether it is TCP or QUIC (HTTP/3: `quic.rs`). Each origin is a target (an address, a host name and TLS or
//! not), and [`LabConnector::target`] hands a protocol client the connector of one.

use crate::network::SocketFactory;
use httplab_core::{
    Clock, CloseReason, ConnectionRecord, RequestRecord, ResponseTcpInfo, TcpInfoLog, TlsRecord,
};
use httplab_socket::{TcpProbe, Watched};
use httplab_transport::connector::{ConnectFuture, QuicConnectFuture};
use httplab_transport::{
    BoxIo, Connection, Connector, Meter, Metered, Origin, QuicConnection, Setup,
};
use rustls_pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;

/// How long a TCP connect or TLS handshake may take before the request fails.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the connector remembers of each connection it opened.
struct Opened {
    /// The target it was opened to.
    target: usize,
    local_addr: String,
    opened_at: Duration,
    carrier: Carrier,
}

/// What carries a connection.
enum Carrier {
    Tcp(TcpOpened),
    Quic(crate::quic::QuicOpened),
}

/// A TCP connection (TLS over it or not).
struct TcpOpened {
    tcp_connect: Duration,
    tls: Option<TlsRecord>,
    /// Below TLS: bytes on the wire.
    wire: Meter,
    /// Above TLS: the stream the protocol client holds; its drop is the close.
    app: Meter,
    /// Reads the socket's `TCP_INFO` while it is open.
    probe: TcpProbe,
    /// The readings: at each response end (`response_done`) and at close.
    tcp_info: Arc<Mutex<TcpInfoLog>>,
}

/// Where connections go: one of a scenario's origins.
struct Target {
    addr: SocketAddr,
    origin: Origin,
    /// The host name, as the records name the origin.
    host: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Target {
    fn new(
        addr: SocketAddr,
        host: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> io::Result<Target> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                Some((TlsConnector::from(config), name))
            }
            None => None,
        };
        Ok(Target {
            addr,
            origin: Origin {
                scheme,
                authority: format!("{host}:{}", addr.port()),
            },
            host: host.to_string(),
            tls,
        })
    }
}

/// Opens connections to the lab server for one run.
pub struct LabConnector {
    /// The first is the connector's own ([`Connector`] on `LabConnector` itself).
    targets: Vec<Target>,
    clock: Clock,
    opened: Mutex<Vec<Opened>>,
    /// Makes the client's sockets on the far side of an emulated link; `None`: plain sockets.
    sockets: Option<SocketFactory>,
    /// TCP congestion control every socket must use; `None`: whatever the socket has (the
    /// host's default on plain sockets).
    congestion_control: Option<String>,
    /// Whether each connection is remembered (`opened`) and read at its close, for
    /// [`connection_records`](Self::connection_records); without, only counted.
    records: bool,
    /// Makes QUIC's UDP sockets, with the transport settings and controller name, for HTTP/3.
    quic: Option<QuicSetup>,
    /// Connections opened without a record.
    unrecorded: AtomicU32,
}

impl LabConnector {
    /// `tls`: a client config and the name to verify, or `None` for cleartext.
    pub fn new(
        addr: SocketAddr,
        host: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        clock: Clock,
    ) -> io::Result<Self> {
        Ok(Self {
            targets: vec![Target::new(addr, host, tls)?],
            clock,
            opened: Mutex::new(Vec::new()),
            sockets: None,
            congestion_control: None,
            records: true,
            quic: None,
            unrecorded: AtomicU32::new(0),
        })
    }

    /// Lets the connector open QUIC connections (HTTP/3), each from a socket of `udp`, with
    /// `settings`.
    pub(crate) fn with_quic(
        mut self,
        udp: crate::network::UdpFactory,
        settings: &httplab_transport::QuicSettings,
    ) -> io::Result<Self> {
        let transport = settings.transport().map_err(io::Error::other)?;
        self.quic = Some(QuicSetup {
            udp,
            transport,
            controller: settings.controller_name(),
        });
        Ok(self)
    }

    /// Without `records`, keeps no record of the connections it opens and reads no `TCP_INFO`
    /// as they close: for `httplab load`, which reports none of them. A closed-model user over
    /// HTTP/1.0 opens a connection per request, and kept records grew without bound (391 MB of
    /// client in a 10 s load of 250,000 connections).
    pub(crate) fn with_records(mut self, records: bool) -> Self {
        self.records = records;
        self
    }

    /// Adds a target (another origin) and returns its number, for [`target`](Self::target).
    pub fn add_target(
        &mut self,
        addr: SocketAddr,
        host: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> io::Result<usize> {
        self.targets.push(Target::new(addr, host, tls)?);
        Ok(self.targets.len() - 1)
    }

    /// A connector to target `k` (0: the first), numbering its connections with the others.
    pub fn target(self: &Arc<Self>, k: usize) -> Arc<dyn Connector> {
        Arc::new(TargetConnector {
            shared: self.clone(),
            k: k.min(self.targets.len() - 1),
        })
    }

    /// Makes every client socket with `sockets` (in the link's client namespace).
    pub(crate) fn with_socket_factory(mut self, sockets: Option<SocketFactory>) -> Self {
        self.sockets = sockets;
        self
    }

    /// Gives every socket TCP congestion control `name` (a factory's sockets have it already;
    /// the connector checks each socket says so before it connects).
    pub fn with_congestion_control(mut self, name: &str) -> Self {
        self.congestion_control = Some(name.to_string());
        self
    }

    async fn open(&self, k: usize) -> io::Result<Connection> {
        let target = &self.targets[k];
        // Made before the clock starts: in a link namespace that takes a thread of its own.
        let socket = match (&self.sockets, target.addr) {
            (Some(make), _) => TcpSocket::from_std_stream(make()?),
            (None, SocketAddr::V4(_)) => TcpSocket::new_v4()?,
            (None, SocketAddr::V6(_)) => TcpSocket::new_v6()?,
        };
        if let Some(cc) = &self.congestion_control {
            if self.sockets.is_none() {
                httplab_link::set_congestion(&socket, cc)?;
            }
            let used = httplab_link::get_congestion(&socket)?;
            if used != *cc {
                return Err(io::Error::other(format!(
                    "a client socket uses TCP congestion control \"{used}\", not the \
                     scenario's \"{cc}\""
                )));
            }
        }
        let opened_at = self.clock.now();
        socket.set_nodelay(true)?;
        let tcp = tokio::time::timeout(SETUP_TIMEOUT, socket.connect(target.addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out"))??;
        let tcp_connect = self.clock.now() - opened_at;
        let tcp_info: Arc<Mutex<TcpInfoLog>> = Arc::default();
        // A recorded connection keeps its address and is read once more as it closes.
        let (local_addr, tcp) = if self.records {
            let at_close = tcp_info.clone();
            let on_close = Box::new(move |info: io::Result<_>| {
                let mut log = at_close.lock().unwrap_or_else(|p| p.into_inner());
                match info {
                    Ok(info) => log.at_close = Some(info),
                    Err(e) => log.failed(format!("reading TCP_INFO at close: {e}")),
                }
            });
            let local_addr = tcp.local_addr()?.to_string();
            (local_addr, Watched::new(tcp, self.clock, on_close))
        } else {
            (
                String::new(),
                Watched::without_last_reading(tcp, self.clock),
            )
        };
        let tcp = tcp.without_read_times();
        let probe = tcp.probe();

        // Over cleartext the wire and the application see the same bytes, so one meter is
        // both (a meter reads the clock at every read and write). Over TLS the wire's is
        // below the records, the application's above.
        let (stream, wire, ssl, tls) = match &target.tls {
            None => {
                let stream = Metered::new(Box::new(tcp) as BoxIo, self.clock);
                let wire = stream.meter().clone();
                (stream, wire, None, None)
            }
            Some((connector, name)) => {
                let wire_stream = Metered::new(tcp, self.clock);
                let wire = wire_stream.meter().clone();
                let started = self.clock.now();
                let stream = tokio::time::timeout(
                    SETUP_TIMEOUT,
                    connector.connect(name.clone(), wire_stream),
                )
                .await
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
                let handshake = self.clock.now() - started;
                let record = httplab_tls::describe(stream.get_ref().1, handshake);
                let stream = Metered::new(Box::new(stream) as BoxIo, self.clock);
                (stream, wire, Some(handshake), Some(record))
            }
        };
        let setup = Setup {
            tcp_connect: Some(tcp_connect),
            tls_handshake: ssl,
        };
        if !self.records {
            let id = self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return Ok(Connection { id, stream, setup });
        }
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        let id = opened.len() as u32;
        opened.push(Opened {
            target: k,
            local_addr,
            opened_at,
            carrier: Carrier::Tcp(TcpOpened {
                tcp_connect,
                tls,
                wire,
                app: stream.meter().clone(),
                probe,
                tcp_info,
            }),
        });
        Ok(Connection { id, stream, setup })
    }

    async fn open_quic(&self, k: usize) -> io::Result<QuicConnection> {
        let target = &self.targets[k];
        let (Some(quic), Some((tls, _))) = (&self.quic, &target.tls) else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "HTTP/3 needs QUIC and TLS, and this connector has not both",
            ));
        };
        let config = crate::quic::client_config(tls.config().clone(), quic.transport.clone())?;
        // Made before the clock starts, as a TCP socket is.
        let socket = (quic.udp)()?;
        let opened_at = self.clock.now();
        let opened = crate::quic::open(
            socket,
            target.addr,
            &target.host,
            config,
            quic.controller,
            self.clock,
        )
        .await?;
        let setup = Setup {
            tcp_connect: None,
            tls_handshake: Some(opened.handshake),
        };
        let connection = opened.quic.connection.clone();
        if !self.records {
            let id = self.unrecorded.fetch_add(1, Ordering::Relaxed);
            return Ok(QuicConnection {
                id,
                connection,
                setup,
                early: opened.early,
                recorded: opened.recorded,
            });
        }
        let mut all = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        let id = all.len() as u32;
        all.push(Opened {
            target: k,
            local_addr: opened.local_addr,
            opened_at,
            carrier: Carrier::Quic(opened.quic),
        });
        Ok(QuicConnection {
            id,
            connection,
            setup,
            early: opened.early,
            recorded: opened.recorded,
        })
    }

    /// Reads the `TCP_INFO` of the socket that carried `record`'s response, now that its last
    /// byte has been read, with where the response ended in each direction's byte stream. A
    /// socket already closed (HTTP/1.0, `Connection: close`) was read as it closed instead.
    pub fn response_done(&self, record: &RequestRecord) {
        let Some(id) = record.connection else {
            return;
        };
        let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        let Some(Carrier::Tcp(c)) = opened.get(id as usize).map(|o| &o.carrier) else {
            return;
        };
        let wire = c.wire.lifetime();
        let reading = c.probe.read();
        let mut log = c.tcp_info.lock().unwrap_or_else(|p| p.into_inner());
        match reading {
            Some(Ok(info)) => log.responses.push(ResponseTcpInfo {
                request_id: Some(record.id),
                stream_received: Some(wire.bytes_read),
                stream_sent: Some(wire.bytes_written),
                info,
            }),
            Some(Err(e)) => {
                log.failed(format!("reading TCP_INFO after request {}: {e}", record.id))
            }
            None => {}
        }
    }

    /// The records of every connection opened so far; `requests` attributes requests served.
    pub fn connection_records(&self, requests: &[RequestRecord]) -> Vec<ConnectionRecord> {
        let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        opened
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let id = i as u32;
                let target = &self.targets[o.target];
                let mut record = ConnectionRecord {
                    id,
                    local_addr: o.local_addr.clone(),
                    remote_addr: target.addr.to_string(),
                    origin: target.host.clone(),
                    opened_at: o.opened_at,
                    tcp_connect: Duration::ZERO,
                    tls: None,
                    closed_at: None,
                    close_reason: CloseReason::Open,
                    bytes_sent: 0,
                    bytes_received: 0,
                    requests_served: requests
                        .iter()
                        .filter(|r| r.connection == Some(id) && r.error.is_none())
                        .count() as u32,
                    ping_rtt: None,
                    h2_frames: None,
                    tcp_info: TcpInfoLog::default(),
                    quic: None,
                };
                match &o.carrier {
                    Carrier::Tcp(c) => {
                        let wire = c.wire.lifetime();
                        record.tcp_connect = c.tcp_connect;
                        record.tls = c.tls.clone();
                        record.closed_at = c.app.closed_at();
                        record.close_reason = c.app.close_reason().unwrap_or(CloseReason::Open);
                        record.bytes_sent = wire.bytes_written;
                        record.bytes_received = wire.bytes_read;
                        record.ping_rtt = c.app.ping_rtt();
                        record.h2_frames = c.app.h2_frames();
                        record.tcp_info =
                            c.tcp_info.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    }
                    Carrier::Quic(q) => {
                        let info = q.info();
                        let state = q.state.lock().unwrap_or_else(|p| p.into_inner());
                        record.tls = state.tls.clone();
                        record.closed_at = state.closed_at;
                        record.close_reason =
                            state.close_reason.clone().unwrap_or(CloseReason::Open);
                        // UDP payloads: QUIC's packets, headers and all.
                        record.bytes_sent = info.bytes_sent;
                        record.bytes_received = info.bytes_received;
                        record.quic = Some(info);
                    }
                }
                record
            })
            .collect()
    }
}

impl Connector for LabConnector {
    fn origin(&self) -> &Origin {
        &self.targets[0].origin
    }

    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(self.open(0))
    }

    fn connect_quic(&self) -> QuicConnectFuture<'_> {
        Box::pin(self.open_quic(0))
    }
}

/// The connector of one target, sharing the run's numbering and records.
struct TargetConnector {
    shared: Arc<LabConnector>,
    k: usize,
}

impl Connector for TargetConnector {
    fn origin(&self) -> &Origin {
        &self.shared.targets[self.k].origin
    }

    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(self.shared.open(self.k))
    }

    fn connect_quic(&self) -> QuicConnectFuture<'_> {
        Box::pin(self.shared.open_quic(self.k))
    }
}

/// What the connector opens QUIC connections with.
struct QuicSetup {
    udp: crate::network::UdpFactory,
    transport: Arc<quinn::TransportConfig>,
    controller: &'static str,
}
