//! httplab-h3: the HTTP/3 client, on QUIC (quinn) and the h3 crate.
//!
//! How HTTP/3 differs from HTTP/2 (compare httplab-h2):
//! - **QUIC instead of TCP + TLS.** The harness opens the QUIC connection (`connect_quic`): one
//!   handshake that carries TLS 1.3 inside it, one round trip where TCP + TLS 1.3 take two. It
//!   is the `ssl` phase of the request that opened it; `connect` stays empty (HAR: -1).
//! - **0-RTT.** With a session ticket from an earlier connection of the same browser (the
//!   scenario's `resumption = true`), the harness hands the connection over before its
//!   handshake is done, and the first requests leave in the first flight: no round trip before
//!   the first byte.
//! - **Streams that stand alone.** Each request is a QUIC stream, delivered on its own: a lost
//!   packet holds up only the streams whose bytes it carried, where one lost TCP segment holds
//!   up every HTTP/2 stream behind it.
//! - **One connection, reopened when it ends.** Like HTTP/2, every request shares one
//!   connection, opened by the first (the others wait for it: their `blocked`). A connection
//!   that ended (the server's idle timeout) is replaced by the next request, as browsers do,
//!   with 0-RTT when the session allows.
//! - **A stream slot.** The server's stream limit (MAX_STREAMS, the scenario's
//!   `max_concurrent_streams`) makes a request wait for a stream: that wait is its `blocked`.
//!
//! Timing (`exchange`): per stream, at the h3 API, which hands frames to and takes them from
//! the QUIC connection as they cross it. What this crate deliberately does not do: open the
//! QUIC connection (the harness), server push, or datagrams.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod exchange;

use bytes::Bytes;
use exchange::exchange;
use http::uri::{Authority, Scheme};
use http::Uri;
use httplab_core::{RequestRecord, RequestSpec};
use httplab_transport::client::BoxFuture;
use httplab_transport::exchange::{header_fields_kept, multiplexed_head, record_fields, HeadCache};
use httplab_transport::{ClientOptions, ProtocolClient, QuicConnection, RequestTiming, Setup};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// HTTP/3's error code for a connection closed with nothing wrong (RFC 9114 §8.1).
const H3_NO_ERROR: u32 = 0x100;
/// How long `finish` waits for the harness to record a closed connection.
const RECORD_WAIT: Duration = Duration::from_secs(1);

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// One QUIC connection with HTTP/3 on it.
struct H3Connection {
    id: u32,
    setup: Setup,
    quic: quinn::Connection,
    send: Sender,
    recorded: tokio::sync::watch::Receiver<bool>,
    /// Whether a request has taken the connection's setup as its own.
    claimed: AtomicBool,
}

impl H3Connection {
    async fn open(opts: &ClientOptions) -> Result<Self, String> {
        let QuicConnection {
            id,
            connection,
            setup,
            early: _,
            recorded,
        } = opts
            .connector
            .connect_quic()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut driver, send) = h3::client::builder()
            .build::<_, _, Bytes>(h3_quinn::Connection::new(connection.clone()))
            .await
            .map_err(|e| format!("HTTP/3 connection: {e}"))?;
        // The connection's own streams (control, QPACK) are read by this task until it ends.
        tokio::spawn(async move {
            let ended = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
            tracing::debug!("HTTP/3 connection {id} ended: {ended}");
        });
        Ok(Self {
            id,
            setup,
            quic: connection,
            send,
            recorded,
            claimed: AtomicBool::new(false),
        })
    }

    fn is_open(&self) -> bool {
        self.quic.close_reason().is_none()
    }

    async fn close(&self) {
        self.quic.close(H3_NO_ERROR.into(), b"");
        let mut recorded = self.recorded.clone();
        let _ = tokio::time::timeout(RECORD_WAIT, recorded.wait_for(|done| *done)).await;
    }
}

/// The HTTP/3 client: one QUIC connection at a time, a stream per request.
pub struct Http3Client {
    opts: ClientOptions,
    /// The connection requests go on; a request that finds none, or one that has ended, opens
    /// the next. A failure to open is kept and fails every later request.
    conn: Mutex<Option<Result<Arc<H3Connection>, String>>>,
    /// Every connection opened, to close at `finish`.
    opened: std::sync::Mutex<Vec<Arc<H3Connection>>>,
    scheme: Scheme,
    authority: Option<Authority>,
    /// Each request's method, URI and fields, as built once.
    heads: HeadCache<(http::Method, Uri, http::HeaderMap)>,
}

impl Http3Client {
    pub fn new(opts: ClientOptions) -> Self {
        let origin = opts.connector.origin();
        Self {
            scheme: Scheme::HTTPS,
            authority: Authority::try_from(origin.authority.as_str()).ok(),
            opts,
            conn: Mutex::new(None),
            opened: std::sync::Mutex::new(Vec::new()),
            heads: HeadCache::default(),
        }
    }

    /// The connection to use, opening one if there is none open.
    async fn connection(&self) -> Result<Arc<H3Connection>, String> {
        let mut slot = self.conn.lock().await;
        match &*slot {
            Some(Ok(conn)) if conn.is_open() => return Ok(conn.clone()),
            Some(Err(e)) => return Err(e.clone()),
            _ => {}
        }
        // Boxed: opening is a large future only the opening request awaits.
        let opened = Box::pin(H3Connection::open(&self.opts)).await.map(Arc::new);
        if let Ok(conn) = &opened {
            self.opened
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn.clone());
        }
        *slot = Some(opened.clone());
        opened
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let origin = self.opts.connector.origin();
        let authority = spec.authority.clone();
        let authority = authority.as_deref().unwrap_or(&origin.authority);
        let url = httplab_transport::connector::url("https", authority, &spec.path);
        let mut timing = RequestTiming::new(spec, url, clock.now());
        let request = match self.build_request(&timing.spec, authority) {
            Ok(request) => request,
            Err(e) => return timing.fail(clock.now(), e),
        };
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(e) => return timing.fail(clock.now(), e),
        };
        if !conn.claimed.swap(true, Ordering::Relaxed) {
            timing.new_connection = Some(conn.setup);
        }
        timing.connection = Some(conn.id);
        if header_fields_kept() {
            let spec = &timing.spec;
            let mut fields = vec![
                (":method".to_string(), spec.method.clone()),
                (":scheme".to_string(), "https".to_string()),
                (":authority".to_string(), authority.to_string()),
                (":path".to_string(), spec.path.clone()),
            ];
            fields.extend(record_fields(request.headers()));
            timing.request_headers = fields;
        }
        timing.request_body_bytes = timing.spec.body_bytes;
        let body_bytes = timing.spec.body_bytes;
        match exchange(conn.send.clone(), request, body_bytes, clock).await {
            Ok(done) => timing.finish(done.bytes, done.response),
            Err(failed) => match failed.bytes {
                Some(bytes) => timing.fail_after(bytes, clock.now(), failed.error),
                None => timing.fail(clock.now(), failed.error),
            },
        }
    }

    async fn close(&self) {
        let all: Vec<_> = self
            .opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for conn in all {
            conn.close().await;
        }
    }

    /// The request h3 encodes: pseudo-headers from the method and the URI, the fields the
    /// other clients send less those HTTP/3 forbids, and the upload's length.
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
        *request.version_mut() = http::Version::HTTP_3;
        *request.headers_mut() = head;
        Ok(request)
    }
}

impl ProtocolClient for Http3Client {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        Box::pin(self.fetch_one(spec))
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.close())
    }
}
