//! The harness's side of the contract: something that opens timed connections on request.

use crate::meter::{Meter, Metered};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// Any byte stream a protocol client can speak on (TCP, or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed stream, so protocol clients need not care whether TLS is underneath.
pub type BoxIo = Box<dyn Io>;

/// Where requests go: the scheme and authority for URLs and the `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// "http" or "https".
    pub scheme: &'static str,
    /// e.g. "localhost:8443".
    pub authority: String,
}

impl Origin {
    pub fn url(&self, path: &str) -> String {
        url(self.scheme, &self.authority, path)
    }
}

/// `scheme://authority` then `path`: built by hand, since a load builds one per request and
/// `format!` took a hundredth of its client's time.
pub fn url(scheme: &str, authority: &str, path: &str) -> String {
    let mut url = String::with_capacity(scheme.len() + 3 + authority.len() + path.len());
    url.push_str(scheme);
    url.push_str("://");
    url.push_str(authority);
    url.push_str(path);
    url
}

/// A connected (and, with TLS, handshaken) stream, with what it cost to set up.
pub struct Connection {
    /// The harness's number for it, in order of opening.
    pub id: u32,
    /// The stream, metered above TLS: its byte times are the request's own.
    pub stream: Metered<BoxIo>,
    /// What opening it cost (TCP connect, TLS handshake), as its first request pays it.
    pub setup: crate::Setup,
}

impl Connection {
    /// A handle on the stream's meter that outlives the stream.
    pub fn meter(&self) -> Meter {
        self.stream.meter().clone()
    }
}

/// The future a connector returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Connection>> + Send + 'a>>;

/// A QUIC connection (HTTP/3), handshaken by the harness, or ready to carry 0-RTT requests
/// while its handshake finishes.
pub struct QuicConnection {
    /// The harness's number for it, in one sequence with the TCP connections.
    pub id: u32,
    pub connection: quinn::Connection,
    /// What opening it cost: QUIC's one handshake (`tls_handshake`; no `tcp_connect`), up to
    /// the moment requests could go (at once, for 0-RTT).
    pub setup: crate::Setup,
    /// Whether requests go in the first flight (0-RTT), before the handshake is done.
    pub early: bool,
    /// Becomes true once the harness has recorded the connection's end (after it closed), so
    /// a client that closes it can wait for its record to be complete.
    pub recorded: tokio::sync::watch::Receiver<bool>,
}

/// The future `connect_quic` returns.
pub type QuicConnectFuture<'a> =
    Pin<Box<dyn Future<Output = io::Result<QuicConnection>> + Send + 'a>>;

/// Opens connections to the origin, timing TCP and TLS; implemented by the harness.
pub trait Connector: Send + Sync + 'static {
    fn origin(&self) -> &Origin;
    fn connect(&self) -> ConnectFuture<'_>;
    /// Opens a QUIC connection to the origin, for HTTP/3. A connector that has none to open
    /// says so.
    fn connect_quic(&self) -> QuicConnectFuture<'_> {
        Box::pin(async {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this connector opens no QUIC connections",
            ))
        })
    }
}
