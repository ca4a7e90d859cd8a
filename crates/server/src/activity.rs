//! What each live connection is doing, for the limits that end it and for fair admission.
//!
//! Every connection has one [`Activity`]: how many of its requests are in progress (from the
//! head's arrival to the response's last byte handed over, or the request abandoned) and since
//! when none has been (idle), the request bodies it is reading and how fast, and the responses
//! it is sending with when each last made progress. Every path updates it the same way (hyper's
//! HTTP/1.x and HTTP/2 through `service.rs` and `body.rs`, the pipelining loop itself), and the
//! limits read it: `h2_idle_timeout` (`http2.rs`), the pipelining loop's head and keep-alive
//! timers, `send_timeout` (`stalled`, for every path).
//!
//! The [`Registry`] holds the activity of every live connection. When the server is at its own
//! ceiling (`MAX_CONNECTIONS`), the accept loop evicts one to admit a new client: the connection
//! idle the longest (no request in progress: silent, between requests, a head still arriving,
//! an HTTP/2 connection with no stream) or reading a body slower than `min_body_rate`,
//! whichever began first. A connection answering a request is never evicted. It decides nothing
//! about HTTP and reads no socket.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// An upload is judged slow for eviction only after this long, so a body that has just begun
/// is not judged on its first bytes.
const SLOW_GRACE: Duration = Duration::from_secs(1);

/// One connection's activity.
pub(crate) struct Activity {
    state: Mutex<State>,
    evict: Notify,
}

struct State {
    /// Requests in progress.
    open: usize,
    /// When `open` last became 0 (or the connection was accepted).
    idle_since: Instant,
    /// Request bodies being read.
    upload: Option<Upload>,
    /// Responses being sent, by a number of their own: when each last made progress.
    sending: BTreeMap<u64, Instant>,
    next_send: u64,
}

/// The request bodies a connection is reading at once, together.
struct Upload {
    readers: usize,
    since: Instant,
    bytes: u64,
}

/// Why a connection may be evicted, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evictable {
    /// No request in progress since then.
    Idle(Instant),
    /// Reading a body below the least rate since then.
    Slow(Instant),
}

impl Evictable {
    fn since(self) -> Instant {
        match self {
            Evictable::Idle(since) | Evictable::Slow(since) => since,
        }
    }
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            state: Mutex::new(State {
                open: 0,
                idle_since: Instant::now(),
                upload: None,
                sending: BTreeMap::new(),
                next_send: 0,
            }),
            evict: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request arrived.
    pub(crate) fn request_started(&self) {
        self.state().open += 1;
    }

    /// A request's response was handed over, or the request abandoned.
    pub(crate) fn request_done(&self) {
        let mut state = self.state();
        state.open = state.open.saturating_sub(1);
        if state.open == 0 {
            state.idle_since = Instant::now();
        }
    }

    /// A request in progress until the guard is dropped.
    pub(crate) fn open(self: &Arc<Self>) -> Open {
        self.request_started();
        Open(self.clone())
    }

    /// When an idle wait of `timeout` could end: `timeout` after the connection went idle, or
    /// from now if it is busy (look again then).
    pub(crate) fn idle_deadline(&self, timeout: Duration) -> Instant {
        let state = self.state();
        match state.open {
            0 => state.idle_since + timeout,
            _ => Instant::now() + timeout,
        }
    }

    /// Whether the connection has had no request in progress for `timeout`.
    pub(crate) fn idle_expired(&self, timeout: Duration) -> bool {
        let state = self.state();
        state.open == 0 && state.idle_since.elapsed() >= timeout
    }

    /// Returns once the connection has had no request in progress for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        while !self.idle_expired(timeout) {
            tokio::time::sleep_until(self.idle_deadline(timeout)).await;
        }
    }

    /// A request body being read until the guard is dropped.
    pub(crate) fn reading_body(self: &Arc<Self>) -> Reading {
        let mut state = self.state();
        match &mut state.upload {
            Some(upload) => upload.readers += 1,
            None => {
                state.upload = Some(Upload {
                    readers: 1,
                    since: Instant::now(),
                    bytes: 0,
                })
            }
        }
        Reading(self.clone())
    }

    /// A response being sent until the guard is dropped; `Sending::progress` at each step.
    pub(crate) fn sending(self: &Arc<Self>) -> Sending {
        let mut state = self.state();
        let id = state.next_send;
        state.next_send += 1;
        state.sending.insert(id, Instant::now());
        Sending(self.clone(), id)
    }

    /// Returns once some response has made no progress for `limit` (the client takes none of
    /// its bytes: its HTTP/2 window or its TCP window stays at zero).
    ///
    /// While nothing is being sent it still keeps a timer (`limit` away), whose arming wakes the
    /// event loop through its eventfd for two connections in three of a `Connection: close`
    /// load. Waiting instead for a send to begin (a `Notify`) saved those wake-ups but cost the
    /// connection's task a poll per response: 15.6k → 17.7k server instructions a keep-alive
    /// request under callgrind.
    pub(crate) async fn stalled(&self, limit: Duration) {
        loop {
            let oldest = self.state().sending.values().min().copied();
            let check = match oldest {
                Some(at) if at.elapsed() >= limit => return,
                Some(at) => at + limit,
                None => Instant::now() + limit,
            };
            tokio::time::sleep_until(check).await;
        }
    }

    /// Whether the connection may be evicted at `now`, given the least body rate (bytes/s).
    pub(crate) fn evictable(&self, now: Instant, min_body_rate: u64) -> Option<Evictable> {
        let state = self.state();
        if let Some(upload) = &state.upload {
            let elapsed = now.saturating_duration_since(upload.since);
            let due = u128::from(min_body_rate) * elapsed.as_millis() / 1000;
            return (elapsed >= SLOW_GRACE && u128::from(upload.bytes) < due)
                .then_some(Evictable::Slow(upload.since));
        }
        (state.open == 0).then_some(Evictable::Idle(state.idle_since))
    }

    /// Asks the connection to close at once.
    pub(crate) fn evict(&self) {
        self.evict.notify_one();
    }

    /// Returns when the connection has been evicted.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

/// A request in progress (see [`Activity::open`]).
pub(crate) struct Open(Arc<Activity>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// A request body being read (see [`Activity::reading_body`]).
pub(crate) struct Reading(Arc<Activity>);

impl Reading {
    /// `n` more body bytes were read.
    pub(crate) fn arrived(&self, n: u64) {
        if let Some(upload) = &mut self.0.state().upload {
            upload.bytes = upload.bytes.saturating_add(n);
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let mut state = self.0.state();
        let done = state.upload.as_mut().is_some_and(|upload| {
            upload.readers -= 1;
            upload.readers == 0
        });
        if done {
            state.upload = None;
        }
    }
}

/// A response being sent (see [`Activity::sending`]).
pub(crate) struct Sending(Arc<Activity>, u64);

impl Sending {
    /// The client took more of the response.
    pub(crate) fn progress(&self) {
        if let Some(at) = self.0.state().sending.get_mut(&self.1) {
            *at = Instant::now();
        }
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.state().sending.remove(&self.1);
    }
}

/// The activity of every live connection, by connection number.
#[derive(Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Registry {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection's activity, idle from now.
    pub(crate) fn register(&self, connection: u64) -> Arc<Activity> {
        let activity = Arc::new(Activity::new());
        self.live().insert(connection, activity.clone());
        activity
    }

    /// The connection has ended (or was evicted).
    pub(crate) fn forget(&self, connection: u64) {
        self.live().remove(&connection);
    }

    /// Live connections not yet evicted.
    pub(crate) fn len(&self) -> usize {
        self.live().len()
    }

    /// The connection to evict first at `now`: the earliest idle or slow one.
    fn candidate(&self, now: Instant, min_body_rate: u64) -> Option<(u64, Evictable)> {
        self.live()
            .iter()
            .filter_map(|(&n, a)| a.evictable(now, min_body_rate).map(|e| (n, e)))
            .min_by_key(|&(n, e)| (e.since(), n))
    }

    /// Whether some connection could be evicted now.
    pub(crate) fn has_candidate(&self, min_body_rate: u64) -> bool {
        self.candidate(Instant::now(), min_body_rate).is_some()
    }

    /// Evicts the earliest idle or slow connection, if any; returns its number and why.
    pub(crate) fn evict_one(&self, min_body_rate: u64) -> Option<(u64, Evictable)> {
        let (connection, why) = self.candidate(Instant::now(), min_body_rate)?;
        if let Some(activity) = self.live().remove(&connection) {
            activity.evict();
        }
        Some((connection, why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_earliest_idle_or_slow_connection_goes_first_and_busy_ones_never() {
        let registry = Registry::default();
        let rate = 1000;
        let old_idle = registry.register(0);
        tokio::time::advance(Duration::from_secs(1)).await;
        let busy = registry.register(1);
        let _request = busy.open();
        let uploader = registry.register(2);
        let _upload_request = uploader.open();
        let upload = uploader.reading_body();
        let _fresh_idle = registry.register(3);
        tokio::time::advance(Duration::from_secs(2)).await;
        // 2 s at 1000 B/s is 2000 bytes due: 2500 is on pace, so the uploader is busy.
        upload.arrived(2500);
        assert_eq!(registry.evict_one(rate).map(|e| e.0), Some(0));
        assert_eq!(registry.len(), 3);
        // Evicted: its connection's task is told.
        tokio::time::timeout(Duration::from_millis(1), old_idle.evicted())
            .await
            .unwrap();
        // 10 s: the upload (since t = 1 s) has fallen behind (9000 due) and began before
        // connection 3 went idle (also t = 1 s, registered after it).
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(matches!(
            registry.evict_one(rate),
            Some((2, Evictable::Slow(_)))
        ));
        assert_eq!(registry.evict_one(rate).map(|e| e.0), Some(3));
        // Only the busy one is left.
        assert!(!registry.has_candidate(rate));
        assert_eq!(registry.evict_one(rate), None);
        registry.forget(1);
        assert_eq!(registry.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_stall_timers_follow_the_requests() {
        let activity = Arc::new(Activity::new());
        let timeout = Duration::from_secs(5);
        let start = Instant::now();
        let request = activity.open();
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(!activity.idle_expired(timeout), "busy is not idle");
        drop(request);
        let idle_at = Instant::now();
        activity.idle_for(timeout).await;
        assert_eq!(Instant::now() - idle_at, timeout);

        let sending = activity.sending();
        tokio::time::advance(Duration::from_secs(3)).await;
        sending.progress();
        let progressed = Instant::now();
        activity.stalled(timeout).await;
        assert_eq!(Instant::now() - progressed, timeout);
        drop(sending);
        assert!(
            tokio::time::timeout(Duration::from_secs(60), activity.stalled(timeout))
                .await
                .is_err(),
            "nothing being sent never stalls"
        );
        assert!(Instant::now() > start);
    }
}
