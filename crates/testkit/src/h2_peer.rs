//! An HTTP/2 peer for client tests: h2's own server, cleartext with prior knowledge, on
//! 127.0.0.1:0, whose behaviour each test configures ([`Behaviour`]: a stream limit, think
//! time, a path answered with RST_STREAM), counting the connections it accepts and the streams
//! it has open. It answers `/size/<n>` with n bytes and echoes the upload size it read. It is not
//! the lab server (that one is under test elsewhere) and mocks nothing: real sockets, real
//! frames.

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// How the peer behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// SETTINGS_MAX_CONCURRENT_STREAMS to advertise (`None`: unlimited).
    pub max_concurrent_streams: Option<u32>,
    /// Think time before each response's HEADERS.
    pub delay: Duration,
    /// Requests for this path are answered with RST_STREAM(INTERNAL_ERROR).
    pub reset_path: Option<String>,
}

/// What the peer counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU32,
    /// Streams between the request HEADERS arriving and the response's END_STREAM being sent.
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
    pub requests: AtomicU32,
    pub upload_bytes: AtomicU64,
}

/// A running peer: where it listens and what it counted.
pub struct Server {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
}

impl Server {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u32 {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    /// The most streams open at once so far.
    pub fn max_open_streams(&self) -> usize {
        self.counters.max_open.load(Ordering::SeqCst)
    }
}

/// The response body size for a path: `/size/<n>` is answered with n bytes, anything else
/// with 100.
pub fn size_of(path: &str) -> usize {
    path.strip_prefix("/size/")
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
}

/// Starts the peer on 127.0.0.1:0.
pub async fn serve(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let counters = Arc::new(Counters::default());
    let shared = counters.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tcp.set_nodelay(true).expect("TCP_NODELAY");
            shared.accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(connection(tcp, behaviour.clone(), shared.clone()));
        }
    });
    Server { addr, counters }
}

async fn connection(tcp: TcpStream, behaviour: Behaviour, counters: Arc<Counters>) {
    let mut builder = h2::server::Builder::new();
    if let Some(max) = behaviour.max_concurrent_streams {
        builder.max_concurrent_streams(max);
    }
    let Ok(mut conn) = builder.handshake::<_, Bytes>(tcp).await else {
        return;
    };
    while let Some(Ok((request, respond))) = conn.accept().await {
        tokio::spawn(stream(
            request,
            respond,
            behaviour.clone(),
            counters.clone(),
        ));
    }
}

async fn stream(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    behaviour: Behaviour,
    counters: Arc<Counters>,
) {
    let open = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
    counters.max_open.fetch_max(open, Ordering::SeqCst);
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_string();
    let mut body = request.into_body();
    let mut received = 0u64;
    while let Some(Ok(chunk)) = body.data().await {
        received += chunk.len() as u64;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    counters.upload_bytes.fetch_add(received, Ordering::SeqCst);
    tokio::time::sleep(behaviour.delay).await;
    if behaviour.reset_path.as_deref() == Some(path.as_str()) {
        counters.open.fetch_sub(1, Ordering::SeqCst);
        respond.send_reset(Reason::INTERNAL_ERROR);
        return;
    }
    let size = size_of(&path);
    let response = http::Response::builder()
        .status(200)
        .header("content-length", size)
        .header("x-received", received)
        .body(())
        .expect("a valid response head");
    let Ok(mut send) = respond.send_response(response, size == 0) else {
        counters.open.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    send_body(&mut send, size).await;
    counters.open.fetch_sub(1, Ordering::SeqCst);
}

/// Sends `size` bytes within the client's windows, END_STREAM on the last.
async fn send_body(send: &mut SendStream<Bytes>, size: usize) {
    let mut remaining = size;
    while remaining > 0 {
        send.reserve_capacity(remaining.min(64 * 1024));
        let Some(Ok(granted)) = poll_fn(|cx| send.poll_capacity(cx)).await else {
            return;
        };
        let n = granted.min(remaining);
        if n == 0 {
            continue;
        }
        remaining -= n;
        if send
            .send_data(Bytes::from(vec![b'r'; n]), remaining == 0)
            .is_err()
        {
            return;
        }
    }
}
