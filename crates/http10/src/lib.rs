//! httplab-http10: HTTP/1.0, one connection per request.
//!
//! Every request pays for its own TCP (and TLS) handshake: the client asks the harness for a
//! fresh connection, writes an `HTTP/1.0` request with `Connection: close`, reads the response to
//! its end, and the connection is gone. At most `max_connections_per_host` such connections are
//! open at once, as browsers of the HTTP/1.0 era did; a request waiting for one of those slots is
//! `blocked`. Compare with httplab-http11, which keeps connections open and reuses them.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

use httplab_core::{CloseReason, RequestRecord, RequestSpec};
use httplab_transport::client::BoxFuture;
use httplab_transport::exchange::{record_fields, request_head, HeadCache};
use httplab_transport::{exchange_http1, ClientOptions, ProtocolClient, RequestTiming};
use hyper::Version;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a finished exchange may take to close its socket before the client stops waiting.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

pub struct Http10Client {
    opts: ClientOptions,
    /// One permit per connection the client may have open.
    slots: Arc<Semaphore>,
    heads: HeadCache,
}

impl Http10Client {
    pub fn new(opts: ClientOptions) -> Self {
        Self {
            slots: opts.connection_slots(),
            opts,
            heads: HeadCache::default(),
        }
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let origin = self.opts.connector.origin();
        let url = origin.url(&spec.path);
        let mut timing = RequestTiming::new(spec, url, clock.now());
        // Built before anything is sent: a head that cannot be is a failure of the request.
        let built = || request_head(&origin.authority, &timing.spec, &[("connection", "close")]);
        let head = match self.heads.head(&timing.spec, built) {
            Ok(head) => head,
            Err(e) => return timing.fail(clock.now(), e),
        };

        // Wait for a connection slot: this wait is the request's `blocked` phase.
        let Ok(_slot) = self.slots.acquire().await else {
            return timing.fail(clock.now(), "client shut down".into());
        };
        let conn = match self.opts.connector.connect().await {
            Ok(conn) => conn,
            Err(e) => return timing.fail(clock.now(), format!("connect: {e}")),
        };
        timing.connection = Some(conn.id);
        timing.new_connection = Some(conn.setup);
        let meter = conn.meter();

        let (mut sender, driver) =
            match hyper::client::conn::http1::handshake(TokioIo::new(conn.stream)).await {
                Ok(pair) => pair,
                Err(e) => return timing.fail(clock.now(), format!("http handshake: {e}")),
            };
        let driver = tokio::spawn(driver);

        timing.request_headers = record_fields(&head);
        timing.request_body_bytes = timing.spec.body_bytes;
        meter.begin_exchange();
        let result = exchange_http1(
            &mut sender,
            &timing.spec.method,
            &timing.spec.path,
            Version::HTTP_10,
            head,
            timing.spec.body_bytes,
        )
        .await;
        let ended_at = clock.now();

        // The response is complete; the connection ends with it. Wait for the socket to close so
        // the slot frees only when a browser's would.
        drop(sender);
        meter.set_close_reason(match &result {
            Ok(_) => CloseReason::AfterResponse,
            Err(e) => CloseReason::Error(e.to_string()),
        });
        if tokio::time::timeout(CLOSE_GRACE, driver).await.is_err() {
            tracing::warn!(
                connection = conn.id,
                "connection did not close within {CLOSE_GRACE:?}"
            );
        }
        match result {
            Ok(response) => timing.finish(meter.exchange(), response),
            Err(e) => timing.fail_after(meter.exchange(), ended_at, e.to_string()),
        }
    }
}

impl ProtocolClient for Http10Client {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        Box::pin(self.fetch_one(spec))
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        // Every connection closed at the end of its own exchange.
        Box::pin(async {})
    }
}
