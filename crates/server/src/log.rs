//! `ServerLog`: the server's record of every request, shared by all connection tasks.
//!
//! A record is pushed when its response head is ready and completed later, when its body has
//! been handed over (`response_sent_at`); a request the server gave up on (its
//! `request_timeout`, or its connection gone) is pushed then, with status 0. Records are
//! addressed by their sequence number since the server started, so `take` can drain the log
//! while responses are still in flight without a late completion landing on the wrong record.
//!
//! The log also keeps one `ServerConnectionRecord` per accepted connection: when it was
//! accepted, when its first request arrived, when it closed. With `[server] max_connections`, a
//! connection that waited in the listen backlog shows it here: the client connected (the
//! kernel completed the handshake) long before the server accepted it. With it, the server
//! socket's `TCP_INFO`: read when each response on it has been handed to the socket
//! (`mark_sent`, through the connection's probe) and as it closes.
//!
//! Two modes, chosen by whoever makes the log. *Recording* (`ServerLog::default`, the harness's)
//! keeps every record until `take` drains it, as a run needs; each record's path and method are
//! capped (`MAX_LOGGED_PATH`, `MAX_LOGGED_METHOD`: cut at a character boundary and marked
//! `…+N bytes`), so a peer's 60 KB path does not cost 60 KB a request. *Counting*
//! (`ServerLog::counting`, for `httplab serve`, which nobody drains) keeps no record at all:
//! counters by status class and an HDR histogram of each request's time from arrival to its
//! response being ready (fixed size, about 20 KB), no connection records and no `TCP_INFO`
//! readings; its memory does not grow with the requests served.

use hdrhistogram::Histogram;
use httplab_core::{
    QuicInfo, ResponseTcpInfo, ServerConnectionRecord, ServerRequestRecord, TcpInfo,
};
use httplab_socket::TcpProbe;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Longest request path a record keeps, in bytes (before the marker).
pub const MAX_LOGGED_PATH: usize = 1024;
/// Longest request method a record keeps, in bytes (before the marker).
pub const MAX_LOGGED_METHOD: usize = 32;

/// The server's request log. Cheap to clone; all clones share one log.
#[derive(Clone, Default)]
pub struct ServerLog {
    inner: Arc<Mutex<Inner>>,
}

/// What a counting log keeps instead of records.
#[derive(Clone)]
pub struct Tally {
    /// Requests logged: answered or abandoned.
    pub requests: u64,
    /// Requests abandoned unanswered (status 0).
    pub abandoned: u64,
    /// Answered requests by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub by_class: [u64; 5],
    /// Response body bytes of the answered requests.
    pub response_body_bytes: u64,
    /// Connections accepted, and closed.
    pub connections: u64,
    pub closed: u64,
    /// Arrival to response ready, in microseconds (think time and queueing).
    pub ready_us: Histogram<u64>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            requests: 0,
            abandoned: 0,
            by_class: [0; 5],
            response_body_bytes: 0,
            connections: 0,
            closed: 0,
            // 1 µs to an hour at 2 significant digits: a fixed ~20 KB of counts.
            ready_us: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .expect("valid histogram bounds"),
        }
    }

    fn count(&mut self, record: &ServerRequestRecord) {
        self.requests += 1;
        match record.status {
            0 => self.abandoned += 1,
            status => {
                let class = usize::from(status / 100).clamp(1, 5) - 1;
                self.by_class[class] += 1;
                self.response_body_bytes += record.response_body_bytes;
                let ready = record.response_ready_at.saturating_sub(record.arrived_at);
                let micros = u64::try_from(ready.as_micros()).unwrap_or(u64::MAX);
                self.ready_us.saturating_record(micros.max(1));
            }
        }
    }

    /// One line: requests by class, connections, and arrival-to-ready percentiles.
    pub fn summary(&self) -> String {
        let classes: Vec<String> = self
            .by_class
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{}xx {n}", i + 1))
            .collect();
        let ms = |q: f64| self.ready_us.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "{} requests ({}{} abandoned), {} response body bytes, {} connections ({} closed); \
             arrival to ready p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.requests,
            classes.iter().map(|c| format!("{c}, ")).collect::<String>(),
            self.abandoned,
            self.response_body_bytes,
            self.connections,
            self.closed,
            ms(0.5),
            ms(0.99),
            self.ready_us.max() as f64 / 1000.0,
        )
    }
}

/// Reads a QUIC connection's own account (quinn's), while it is open.
pub(crate) type QuicProbe = Box<dyn Fn() -> QuicInfo + Send + Sync>;

#[derive(Default)]
struct Inner {
    /// Counting mode: no records, this instead.
    tally: Option<Box<Tally>>,
    /// Records already taken: the sequence number of `records[0]`.
    taken: u64,
    records: Vec<ServerRequestRecord>,
    connections: BTreeMap<u64, ServerConnectionRecord>,
    /// Each open connection's socket probe, by connection number.
    probes: BTreeMap<u64, TcpProbe>,
    /// Each open QUIC connection's reader of its own account.
    quic: BTreeMap<u64, QuicProbe>,
}

impl ServerLog {
    /// A counting log: no records, only the [`Tally`] (for a server nobody drains).
    pub fn counting() -> Self {
        let log = ServerLog::default();
        log.lock().tally = Some(Box::new(Tally::new()));
        log
    }

    /// Whether this log only counts (no per-connection records to fill).
    pub(crate) fn is_counting(&self) -> bool {
        self.lock().tally.is_some()
    }

    /// A counting log's tally so far; `None` for a recording log.
    pub fn tally(&self) -> Option<Tally> {
        self.lock().tally.as_deref().cloned()
    }

    /// Removes and returns every record so far, in the order their responses became ready.
    /// A record taken before its body was sent keeps `response_sent_at: None`.
    pub fn take(&self) -> Vec<ServerRequestRecord> {
        let mut inner = self.lock();
        let records = std::mem::take(&mut inner.records);
        inner.taken += records.len() as u64;
        records
    }

    /// A copy of the records so far, leaving them in the log.
    pub fn snapshot(&self) -> Vec<ServerRequestRecord> {
        self.lock().records.clone()
    }

    /// Every connection record so far (open and closed), in acceptance order.
    pub fn connections(&self) -> Vec<ServerConnectionRecord> {
        self.lock().connections.values().cloned().collect()
    }

    /// Like `connections`, and forgets the closed ones. Each connection still open is read
    /// first (`tcp_info.at_end`), so every record carries the socket's account at the run's
    /// end, closed or not.
    pub fn take_connections(&self) -> Vec<ServerConnectionRecord> {
        let open: Vec<(u64, TcpProbe)> = {
            let inner = self.lock();
            inner
                .probes
                .iter()
                .filter(|(id, _)| {
                    inner
                        .connections
                        .get(id)
                        .is_some_and(|c| c.closed_at.is_none())
                })
                .map(|(id, probe)| (*id, probe.clone()))
                .collect()
        };
        // Read outside the lock, as `mark_sent` does.
        let readings: Vec<_> = open
            .into_iter()
            .map(|(id, probe)| (id, probe.read()))
            .collect();
        let mut inner = self.lock();
        // An open QUIC connection's account as it stands.
        let quic: Vec<(u64, QuicInfo)> = inner
            .quic
            .iter()
            .map(|(&id, probe)| (id, probe()))
            .collect();
        for (id, info) in quic {
            if let Some(c) = inner.connections.get_mut(&id) {
                c.quic = Some(info);
            }
        }
        for (id, reading) in readings {
            let Some(c) = inner.connections.get_mut(&id) else {
                continue;
            };
            match reading {
                Some(Ok(info)) => c.tcp_info.at_end = Some(info),
                Some(Err(e)) => c
                    .tcp_info
                    .failed(format!("reading TCP_INFO at the run's end: {e}")),
                None => {}
            }
        }
        let all: Vec<ServerConnectionRecord> = inner.connections.values().cloned().collect();
        inner.connections.retain(|_, c| c.closed_at.is_none());
        all
    }

    /// Connection `connection` from `peer` was accepted `at`. A counting log only counts it (the
    /// peer's address is not even formatted).
    pub(crate) fn connection_accepted(
        &self,
        connection: u64,
        peer: SocketAddr,
        at: Duration,
        probe: Option<TcpProbe>,
    ) {
        let mut inner = self.lock();
        if let Some(tally) = &mut inner.tally {
            tally.connections += 1;
            return;
        }
        if let Some(probe) = probe {
            inner.probes.insert(connection, probe);
        }
        inner.connections.insert(
            connection,
            ServerConnectionRecord {
                connection,
                peer_addr: peer.to_string(),
                accepted_at: at,
                first_request_at: None,
                requests: 0,
                closed_at: None,
                tcp_info: Default::default(),
                quic: None,
            },
        );
    }

    /// QUIC connection `connection` is open, and `probe` reads it.
    pub(crate) fn quic_opened(&self, connection: u64, probe: QuicProbe) {
        let mut inner = self.lock();
        if inner.tally.is_none() {
            inner.quic.insert(connection, probe);
        }
    }

    /// QUIC connection `connection` closed, read as it did.
    pub(crate) fn quic_closed(&self, connection: u64, info: QuicInfo) {
        let mut inner = self.lock();
        inner.quic.remove(&connection);
        if let Some(c) = inner.connections.get_mut(&connection) {
            c.quic = Some(info);
        }
    }

    /// The connection's socket was read as it closed.
    pub(crate) fn socket_closed(&self, connection: u64, reading: io::Result<TcpInfo>) {
        let mut inner = self.lock();
        inner.probes.remove(&connection);
        if let Some(c) = inner.connections.get_mut(&connection) {
            match reading {
                Ok(info) => c.tcp_info.at_close = Some(info),
                Err(e) => c.tcp_info.failed(format!("reading TCP_INFO at close: {e}")),
            }
        }
    }

    pub(crate) fn request_arrived(&self, connection: u64, at: Duration) {
        if let Some(c) = self.lock().connections.get_mut(&connection) {
            c.first_request_at.get_or_insert(at);
            c.requests += 1;
        }
    }

    pub(crate) fn connection_closed(&self, connection: u64, at: Duration) {
        let mut inner = self.lock();
        if let Some(tally) = &mut inner.tally {
            tally.closed += 1;
            return;
        }
        if let Some(c) = inner.connections.get_mut(&connection) {
            c.closed_at.get_or_insert(at);
        }
    }

    /// Appends a record (its path and method capped), or counts it; returns its sequence
    /// number for `mark_sent` (a counted record's matches nothing).
    pub(crate) fn push(&self, mut record: ServerRequestRecord) -> u64 {
        let mut inner = self.lock();
        if let Some(tally) = &mut inner.tally {
            tally.count(&record);
            inner.taken += 1;
            return inner.taken - 1;
        }
        cap(&mut record.path, MAX_LOGGED_PATH);
        cap(&mut record.method, MAX_LOGGED_METHOD);
        inner.records.push(record);
        inner.taken + inner.records.len() as u64 - 1
    }

    /// Sets `response_sent_at` of record `seq`, unless it was taken already, and reads its
    /// connection's socket.
    pub(crate) fn mark_sent(&self, seq: u64, at: Duration) {
        let mut carried = None;
        self.update(seq, |record| {
            record.response_sent_at = Some(at);
            carried = Some((record.connection, record.request_id));
        });
        let Some((connection, request_id)) = carried else {
            return;
        };
        let Some(probe) = self.lock().probes.get(&connection).cloned() else {
            return;
        };
        // Read outside the lock: other connections' tasks log meanwhile.
        let reading = probe.read();
        let mut inner = self.lock();
        let Some(c) = inner.connections.get_mut(&connection) else {
            return;
        };
        match reading {
            Some(Ok(info)) => c.tcp_info.responses.push(ResponseTcpInfo {
                request_id,
                stream_received: None,
                stream_sent: None,
                info,
            }),
            Some(Err(e)) => c
                .tcp_info
                .failed(format!("reading TCP_INFO after a response: {e}")),
            None => {}
        }
    }

    /// Sets `turn_at` of record `seq`, unless it was taken already.
    pub(crate) fn mark_turn(&self, seq: u64, at: Duration) {
        self.update(seq, |record| record.turn_at = Some(at));
    }

    fn update(&self, seq: u64, change: impl FnOnce(&mut ServerRequestRecord)) {
        let mut inner = self.lock();
        let Some(index) = seq.checked_sub(inner.taken) else {
            return;
        };
        if let Some(record) = usize::try_from(index)
            .ok()
            .and_then(|i| inner.records.get_mut(i))
        {
            change(record);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the records intact; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary, marked with how many were cut.
fn cap(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("…+{cut} bytes"));
}

impl std::fmt::Debug for ServerLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("ServerLog")
            .field("records", &inner.records.len())
            .field("connections", &inner.connections.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> ServerRequestRecord {
        ServerRequestRecord {
            request_id: None,
            connection: 0,
            peer_addr: "127.0.0.1:1".into(),
            method: "GET".into(),
            path: path.into(),
            arrived_at: Duration::ZERO,
            started_at: Duration::ZERO,
            request_body_bytes: 0,
            response_ready_at: Duration::ZERO,
            turn_at: None,
            response_sent_at: None,
            status: 200,
            response_body_bytes: 0,
        }
    }

    #[test]
    fn completion_after_take_does_not_hit_another_record() {
        let log = ServerLog::default();
        let a = log.push(record("/a"));
        let taken = log.take();
        assert_eq!(taken.len(), 1);
        let b = log.push(record("/b"));
        log.mark_sent(a, Duration::from_millis(1));
        assert_eq!(log.snapshot()[0].response_sent_at, None);
        log.mark_sent(b, Duration::from_millis(2));
        let now = log.take();
        assert_eq!(now[0].path, "/b");
        assert_eq!(now[0].response_sent_at, Some(Duration::from_millis(2)));
        assert!(log.snapshot().is_empty());
    }

    #[test]
    fn long_paths_are_capped_and_counting_keeps_no_record() {
        let log = ServerLog::default();
        let long = format!("/{}é", "a".repeat(MAX_LOGGED_PATH - 2));
        log.push(record(&long));
        let kept = &log.take()[0].path;
        assert_eq!(
            kept,
            &format!("/{}…+2 bytes", "a".repeat(MAX_LOGGED_PATH - 2))
        );

        let log = ServerLog::counting();
        log.connection_accepted(0, ([127, 0, 0, 1], 1).into(), Duration::ZERO, None);
        for status in [200, 404, 0] {
            let mut r = record(&"x".repeat(60_000));
            r.status = status;
            r.response_ready_at = Duration::from_millis(2);
            let seq = log.push(r);
            log.mark_sent(seq, Duration::from_millis(3));
        }
        log.connection_closed(0, Duration::from_millis(4));
        assert!(log.take().is_empty());
        assert!(log.connections().is_empty());
        let tally = log.tally().unwrap();
        assert_eq!((tally.requests, tally.abandoned), (3, 1));
        assert_eq!(tally.by_class, [0, 1, 0, 1, 0]);
        assert_eq!((tally.connections, tally.closed), (1, 1));
        assert!(tally
            .summary()
            .starts_with("3 requests (2xx 1, 4xx 1, 1 abandoned)"));
        assert_eq!(tally.ready_us.len(), 2);
    }
}
