//! What a run leaves behind: one `RunRecord` per protocol and repetition, holding every
//! connection the client opened, every request with its phases, and the server's own log of the
//! same requests. All times are offsets from the run's `Clock` epoch, so client and server events
//! compare directly. The JSON form of these types is `results.json` (docs/results-schema.md).

use crate::protocol::Protocol;
use crate::serde_ms;
use crate::tcp_info::TcpInfoLog;
use crate::QuicInfo;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;

/// The request phases of HAR 1.2 and the DevTools waterfall, measured by the client.
///
/// They are contiguous: `blocked + connect + ssl + send + wait + receive` is the request's total
/// time, from being issued by the workload to its last response byte. `connect` and `ssl` are
/// `None` on a reused connection (HAR writes -1), and `ssl` is `None` without TLS. Unlike HAR,
/// `connect` here is TCP alone; the HAR writer folds `ssl` into `connect` as HAR requires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Issued → connection (or stream slot) in hand, including the client's own microseconds
    /// between holding the connection and writing the first byte.
    #[serde(rename = "blocked_ms", with = "serde_ms")]
    pub blocked: Duration,
    /// TCP connect start → established, on a new connection.
    #[serde(rename = "connect_ms", with = "serde_ms::option")]
    pub connect: Option<Duration>,
    /// TLS handshake start → done, on a new TLS connection.
    #[serde(rename = "ssl_ms", with = "serde_ms::option")]
    pub ssl: Option<Duration>,
    /// First request byte written → last request byte written.
    #[serde(rename = "send_ms", with = "serde_ms")]
    pub send: Duration,
    /// Last request byte written → first response byte read (TTFB).
    #[serde(rename = "wait_ms", with = "serde_ms")]
    pub wait: Duration,
    /// First response byte read → last response byte read.
    #[serde(rename = "receive_ms", with = "serde_ms")]
    pub receive: Duration,
    /// Part of `wait` during which the response was ready but queued behind earlier responses
    /// on the same connection (pipelining only).
    #[serde(rename = "hol_ms", with = "serde_ms::option", default)]
    pub hol: Option<Duration>,
}

impl Phases {
    /// The request's total time: the sum of the contiguous phases.
    pub fn total(&self) -> Duration {
        self.blocked
            + self.connect.unwrap_or_default()
            + self.ssl.unwrap_or_default()
            + self.send
            + self.wait
            + self.receive
    }
}

/// How a TLS handshake went, as rustls reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeKind {
    Full,
    FullWithHelloRetryRequest,
    Resumed,
    /// Resumed, with the first request sent in the first flight (TLS 1.3 early data; QUIC's
    /// 0-RTT) and accepted by the server.
    #[serde(rename = "0rtt")]
    ZeroRtt,
}

/// The TLS side of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsRecord {
    /// e.g. "TLSv1.3".
    pub version: String,
    /// e.g. "TLS13_AES_128_GCM_SHA256".
    pub cipher: String,
    /// Negotiated key exchange group, e.g. "X25519".
    pub key_exchange_group: Option<String>,
    /// Negotiated ALPN protocol, e.g. "http/1.1".
    pub alpn: Option<String>,
    pub handshake_kind: HandshakeKind,
    #[serde(rename = "handshake_ms", with = "serde_ms")]
    pub handshake: Duration,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum CloseReason {
    /// The protocol ends the connection after one response (HTTP/1.0, `Connection: close`).
    AfterResponse,
    /// The server closed it (end of stream while the client could still have used it).
    ServerClosed,
    /// Still open and idle when the workload finished; the client closed it.
    WorkloadDone,
    /// An I/O or protocol error ended it.
    Error(String),
    /// Still open when the record was taken.
    Open,
}

/// One client connection: its handshakes, bytes and lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Numbered from 0 in order of opening, within one run.
    pub id: u32,
    pub local_addr: String,
    pub remote_addr: String,
    /// The host it was opened for (the scenario's origin; an HTTP/2 connection may carry
    /// other origins' requests too, coalesced). Empty in records written before origins.
    #[serde(default)]
    pub origin: String,
    /// TCP connect started.
    #[serde(rename = "opened_at_ms", with = "serde_ms")]
    pub opened_at: Duration,
    /// TCP handshake duration (SYN → established as the client sees it).
    #[serde(rename = "tcp_connect_ms", with = "serde_ms")]
    pub tcp_connect: Duration,
    pub tls: Option<TlsRecord>,
    #[serde(rename = "closed_at_ms", with = "serde_ms::option")]
    pub closed_at: Option<Duration>,
    pub close_reason: CloseReason,
    /// Bytes written to / read from the TCP socket (TLS records included, TCP/IP headers not).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Requests whose response came back on this connection.
    pub requests_served: u32,
    /// Round trip of an HTTP/2 PING sent right after the handshake: the RTT as the protocol
    /// sees it, to set beside `tcp_connect`.
    #[serde(rename = "ping_rtt_ms", with = "serde_ms::option", default)]
    pub ping_rtt: Option<Duration>,
    /// HTTP/2 frames counted on the plaintext between TLS and HTTP/2, each way.
    #[serde(default)]
    pub h2_frames: Option<H2FrameCounts>,
    /// The client socket's `TCP_INFO`, read at the end of each response and at close.
    #[serde(default, skip_serializing_if = "TcpInfoLog::is_empty")]
    pub tcp_info: TcpInfoLog,
    /// A QUIC connection's own account (HTTP/3), read as it closed; `tcp_connect` is then 0
    /// and `tls` is the QUIC handshake, which carries TLS inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicInfo>,
}

/// HTTP/2 frames one way on a connection, by type, and the bytes of header blocks (HEADERS and
/// CONTINUATION payloads, HPACK-compressed) against DATA payload bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct H2FrameDirection {
    pub data: u64,
    pub headers: u64,
    pub priority: u64,
    pub rst_stream: u64,
    pub settings: u64,
    pub push_promise: u64,
    pub ping: u64,
    pub goaway: u64,
    pub window_update: u64,
    pub continuation: u64,
    pub unknown: u64,
    /// HEADERS + CONTINUATION payload bytes (padding and priority fields excluded).
    pub header_block_bytes: u64,
    /// DATA payload bytes (padding excluded).
    pub data_bytes: u64,
    /// Every frame's bytes, the 9-byte frame headers included.
    pub frame_bytes: u64,
}

/// HTTP/2 frames both ways on one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct H2FrameCounts {
    pub sent: H2FrameDirection,
    pub received: H2FrameDirection,
}

/// One request as the client saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Position in the workload; also sent to the server in `x-httplab-request`.
    pub id: u32,
    pub method: String,
    pub url: String,
    pub path: String,
    /// The connection that carried it, if one was obtained.
    pub connection: Option<u32>,
    /// When the workload issued it.
    #[serde(rename = "issued_at_ms", with = "serde_ms")]
    pub issued_at: Duration,
    pub phases: Phases,
    /// The response's status, 0 if none arrived.
    pub status: u16,
    /// Response HTTP version as received, e.g. "HTTP/1.1" (a constant for every version a
    /// client reads, so a record allocates none).
    pub http_version: Cow<'static, str>,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    /// Request head bytes (request line + headers + CRLF) and body bytes as written.
    pub request_header_bytes: u64,
    pub request_body_bytes: u64,
    /// Response head bytes and body bytes as read (body without chunked framing).
    pub response_header_bytes: u64,
    pub response_body_bytes: u64,
    /// What went wrong, if the request failed.
    pub error: Option<String>,
    /// Times the client sent it again after a connection closed with it unanswered.
    #[serde(default)]
    pub retries: u32,
}

impl RequestRecord {
    /// When its last response byte arrived (or when it failed).
    pub fn ended_at(&self) -> Duration {
        self.issued_at + self.phases.total()
    }

    /// When its first request byte was written.
    pub fn sent_at(&self) -> Duration {
        self.issued_at
            + self.phases.blocked
            + self.phases.connect.unwrap_or_default()
            + self.phases.ssl.unwrap_or_default()
    }

    /// Whether this request paid for a new connection.
    pub fn opened_connection(&self) -> bool {
        // Over QUIC the one handshake is `ssl`; `connect` stays `None`.
        self.phases.connect.is_some() || self.phases.ssl.is_some()
    }
}

/// One request as the lab server saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRequestRecord {
    /// The client's request id (`x-httplab-request`), when it sent one.
    pub request_id: Option<u32>,
    /// Server-side connection number, in order of acceptance.
    pub connection: u64,
    /// The client's address as the server saw it.
    pub peer_addr: String,
    pub method: String,
    pub path: String,
    /// Request head fully read from the socket.
    #[serde(rename = "arrived_at_ms", with = "serde_ms")]
    pub arrived_at: Duration,
    /// Handler started (think began); `started_at - arrived_at` is the server's queue.
    #[serde(rename = "started_at_ms", with = "serde_ms", default)]
    pub started_at: Duration,
    /// Request body bytes the server read.
    #[serde(default)]
    pub request_body_bytes: u64,
    /// Think time over, response head handed to the HTTP layer.
    #[serde(rename = "response_ready_at_ms", with = "serde_ms")]
    pub response_ready_at: Duration,
    /// Its turn to be written came: every earlier response on the connection was written. Only
    /// the lab's own HTTP/1.1 loop (a scenario with `[server] pipelining`) records it.
    #[serde(rename = "turn_at_ms", with = "serde_ms::option", default)]
    pub turn_at: Option<Duration>,
    /// Last body byte handed to the connection for writing.
    #[serde(rename = "response_sent_at_ms", with = "serde_ms::option")]
    pub response_sent_at: Option<Duration>,
    pub status: u16,
    pub response_body_bytes: u64,
}

/// The name of a run configuration: the protocol id, plus the server's pipelining model for
/// pipelined runs that chose one (e.g. `http1.1-pipelined/parallel`).
pub fn config_label(
    protocol: Protocol,
    server_pipelining: Option<crate::scenario::PipeliningModel>,
) -> String {
    match (protocol, server_pipelining) {
        (Protocol::Http11Pipelined, Some(model)) => format!("{}/{}", protocol.id(), model.id()),
        _ => protocol.id().to_string(),
    }
}

/// [`config_label`] with the scenario's client variant, if it has several (e.g.
/// `http1.1/ie7`, `h2/tls1.2-resumed`).
pub fn run_label(
    protocol: Protocol,
    server_pipelining: Option<crate::scenario::PipeliningModel>,
    client_variant: Option<&str>,
) -> String {
    let label = config_label(protocol, server_pipelining);
    match client_variant {
        Some(variant) => format!("{label}/{variant}"),
        None => label,
    }
}

impl ServerRequestRecord {
    /// Arrival → handler start: time the request waited in the server (a serial server's
    /// pipelined requests wait here behind earlier ones).
    pub fn queue(&self) -> Duration {
        self.started_at.saturating_sub(self.arrived_at)
    }

    /// Handler start → response ready: the think time actually spent.
    pub fn think(&self) -> Duration {
        self.response_ready_at.saturating_sub(self.started_at)
    }

    /// Response ready → its turn to be written: head-of-line time, when recorded.
    pub fn hol(&self) -> Option<Duration> {
        self.turn_at
            .map(|t| t.saturating_sub(self.response_ready_at))
    }
}

/// One protocol × one repetition of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub protocol: Protocol,
    /// The server's pipelining model for this run, when the scenario chose one.
    #[serde(default)]
    pub server_pipelining: Option<crate::scenario::PipeliningModel>,
    /// The client variant this run used, when the scenario lists several (e.g. `ie7`).
    #[serde(default)]
    pub client_variant: Option<String>,
    /// From 0.
    pub repetition: u32,
    /// Wall-clock time of the run's clock epoch, milliseconds since the Unix epoch.
    pub epoch_unix_ms: u64,
    /// When the workload started (issued its first request).
    #[serde(rename = "started_at_ms", with = "serde_ms")]
    pub started_at: Duration,
    /// First request issued → last response byte received.
    #[serde(rename = "page_time_ms", with = "serde_ms")]
    pub page_time: Duration,
    pub tls: bool,
    pub connections: Vec<ConnectionRecord>,
    pub requests: Vec<RequestRecord>,
    pub server: Vec<ServerRequestRecord>,
    /// The emulated link this run crossed and how well it kept to its model; `None`: plain
    /// loopback.
    #[serde(default)]
    pub link: Option<LinkRecord>,
    /// TCP congestion control of every socket of the run, client and server, on the link or
    /// on loopback: the scenario's choice or the lab's default, cubic. Empty in records from
    /// before the lab chose it (their sockets used the host's default, in `environment`).
    #[serde(default)]
    pub congestion_control: String,
    /// The server's connections during the run: when each was accepted, so a wait in the
    /// accept backlog (`[server] max_connections`) shows beside the client's connect.
    #[serde(default)]
    pub server_connections: Vec<ServerConnectionRecord>,
    /// TCP as the link saw it: every connection's handshake, rounds, retransmissions and
    /// windows, from the relay's packets (`crate::tcp_trace`); `None` on plain loopback.
    #[serde(default)]
    pub wire: Option<crate::tcp_trace::WireTrace>,
}

/// One connection as the server saw it; times are offsets from the lab clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerConnectionRecord {
    /// Server-side connection number, in acceptance order from 0.
    pub connection: u64,
    pub peer_addr: String,
    /// `accept` returned it: after the kernel had queued it for as long as the server was at
    /// `max_connections`.
    #[serde(rename = "accepted_at_ms", with = "serde_ms")]
    pub accepted_at: Duration,
    /// Its first request head had been read.
    #[serde(rename = "first_request_at_ms", with = "serde_ms::option")]
    pub first_request_at: Option<Duration>,
    /// Requests that arrived on it.
    pub requests: u32,
    /// The server was done with it (closed, or its task ended).
    #[serde(rename = "closed_at_ms", with = "serde_ms::option")]
    pub closed_at: Option<Duration>,
    /// The server socket's `TCP_INFO`, read at the end of each response and at close.
    #[serde(default, skip_serializing_if = "TcpInfoLog::is_empty")]
    pub tcp_info: TcpInfoLog,
    /// A QUIC connection's own account (HTTP/3), read as it closed or when the records were
    /// taken: the server's side carries the responses, so its losses are the downlink's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicInfo>,
}

/// The link emulator's account of one run: the TCP settings both ends used, what each
/// direction carried and dropped, and how punctual the relay was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// TCP congestion control of the connections (the scenario's choice or the namespace's
    /// default).
    pub congestion_control: String,
    /// `tcp_slow_start_after_idle` in the lab's namespaces.
    pub slow_start_after_idle: bool,
    /// Client → server.
    pub uplink: LinkDirectionRecord,
    /// Server → client.
    pub downlink: LinkDirectionRecord,
    /// Whether the relay threads ran under `SCHED_FIFO`.
    pub realtime: bool,
    /// The first error a relay thread hit, if any.
    pub fault: Option<String>,
    /// p99 lateness within the bound, the handshakes' median excess within its bound, no
    /// packet lost by the TUN devices and no fault: the run's times are the scenario's, not the
    /// emulator's.
    pub trustworthy: bool,
    /// How packets' arrivals at the link were stamped: `kernel` (the kernel's time of handing
    /// each packet to the TUN device) or `reader` (when the relay read it, which adds the
    /// reader's wake-up to every crossing); empty in records older than the field.
    #[serde(default)]
    pub stamping: String,
    /// Why some or all packets were stamped at the read, if any were.
    #[serde(default)]
    pub stamping_note: Option<String>,
    /// The link's excess over the model's round trip, from every TCP handshake that crossed it
    /// cleanly (SYN → SYN-ACK → ACK as stamped at the relay, less the model's delays for the
    /// SYN and SYN-ACK); `None` when no handshake completed cleanly.
    #[serde(default)]
    pub excess_per_rtt: Option<LinkExcessRecord>,
    /// Whether every CPU was kept from halting while the link ran (a `SCHED_IDLE` thread
    /// spinning on each), so wake-ups cost microseconds rather than a halted vCPU's wake.
    #[serde(default)]
    pub keep_awake: bool,
}

/// The handshakes' excess over the model's round trip during one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkExcessRecord {
    /// Handshakes timed.
    pub handshakes: u64,
    #[serde(rename = "min_ms", with = "serde_ms")]
    pub min: Duration,
    #[serde(rename = "median_ms", with = "serde_ms")]
    pub median: Duration,
    #[serde(rename = "max_ms", with = "serde_ms")]
    pub max: Duration,
}

/// One direction of the link during one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDirectionRecord {
    pub packets: u64,
    pub bytes: u64,
    /// Dropped by the scenario's loss model.
    pub drops_loss: u64,
    /// Dropped by the full drop-tail queue.
    pub drops_queue: u64,
    /// Failed to reach the far TUN device: the emulator's fault.
    pub drops_tun: u64,
    /// Delivery time minus the model's deadline, per packet.
    #[serde(rename = "lateness_p50_ms", with = "serde_ms")]
    pub lateness_p50: Duration,
    #[serde(rename = "lateness_p99_ms", with = "serde_ms")]
    pub lateness_p99: Duration,
    #[serde(rename = "lateness_max_ms", with = "serde_ms")]
    pub lateness_max: Duration,
    /// Packets whose arrival the kernel stamped, and those stamped when the relay read them.
    #[serde(default)]
    pub stamped_kernel: u64,
    #[serde(default)]
    pub stamped_reader: u64,
    /// How long after the kernel's stamp the relay read a packet (median, p99): what stamping
    /// at the read would have added to each crossing.
    #[serde(rename = "read_delay_p50_ms", with = "serde_ms", default)]
    pub read_delay_p50: Duration,
    #[serde(rename = "read_delay_p99_ms", with = "serde_ms", default)]
    pub read_delay_p99: Duration,
}

impl RunRecord {
    /// The name of this run's configuration in reports: the protocol id, plus the server's
    /// pipelining model for pipelined runs that chose one (e.g. `http1.1-pipelined/parallel`).
    pub fn label(&self) -> String {
        run_label(
            self.protocol,
            self.server_pipelining,
            self.client_variant.as_deref(),
        )
    }

    /// The TCP congestion control the run's sockets used: `congestion_control`, or in a record
    /// from before it was kept, the link's; `None` when the record does not say.
    pub fn congestion_control_used(&self) -> Option<&str> {
        Some(self.congestion_control.as_str())
            .filter(|cc| !cc.is_empty())
            .or(self.link.as_ref().map(|l| l.congestion_control.as_str()))
    }

    /// TCP handshakes the client made.
    pub fn tcp_handshakes(&self) -> usize {
        self.connections.len()
    }

    /// TLS handshakes the client made.
    pub fn tls_handshakes(&self) -> usize {
        self.connections.iter().filter(|c| c.tls.is_some()).count()
    }

    /// Bytes both ways on every connection.
    pub fn wire_bytes(&self) -> u64 {
        self.connections
            .iter()
            .map(|c| c.bytes_sent + c.bytes_received)
            .sum()
    }

    /// Requests that failed.
    pub fn failed_requests(&self) -> usize {
        self.requests.iter().filter(|r| r.error.is_some()).count()
    }

    /// The server's record of a client request, matched by request id.
    pub fn server_view(&self, request_id: u32) -> Option<&ServerRequestRecord> {
        self.server
            .iter()
            .find(|s| s.request_id == Some(request_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_contiguous() {
        let p = Phases {
            blocked: Duration::from_millis(3),
            connect: Some(Duration::from_millis(1)),
            ssl: Some(Duration::from_millis(2)),
            send: Duration::from_micros(10),
            wait: Duration::from_millis(5),
            receive: Duration::from_millis(1),
            hol: None,
        };
        assert_eq!(p.total(), Duration::from_micros(12_010));
    }
}
