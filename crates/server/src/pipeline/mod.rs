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
//! everything and received no new request for that long, `request_head_timeout` one whose next
//! head has not completed in that long (from its start, or from its last response); a body
//! slower than `min_body_rate` over a `body_timeout` closes it too, and one announced above
//! `MAX_REQUEST_BODY` is refused with 413. Deliberately not here: chunked request bodies (411 and close),
//! `Expect: 100-continue` (never answered; the body is read when it comes), upgrades, HTTP/2.
//! The head parser (`parse_head`) and the response head (`response_head`) are pure functions
//! over byte slices; only `serve` and its two halves touch the socket.

mod head;

use crate::activity::Sending;
use crate::body::{filler_chunk, CHUNK};
use crate::service::{Answer, AnswerBody, Connection, Handled, RequestInfo, TimedOut};
use bytes::{Buf, BytesMut};
pub(crate) use head::imf_fixdate;
use head::{parse_head, response_head, Reject, Version};
use httplab_core::wire::ServerTiming;
use httplab_core::{PipeliningModel, WriteMode};
use httplab_socket::Packed;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
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
        let mut writer = pin!(write_responses(output, queued, conn.clone()));
        let mut reader = pin!(Some(read_requests(&mut input, conn, model, queue)));
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
/// rejected one, a body slower than `min_body_rate`, or when no head completed within
/// `request_head_timeout` (`keep_alive_timeout`, if set, when no byte of it has come) of the
/// connection's start or its last response.
async fn read_requests<R>(
    mut input: R,
    conn: Arc<Connection>,
    model: PipeliningModel,
    queue: mpsc::Sender<Pending>,
) where
    R: AsyncRead + Unpin,
{
    let clock = conn.shared.clock;
    let activity = conn.activity.clone();
    let keep_alive_timeout = conn.shared.scenario.server.keep_alive_timeout;
    let head_timeout = conn.shared.scenario.server.request_head_timeout;
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
            let timeout = match keep_alive_timeout {
                Some(keep_alive) if buf.is_empty() => keep_alive,
                _ => head_timeout,
            };
            buf.reserve(8 * 1024);
            let mut read = pin!(input.read_buf(&mut buf));
            // The timer runs while nothing is unanswered (the peer owes the next head); a
            // connection with requests in progress looks again later.
            let read = loop {
                tokio::select! {
                    result = &mut read => break result,
                    () = tokio::time::sleep_until(activity.idle_deadline(timeout)) => {
                        if activity.idle_expired(timeout) {
                            return;
                        }
                    }
                }
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
        let mut request = RequestInfo {
            method: head.method,
            path: head.path,
            request_id: head.request_id,
            host: head.host,
            arrived_at,
            body_bytes: 0,
        };
        let mut body_left = head.content_length;
        let mut pace = conn.body_pace();
        let reading = (body_left > 0).then(|| activity.reading_body());
        while body_left > 0 {
            if buf.is_empty() {
                buf.reserve(CHUNK);
                match tokio::time::timeout_at(pace.deadline(), input.read_buf(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => return,
                    // The next head may start in these bytes.
                    Ok(Ok(_)) => read_at = clock.now(),
                    Err(_) => {
                        if let Err(slow) = pace.window_over(Instant::now()) {
                            tracing::debug!(connection = conn.number, peer = %conn.peer, "{slow}");
                            conn.log_abandoned(request, clock.now());
                            return;
                        }
                        continue;
                    }
                }
            }
            let n = usize::try_from(body_left).map_or(buf.len(), |left| left.min(buf.len()));
            buf.advance(n);
            body_left -= n as u64;
            pace.arrived(n as u64);
            request.body_bytes += n as u64;
            if let Some(reading) = &reading {
                reading.arrived(n as u64);
            }
        }
        drop(reading);
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
        activity.request_started();
        if queue.send(pending).await.is_err() || close {
            return;
        }
    }
}

/// Answers queued requests strictly in order, then closes the sending side. A request that
/// timed out unanswered ends the connection there, without a response; the requests queued
/// behind it are abandoned.
async fn write_responses<W>(output: W, mut queued: mpsc::Receiver<Pending>, conn: Arc<Connection>)
where
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
        let sending = conn.activity.sending();
        if let Err(e) = write_response(&mut out, &head, &answer, &sending).await {
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
        drop(sending);
        conn.activity.request_done();
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

/// Writes one response (head, then body unless HEAD) into `out`, each chunk taken being
/// progress for `send_timeout`; the caller flushes.
async fn write_response<W>(
    out: &mut BufWriter<W>,
    head: &[u8],
    answer: &Answer,
    sending: &Sending,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    out.write_all(head).await?;
    sending.progress();
    if !answer.head_only {
        match answer.body {
            AnswerBody::Text(text) => out.write_all(text.as_bytes()).await?,
            AnswerBody::Filler(size) => {
                let mut left = size;
                while left > 0 {
                    let chunk = filler_chunk(usize::try_from(left).unwrap_or(CHUNK));
                    out.write_all(chunk).await?;
                    sending.progress();
                    left -= chunk.len() as u64;
                }
            }
        }
    }
    Ok(())
}

/// `Option<PipeliningModel>` that the accept loop reads while the run changes it.
#[derive(Default)]
pub(crate) struct Switch(AtomicU8);

impl Switch {
    const HYPER: u8 = 0;
    const SERIAL: u8 = 1;
    const PARALLEL: u8 = 2;

    pub(crate) fn set(&self, model: Option<PipeliningModel>) {
        let value = match model {
            None => Self::HYPER,
            Some(PipeliningModel::Serial) => Self::SERIAL,
            Some(PipeliningModel::Parallel) => Self::PARALLEL,
        };
        self.0.store(value, Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> Option<PipeliningModel> {
        match self.0.load(Ordering::SeqCst) {
            Self::SERIAL => Some(PipeliningModel::Serial),
            Self::PARALLEL => Some(PipeliningModel::Parallel),
            _ => None,
        }
    }
}
