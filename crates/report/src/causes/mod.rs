//! Causes: every request's time split into named, non-overlapping causes that add up to it,
//! and the page's critical path split the same way.
//!
//! The request's phases come from the client's clocks; the split within them from the
//! server's log (think time, head-of-line waits), the connection's record (its handshakes) and
//! the wire (`RunRecord::wire`: rounds and retransmissions on the connection that carried it).
//!
//! - `blocked` splits into **waiting for its connection's own handshakes** (a multiplexed or
//!   pipelined request issued while the connection it then used was still being set up; not
//!   queueing) and **queued** for a connection or stream slot (the rest).
//! - `connect` is the **TCP handshake**, `ssl` the **TLS handshake**, `send` the **upload**.
//! - `wait + receive` (request written → last response byte) is taken apart in this order,
//!   each cause at most what is left: **server think** (the server's log), **HTTP head-of-line**
//!   (the server's queue behind earlier requests and a response's wait for its turn: serial
//!   or pipelined order), **loss recovery** (time within the request's span during which a
//!   segment the link dropped was waiting to be sent again on its connection, either way:
//!   the union of each retransmission's `[original, retransmission]`), **round trip** (one
//!   base RTT: the request going and the response coming back), **serialization** (its own
//!   request and response bytes at the link's rates), **congestion-window rounds** (each
//!   further round trip the server's data needed, from the response's first round to the
//!   round that carried its last byte, times the RTT): in **slow start** while its connection
//!   had lost nothing yet, and **after a loss** (a window cut by it) from the first segment the
//!   link dropped and the sender sent again,
//!   and **other**, what is left: the endpoints' own time (scheduling, crypto), on loopback
//!   nearly everything.
//!
//! So the causes sum to the request's duration exactly (in nanoseconds), by construction. The
//! attribution order is a choice, stated here: where two causes overlap in time (a loss stall
//! also delays the next round), the earlier one in the list gets the time.
//!
//! Pure: records in, durations out.

use httplab_core::record::Phases;
use httplab_core::tcp_trace::WireConnection;
use httplab_core::{
    ConnectionRecord, Protocol, RequestRecord, RunRecord, Scenario, ServerRequestRecord,
};
use std::collections::HashMap;
use std::time::Duration;

/// A cause of a request's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    Queued,
    OwnHandshake,
    TcpHandshake,
    TlsHandshake,
    Upload,
    ServerThink,
    HttpHol,
    LossRecovery,
    RoundTrip,
    Serialization,
    CongestionWindow,
    LossWindow,
    /// QUIC's own loss recovery and congestion window (HTTP/3 on a link): QUIC runs them in
    /// user space and its packets are encrypted, so the wire cannot split them as it splits
    /// TCP's; the time a stream waited beyond its round trip, think and serialization is theirs.
    QuicTransport,
    /// The client's own time before it asked: a resource's `delay` (a browser's parse or
    /// script time), on the page's critical path only.
    ClientDelay,
    Other,
}

impl Cause {
    /// Every cause, in the order of a request's life (and of the tables).
    pub const ALL: [Cause; 15] = [
        Cause::Queued,
        Cause::OwnHandshake,
        Cause::TcpHandshake,
        Cause::TlsHandshake,
        Cause::Upload,
        Cause::ServerThink,
        Cause::HttpHol,
        Cause::LossRecovery,
        Cause::RoundTrip,
        Cause::Serialization,
        Cause::CongestionWindow,
        Cause::LossWindow,
        Cause::QuicTransport,
        Cause::ClientDelay,
        Cause::Other,
    ];

    /// The id in results.json, requests.csv and the HAR's `_causes`.
    pub fn id(self) -> &'static str {
        match self {
            Cause::Queued => "queued",
            Cause::OwnHandshake => "own_handshake",
            Cause::TcpHandshake => "tcp_handshake",
            Cause::TlsHandshake => "tls_handshake",
            Cause::Upload => "upload",
            Cause::ServerThink => "server_think",
            Cause::HttpHol => "http_hol",
            Cause::LossRecovery => "loss_recovery",
            Cause::RoundTrip => "round_trip",
            Cause::Serialization => "serialization",
            Cause::CongestionWindow => "congestion_window",
            Cause::LossWindow => "loss_window",
            Cause::QuicTransport => "quic_transport",
            Cause::ClientDelay => "client_delay",
            Cause::Other => "other",
        }
    }

    /// Its name in a sentence or a table.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Queued => "queued for a connection or stream slot",
            Cause::OwnHandshake => "waiting for its connection's own handshakes",
            Cause::TcpHandshake => "TCP handshake",
            Cause::TlsHandshake => "TLS handshake",
            Cause::Upload => "request upload",
            Cause::ServerThink => "server think",
            Cause::HttpHol => "HTTP head-of-line",
            Cause::LossRecovery => "loss recovery",
            Cause::RoundTrip => "round trip",
            Cause::Serialization => "serialization at the link's rate",
            Cause::CongestionWindow => "congestion-window rounds (slow start)",
            Cause::LossWindow => "congestion-window rounds after a loss (window cut)",
            Cause::QuicTransport => {
                "QUIC's loss recovery and congestion window (its own, per stream; not on the wire)"
            }
            Cause::ClientDelay => "the client's own delay before asking (parse, script)",
            Cause::Other => "other (the endpoints' own time)",
        }
    }

    fn index(self) -> usize {
        Cause::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// Durations by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CauseSplit([Duration; Cause::ALL.len()]);

impl CauseSplit {
    pub fn get(&self, cause: Cause) -> Duration {
        self.0[cause.index()]
    }

    fn add(&mut self, cause: Cause, d: Duration) {
        self.0[cause.index()] += d;
    }

    /// A split of the given causes (tests build page splits with it).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (Cause, Duration)>) -> CauseSplit {
        let mut out = CauseSplit::default();
        for (c, d) in pairs {
            out.add(c, d);
        }
        out
    }

    /// The sum of every cause.
    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    /// `(cause, duration)` in [`Cause::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Cause, Duration)> + '_ {
        Cause::ALL.iter().map(|c| (*c, self.get(*c)))
    }

    /// The mean of `splits`, cause by cause.
    pub fn mean<'a>(splits: impl IntoIterator<Item = &'a CauseSplit>) -> CauseSplit {
        let mut sum = [0u128; Cause::ALL.len()];
        let mut n = 0u128;
        for s in splits {
            for (i, d) in s.0.iter().enumerate() {
                sum[i] += d.as_nanos();
            }
            n += 1;
        }
        let mut out = CauseSplit::default();
        for (i, total) in sum.iter().enumerate() {
            if let Some(mean) = total.checked_div(n) {
                out.0[i] = Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX));
            }
        }
        out
    }
}

/// One request's split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCauses {
    pub request_id: u32,
    pub split: CauseSplit,
}

/// One run's splits: every request's, and the page's critical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCauses {
    /// In the order of `run.requests`.
    pub requests: Vec<RequestCauses>,
    /// The requests on the page's critical path, first to last: the request that ended last,
    /// preceded by the one it waited for (`after`, or the one whose end gave it its
    /// connection), and so on.
    pub critical_path: Vec<u32>,
    /// The page time split: the critical path's requests' splits (less the time each spent
    /// queued before its predecessor ended), plus any time before the first of them was issued
    /// or between one's end and the next's issue (as `other`).
    pub page: CauseSplit,
}

/// What the split needs to know of the path the run crossed.
#[derive(Debug, Clone, Copy)]
struct Path {
    rtt: Duration,
    /// Bits per second, server → client and client → server; `None`: unlimited.
    down: Option<u64>,
    up: Option<u64>,
}

/// Splits every request of `run` (of `scenario`) by cause.
pub(crate) fn run_causes(scenario: &Scenario, run: &RunRecord) -> RunCauses {
    let path = match (&scenario.network, &run.link) {
        (Some(net), Some(_)) => Path {
            rtt: net.rtt,
            down: net.bandwidth,
            up: net.uplink.or(net.bandwidth),
        },
        // Plain loopback: no emulated round trip or rate to attribute.
        _ => Path {
            rtt: Duration::ZERO,
            down: None,
            up: None,
        },
    };
    let server: HashMap<u32, &ServerRequestRecord> = run
        .server
        .iter()
        .filter_map(|s| Some((s.request_id?, s)))
        .collect();
    let wire: HashMap<&str, &WireConnection> = run
        .wire
        .iter()
        .flat_map(|w| w.connections.iter())
        .map(|w| (w.client.as_str(), w))
        .collect();
    let requests: Vec<RequestCauses> = run
        .requests
        .iter()
        .map(|r| {
            let conn = r
                .connection
                .and_then(|id| run.connections.iter().find(|c| c.id == id));
            let w = conn.and_then(|c| wire.get(c.local_addr.as_str()).copied());
            RequestCauses {
                request_id: r.id,
                split: split(run.protocol, r, conn, server.get(&r.id).copied(), w, path),
            }
        })
        .collect();
    let (critical_path, page) = critical_path(scenario, run, &requests);
    RunCauses {
        requests,
        critical_path,
        page,
    }
}

/// Takes `want` out of `left`, at most all of it; how much was taken.
fn take(left: &mut Duration, want: Duration) -> Duration {
    let got = want.min(*left);
    *left -= got;
    got
}

fn split(
    protocol: Protocol,
    r: &RequestRecord,
    conn: Option<&ConnectionRecord>,
    server: Option<&ServerRequestRecord>,
    wire: Option<&WireConnection>,
    path: Path,
) -> CauseSplit {
    let p: &Phases = &r.phases;
    let mut out = CauseSplit::default();

    // blocked: the connection's own handshakes (multiplexed or pipelined requests only) and
    // queueing.
    let multiplexed = matches!(
        protocol,
        Protocol::H2 | Protocol::H2c | Protocol::H3 | Protocol::Http11Pipelined
    );
    let own = match conn {
        Some(c) if multiplexed && p.connect.is_none() => {
            let setup_end = c.opened_at
                + c.tcp_connect
                + c.tls.as_ref().map_or(Duration::ZERO, |t| t.handshake);
            overlap(
                (r.issued_at, r.issued_at + p.blocked),
                (c.opened_at, setup_end),
            )
        }
        _ => Duration::ZERO,
    };
    out.add(Cause::OwnHandshake, own);
    out.add(Cause::Queued, p.blocked - own);
    out.add(Cause::TcpHandshake, p.connect.unwrap_or_default());
    out.add(Cause::TlsHandshake, p.ssl.unwrap_or_default());
    out.add(Cause::Upload, p.send);

    // Request written → last response byte.
    let sent = r.sent_at() + p.send;
    let end = r.ended_at();
    let mut left = p.wait + p.receive;
    if let Some(s) = server {
        out.add(Cause::ServerThink, take(&mut left, s.think()));
        let hol = s.queue() + s.hol().unwrap_or_default();
        out.add(Cause::HttpHol, take(&mut left, hol));
    }
    if let Some(w) = wire {
        let stalls = loss_stalls(w, (sent, end));
        out.add(Cause::LossRecovery, take(&mut left, stalls));
    }
    if r.status != 0 {
        out.add(Cause::RoundTrip, take(&mut left, path.rtt));
    }
    let serialization = carry(r.request_header_bytes + r.request_body_bytes, path.up)
        + carry(r.response_header_bytes + r.response_body_bytes, path.down);
    out.add(Cause::Serialization, take(&mut left, serialization));
    if let (Some(w), Some(s)) = (wire, server) {
        let ready = s.turn_at.unwrap_or(s.response_ready_at).max(sent);
        let (slow_start, after_loss) = extra_rounds(w, ready, end);
        let rounds = |n: u64| path.rtt * u32::try_from(n).unwrap_or(u32::MAX);
        out.add(Cause::CongestionWindow, take(&mut left, rounds(slow_start)));
        out.add(Cause::LossWindow, take(&mut left, rounds(after_loss)));
    }
    // Over QUIC on a link, what the stream waited beyond its round trip, think and
    // serialization was QUIC's windows and recovery, which only its endpoints know.
    if protocol.is_quic() && !path.rtt.is_zero() {
        out.add(Cause::QuicTransport, std::mem::take(&mut left));
    }
    out.add(Cause::Other, left);
    out
}

/// How long `bytes` take at `bits_per_second`; zero when unlimited.
fn carry(bytes: u64, bits_per_second: Option<u64>) -> Duration {
    match bits_per_second {
        Some(rate) if rate > 0 => Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64),
        _ => Duration::ZERO,
    }
}

fn overlap(a: (Duration, Duration), b: (Duration, Duration)) -> Duration {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    end.saturating_sub(start)
}

/// The time within `span` during which a segment the link dropped, either way on `w`, was
/// waiting to be sent again: the union of each needed retransmission's `[original, at]`.
fn loss_stalls(w: &WireConnection, span: (Duration, Duration)) -> Duration {
    let mut intervals: Vec<(Duration, Duration)> = [&w.client_to_server, &w.server_to_client]
        .into_iter()
        .flat_map(|d| d.retransmissions.iter())
        .filter(|x| x.original_dropped)
        .map(|x| (x.original_at.max(span.0), x.at.min(span.1)))
        .filter(|(a, b)| b > a)
        .collect();
    intervals.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Duration, Duration)> = None;
    for (a, b) in intervals {
        current = match current {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// Round trips beyond the first that the server's new data needed between `ready` (the
/// response could be written) and `end` (its last byte arrived): the rounds that sent new data
/// in that span (the one under way at `ready` included: control frames may have begun it),
/// less one; split into those that began before the connection's first needed
/// retransmission (slow start) and those after it (a window cut by loss).
fn extra_rounds(w: &WireConnection, ready: Duration, end: Duration) -> (u64, u64) {
    let first_loss = [&w.client_to_server, &w.server_to_client]
        .into_iter()
        .flat_map(|d| d.retransmissions.iter())
        .filter(|x| x.original_dropped)
        .map(|x| x.at)
        .min();
    let spanned: Vec<Duration> = w
        .server_to_client
        .rounds
        .iter()
        .filter(|round| round.last_sent_at >= ready && round.first_sent_at < end)
        .map(|round| round.first_sent_at)
        .skip(1)
        .collect();
    let after_loss = spanned
        .iter()
        .filter(|at| first_loss.is_some_and(|loss| **at > loss))
        .count() as u64;
    (spanned.len() as u64 - after_loss, after_loss)
}

/// The page's critical path and its split.
///
/// Walking back from the request that ended last, each request's predecessor is whichever
/// ended later of: the request it was issued after (`after`), and, for a request that queued
/// for a connection or slot (HTTP/1.x), the request whose end freed it (the last to end before
/// its queueing did). A request's time before its predecessor's end is the predecessor's, so
/// it is taken off the request's queueing on the path.
fn critical_path(
    scenario: &Scenario,
    run: &RunRecord,
    requests: &[RequestCauses],
) -> (Vec<u32>, CauseSplit) {
    let mut page = CauseSplit::default();
    let by_id: HashMap<u32, (&RequestRecord, &CauseSplit)> = run
        .requests
        .iter()
        .zip(requests)
        .map(|(r, c)| (r.id, (r, &c.split)))
        .collect();
    let Some(last) = run.requests.iter().max_by_key(|r| (r.ended_at(), r.id)) else {
        return (Vec::new(), page);
    };
    let parents = scenario.dependencies();
    let queues = !matches!(run.protocol, Protocol::H2 | Protocol::H2c | Protocol::H3);
    let predecessor = |r: &RequestRecord| -> Option<&RequestRecord> {
        let parent = parents
            .get(r.id as usize)
            .copied()
            .flatten()
            .and_then(|p| by_id.get(&(p as u32)))
            .map(|(p, _)| *p);
        let freed_by = (queues && !r.phases.blocked.is_zero())
            .then(|| {
                let got_slot = r.issued_at + r.phases.blocked;
                run.requests
                    .iter()
                    .filter(|q| {
                        q.id != r.id && q.ended_at() > r.issued_at && q.ended_at() <= got_slot
                    })
                    .max_by_key(|q| (q.ended_at(), q.id))
            })
            .flatten();
        [parent, freed_by]
            .into_iter()
            .flatten()
            .max_by_key(|q| (q.ended_at(), q.id))
    };
    let mut path = vec![last];
    // Bounded by the number of requests: each step goes to a request that ended earlier.
    for _ in 0..run.requests.len() {
        let Some(before) = path.last().and_then(|r| predecessor(r)) else {
            break;
        };
        if before.ended_at() >= path.last().map_or(Duration::ZERO, |r| r.ended_at()) {
            break;
        }
        path.push(before);
    }
    path.reverse();
    let mut cursor = run.started_at;
    for r in &path {
        let Some((_, split)) = by_id.get(&r.id) else {
            continue;
        };
        // A gap before the request was issued: its resource's `delay` (the client's own time,
        // waited after its `after` arrived or from the start), the rest the endpoints'.
        let gap = r.issued_at.saturating_sub(cursor);
        let delay = scenario
            .resources
            .get(r.id as usize)
            .map_or(Duration::ZERO, |res| res.delay)
            .min(gap);
        page.add(Cause::ClientDelay, delay);
        page.add(Cause::Other, gap - delay);
        // Time before the predecessor ended is the predecessor's: off the queueing.
        let mut overlap = cursor.saturating_sub(r.issued_at).min(r.phases.blocked);
        for (cause, d) in split.iter() {
            let d = if matches!(cause, Cause::Queued | Cause::OwnHandshake) {
                let off = overlap.min(d);
                overlap -= off;
                d - off
            } else {
                d
            };
            page.add(cause, d);
        }
        cursor = cursor.max(r.ended_at());
    }
    (path.iter().map(|r| r.id).collect(), page)
}

#[cfg(test)]
mod tests;
