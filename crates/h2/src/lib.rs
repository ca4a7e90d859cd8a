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
use exchange::{exchange, Failed};
use http::uri::{Authority, Scheme};
use http::Uri;
use httplab_core::scenario::ClientSettings;
use httplab_core::wire::REQUEST_ID_HEADER;
use httplab_core::{Clock, RequestRecord, RequestSpec, WriteMode};
use httplab_transport::client::BoxFuture;
use httplab_transport::exchange::{header_fields_kept, multiplexed_head, record_fields, HeadCache};
use httplab_transport::{ClientOptions, ProtocolClient, RequestTiming};
use std::future::Future;
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
    heads: HeadCache<Arc<Head>>,
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

    /// The first requests: they open the connection, or wait for the one opening it (their
    /// `blocked`), then go out on it. Every later request starts at `send`.
    async fn open_then_send(&self, mut timing: RequestTiming, head: Arc<Head>) -> RequestRecord {
        let clock = self.opts.clock;
        let mut opened_here = false;
        let opened = self
            .conn
            .get_or_init(|| {
                opened_here = true;
                async {
                    // Boxed: opening (TCP, TLS, the h2 handshake) is a large future that only
                    // the first request awaits.
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
        self.send(conn, timing, head).await
    }

    /// One request on the open connection: a stream slot under the server's cap (the
    /// `blocked` phase), then its exchange; sent again if the server refuses the stream.
    fn send(
        &self,
        conn: Arc<H2Connection>,
        mut timing: RequestTiming,
        head: Arc<Head>,
    ) -> impl Future<Output = RequestRecord> + Send + '_ {
        let clock = self.opts.clock;
        timing.connection = Some(conn.id);
        let mut name_request_id = conn.first_to_name_request_id();
        if header_fields_kept() {
            self.keep_fields(&mut timing, &head);
        }
        timing.request_body_bytes = timing.spec.body_bytes;
        // A block, not an `async fn`: an async fn's future keeps each argument twice, and
        // this one is moved whole into its box and again into the page's set of requests.
        async move {
            loop {
                let Some(sender) = conn.sender() else {
                    return timing.fail(clock.now(), H2ClientError::Finished.to_string());
                };
                // Wait for a stream slot under the server's current cap: the `blocked` phase.
                let slot = match conn.slots.try_acquire(sender.current_max_send_streams()) {
                    Some(slot) => slot,
                    None => conn.slots.acquire().await,
                };
                let request = head.request(std::mem::take(&mut name_request_id));
                let result =
                    exchange(sender, request, timing.spec.body_bytes, clock, &conn.meter).await;
                drop(slot);
                match result {
                    Ok(done) => return timing.finish(done.bytes, done.response),
                    Err(failed) => {
                        if let Some(record) = failed_or_again(&mut timing, failed, clock) {
                            return record;
                        }
                    }
                }
            }
        }
    }

    /// The request's fields as the record keeps them, pseudo-headers first.
    #[inline(never)]
    fn keep_fields(&self, timing: &mut RequestTiming, head: &Head) {
        let origin = self.opts.connector.origin();
        let spec = &timing.spec;
        let authority = spec.authority.as_deref().unwrap_or(&origin.authority);
        let mut fields = vec![
            (":method".to_string(), spec.method.clone()),
            (":scheme".to_string(), origin.scheme.to_string()),
            (":authority".to_string(), authority.to_string()),
            (":path".to_string(), spec.path.clone()),
        ];
        fields.extend(record_fields(&head.fields));
        timing.request_headers = fields;
    }

    async fn close(&self) {
        if let Some(Ok(conn)) = self.conn.get() {
            conn.close().await;
        }
    }
}

impl Http2Client {
    /// The head of `spec`'s request: pseudo-headers from the method and the URI (the origin's
    /// scheme, `authority` and the path), the fields the HTTP/1.x clients send less those
    /// HTTP/2 forbids, and the upload's length; built once per resource.
    fn head(&self, spec: &RequestSpec, authority: &str) -> Result<Arc<Head>, String> {
        self.heads.head(spec, || {
            let (method, uri, fields) =
                multiplexed_head(spec, &self.scheme, self.authority.as_ref(), authority)?;
            Ok(Arc::new(Head {
                method,
                uri,
                fields,
            }))
        })
    }
}

/// A request's method, URI and fields, as built once per resource.
struct Head {
    method: http::Method,
    uri: Uri,
    fields: http::HeaderMap,
}

impl Head {
    /// The request h2 encodes: a copy of the head. With `name_request_id` (a connection's
    /// first request), its request id is indexed, so later requests name the field in a byte.
    fn request(&self, name_request_id: bool) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = http::Version::HTTP_2;
        let fields = request.headers_mut();
        *fields = self.fields.clone();
        if name_request_id {
            if let Some(id) = fields.get_mut(REQUEST_ID_HEADER) {
                id.set_sensitive(false);
            }
        }
        request
    }
}

/// After a failed exchange: the request's record, or `None` to send it again when the server
/// refused the stream (REFUSED_STREAM: never processed) and retries are left.
#[cold]
fn failed_or_again(
    timing: &mut RequestTiming,
    failed: Failed,
    clock: Clock,
) -> Option<RequestRecord> {
    if failed.error.is_refused() && timing.retries < MAX_REFUSED_RETRIES {
        tracing::debug!(
            "request {} refused by the server; sending it again",
            timing.spec.id
        );
        timing.retries += 1;
        return None;
    }
    let error = failed.error.to_string();
    let timing = std::mem::take(timing);
    Some(match failed.bytes {
        Some(bytes) => timing.fail_after(bytes, clock.now(), error),
        None => timing.fail(clock.now(), error),
    })
}

impl ProtocolClient for Http2Client {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        let clock = self.opts.clock;
        let origin = self.opts.connector.origin();
        // A request of another origin this connection was coalesced for carries its own.
        let url = {
            let authority = spec.authority.as_deref().unwrap_or(&origin.authority);
            httplab_transport::connector::url(origin.scheme, authority, &spec.path)
        };
        let timing = RequestTiming::new(spec, url, clock.now());
        let authority = timing.spec.authority.as_deref();
        // Built before anything is sent: a head that cannot be is a failure of the request.
        let head = match self.head(&timing.spec, authority.unwrap_or(&origin.authority)) {
            Ok(head) => head,
            Err(e) => return Box::pin(std::future::ready(timing.fail(clock.now(), e))),
        };
        // The connection is open for every request but the first few: those go on at once.
        match self.conn.get() {
            Some(Ok(conn)) => Box::pin(self.send(conn.clone(), timing, head)),
            _ => Box::pin(self.open_then_send(timing, head)),
        }
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.close())
    }
}
