//! httplab-h2: the HTTP/2 client, for both `h2` (TLS, ALPN "h2") and `h2c` (cleartext, prior
//! knowledge). It does not care which: the harness hands it a connected stream either way.
//!
//! How HTTP/2 differs from HTTP/1.1 (compare httplab-http11):
//! - **One connection, many streams.** The whole workload runs over a single connection, opened
//!   by the first request (the others wait for it; that wait is their `blocked`). Each request
//!   is a stream: HEADERS, DATA, and END_STREAM, interleaved with every other stream's frames.
//! - **A stream slot instead of a connection slot.** Where HTTP/1.1 queues a request until a
//!   pooled connection is idle, HTTP/2 queues it until the server's
//!   SETTINGS_MAX_CONCURRENT_STREAMS allows another open stream (see `slots`). Until the server's
//!   SETTINGS arrive the client assumes 100 streams, as browsers do, rather than spend a round
//!   trip waiting for them; a stream the server refuses (REFUSED_STREAM: never processed) is
//!   sent again, counted in `retries`, and its refused attempt and the wait for a slot are its
//!   `blocked`. In that first round trip a server cap below 100 can also make h2 hold HEADERS
//!   back inside itself; the frame tap sees when they really leave, so that wait is `blocked`
//!   too, never `wait`.
//! - **Flow-control windows.** Each stream and the connection have a receive window the sender
//!   may not exceed; the client opens with `H2Options` (the scenario's `h2_stream_window` and
//!   `h2_connection_window`, Chrome's 6 MiB / 15 MiB by default) and hands window back as it
//!   reads. Left at the 65,535-byte default, a large response would wait a round trip per window.
//! - **PING.** Right after the handshake the client sends one PING; its round trip is recorded
//!   on the connection's meter as the RTT HTTP/2 itself sees.
//!
//! Timing: HTTP/2 send, wait and receive are taken per stream at the socket, by the frame tap
//! the client switches on for its connection (when the stream's HEADERS and END_STREAM frames
//! are written and read), which also counts each stream's header blocks as they crossed the
//! wire. See `exchange` for what is measured. What this crate deliberately does not do: TCP or
//! TLS (the harness), frame counting (the frame tap), server push (disabled), more than one
//! connection, or retrying on a new connection after GOAWAY.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod connection;
mod error;
mod exchange;
mod slots;

pub use connection::{ASSUMED_MAX_CONCURRENT_STREAMS, CLOSE_GRACE, PING_TIMEOUT};
pub use error::H2ClientError;

use connection::H2Connection;
use exchange::exchange;
use http::uri::{Authority, Scheme};
use http::Uri;
use httplab_core::scenario::ClientSettings;
use httplab_core::wire::REQUEST_ID_HEADER;
use httplab_core::{RequestRecord, RequestSpec, WriteMode};
use httplab_transport::client::BoxFuture;
use httplab_transport::exchange::{header_fields_kept, multiplexed_head, record_fields, HeadCache};
use httplab_transport::{ClientOptions, ProtocolClient, RequestTiming};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Times a request refused by the server (REFUSED_STREAM) is sent again before it fails.
pub const MAX_REFUSED_RETRIES: u32 = 3;

/// The flow-control windows the client advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Options {
    /// SETTINGS_INITIAL_WINDOW_SIZE: bytes the server may send on one stream unacknowledged.
    pub stream_window: u32,
    /// The connection window, opened with a WINDOW_UPDATE on stream 0 after the preface.
    pub connection_window: u32,
    /// How frames are written: packed (a browser's way: the HEADERS of requests issued
    /// together leave in one write) or each as h2 hands it over.
    pub write: WriteMode,
}

impl H2Options {
    /// The windows a scenario's `[client]` table asks for.
    pub fn from_settings(settings: &ClientSettings) -> Self {
        Self {
            stream_window: settings.h2_stream_window,
            connection_window: settings.h2_connection_window,
            write: settings.write,
        }
    }
}

impl Default for H2Options {
    /// Chrome's windows.
    fn default() -> Self {
        Self {
            stream_window: httplab_core::scenario::BROWSER_H2_STREAM_WINDOW,
            connection_window: httplab_core::scenario::BROWSER_H2_CONNECTION_WINDOW,
            write: WriteMode::Packed,
        }
    }
}

/// The HTTP/2 client: one connection, a stream per request.
pub struct Http2Client {
    opts: ClientOptions,
    h2: H2Options,
    /// The connection, opened by the first `fetch`; a failure to open is kept, and fails every
    /// request, rather than opening a second connection.
    conn: OnceCell<Result<Arc<H2Connection>, String>>,
    /// The origin's scheme and authority, parsed once: every request's URI starts with them
    /// unless it names another (coalesced) origin.
    scheme: Scheme,
    authority: Option<Authority>,
    /// Each request's method, URI and fields, as built once.
    heads: HeadCache<(http::Method, Uri, http::HeaderMap)>,
}

impl Http2Client {
    pub fn new(opts: ClientOptions, h2: H2Options) -> Self {
        let origin = opts.connector.origin();
        Self {
            scheme: if origin.scheme == "https" {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
            authority: Authority::try_from(origin.authority.as_str()).ok(),
            opts,
            h2,
            conn: OnceCell::new(),
            heads: HeadCache::default(),
        }
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let origin = self.opts.connector.origin();
        // A request of another origin this connection was coalesced for carries its own.
        let authority = spec.authority.clone();
        let authority = authority.as_deref().unwrap_or(&origin.authority);
        let url = httplab_transport::connector::url(origin.scheme, authority, &spec.path);
        let mut timing = RequestTiming::new(spec, url, clock.now());
        // Built before anything is sent: a head that cannot be is a failure of the request.
        let mut request = match self.build_request(&timing.spec, authority) {
            Ok(request) => Some(request),
            Err(e) => return timing.fail(clock.now(), e),
        };

        // The first request opens the connection; the others wait for it (their `blocked`).
        let mut opened_here = false;
        let opened = self
            .conn
            .get_or_init(|| {
                opened_here = true;
                async {
                    // Boxed: opening (TCP, TLS, the h2 handshake) is a large future that only
                    // the first request awaits, and every request's future would carry its size.
                    Box::pin(H2Connection::open(&self.opts, self.h2))
                        .await
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                }
            })
            .await;
        let conn = match opened {
            Ok(conn) => conn.clone(),
            Err(e) => return timing.fail(clock.now(), e.clone()),
        };
        if opened_here {
            timing.new_connection = Some(conn.setup);
        }
        timing.connection = Some(conn.id);
        if let Some(request) = request.as_mut().filter(|_| conn.first_to_name_request_id()) {
            if let Some(id) = request.headers_mut().get_mut(REQUEST_ID_HEADER) {
                id.set_sensitive(false);
            }
        }

        if header_fields_kept() {
            let spec = &timing.spec;
            let mut fields = vec![
                (":method".to_string(), spec.method.clone()),
                (":scheme".to_string(), origin.scheme.to_string()),
                (":authority".to_string(), authority.to_string()),
                (":path".to_string(), spec.path.clone()),
            ];
            fields.extend(request.iter().flat_map(|r| record_fields(r.headers())));
            timing.request_headers = fields;
        }
        timing.request_body_bytes = timing.spec.body_bytes;

        loop {
            let Some(sender) = conn.sender() else {
                return timing.fail(clock.now(), H2ClientError::Finished.to_string());
            };
            // Wait for a stream slot under the server's current cap: the `blocked` phase.
            conn.slots.set_limit(sender.current_max_send_streams());
            let slot = conn.slots.acquire().await;
            // Built again only for a retry.
            let request = match request.take() {
                Some(request) => request,
                None => match self.build_request(&timing.spec, authority) {
                    Ok(request) => request,
                    Err(e) => return timing.fail(clock.now(), e),
                },
            };
            let result =
                exchange(sender, request, timing.spec.body_bytes, clock, &conn.meter).await;
            drop(slot);
            match result {
                Ok(done) => return timing.finish(done.bytes, done.response),
                Err(failed)
                    if failed.error.is_refused() && timing.retries < MAX_REFUSED_RETRIES =>
                {
                    tracing::debug!(
                        "request {} refused by the server; sending it again",
                        timing.spec.id
                    );
                    timing.retries += 1;
                }
                Err(failed) => {
                    let error = failed.error.to_string();
                    return match failed.bytes {
                        Some(bytes) => timing.fail_after(bytes, clock.now(), error),
                        None => timing.fail(clock.now(), error),
                    };
                }
            }
        }
    }

    async fn close(&self) {
        if let Some(Ok(conn)) = self.conn.get() {
            conn.close().await;
        }
    }
}

impl Http2Client {
    /// The request h2 encodes: pseudo-headers from the method and the URI (the origin's
    /// scheme, `authority` and the path), the fields the HTTP/1.x clients send less those
    /// HTTP/2 forbids, and the upload's length.
    fn build_request(
        &self,
        spec: &RequestSpec,
        authority: &str,
    ) -> Result<http::Request<()>, String> {
        let (method, uri, head) = self.heads.head(spec, || {
            multiplexed_head(spec, &self.scheme, self.authority.as_ref(), authority)
        })?;
        let mut request = http::Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = http::Version::HTTP_2;
        *request.headers_mut() = head;
        Ok(request)
    }
}

impl ProtocolClient for Http2Client {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        Box::pin(self.fetch_one(spec))
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.close())
    }
}
