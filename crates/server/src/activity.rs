//! What each live connection is doing, for the limits that end it and for fair admission.
//!
//! Every connection has one [`Activity`]: how many of its requests are in progress (from the
//! head's arrival to the response's last byte handed over, or the request abandoned) and since
//! when none has been (idle), the request bodies it is reading and how fast, and the responses
//! it is sending with when each last made progress. Every path updates it the same way (hyper's
//! HTTP/1.x and HTTP/2 through `service.rs` and `body.rs`, the pipelining loop itself), and the
//! limits read it: `h2_idle_timeout` (`http2.rs`), the pipelining loop's head and keep-alive
//! timers, `send_timeout` (`Registry::end_stalled`, one watch for every connection and path).
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
    /// Tells the connection's task to end (`end`).
    end: Notify,
}

/// Why a connection is ended from outside its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Evicted at the server's ceiling to admit a new client.
    Evicted,
    /// A response took none of its bytes for `send_timeout`.
    Stalled,
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
    /// Set once, when the connection is told to end.
    ending: Option<Ending>,
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
                ending: None,
            }),
            end: Notify::new(),
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

    /// When the oldest response being sent last made progress, unless none is being sent or the
    /// connection is already ending.
    fn oldest_send(&self) -> Option<Instant> {
        let state = self.state();
        match state.ending {
            Some(_) => None,
            None => state.sending.values().min().copied(),
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

    /// Asks the connection to close at once, for `why`; the first reason given is the one kept.
    pub(crate) fn end(&self, why: Ending) {
        let mut state = self.state();
        if state.ending.is_none() {
            state.ending = Some(why);
            drop(state);
            self.end.notify_one();
        }
    }

    /// Returns when the connection has been told to end, and why.
    pub(crate) async fn ended(&self) -> Ending {
        self.end.notified().await;
        self.state().ending.unwrap_or(Ending::Evicted)
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
            activity.end(Ending::Evicted);
        }
        Some((connection, why))
    }

    /// `send_timeout`, for every connection at once: ends each one whose oldest response has
    /// taken no bytes for `limit` at `now`, and returns when to look again. That is the earliest
    /// moment another could stall: a response in progress `limit` after its last progress, or
    /// `limit` from `now` for one that begins later, so a watch that sleeps until then ends
    /// every stalled connection on time.
    ///
    /// One watch for the server, not a timer per connection: arming a timer earlier than the
    /// runtime's next wake writes to its eventfd, and a timer per connection did so for two
    /// connections in three of a `Connection: close` load.
    pub(crate) fn end_stalled(&self, now: Instant, limit: Duration) -> Instant {
        let mut next = now + limit;
        for activity in self.live().values() {
            let Some(at) = activity.oldest_send() else {
                continue;
            };
            match at + limit {
                due if due <= now => activity.end(Ending::Stalled),
                due => next = next.min(due),
            }
        }
        next
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
        let why = tokio::time::timeout(Duration::from_millis(1), old_idle.ended()).await;
        assert_eq!(why.unwrap(), Ending::Evicted);
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
    async fn the_idle_timer_follows_the_requests() {
        let activity = Arc::new(Activity::new());
        let timeout = Duration::from_secs(5);
        let request = activity.open();
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(!activity.idle_expired(timeout), "busy is not idle");
        drop(request);
        let idle_at = Instant::now();
        activity.idle_for(timeout).await;
        assert_eq!(Instant::now() - idle_at, timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_without_progress_for_the_limit_ends_its_connection_and_no_other() {
        let registry = Registry::default();
        let limit = Duration::from_secs(5);
        let (quiet, stalling, fine) = (
            registry.register(0),
            registry.register(1),
            registry.register(2),
        );
        let start = Instant::now();
        // Nothing is being sent: look again a whole limit from now.
        assert_eq!(registry.end_stalled(start, limit), start + limit);
        let stuck = stalling.sending();
        let flowing = fine.sending();
        tokio::time::advance(Duration::from_secs(3)).await;
        flowing.progress();
        let progressed = Instant::now();
        // The stuck one is due first, at 5 s.
        assert_eq!(registry.end_stalled(progressed, limit), start + limit);
        tokio::time::advance(Duration::from_secs(2)).await;
        // At 5 s it has stalled; the one that progressed at 3 s is due at 8 s.
        assert_eq!(
            registry.end_stalled(Instant::now(), limit),
            progressed + limit
        );
        let why = tokio::time::timeout(Duration::from_millis(1), stalling.ended()).await;
        assert_eq!(why.unwrap(), Ending::Stalled);
        for untouched in [&quiet, &fine] {
            let told = tokio::time::timeout(Duration::from_millis(1), untouched.ended()).await;
            assert!(told.is_err(), "only the stalled connection is ended");
        }
        // Told once: while it closes, it is not judged again.
        assert_eq!(
            registry.end_stalled(Instant::now(), limit),
            progressed + limit
        );
        drop((stuck, flowing));
        assert_eq!(
            registry.len(),
            3,
            "ending leaves the closing to the connection's task"
        );
    }
}
