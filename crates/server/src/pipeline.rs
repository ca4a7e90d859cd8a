//! The server's own HTTP/1.x connection loop, used instead of hyper when the run asks for a
//! pipelining model, so the lab can tell the protocol's head-of-line blocking apart from a
//! server that merely works one request at a time.
//!
//! A reader reads request heads (and `Content-Length` bodies) as fast as they arrive, stamping
//! each with the time its head was read, and queues them (at most `MAX_READ_AHEAD`) for a
//! writer that answers them strictly in request order (RFC 9112 §9.3.2). Under
//! `PipeliningModel::Serial` a request's handler starts when the writer gets to it, after the
//! previous response is written; under `Parallel` it starts as soon as the request is read, and
//! a response ready before its turn waits: that wait is its `hol`. Every response carries
//! `Server-Timing: app;dur=…, queue;dur=…, hol;dur=…` (milliseconds).
//!
//! What a response holds (resource, status, think time, 404/405, whether it is answered at all)
//! is decided in `service.rs`, shared with the hyper path. A request that reaches its
//! `request_timeout` unanswered closes the connection without a response (what is queued behind
//! it is abandoned, and logged so); `max_requests_per_connection` marks the last allowed
//! response `Connection: close`; `keep_alive_timeout` closes a connection that has answered
//! everything and received no new request for that long. Deliberately not here: chunked request bodies (411 and close),
//! `Expect: 100-continue` (never answered; the body is read when it comes), upgrades, HTTP/2.
//! The head parser (`parse_head`) and the response head (`response_head`) are pure functions
//! over byte slices; only `serve` and its two halves touch the socket.

use crate::body::{filler_chunk, CHUNK};
use crate::service::{Answer, AnswerBody, Connection, Handled, RequestInfo, TimedOut};
use bytes::{Buf, BytesMut};
use http::{Method, StatusCode};
use httplab_core::wire::{parse_request_id, ServerTiming, REQUEST_ID_HEADER};
use httplab_core::{PipeliningModel, WriteMode};
use httplab_socket::Packed;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in one request head.
pub const MAX_HEADERS: usize = 100;
/// Requests read ahead of the one being written, per connection.
pub const MAX_READ_AHEAD: usize = 1024;
/// After its last response, how long a connection keeps reading (and discarding) until the
/// peer closes too: closing with unread request bytes makes the kernel reset the connection and
/// drop response bytes not yet delivered (the "lingering close" of RFC 9112 §9.6).
const LINGER: Duration = Duration::from_secs(2);
/// Bytes the writer gathers before a write to the socket (a small response leaves in one write).
const WRITE_BUFFER: usize = 64 * 1024;

/// The HTTP version of a request, which its response repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Http10,
    Http11,
}

impl Version {
    fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request head, fully recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: Method,
    /// The target's path, without the query.
    pub path: String,
    pub version: Version,
    /// Request body bytes that follow the head.
    pub content_length: u64,
    /// The connection ends after this request's response (HTTP/1.0, `Connection: close`).
    pub close: bool,
    pub request_id: Option<u32>,
}

/// A request the loop refuses itself; the connection closes after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not a valid HTTP/1.x request head.
    Malformed,
    /// A head longer than `MAX_HEAD` or with more than `MAX_HEADERS` fields.
    TooLarge,
    /// A body framed by `Transfer-Encoding` (chunked) rather than `Content-Length`.
    LengthRequired,
}

impl Reject {
    fn answer(self) -> Answer {
        let (status, text) = match self {
            Reject::Malformed => (StatusCode::BAD_REQUEST, "bad request\n"),
            Reject::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request head too large\n",
            ),
            Reject::LengthRequired => (
                StatusCode::LENGTH_REQUIRED,
                "send the request body with content-length\n",
            ),
        };
        Answer::error(status, text)
    }
}

/// Recognises one request head at the start of `buf`: `Ok(None)` until it is complete, then the
/// head and its length in bytes (the body, if any, follows). Checks everything before the
/// caller acts on any of it.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, Reject> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let length = match request.parse(buf) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD => length,
        Ok(httparse::Status::Complete(_)) => return Err(Reject::TooLarge),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(Reject::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::TooLarge),
        Err(_) => return Err(Reject::Malformed),
    };
    let method = request
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(Reject::Malformed)?;
    let path = request
        .path
        .and_then(|p| http::Uri::try_from(p).ok())
        .ok_or(Reject::Malformed)?
        .path()
        .to_string();
    let version = match request.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(Reject::Malformed),
    };
    let mut head = RequestHead {
        method,
        path,
        version,
        content_length: 0,
        close: version == Version::Http10,
        request_id: None,
    };
    let mut content_length = None;
    for field in request.headers.iter() {
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(field.value).map_err(|_| Reject::Malformed)?;
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reject::Malformed);
            }
            let value: u64 = value.parse().map_err(|_| Reject::Malformed)?;
            if content_length.is_some_and(|earlier| earlier != value) {
                return Err(Reject::Malformed);
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Reject::LengthRequired);
        } else if name.eq_ignore_ascii_case("connection") {
            let close = field
                .value
                .split(|b| *b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            head.close |= close;
        } else if name.eq_ignore_ascii_case(REQUEST_ID_HEADER) {
            head.request_id = parse_request_id(field.value);
        }
    }
    head.content_length = content_length.unwrap_or(0);
    Ok(Some((head, length)))
}

/// The response head, bytes ready to write. `date` is an IMF-fixdate, as hyper sends it.
pub(crate) fn response_head(
    version: Version,
    answer: &Answer,
    timing: &ServerTiming,
    close: bool,
    date: &str,
) -> Vec<u8> {
    let status = answer.status;
    let mut head = format!(
        "{} {} {}\r\ncontent-length: {}\r\ncontent-type: {}\r\ncache-control: no-store\r\n",
        version.as_str(),
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        answer.content_length(),
        answer.content_type,
    );
    if let Some(allow) = &answer.allow {
        head.push_str(&format!("allow: {allow}\r\n"));
    }
    head.push_str(&format!("server-timing: {}\r\n", timing.header()));
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str(&format!("date: {date}\r\n\r\n"));
    head.into_bytes()
}

/// An HTTP date (RFC 9110 §5.6.7 IMF-fixdate) for seconds since the Unix epoch.
pub(crate) fn imf_fixdate(unix_secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(unix_secs))
}

/// A handler running on its own task (parallel model); aborted if the connection goes away
/// before its response is written.
struct Running(JoinHandle<Result<Handled, TimedOut>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the writer has to answer next.
impl Pending {
    /// Whether its response could be written now: its handler is done, or it was refused.
    fn ready(&self) -> bool {
        match &self.work {
            Work::Running(running) => running.0.is_finished(),
            Work::Waiting(_) => false,
            Work::Rejected { .. } => true,
        }
    }
}

enum Work {
    /// Parallel: the handler started when the request was read.
    Running(Running),
    /// Serial: the handler starts when the writer gets to it.
    Waiting(RequestInfo),
    /// Refused by the loop itself at `at` (not logged: no handler ran).
    Rejected { reject: Reject, at: Duration },
}

/// The keep-alive idle timer's state, shared by the reader (which queues requests) and the
/// writer (which answers them): how many are unanswered, and since when none have been.
struct Idle(Mutex<(usize, Instant)>);

impl Idle {
    fn new() -> Self {
        Idle(Mutex::new((0, Instant::now())))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queued(&self) {
        self.state().0 += 1;
    }

    fn answered(&self) {
        let mut state = self.state();
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            state.1 = Instant::now();
        }
    }

    /// When to look again: `timeout` after the connection went idle, or from now if busy.
    fn deadline(&self, timeout: Duration) -> Instant {
        match *self.state() {
            (0, since) => since + timeout,
            _ => Instant::now() + timeout,
        }
    }

    fn expired(&self, timeout: Duration) -> bool {
        matches!(*self.state(), (0, since) if since.elapsed() >= timeout)
    }
}

/// One request read, queued for the writer.
struct Pending {
    version: Version,
    close: bool,
    work: Work,
}

/// Serves one HTTP/1.x connection with the pipelining `model` until the peer is done, a
/// request asks to close, an error, or shutdown (`stopped`: no more requests are read; those
/// already read are answered). Then it lingers (`LINGER`) for the peer's end of stream.
pub(crate) async fn serve<S>(
    io: S,
    conn: Connection,
    model: PipeliningModel,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let conn = Arc::new(conn);
    let (mut input, output) = tokio::io::split(io);
    {
        let (queue, queued) = mpsc::channel(MAX_READ_AHEAD);
        let idle = Arc::new(Idle::new());
        let mut writer = pin!(write_responses(output, queued, conn.clone(), idle.clone()));
        let mut reader = pin!(Some(read_requests(&mut input, conn, model, queue, idle)));
        loop {
            tokio::select! {
                () = &mut writer => break,
                () = async {
                    match reader.as_mut().as_pin_mut() {
                        Some(reader) => reader.await,
                        None => std::future::pending().await,
                    }
                }, if reader.is_some() => reader.set(None),
                _ = stopped.changed(), if reader.is_some() => reader.set(None),
            }
        }
    }
    // The writer has sent FIN after the last response; read until the peer's, unless the
    // server is shutting down.
    if *stopped.borrow() {
        return;
    }
    let mut scratch = vec![0u8; 16 * 1024];
    let drain = async { while let Ok(1..) = input.read(&mut scratch).await {} };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, drain) => {}
        _ = stopped.changed() => {}
    }
}

/// Reads requests and queues them in order; returns (dropping the queue, so the writer ends
/// after the last queued response) at end of stream, a read error, a closing request, a
/// rejected one, or when the connection stayed idle for `keep_alive_timeout`.
async fn read_requests<R>(
    mut input: R,
    conn: Arc<Connection>,
    model: PipeliningModel,
    queue: mpsc::Sender<Pending>,
    idle: Arc<Idle>,
) where
    R: AsyncRead + Unpin,
{
    let clock = conn.shared.clock;
    let keep_alive_timeout = conn.shared.scenario.server.keep_alive_timeout;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    // When the last read returned: a head completed by that read arrived then.
    let mut read_at = clock.now();
    loop {
        let parsed = loop {
            match parse_head(&buf) {
                Ok(Some(parsed)) => break Ok(parsed),
                Ok(None) => {}
                Err(reject) => break Err(reject),
            }
            let between_requests = buf.is_empty();
            buf.reserve(8 * 1024);
            let read = input.read_buf(&mut buf);
            let read = match keep_alive_timeout {
                Some(timeout) if between_requests => {
                    let mut read = pin!(read);
                    loop {
                        tokio::select! {
                            result = &mut read => break result,
                            () = tokio::time::sleep_until(idle.deadline(timeout)) => {
                                if idle.expired(timeout) {
                                    return;
                                }
                            }
                        }
                    }
                }
                _ => read.await,
            };
            match read {
                // End of stream (a partial head is dropped) or a broken connection.
                Ok(0) | Err(_) => return,
                Ok(_) => read_at = clock.now(),
            }
        };
        let (head, length) = match parsed {
            Ok(parsed) => parsed,
            Err(reject) => {
                let work = Work::Rejected {
                    reject,
                    at: clock.now(),
                };
                let pending = Pending {
                    version: Version::Http11,
                    close: true,
                    work,
                };
                let _ = queue.send(pending).await;
                return;
            }
        };
        let arrived_at = read_at;
        let last = conn.arrived(arrived_at);
        buf.advance(length);
        let mut body_left = head.content_length;
        while body_left > 0 {
            if buf.is_empty() {
                buf.reserve(CHUNK);
                match input.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // The next head may start in these bytes.
                    Ok(_) => read_at = clock.now(),
                }
            }
            let n = usize::try_from(body_left).map_or(buf.len(), |left| left.min(buf.len()));
            buf.advance(n);
            body_left -= n as u64;
        }
        let request = RequestInfo {
            method: head.method,
            path: head.path,
            request_id: head.request_id,
            arrived_at,
            body_bytes: head.content_length,
        };
        let work = match model {
            PipeliningModel::Serial => Work::Waiting(request),
            PipeliningModel::Parallel => {
                let conn = conn.clone();
                // With no body to wait for, the handler starts as the request arrives, so
                // requests that arrived in one read end equal think times together.
                let started_at = (request.body_bytes == 0).then_some(arrived_at);
                Work::Running(Running(tokio::spawn(async move {
                    conn.handle(request, started_at).await
                })))
            }
        };
        let close = head.close || last;
        let pending = Pending {
            version: head.version,
            close,
            work,
        };
        idle.queued();
        if queue.send(pending).await.is_err() || close {
            return;
        }
    }
}

/// Answers queued requests strictly in order, then closes the sending side. A request that
/// timed out unanswered ends the connection there, without a response; the requests queued
/// behind it are abandoned.
async fn write_responses<W>(
    output: W,
    mut queued: mpsc::Receiver<Pending>,
    conn: Arc<Connection>,
    idle: Arc<Idle>,
) where
    W: AsyncWrite + Unpin,
{
    let clock = conn.shared.clock;
    let log = &conn.shared.log;
    let mode = conn.shared.scenario.server.write;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, Packed::new(output, mode));
    // Packed: a response whose successor is already ready is not flushed alone; the two (or
    // more) leave in one write, and each is marked sent when that write is done.
    let mut next: Option<Pending> = None;
    let mut unsent: Vec<(u64, Duration)> = Vec::new();
    loop {
        let pending = match next.take() {
            Some(pending) => pending,
            None => match queued.recv().await {
                Some(pending) => pending,
                None => break,
            },
        };
        // Every earlier response is written: from now on this one may be.
        let turn = clock.now();
        let (answer, timing, seq) = match pending.work {
            Work::Running(mut running) => match (&mut running.0).await {
                Ok(Ok(handled)) => {
                    let timing = timing_of(&handled, turn);
                    (handled.answer, timing, Some(handled.seq))
                }
                Ok(Err(TimedOut)) => break,
                Err(e) => {
                    tracing::error!(connection = conn.number, "request handler failed: {e}");
                    break;
                }
            },
            Work::Waiting(request) => match conn.handle(request, None).await {
                Ok(handled) => {
                    let timing = timing_of(&handled, turn);
                    (handled.answer, timing, Some(handled.seq))
                }
                Err(TimedOut) => break,
            },
            Work::Rejected { reject, at } => {
                let timing = ServerTiming {
                    queue: Some(Duration::ZERO),
                    hol: Some(turn.saturating_sub(at)),
                    ..ServerTiming::default()
                };
                (reject.answer(), timing, None)
            }
        };
        let date = imf_fixdate((clock.epoch_unix() + clock.now()).as_secs());
        let head = response_head(pending.version, &answer, &timing, pending.close, &date);
        if let Err(e) = write_response(&mut out, &head, &answer).await {
            tracing::debug!(connection = conn.number, peer = %conn.peer, "write failed: {e}");
            return;
        }
        if let Some(seq) = seq {
            unsent.push((seq, turn));
        }
        let joins_next = mode == WriteMode::Packed && !pending.close && {
            next = queued.try_recv().ok();
            next.as_ref().is_some_and(Pending::ready)
        };
        if !joins_next {
            if let Err(e) = out.flush().await {
                tracing::debug!(connection = conn.number, peer = %conn.peer, "write failed: {e}");
                return;
            }
            let now = clock.now();
            for (seq, turn) in unsent.drain(..) {
                log.mark_sent(seq, now);
                log.mark_turn(seq, turn);
            }
        }
        idle.answered();
        if pending.close {
            break;
        }
    }
    // Responses written but not yet flushed (the one after them ended the loop) leave now.
    if !unsent.is_empty() && out.flush().await.is_ok() {
        let now = clock.now();
        for (seq, turn) in unsent.drain(..) {
            log.mark_sent(seq, now);
            log.mark_turn(seq, turn);
        }
    }
    // Requests read but never to be answered here: a serial handler never started is logged
    // as abandoned now; a parallel one is aborted, and logs itself as it is dropped.
    queued.close();
    while let Some(pending) = next.take().or_else(|| queued.try_recv().ok()) {
        if let Work::Waiting(request) = pending.work {
            conn.log_abandoned(request, clock.now());
        }
    }
    let _ = out.shutdown().await;
}

fn timing_of(handled: &Handled, turn: Duration) -> ServerTiming {
    ServerTiming {
        app: handled.app(),
        queue: Some(handled.started_at.saturating_sub(handled.arrived_at)),
        hol: Some(turn.saturating_sub(handled.ready_at)),
    }
}

/// Writes one response (head, then body unless HEAD) into `out`; the caller flushes.
async fn write_response<W>(
    out: &mut BufWriter<W>,
    head: &[u8],
    answer: &Answer,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    out.write_all(head).await?;
    if !answer.head_only {
        match answer.body {
            AnswerBody::Text(text) => out.write_all(text.as_bytes()).await?,
            AnswerBody::Filler(size) => {
                let mut left = size;
                while left > 0 {
                    let chunk = filler_chunk(usize::try_from(left).unwrap_or(CHUNK));
                    out.write_all(chunk).await?;
                    left -= chunk.len() as u64;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(RequestHead, usize)>, Reject> {
        parse_head(bytes)
    }

    #[test]
    fn a_pipeline_parses_head_by_head() {
        let first = b"GET /a.css?v=1 HTTP/1.1\r\nHost: x\r\nx-httplab-request: 7\r\n\r\n";
        let second =
            b"POST /up HTTP/1.1\r\nContent-Length: 5\r\nConnection: keep-alive, Close\r\n\r\nhello";
        let mut bytes = first.to_vec();
        bytes.extend_from_slice(second);
        let (head, length) = parse(&bytes).unwrap().unwrap();
        assert_eq!(length, first.len());
        assert_eq!(
            head,
            RequestHead {
                method: Method::GET,
                path: "/a.css".into(),
                version: Version::Http11,
                content_length: 0,
                close: false,
                request_id: Some(7),
            }
        );
        let (head, length) = parse(&bytes[first.len()..]).unwrap().unwrap();
        assert_eq!(length, second.len() - 5);
        assert_eq!(
            (head.method, head.content_length, head.close),
            (Method::POST, 5, true)
        );
        // Every prefix of a head is incomplete, not an error.
        for end in 0..first.len() {
            assert_eq!(parse(&first[..end]), Ok(None), "{end}");
        }
        let (head, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.version, head.close), (Version::Http10, true));
    }

    #[test]
    fn bad_heads_are_rejected_before_anything_happens() {
        let malformed: &[&[u8]] = &[
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ];
        for bytes in malformed {
            assert_eq!(
                parse(bytes),
                Err(Reject::Malformed),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            parse(b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Reject::LengthRequired)
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(Reject::TooLarge));
        let mut long = b"GET / HTTP/1.1\r\nx-long: ".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert_eq!(parse(&long), Err(Reject::TooLarge));
        // Equal repeated lengths are one length.
        let (head, _) = parse(b"PUT / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.content_length, 3);
    }

    #[test]
    fn response_heads_carry_the_timing_and_close() {
        let answer = Answer {
            status: StatusCode::OK,
            think: Duration::ZERO,
            content_type: "text/css",
            allow: None,
            body: AnswerBody::Filler(100),
            head_only: false,
            respond: httplab_core::Respond::Always,
            timeout: None,
        };
        let timing = ServerTiming {
            app: Duration::from_micros(1_500),
            queue: Some(Duration::from_micros(250)),
            hol: Some(Duration::from_millis(300)),
        };
        let head = response_head(Version::Http10, &answer, &timing, true, "D");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.0 200 OK\r\ncontent-length: 100\r\ncontent-type: text/css\r\n\
             cache-control: no-store\r\nserver-timing: app;dur=1.500, queue;dur=0.250, \
             hol;dur=300.000\r\nconnection: close\r\ndate: D\r\n\r\n"
        );
        let refused = Reject::LengthRequired.answer();
        let head = response_head(
            Version::Http11,
            &refused,
            &ServerTiming::default(),
            false,
            "D",
        );
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 411 Length Required\r\ncontent-length: 42\r\n"),
            "{head}"
        );
    }

    #[test]
    fn http_dates() {
        // RFC 9110 §5.6.7's example, the epoch, a leap day and the end of a century year.
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(978_307_199), "Sun, 31 Dec 2000 23:59:59 GMT");
    }
}
