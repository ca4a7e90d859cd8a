//! httplab-http11: HTTP/1.1 persistent connections, capped per origin like a browser.
//!
//! The client keeps a small pool: at most `max_connections_per_host` connections, each carrying
//! one request at a time (no pipelining: the next request goes out only after the previous
//! response has fully arrived). A request takes an idle connection if there is one, opens a new
//! one if the cap allows, and otherwise waits; that wait is its `blocked` phase, the queueing
//! DevTools shows for the 7th request to one host. hyper's own pool has no per-host cap, so the
//! pool is written here: a semaphore with one permit per allowed connection, and a list of idle
//! connections. Compare with httplab-http10, which opens a connection per request.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

use httplab_core::{CloseReason, RequestRecord, RequestSpec};
use httplab_transport::client::BoxFuture;
use httplab_transport::exchange::{record_fields, request_head, HeadCache};
use httplab_transport::{
    exchange_http1, ClientOptions, Meter, ProtocolClient, RequestTiming, Upload,
};
use hyper::client::conn::http1::SendRequest;
use hyper::Version;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// How long `finish` waits for the pool's connections to close.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// An open connection, idle in the pool or lent to one request.
struct Pooled {
    id: u32,
    sender: SendRequest<Upload>,
    meter: Meter,
}

pub struct Http11Client {
    opts: ClientOptions,
    /// One permit per connection allowed to the origin; a request holds one while it runs.
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Pooled>>,
    /// The tasks driving each connection; they end when the connection closes.
    drivers: Mutex<Vec<JoinHandle<()>>>,
    heads: HeadCache,
}

impl Http11Client {
    pub fn new(opts: ClientOptions) -> Self {
        Self {
            slots: opts.connection_slots(),
            opts,
            idle: Mutex::new(Vec::new()),
            drivers: Mutex::new(Vec::new()),
            heads: HeadCache::default(),
        }
    }

    /// An idle connection still usable, most recently used first.
    fn take_idle(&self) -> Option<Pooled> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(conn) = idle.pop() {
            if !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    async fn open(&self, timing: &mut RequestTiming) -> Result<Pooled, String> {
        let conn = self
            .opts
            .connector
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        timing.new_connection = Some(conn.setup);
        let (id, meter) = (conn.id, conn.meter());
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(conn.stream))
            .await
            .map_err(|e| format!("http handshake: {e}"))?;
        let driver_meter = meter.clone();
        let task = tokio::spawn(async move {
            // If nothing else explained the close first, the server ended the connection.
            match driver.await {
                Ok(()) => driver_meter.set_close_reason(CloseReason::ServerClosed),
                Err(e) => driver_meter.set_close_reason(CloseReason::Error(e.to_string())),
            }
        });
        self.drivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
        Ok(Pooled { id, sender, meter })
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let origin = self.opts.connector.origin();
        let url = origin.url(&spec.path);
        let mut timing = RequestTiming::new(spec, url, clock.now());
        // Built before anything is sent: a head that cannot be is a failure of the request.
        let built = || request_head(&origin.authority, &timing.spec, &[]);
        let head = match self.heads.head(&timing.spec, built) {
            Ok(head) => head,
            Err(e) => return timing.fail(clock.now(), e),
        };

        // Wait for the right to use a connection: this wait is the `blocked` phase.
        let Ok(_slot) = self.slots.acquire().await else {
            return timing.fail(clock.now(), "client shut down".into());
        };
        let mut conn = match self.take_idle() {
            Some(conn) => conn,
            // Boxed: opening (TCP, TLS, the HTTP handshake) is a large future that few
            // requests await, and every request's future would carry its size.
            None => match Box::pin(self.open(&mut timing)).await {
                Ok(conn) => conn,
                Err(e) => return timing.fail(clock.now(), e),
            },
        };
        timing.connection = Some(conn.id);
        if conn.sender.ready().await.is_err() {
            return timing.fail(clock.now(), "connection closed before the request".into());
        }

        timing.request_headers = record_fields(&head);
        timing.request_body_bytes = timing.spec.body_bytes;
        conn.meter.begin_exchange();
        let result = exchange_http1(
            &mut conn.sender,
            &timing.spec.method,
            &timing.spec.path,
            Version::HTTP_11,
            head,
            timing.spec.body_bytes,
        )
        .await;
        let bytes = conn.meter.exchange();
        match result {
            Ok(response) => {
                if response.connection_close {
                    conn.meter.set_close_reason(CloseReason::AfterResponse);
                } else {
                    // Back to the pool before the slot is released, so the next request finds it.
                    self.idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                }
                timing.finish(bytes, response)
            }
            Err(e) => {
                // E.g. the server closed the connection without a response: the request was
                // sent, so its time since is `wait`, not `blocked`.
                conn.meter
                    .set_close_reason(CloseReason::Error(e.to_string()));
                timing.fail_after(bytes, clock.now(), e.to_string())
            }
        }
    }

    async fn close_all(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for conn in idle {
            conn.meter.set_close_reason(CloseReason::WorkloadDone);
            drop(conn.sender);
        }
        let drivers = std::mem::take(&mut *self.drivers.lock().unwrap_or_else(|p| p.into_inner()));
        for task in drivers {
            if tokio::time::timeout(CLOSE_GRACE, task).await.is_err() {
                tracing::warn!("a connection did not close within {CLOSE_GRACE:?}");
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
