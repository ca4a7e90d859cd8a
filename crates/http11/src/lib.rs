//! httplab-http11: HTTP/1.1 persistent connections, capped per origin like a browser.
//!
//! The client keeps a small pool: at most `max_connections_per_host` connections, each carrying
//! one request at a time (no pipelining: the next request goes out only after the previous
//! response has fully arrived). A request takes an idle connection if there is one, opens a new
//! one if the cap allows, and otherwise waits; that wait is its `blocked` phase, the queueing
//! DevTools shows for the 7th request to one host. The pool is written here: a semaphore with one
//! permit per allowed connection, and a stack of idle slots, most recently used first and still
//! connected first, as Chromium's socket pool picks them.
//!
//! The bytes on each connection are httplab-http11-pipelined's wire engine, one request deep
//! (a [`Slot`]): its request encoder and response parser, its timing of every write and read, its
//! close reasons, and a browser's resend rule (a request goes out again, once, only when a reused
//! connection ended before its response). Compare with httplab-http10, which opens a connection
//! per request, and with pipelining, which writes requests without waiting for responses.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

use httplab_core::{RequestRecord, RequestSpec};
use httplab_http11_pipelined::Slot;
use httplab_transport::client::BoxFuture;
use httplab_transport::{ClientOptions, ProtocolClient, RequestTiming};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// How long `finish` waits for the pool's connections to close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

pub struct Http11Client {
    opts: ClientOptions,
    /// One permit per connection allowed to the origin; a request holds one while it runs.
    permits: Arc<Semaphore>,
    /// Slots no request holds, the most recently used last.
    idle: Mutex<Vec<Slot>>,
    /// The slots' workers; each ends when its slot is dropped and its connection closed.
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Http11Client {
    pub fn new(opts: ClientOptions) -> Self {
        Self {
            permits: opts.connection_slots(),
            opts,
            idle: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Slot>> {
        // A poisoned lock only means a panic elsewhere; the slots are still valid.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle slot, the most recently used one whose connection is still open first; else a
    /// new slot (the caller holds a permit, so the cap allows it).
    fn take_slot(&self) -> Slot {
        let mut idle = self.idle();
        let connected = idle.iter().rposition(Slot::is_connected);
        if let Some(slot) = connected.map(|i| idle.remove(i)).or_else(|| idle.pop()) {
            return slot;
        }
        drop(idle);
        let (slot, worker) = Slot::start(&self.opts);
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(worker);
        slot
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let url = self.opts.connector.origin().url(&spec.path);
        let timing = RequestTiming::new(spec, url, clock.now());
        // Wait for the right to use a connection: this wait is the `blocked` phase.
        let Ok(_permit) = self.permits.acquire().await else {
            return timing.fail(clock.now(), "client shut down".into());
        };
        let slot = self.take_slot();
        let record = slot.fetch(timing, clock).await;
        // Back to the pool before the permit is released, so the next request finds it.
        self.idle().push(slot);
        record
    }

    async fn close_all(&self) {
        // Dropping the idle slots tells their workers to close their connections.
        drop(std::mem::take(&mut *self.idle()));
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
        for mut worker in workers {
            if tokio::time::timeout_at(deadline, &mut worker)
                .await
                .is_err()
            {
                tracing::warn!("a connection did not close within {CLOSE_GRACE:?}");
                worker.abort();
            }
        }
    }
}

impl ProtocolClient for Http11Client {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        Box::pin(self.fetch_one(spec))
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.close_all())
    }
}
