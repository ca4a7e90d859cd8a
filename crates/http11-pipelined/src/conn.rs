//! The connection worker: one task that owns a pipelined connection and its queue of requests.
//!
//! A worker opens a connection when its first request arrives, writes each request as soon as
//! the pipelining rules let it (at most `depth` unanswered; a non-idempotent request only on an
//! otherwise idle connection, and nothing behind it until it is answered, RFC 9112 §9.3.2), and
//! reads responses with [`ResponseParser`], answering requests strictly in the order they were
//! written. Writing and reading run concurrently in one `select!` loop, so a large request body
//! and a large response cannot deadlock each other.
//!
//! It owns the per-request byte times. The harness's meter cannot tell overlapping requests
//! apart, so the worker timestamps every write (before and after it) and every read (right after
//! it returns), records which stream offsets each one covered, and maps each request's bytes and
//! each response's first and last byte onto them. It also owns recovery: when the connection
//! ends with requests unanswered, the idempotent ones go to a new connection (a retry if any of
//! their bytes had been written), the others fail; a malformed response fails every request
//! outstanding on the connection. It deliberately does not parse bytes (`parse.rs`), encode
//! requests (`request.rs`) or decide which worker gets a request (`lib.rs`).

use crate::parse::{ParsedResponse, ResponseParser};
use crate::request::{encode, FILLER};
use httplab_core::scenario::is_idempotent;
use httplab_core::{Clock, CloseReason, RequestRecord, RequestSpec};
use httplab_transport::{
    ByteTimes, ClientOptions, Connection, Meter, RequestTiming, ResponseSummary, Setup,
};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// Connections a worker opens again after the server ended one unexpectedly, before giving up.
pub const MAX_RECONNECTS: u32 = 3;
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// A request handed to a worker, with the way back to the `fetch` that awaits it.
pub(crate) struct Job {
    pub spec: RequestSpec,
    pub timing: RequestTiming,
    pub reply: oneshot::Sender<RequestRecord>,
    /// Some of its bytes went out on a connection that ended before its response: writing it
    /// again is a retry.
    pub sent_before: bool,
}

impl Job {
    fn fail(self, clock: Clock, error: String) {
        // The fetch may have been dropped; nobody is left to tell then.
        let _ = self.reply.send(self.timing.fail(clock.now(), error));
    }
}

/// How a connection ended, for the worker's reconnect budget.
enum Ended {
    /// No more requests will come and none is left: the worker is done.
    WorkloadDone,
    /// An end the protocol allows (`Connection: close`, an idle connection closed).
    Orderly,
    /// The server closed or broke the connection with requests unanswered.
    Unexpected,
}

pub(crate) struct Worker {
    opts: ClientOptions,
    /// Unanswered requests allowed on the connection.
    depth: usize,
    jobs: mpsc::UnboundedReceiver<Job>,
    no_more_jobs: bool,
    /// Requests not written on the current connection yet, in order.
    queue: VecDeque<Job>,
    unexpected_ends: u32,
    gave_up: Option<String>,
}

impl Worker {
    pub(crate) fn new(
        opts: ClientOptions,
        depth: usize,
        jobs: mpsc::UnboundedReceiver<Job>,
    ) -> Self {
        Self {
            opts,
            depth: depth.max(1),
            jobs,
            no_more_jobs: false,
            queue: VecDeque::new(),
            unexpected_ends: 0,
            gave_up: None,
        }
    }

    /// Serves requests until the client says no more are coming and all are answered.
    pub(crate) async fn run(mut self) {
        loop {
            if self.queue.is_empty() {
                if self.no_more_jobs {
                    return;
                }
                match self.jobs.recv().await {
                    Some(job) => self.queue.push_back(job),
                    None => return,
                }
            }
            if let Some(reason) = self.gave_up.clone() {
                self.fail_queue(&reason);
                continue;
            }
            let conn = match self.opts.connector.connect().await {
                Ok(conn) => conn,
                Err(e) => {
                    self.fail_queue(&format!("connect: {e}"));
                    continue;
                }
            };
            match self.drive(conn).await {
                Ended::WorkloadDone => return,
                Ended::Orderly => {}
                Ended::Unexpected => {
                    self.unexpected_ends += 1;
                    if self.unexpected_ends > MAX_RECONNECTS {
                        self.gave_up = Some(format!(
                            "not sent: the server ended {} connections with requests unanswered \
                             and the client gave up after {MAX_RECONNECTS} reconnects",
                            self.unexpected_ends
                        ));
                    }
                }
            }
        }
    }

    fn fail_queue(&mut self, error: &str) {
        for job in self.queue.drain(..) {
            job.fail(self.opts.clock, error.to_string());
        }
    }

    /// Runs one connection until it ends.
    async fn drive(&mut self, conn: Connection) -> Ended {
        let clock = self.opts.clock;
        let meter = conn.meter();
        let mut pipe = Pipeline::new(conn.id, conn.setup());
        let (mut reader, mut writer) = tokio::io::split(conn.stream);
        let mut read_buf = vec![0u8; READ_BUFFER_BYTES];
        let mut write_error: Option<String> = None;
        let mut needs_flush = false;
        tracing::debug!(connection = pipe.id, "pipelined connection open");
        loop {
            if write_error.is_none() {
                self.commit(&mut pipe);
            }
            if pipe.in_flight.is_empty() {
                if let Some(e) = &write_error {
                    meter.set_close_reason(CloseReason::Error(format!("write: {e}")));
                    return Ended::Unexpected;
                }
                if self.queue.is_empty() && self.no_more_jobs {
                    meter.set_close_reason(CloseReason::WorkloadDone);
                    return Ended::WorkloadDone;
                }
            }
            let chunk = pipe.out.next_slice();
            let can_write = write_error.is_none() && (!chunk.is_empty() || needs_flush);
            tokio::select! {
                job = self.jobs.recv(), if !self.no_more_jobs => match job {
                    Some(job) => self.queue.push_back(job),
                    None => self.no_more_jobs = true,
                },
                written = write_or_flush(&mut writer, chunk, clock), if can_write => match written {
                    Written::Bytes(0, ..) => {
                        write_error = Some("the stream accepted no bytes".into());
                    }
                    Written::Bytes(n, started, done) => {
                        pipe.wrote(n, started, done);
                        needs_flush = true;
                    }
                    Written::Flushed => needs_flush = false,
                    Written::Failed(e) => write_error = Some(e.to_string()),
                },
                result = reader.read(&mut read_buf) => {
                    let at = clock.now();
                    let ended = match result {
                        Ok(0) => self.on_eof(&mut pipe, &meter),
                        Ok(n) => self.on_read(&mut pipe, &read_buf[..n], at, &meter),
                        Err(e) => {
                            meter.set_close_reason(CloseReason::Error(format!("read: {e}")));
                            let unanswered = !pipe.in_flight.is_empty();
                            self.requeue_unanswered(&mut pipe);
                            Some(if unanswered { Ended::Unexpected } else { Ended::Orderly })
                        }
                    };
                    if let Some(ended) = ended {
                        tracing::debug!(connection = pipe.id, reason = ?meter.close_reason(), "pipelined connection ended");
                        return ended;
                    }
                }
            }
        }
    }

    /// Moves queued requests onto the connection while the pipelining rules allow.
    fn commit(&mut self, pipe: &mut Pipeline) {
        let authority = &self.opts.connector.origin().authority;
        while let Some(next) = self.queue.front() {
            let idempotent = is_idempotent(&next.spec.method);
            let room = pipe.in_flight.len() < self.depth;
            // RFC 9112 §9.3.2: a non-idempotent request is never pipelined, on either side.
            let alone_ok = pipe.in_flight.is_empty()
                || (idempotent && pipe.in_flight.iter().all(|f| f.idempotent));
            if !(room && alone_ok) {
                return;
            }
            let Some(mut job) = self.queue.pop_front() else {
                return;
            };
            let request = match encode(&job.spec, authority) {
                Ok(request) => request,
                Err(e) => {
                    job.fail(self.opts.clock, e.to_string());
                    continue;
                }
            };
            if std::mem::take(&mut job.sent_before) {
                job.timing.retries += 1;
            }
            job.timing.connection = Some(pipe.id);
            job.timing.new_connection = (!pipe.used).then_some(pipe.setup);
            pipe.used = true;
            job.timing.request_headers = request.headers;
            job.timing.request_body_bytes = request.body_bytes;
            pipe.parser.expect(&job.spec.method);
            let (start, end) = pipe.out.push(request.head, request.body_bytes);
            pipe.in_flight.push_back(InFlight {
                job,
                idempotent,
                start,
                end,
                bytes: ByteTimes::default(),
            });
        }
    }

    /// Parses the bytes of one read and answers the requests whose responses completed.
    fn on_read(
        &mut self,
        pipe: &mut Pipeline,
        data: &[u8],
        at: Duration,
        meter: &Meter,
    ) -> Option<Ended> {
        pipe.reads.push(pipe.parser.offset(), data.len(), at);
        let mut done = Vec::new();
        let result = pipe.parser.feed(data, &mut done);
        let mut close = false;
        for response in done {
            close |= response.connection_close;
            pipe.answer(response);
        }
        if let Err(e) = result {
            meter.set_close_reason(CloseReason::Error(e.to_string()));
            pipe.fail_malformed(&e.to_string(), self.opts.clock);
            return Some(Ended::Unexpected);
        }
        if close {
            meter.set_close_reason(CloseReason::AfterResponse);
            self.requeue_unanswered(pipe);
            return Some(Ended::Orderly);
        }
        pipe.reads
            .prune(pipe.parser.message_start().unwrap_or(pipe.parser.offset()));
        None
    }

    fn on_eof(&mut self, pipe: &mut Pipeline, meter: &Meter) -> Option<Ended> {
        let last = match pipe.parser.finish_eof() {
            Ok(last) => last,
            Err(e) => {
                meter.set_close_reason(CloseReason::Error(e.to_string()));
                pipe.fail_malformed(&e.to_string(), self.opts.clock);
                return Some(Ended::Unexpected);
            }
        };
        let delimited_by_close = last.is_some();
        if let Some(response) = last {
            pipe.answer(response);
        }
        let unanswered = !pipe.in_flight.is_empty();
        meter.set_close_reason(if delimited_by_close && !unanswered {
            CloseReason::AfterResponse
        } else {
            CloseReason::ServerClosed
        });
        self.requeue_unanswered(pipe);
        Some(if unanswered {
            Ended::Unexpected
        } else {
            Ended::Orderly
        })
    }

    /// The connection is gone: its unanswered requests go back to the front of the queue, in
    /// order, for a new connection; a written idempotent one will count a retry when it is
    /// written again, a written non-idempotent one fails instead.
    fn requeue_unanswered(&mut self, pipe: &mut Pipeline) {
        while let Some(f) = pipe.in_flight.pop_back() {
            let mut job = f.job;
            if f.bytes.bytes_written == 0 {
                self.queue.push_front(job);
            } else if f.idempotent {
                job.sent_before = true;
                self.queue.push_front(job);
            } else {
                let method = job.spec.method.clone();
                job.fail(
                    self.opts.clock,
                    format!(
                        "the connection closed before the response and the request was not \
                         retried: {method} is not idempotent (RFC 9110 §9.2.2)"
                    ),
                );
            }
        }
    }
}

/// A request written (or being written) on the connection and not answered yet.
struct InFlight {
    job: Job,
    idempotent: bool,
    /// Its bytes' offsets in the written stream: `start..end`.
    start: u64,
    end: u64,
    /// Its write times and bytes so far; reads are added when the response completes.
    bytes: ByteTimes,
}

/// One connection's state: what is in flight, what is still to write, what was read when.
struct Pipeline {
    id: u32,
    setup: Setup,
    /// Whether a request has been put on it (the first one pays for the connection).
    used: bool,
    parser: ResponseParser,
    in_flight: VecDeque<InFlight>,
    out: Outgoing,
    reads: ReadLog,
}

impl Pipeline {
    fn new(id: u32, setup: Setup) -> Self {
        Self {
            id,
            setup,
            used: false,
            parser: ResponseParser::new(),
            in_flight: VecDeque::new(),
            out: Outgoing::default(),
            reads: ReadLog::default(),
        }
    }

    /// `n` bytes from `out` were written by a call that began at `started` and returned at
    /// `done`: every request they belong to gets its share.
    fn wrote(&mut self, n: usize, started: Duration, done: Duration) {
        let from = self.out.written;
        let to = from + n as u64;
        self.out.advance(n);
        for f in self.in_flight.iter_mut() {
            if f.end <= from {
                continue;
            }
            if f.start >= to {
                break;
            }
            f.bytes.first_write.get_or_insert(started);
            f.bytes.bytes_written += f.end.min(to) - f.start.max(from);
            if f.end <= to {
                f.bytes.last_write = Some(done);
            }
        }
    }

    /// Completes the oldest request with `response`.
    fn answer(&mut self, response: ParsedResponse) {
        let Some(f) = self.in_flight.pop_front() else {
            return;
        };
        let mut bytes = f.bytes;
        bytes.bytes_read = response.wire_bytes();
        bytes.first_read = self.reads.time_of(response.first_byte);
        bytes.last_read = self.reads.time_of(response.last_byte());
        let timing = f.job.timing;
        let summary = ResponseSummary {
            status: response.status,
            http_version: response.http_version.to_string(),
            headers: response.headers,
            body_bytes: response.body_bytes,
            connection_close: response.connection_close,
            error: None,
        };
        let _ = f.job.reply.send(timing.finish(bytes, summary));
    }

    /// The response stream is unreadable from here on: every request still in flight fails.
    fn fail_malformed(&mut self, error: &str, clock: Clock) {
        for (i, f) in self.in_flight.drain(..).enumerate() {
            let message = if i == 0 {
                format!("malformed response on connection {}: {error}", self.id)
            } else {
                format!(
                    "no response: an earlier response on connection {} was malformed: {error}",
                    self.id
                )
            };
            f.job.fail(clock, message);
        }
    }
}

/// The bytes committed to the connection and not yet written, as a queue of segments so that a
/// large body is written from [`FILLER`] rather than held in memory.
#[derive(Default)]
struct Outgoing {
    segments: VecDeque<Segment>,
    /// How far into the front segment has been written.
    front_written: usize,
    /// Stream offset of the next byte to write.
    written: u64,
    /// Stream offset just past the last byte committed.
    committed: u64,
}

enum Segment {
    Bytes(Vec<u8>),
    Filler(u64),
}

impl Outgoing {
    /// Commits a request; returns its offsets `start..end` in the written stream.
    fn push(&mut self, head: Vec<u8>, body_bytes: u64) -> (u64, u64) {
        let start = self.committed;
        self.committed += head.len() as u64 + body_bytes;
        // Heads written back to back share one buffer, so one write can carry several.
        match self.segments.back_mut() {
            Some(Segment::Bytes(bytes)) => bytes.extend_from_slice(&head),
            _ => self.segments.push_back(Segment::Bytes(head)),
        }
        if body_bytes > 0 {
            self.segments.push_back(Segment::Filler(body_bytes));
        }
        (start, self.committed)
    }

    /// The next bytes to write; empty when everything committed is written.
    fn next_slice(&self) -> &[u8] {
        match self.segments.front() {
            Some(Segment::Bytes(bytes)) => &bytes[self.front_written..],
            Some(Segment::Filler(left)) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(FILLER.len());
                &FILLER[..n]
            }
            None => &[],
        }
    }

    /// `n` bytes of [`Self::next_slice`] were written.
    fn advance(&mut self, n: usize) {
        self.written += n as u64;
        match self.segments.front_mut() {
            Some(Segment::Bytes(bytes)) => {
                self.front_written += n;
                if self.front_written >= bytes.len() {
                    self.segments.pop_front();
                    self.front_written = 0;
                }
            }
            Some(Segment::Filler(left)) => {
                *left = left.saturating_sub(n as u64);
                if *left == 0 {
                    self.segments.pop_front();
                }
            }
            None => {}
        }
    }
}

/// When the reads of the response in progress happened: `(start, end, at)` stream offsets and
/// the clock right after the read returned.
#[derive(Default)]
struct ReadLog {
    spans: VecDeque<(u64, u64, Duration)>,
}

impl ReadLog {
    fn push(&mut self, start: u64, n: usize, at: Duration) {
        self.spans.push_back((start, start + n as u64, at));
    }

    fn time_of(&self, offset: u64) -> Option<Duration> {
        self.spans
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&offset))
            .map(|(_, _, at)| *at)
    }

    /// Forgets reads wholly before `offset`.
    fn prune(&mut self, offset: u64) {
        while self.spans.front().is_some_and(|(_, end, _)| *end <= offset) {
            self.spans.pop_front();
        }
    }
}

/// What one step of writing did.
enum Written {
    /// Bytes written, with the clock read just before the call that succeeded and just after.
    Bytes(usize, Duration, Duration),
    Flushed,
    Failed(io::Error),
}

/// Writes some of `buf`, or flushes (for TLS, whose writes may stay buffered) when it is empty.
/// Cancel-safe: dropped before it completes, it has written nothing.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &[u8],
    clock: Clock,
) -> Written {
    if buf.is_empty() {
        return match writer.flush().await {
            Ok(()) => Written::Flushed,
            Err(e) => Written::Failed(e),
        };
    }
    std::future::poll_fn(|cx| {
        let started = clock.now();
        match Pin::new(&mut *writer).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => Poll::Ready(Written::Bytes(n, started, clock.now())),
            Poll::Ready(Err(e)) => Poll::Ready(Written::Failed(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_streams_heads_and_filler_in_order() {
        let mut out = Outgoing::default();
        assert_eq!(out.push(b"GET /a\r\n\r\n".to_vec(), 0), (0, 10));
        assert_eq!(out.push(b"PUT /b\r\n\r\n".to_vec(), 20_000), (10, 20_020));
        assert_eq!(out.push(b"GET /c\r\n\r\n".to_vec(), 0), (20_020, 20_030));
        // Both heads before the body share a buffer; the body comes from the filler.
        assert_eq!(out.next_slice(), b"GET /a\r\n\r\nPUT /b\r\n\r\n");
        out.advance(5);
        assert_eq!(out.next_slice(), b"a\r\n\r\nPUT /b\r\n\r\n");
        out.advance(15);
        let mut total = 5 + 15;
        while !out.next_slice().starts_with(b"GET") {
            let n = out.next_slice().len().min(7_000);
            assert!(n > 0 && out.next_slice().iter().all(|&b| b == b'.'));
            out.advance(n);
            total += n;
        }
        assert_eq!(total, 20_020);
        assert_eq!(out.next_slice(), b"GET /c\r\n\r\n");
        out.advance(10);
        assert!(out.next_slice().is_empty());
        assert_eq!(out.written, out.committed);
    }

    #[test]
    fn read_log_maps_offsets_to_reads() {
        let ms = Duration::from_millis;
        let mut log = ReadLog::default();
        log.push(0, 10, ms(1));
        log.push(10, 5, ms(2));
        log.push(15, 100, ms(3));
        assert_eq!(
            (
                log.time_of(0),
                log.time_of(9),
                log.time_of(10),
                log.time_of(114)
            ),
            (Some(ms(1)), Some(ms(1)), Some(ms(2)), Some(ms(3)))
        );
        assert_eq!(log.time_of(115), None);
        log.prune(12);
        assert_eq!((log.time_of(9), log.time_of(12)), (None, Some(ms(2))));
    }
}
