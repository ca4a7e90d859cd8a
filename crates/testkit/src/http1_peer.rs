//! A scripted HTTP/1.1 peer for client tests: a raw-bytes server on 127.0.0.1:0 that hands
//! each accepted connection to the test's handler, reads request heads (and bodies) as fast as
//! they come, and logs when each head arrived and when each response started to leave, so a
//! test can assert what was pipelined. It reads the request id from `x-httplab-request` and
//! answers only what the handler scripts; it parses no more HTTP than that, and it is not the
//! lab server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the peer saw and did, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request head (and its body) was read.
    Arrived { conn: u32, id: u32 },
    /// A response is about to be written (logged before the first byte leaves).
    Sending { conn: u32, id: u32 },
}

/// The peer's event log, shared by its connections.
pub type Log = Arc<Mutex<Vec<Event>>>;

/// One request as the peer read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub id: u32,
    pub body_bytes: usize,
}

/// The peer's end of one accepted connection, handed to the test's handler.
pub struct Peer {
    pub conn: u32,
    requests: mpsc::UnboundedReceiver<Request>,
    writer: OwnedWriteHalf,
    log: Log,
}

impl Peer {
    /// The next request head, or `None` when the client closed (or sent nothing for 3 s).
    pub async fn next(&mut self) -> Option<Request> {
        tokio::time::timeout(Duration::from_secs(3), self.requests.recv())
            .await
            .ok()
            .flatten()
    }

    /// Answers `request` with a small body; `extra` is header lines ending in CRLF.
    pub async fn respond(&mut self, request: &Request, extra: &str) {
        let body = format!("response to {}", request.id);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-echo-request: {}\r\n{extra}\r\n",
            body.len(),
            request.id
        );
        self.log.lock().expect("log").push(Event::Sending {
            conn: self.conn,
            id: request.id,
        });
        self.send_raw(format!("{head}{body}").as_bytes()).await;
    }

    /// Writes `bytes` as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The client may have gone; the test's assertions will say so.
        let _ = self.writer.write_all(bytes).await;
    }
}

/// A running peer: where it listens, the connections it accepted, and its log.
pub struct Server {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicU32>,
    pub log: Log,
}

impl Server {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The log so far.
    pub fn events(&self) -> Vec<Event> {
        self.log.lock().expect("log").clone()
    }

    /// Where `event` is in the log.
    pub fn position(&self, event: &Event) -> usize {
        let events = self.events();
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("{event:?} not in {events:?}"))
    }

    /// The most requests that had arrived without a response started, at any moment.
    pub fn max_unanswered(&self) -> usize {
        let mut open: i64 = 0;
        let mut max = 0;
        for e in self.events() {
            open += match e {
                Event::Arrived { .. } => 1,
                Event::Sending { .. } => -1,
            };
            max = max.max(open);
        }
        max as usize
    }
}

/// Starts a peer on 127.0.0.1:0; `handler` runs once per accepted connection. When it
/// returns, the peer's writing side closes (the client reads EOF).
pub async fn serve<F, Fut>(handler: F) -> Server
where
    F: Fn(Peer) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let accepted = Arc::new(AtomicU32::new(0));
    let log: Log = Arc::default();
    let (count, events) = (accepted.clone(), log.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tcp.set_nodelay(true).expect("TCP_NODELAY");
            let conn = count.fetch_add(1, Ordering::SeqCst);
            let (read, writer) = tcp.into_split();
            let (tx, requests) = mpsc::unbounded_channel();
            tokio::spawn(read_requests(
                BufReader::new(read),
                conn,
                tx,
                events.clone(),
            ));
            tokio::spawn(handler(Peer {
                conn,
                requests,
                writer,
                log: events.clone(),
            }));
        }
    });
    Server {
        addr,
        accepted,
        log,
    }
}

/// Reads request heads and bodies as fast as they come, logging each arrival.
async fn read_requests(
    mut read: BufReader<OwnedReadHalf>,
    conn: u32,
    tx: mpsc::UnboundedSender<Request>,
    log: Log,
) {
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let method = line.split(' ').next().unwrap_or_default().to_string();
        let (mut id, mut body_bytes) = (u32::MAX, 0usize);
        loop {
            let mut field = String::new();
            if read.read_line(&mut field).await.unwrap_or(0) == 0 {
                return;
            }
            let field = field.trim_end();
            if field.is_empty() {
                break;
            }
            let (name, value) = field
                .split_once(':')
                .unwrap_or_else(|| panic!("a header field without a colon: {field:?}"));
            match name.to_ascii_lowercase().as_str() {
                "x-httplab-request" => id = value.trim().parse().expect("a numeric request id"),
                "content-length" => {
                    body_bytes = value.trim().parse().expect("a numeric content-length")
                }
                _ => {}
            }
        }
        let mut body = vec![0u8; body_bytes];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        log.lock().expect("log").push(Event::Arrived { conn, id });
        let _ = tx.send(Request {
            method,
            id,
            body_bytes,
        });
    }
}
