//! The analytical model of a page load (DESIGN.md, "The analytical model"): what an emulated,
//! loss-free link must reproduce, so the lab can check its own measurements and the report can
//! set each protocol's measured page time beside the time the model predicts; and, on a lossy
//! link, an estimate from Mathis's formula, kept apart from that check.
//!
//! R = RTT, T = server think time, H = handshake round trips before the first request (1 for
//! TCP, 2 for TCP + TLS 1.3 or a resumed TLS 1.2, 3 for TCP + a full TLS 1.2 handshake).
//!
//! **Segments, as Linux counts them.** The congestion window counts segments, not bytes, so the
//! model counts the segments the server fills (`sender.rs` walks each connection):
//! - A response is its head and body as the run measured them, plus framing (`framing.rs`):
//!   HTTP/2 adds a 9-byte frame header per HEADERS frame and per DATA frame (at most 16 KB);
//!   TLS adds 22 bytes per record of at most 16 KB of plaintext (TLS 1.3 with AES-GCM; the
//!   model uses the same for TLS 1.2).
//! - What the server writes at once shares segments: ⌈bytes / [`MSS`]⌉. HTTP/1.x writes one
//!   response at a time (hyper writes head and body together). HTTP/2 and a parallel
//!   pipelining server with `[server] write = "packed"` write the responses that become ready
//!   together in one write, in TLS records of at most 16 KB (twelve 500 B responses with 40 B
//!   header blocks, 6.7 KB with their frames and record: 5 segments); with `"per-frame"` each
//!   response is a write of its own, so a 500 B response is a whole segment. Bytes written while the window is full wait in the socket and
//!   fill its last waiting segment, as Linux's send queue does.
//! - Control segments count: when the handshake ends the server writes TLS 1.3 session tickets
//!   (1 segment) and, for h2 and h2c, its SETTINGS and the SETTINGS ACK (2 segments)
//!   ([`control_segments`]). The walk sends them when the first request reaches the server;
//!   they hold the window until acknowledged one R later, so with T < R the first responses
//!   have the initial window less the control segments. Measured on the lab (twelve 500 B h2
//!   responses, R = 60 ms, TLS 1.3, T = 10 ms): per-frame 242–251 ms, where 3 control and 12
//!   response segments exceed the window of 10 and the last five responses wait for the
//!   control segments' acknowledgement (the model: 240 ms); packed 192–198 ms (the model:
//!   190 ms, 3R + T).
//! - The window starts at [`INITIAL_WINDOW_SEGMENTS`] (RFC 6928) and grows by one segment per
//!   segment acknowledged, control segments included: slow start doubles it per round trip.
//!
//! **The walk.** Each protocol's connection policy in issue order, on one clock from the first
//! request's issue: a new connection's request reaches the server H·R + R/2 later, a reused
//! connection's R/2 after the previous response's last byte arrived; the server writes a
//! response T after its request arrived (a serial pipelining server T after the previous
//! response left); a segment reaches the client R/2 after it left, and the page ends with the
//! last one. HTTP/1.0 opens a connection per request, k at once; HTTP/1.1 keeps k connections
//! and their windows; pipelining and HTTP/2 send everything on one connection (the model does
//! not cover `[client] pipeline_connections` above 1). For N small objects this is DESIGN.md's
//! arithmetic: HTTP/1.0 ⌈N/k⌉·(H + F·R + T), HTTP/1.1 H + ⌈N/k⌉·(F·R + T), pipelining and
//! HTTP/2 H + T + F·R, with F the flights of the segments; the walk is exact where those are
//! not (a serial server's responses leave while it thinks; acknowledgements of control
//! segments and of earlier responses open the window before a round trip of the latest has
//! passed).
//!
//! **Under loss** p (`[network] loss`) the walk does not hold, and the model gives an
//! [`Prediction::Estimate`] instead: one connection's steady throughput is about
//! 1.22·MSS·8 / (R·√p) bits/s ([`mathis_bps`], Mathis et al. 1997), k connections k times
//! that, capped at the link's bandwidth; the page is about its handshakes, request round trips
//! and think times on the busiest connection, plus its bytes at that throughput. As p → 0 it
//! tends to the walk's time for responses of one flight. Bursty loss (Gilbert–Elliott) counts
//! lost packets, not loss events, so there the estimate is pessimistic.
//!
//! It deliberately leaves out the client's and server's CPU time, delayed ACKs, `after`
//! dependencies between resources, and what it declines ([`PageModel::of_run`]): jitter, a
//! congestion control other than loss-based slow start (BBR paces at the rate it estimates
//! instead of bursting a window per round trip), and, without loss, a bandwidth so low that
//! carrying the bytes matters. It is pure arithmetic on literal inputs, with no clock and no
//! I/O.

mod framing;
mod sender;

#[cfg(test)]
mod tests;

pub use framing::{H2_FRAME_HEADER, H2_MAX_DATA_FRAME, TLS_RECORD_OVERHEAD, TLS_RECORD_PLAINTEXT};
pub use sender::{cold_flights, Flight, Sender};

use crate::protocol::Protocol;
use crate::record::RunRecord;
use crate::scenario::{Scenario, TlsVersion, WriteMode};
use framing::{h2_frames, on_the_wire};
use std::time::Duration;

/// Payload bytes per TCP segment on a 1500-byte MTU with TCP timestamps (Linux's default):
/// 1500 − 20 (IPv4) − 20 (TCP) − 12 (timestamp option).
pub const MSS: u64 = 1448;

/// RFC 6928's initial congestion window, in segments.
pub const INITIAL_WINDOW_SEGMENTS: u64 = 10;

/// The TCP congestion controls whose slow start the model is: loss-based, from the initial
/// window, one more segment per segment acknowledged.
pub const SLOW_START_CONGESTION_CONTROLS: [&str; 2] = ["cubic", "reno"];

/// Whether the model's slow start describes TCP congestion control `name`.
pub fn follows_slow_start(name: &str) -> bool {
    SLOW_START_CONGESTION_CONTROLS.contains(&name)
}

/// What one page load looks like to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct PageModel {
    pub rtt: Duration,
    /// The page's requests, in issue order.
    pub objects: Vec<ModelObject>,
    /// Connections per host (HTTP/1.0 and HTTP/1.1).
    pub connections: u32,
    /// `None`: cleartext.
    pub tls: Option<TlsVersion>,
    /// Whether a pipelining server runs handlers one at a time (`serial`) rather than at once.
    pub serial_server: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS of the server (HTTP/2).
    pub max_concurrent_streams: u32,
    /// How the server hands responses to its socket (`[server] write`).
    pub write: WriteMode,
    /// Segments the server sends on a new connection when its first request arrives, before
    /// any response: see [`control_segments`].
    pub control_segments: u64,
    /// The link's loss probability per packet (`[network] loss`): above 0 the model estimates.
    pub loss: f64,
    /// The link's rate toward the client, bits per second; `None`: unlimited.
    pub bandwidth: Option<u64>,
}

impl PageModel {
    /// The model of the page `run` loaded: the scenario's RTT, loss, bandwidth, think times,
    /// connection cap, TLS version, stream cap and write mode, the protocol's control segments,
    /// and each object's response head and body as the run measured them. `None` where the
    /// model does not hold: no `[network]` table, a page on several origins, jitter on the
    /// link, a congestion control other than cubic or reno (see [`follows_slow_start`]), or,
    /// on a loss-free link, a bandwidth so low that carrying the page's bytes alone takes more than 3% of the
    /// predicted time. A lossy link gets an estimate ([`Prediction::Estimate`]).
    pub fn of_run(scenario: &Scenario, run: &RunRecord) -> Option<PageModel> {
        let net = scenario.network.as_ref()?;
        // The model is of one origin's connections; a page on several has a pool per origin.
        if !net.jitter.is_zero() || scenario.origins.len() > 1 {
            return None;
        }
        if run
            .congestion_control_used()
            .is_some_and(|cc| !follows_slow_start(cc))
        {
            return None;
        }
        let mut requests: Vec<_> = run.requests.iter().collect();
        requests.sort_by_key(|r| r.id);
        let objects = requests
            .iter()
            .map(|r| {
                let think = scenario
                    .resources
                    .get(r.id as usize)
                    .map_or(scenario.server.think, |res| res.think);
                ModelObject {
                    response_header_bytes: r.response_header_bytes,
                    response_body_bytes: r.response_body_bytes,
                    think,
                }
            })
            .collect();
        let tls = run
            .tls
            .then(|| scenario.client.tls_version.unwrap_or(TlsVersion::Tls13));
        let page = PageModel {
            rtt: net.rtt,
            objects,
            connections: scenario.client.max_connections_per_host,
            tls,
            serial_server: run.server_pipelining == Some(crate::PipeliningModel::Serial),
            max_concurrent_streams: scenario.server.max_concurrent_streams,
            write: scenario.server.write,
            control_segments: control_segments(run.protocol, tls),
            loss: net.loss,
            bandwidth: net.bandwidth,
        };
        if page.loss <= 0.0 {
            if let (Some(rate), Some(predicted)) = (net.bandwidth, predict(run.protocol, &page)) {
                let bytes: u64 = page
                    .objects
                    .iter()
                    .map(|o| o.response_header_bytes + o.response_body_bytes)
                    .sum();
                let carry = bytes as f64 * 8.0 / rate as f64;
                if carry > 0.03 * predicted.page_time().as_secs_f64() {
                    return None;
                }
            }
        }
        Some(page)
    }
}

/// One object: the bytes of the server's response (head and body, as measured: for HTTP/2 the
/// header block, without frame headers) and its think time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelObject {
    pub response_header_bytes: u64,
    pub response_body_bytes: u64,
    pub think: Duration,
}

/// Handshake round trips before the first request can go: TCP, plus TLS (TLS 1.3 one, a full
/// TLS 1.2 two).
pub fn handshake_rtts(tls: Option<TlsVersion>) -> u32 {
    match tls {
        None => 1,
        Some(TlsVersion::Tls13) => 2,
        Some(TlsVersion::Tls12) => 3,
    }
}

/// The segments the server writes on a new connection as its handshake ends, still in flight
/// when its first responses go (with a think time under a round trip), as measured on the lab:
/// TLS 1.3's session tickets, 1 segment (TLS 1.2 sends its ticket inside the handshake: 0);
/// and for HTTP/2 (h2, h2c) the server's SETTINGS and its SETTINGS ACK, 2 segments. So h2
/// over TLS 1.3 starts its responses with 3 of the initial window's 10 segments taken.
pub fn control_segments(protocol: Protocol, tls: Option<TlsVersion>) -> u64 {
    let tickets = u64::from(tls == Some(TlsVersion::Tls13));
    let settings = if is_h2(protocol) { 2 } else { 0 };
    tickets + settings
}

/// Mathis et al. (1997): one TCP connection's steady throughput under random loss `loss`, about
/// 1.22 · MSS · 8 / (RTT · √p) bits per second. An estimate: it ignores timeouts and the
/// link's own rate. `None` without loss or without a round trip.
pub fn mathis_bps(rtt: Duration, loss: f64) -> Option<f64> {
    (loss > 0.0 && loss.is_finite() && !rtt.is_zero())
        .then(|| 1.22 * (MSS * 8) as f64 / (rtt.as_secs_f64() * loss.sqrt()))
}

/// What the model says about a page: a loss-free prediction the lab must reproduce, or, under
/// loss, an estimate that only gives the order of magnitude.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// The loss-free walk.
    Exact {
        page_time: Duration,
        /// Per connection, in the order the walk opened them, the flights the server sent
        /// from its first request on (control segments included).
        connections: Vec<Vec<Flight>>,
    },
    /// Mathis's estimate under loss.
    Estimate {
        page_time: Duration,
        /// The link's loss probability it assumed.
        loss: f64,
        /// Connections carrying the page at once.
        connections: u32,
        /// One connection's throughput ([`mathis_bps`]), bits per second.
        connection_bps: f64,
        /// The page's throughput: `connections` times that, or the link's bandwidth.
        bps: f64,
        /// Whether the link's bandwidth capped it.
        capped: bool,
    },
}

impl Prediction {
    /// The page completion time it predicts or estimates.
    pub fn page_time(&self) -> Duration {
        match self {
            Prediction::Exact { page_time, .. } | Prediction::Estimate { page_time, .. } => {
                *page_time
            }
        }
    }
}

/// The page completion time the model predicts for `protocol` (on a loss-free link) or
/// estimates (under loss), or `None` where the model says nothing (an empty page; HTTP/2 with
/// more requests than the server's stream cap).
pub fn predict(protocol: Protocol, page: &PageModel) -> Option<Prediction> {
    // The model is of TCP's windows; QUIC's (quinn's, in user space) it does not describe.
    if page.objects.is_empty() || protocol.is_quic() {
        return None;
    }
    if is_h2(protocol) && page.objects.len() > page.max_concurrent_streams as usize {
        return None;
    }
    if page.loss > 0.0 {
        return estimate(protocol, page);
    }
    match protocol {
        Protocol::Http10 => http1(page, false),
        Protocol::Http11 => http1(page, true),
        Protocol::H3 => None,
        Protocol::Http11Pipelined | Protocol::H2 | Protocol::H2c => {
            // One connection: every request reaches the server with the first.
            let arrive = handshakes(protocol, page) + page.rtt / 2;
            let mut sender = Sender::new(page.rtt);
            sender.control(arrive, page.control_segments);
            let mut last = None;
            for (at, bytes) in one_connection_writes(protocol, page, arrive) {
                last = Some(sender.write(at, bytes));
            }
            let page_time = sender.delivered(last?)?;
            Some(Prediction::Exact {
                page_time,
                connections: vec![sender.flights().to_vec()],
            })
        }
    }
}

fn is_h2(protocol: Protocol) -> bool {
    matches!(protocol, Protocol::H2 | Protocol::H2c)
}

/// H·R: h2c is cleartext whatever the page's TLS says.
fn handshakes(protocol: Protocol, page: &PageModel) -> Duration {
    let tls = if protocol == Protocol::H2c {
        None
    } else {
        page.tls
    };
    page.rtt * handshake_rtts(tls)
}

/// HTTP/1.0 (a connection per request) and HTTP/1.1 (`persistent`: a connection keeps its
/// window from response to response): each request takes the connection slot that is free
/// first, as the clients do.
fn http1(page: &PageModel, persistent: bool) -> Option<Prediction> {
    let k = page.connections.max(1) as usize;
    let half = page.rtt / 2;
    let h = handshakes(Protocol::Http11, page);
    let tls = page.tls.is_some();
    let mut free = vec![Duration::ZERO; k];
    let mut open: Vec<Option<usize>> = vec![None; k];
    let mut senders: Vec<Sender> = Vec::new();
    for o in &page.objects {
        let slot = earliest(&free);
        let (i, arrive) = match open[slot].filter(|_| persistent) {
            Some(i) => (i, free[slot] + half),
            None => {
                let arrive = free[slot] + h + half;
                let mut sender = Sender::new(page.rtt);
                sender.control(arrive, page.control_segments);
                senders.push(sender);
                open[slot] = Some(senders.len() - 1);
                (senders.len() - 1, arrive)
            }
        };
        let sender = &mut senders[i];
        let bytes = on_the_wire(o.response_header_bytes + o.response_body_bytes, tls);
        let last = sender.write(arrive + o.think, bytes);
        free[slot] = sender.delivered(last)?;
    }
    Some(Prediction::Exact {
        page_time: free.into_iter().max()?,
        connections: senders.iter().map(|s| s.flights().to_vec()).collect(),
    })
}

/// The server's writes on a pipelined or HTTP/2 connection whose requests all arrived at
/// `arrive`: (when, bytes on the wire), in time order.
fn one_connection_writes(
    protocol: Protocol,
    page: &PageModel,
    arrive: Duration,
) -> Vec<(Duration, u64)> {
    let tls = protocol != Protocol::H2c && page.tls.is_some();
    let packed = page.write == WriteMode::Packed;
    // (when written, plaintext bytes, whether it joins the previous write)
    let mut plain: Vec<(Duration, u64, bool)> = Vec::new();
    if is_h2(protocol) {
        // Streams run at once: a response is written as soon as it is ready, together with
        // the others ready at the same moment when packed.
        let mut ready: Vec<(Duration, u64)> = page
            .objects
            .iter()
            .map(|o| {
                let frames = h2_frames(o.response_header_bytes, o.response_body_bytes);
                (arrive + o.think, frames)
            })
            .collect();
        ready.sort_by_key(|(at, _)| *at);
        let mut previous = None;
        for (at, bytes) in ready {
            plain.push((at, bytes, packed && previous == Some(at)));
            previous = Some(at);
        }
    } else {
        // Responses leave in order. A parallel server's response is ready T after the
        // requests arrived and written once the one before it is; a serial server starts a
        // handler only once the previous response left. Packed, a response that is ready when
        // the one before it is written joins that write (a serial server's never is).
        let mut written = arrive;
        for o in &page.objects {
            let bytes = o.response_header_bytes + o.response_body_bytes;
            let (at, joins) = if page.serial_server {
                (written + o.think, false)
            } else {
                let ready = arrive + o.think;
                (
                    ready.max(written),
                    packed && !plain.is_empty() && ready <= written,
                )
            };
            plain.push((at, bytes, joins));
            written = at;
        }
    }
    let mut writes: Vec<(Duration, u64)> = Vec::new();
    for (at, bytes, joins) in plain {
        match writes.last_mut() {
            Some((_, total)) if joins => *total += bytes,
            _ => writes.push((at, bytes)),
        }
    }
    writes
        .into_iter()
        .map(|(at, bytes)| (at, on_the_wire(bytes, tls)))
        .collect()
}

/// Mathis's estimate: the busiest connection's handshakes, request round trips (a request up,
/// the response's last byte down) and think times, plus the page's bytes on the wire at the
/// throughput of the connections that carry it at once.
fn estimate(protocol: Protocol, page: &PageModel) -> Option<Prediction> {
    let per = mathis_bps(page.rtt, page.loss)?;
    let r = page.rtt;
    let h = handshakes(protocol, page);
    let tls = page.tls.is_some();
    let (connections, fixed, bytes) = match protocol {
        Protocol::Http10 | Protocol::Http11 => {
            // Requests dealt to the connections in turn.
            let k = (page.connections.max(1) as usize).min(page.objects.len());
            let busiest = (0..k)
                .map(|c| {
                    let mine = page.objects.iter().skip(c).step_by(k);
                    let requests = mine.clone().count() as u32;
                    let think: Duration = mine.map(|o| o.think).sum();
                    let handshakes = if protocol == Protocol::Http10 {
                        h * requests
                    } else {
                        h
                    };
                    handshakes + r * requests + think
                })
                .max()?;
            let bytes: u64 = page
                .objects
                .iter()
                .map(|o| on_the_wire(o.response_header_bytes + o.response_body_bytes, tls))
                .sum();
            (k as u32, busiest, bytes)
        }
        Protocol::H3 => return None,
        Protocol::Http11Pipelined | Protocol::H2 | Protocol::H2c => {
            let thinks = page.objects.iter().map(|o| o.think);
            let think = if protocol == Protocol::Http11Pipelined && page.serial_server {
                thinks.sum()
            } else {
                thinks.max()?
            };
            let writes = one_connection_writes(protocol, page, Duration::ZERO);
            (1, h + r + think, writes.iter().map(|(_, b)| b).sum())
        }
    };
    let all = per * f64::from(connections);
    let (bps, capped) = match page.bandwidth {
        Some(link) if all > link as f64 => (link as f64, true),
        _ => (all, false),
    };
    let carry = Duration::try_from_secs_f64(bytes as f64 * 8.0 / bps).ok()?;
    Some(Prediction::Estimate {
        page_time: fixed + carry,
        loss: page.loss,
        connections,
        connection_bps: per,
        bps,
        capped,
    })
}

fn earliest(free: &[Duration]) -> usize {
    free.iter()
        .enumerate()
        .min_by_key(|(i, t)| (**t, *i))
        .map_or(0, |(i, _)| i)
}
