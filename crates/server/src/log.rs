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

use httplab_core::{ResponseTcpInfo, ServerConnectionRecord, ServerRequestRecord, TcpInfo};
use httplab_socket::TcpProbe;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The server's request log. Cheap to clone; all clones share one log.
#[derive(Clone, Default)]
pub struct ServerLog {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Records already taken: the sequence number of `records[0]`.
    taken: u64,
    records: Vec<ServerRequestRecord>,
    connections: BTreeMap<u64, ServerConnectionRecord>,
    /// Each open connection's socket probe, by connection number.
    probes: BTreeMap<u64, TcpProbe>,
}

impl ServerLog {
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

    /// Like `connections`, and forgets the closed ones.
    pub fn take_connections(&self) -> Vec<ServerConnectionRecord> {
        let mut inner = self.lock();
        let all: Vec<ServerConnectionRecord> = inner.connections.values().cloned().collect();
        inner.connections.retain(|_, c| c.closed_at.is_none());
        all
    }

    pub(crate) fn connection_accepted(
        &self,
        connection: u64,
        peer_addr: String,
        at: Duration,
        probe: Option<TcpProbe>,
    ) {
        let mut inner = self.lock();
        if let Some(probe) = probe {
            inner.probes.insert(connection, probe);
        }
        inner.connections.insert(
            connection,
            ServerConnectionRecord {
                connection,
                peer_addr,
                accepted_at: at,
                first_request_at: None,
                requests: 0,
                closed_at: None,
                tcp_info: Default::default(),
            },
        );
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
        if let Some(c) = self.lock().connections.get_mut(&connection) {
            c.closed_at.get_or_insert(at);
        }
    }

    /// Appends a record; returns its sequence number for `mark_sent`.
    pub(crate) fn push(&self, record: ServerRequestRecord) -> u64 {
        let mut inner = self.lock();
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
}
