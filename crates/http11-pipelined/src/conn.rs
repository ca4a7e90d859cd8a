//! The connection worker: one task that owns a worker's connections, an async shell around
//! [`Pipeline`].
//!
//! A worker opens a connection when its first request arrives and runs it in one `select!` loop
//! over new requests, writes and reads, so that a large request body and a large response cannot
//! deadlock each other. It timestamps every write (the clock just before the call that succeeded
//! and just after it returns) and every read (right after it returns) and feeds them to the
//! pipeline as events, writes the bytes the pipeline gives it, records the close reason the
//! pipeline names on the connection's meter, and sends each settled request back through its
//! `fetch`'s oneshot. It owns the reconnect budget: after [`MAX_RECONNECTS`] connections ended
//! unexpectedly, the requests left fail without a new connection. A pipelining worker's budget
//! is for its lifetime; a keep-alive slot's ([`Resend::ReusedOnce`]) counts the ends since its
//! last answered request, and it takes requests again once it has failed the ones it held.
//!
//! It deliberately holds none of the pipelining rules (which requests go on the connection, how
//! responses answer them, what is retried: `pipeline/`), parses no bytes (`parse.rs`), encodes
//! no requests (`request.rs`) and does not decide which worker gets a request (`lib.rs`).

use crate::pipeline::{End, Ended, Outcome, Pipeline, Reply, Resend};
use httplab_core::{Clock, RequestRecord};
use httplab_transport::{ClientOptions, Connection, Meter, RequestTiming};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// Connections a worker opens again after the server ended one unexpectedly, before giving up.
pub const MAX_RECONNECTS: u32 = 3;
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// A request handed to a worker, with the way back to the `fetch` that awaits it.
pub(crate) type Job = crate::pipeline::Job<Answer>;

/// The way back to a `fetch`: the oneshot its record goes through, and the clock that times a
/// request dropped before it settled (its worker stopped holding it).
pub(crate) struct Answer {
    record: oneshot::Sender<RequestRecord>,
    clock: Clock,
}

impl Answer {
    /// An answer and the receiver its `fetch` awaits.
    pub(crate) fn new(clock: Clock) -> (Self, oneshot::Receiver<RequestRecord>) {
        let (record, answer) = oneshot::channel();
        (Self { record, clock }, answer)
    }

    fn send(self, record: RequestRecord) {
        // The fetch may have been dropped; nobody is left to tell then.
        let _ = self.record.send(record);
    }
}

impl Reply for Answer {
    fn unsettled(self, timing: RequestTiming) {
        let now = self.clock.now();
        self.send(timing.fail(now, "the connection worker stopped".into()));
    }
}

pub(crate) struct Worker {
    opts: ClientOptions,
    jobs: mpsc::UnboundedReceiver<Job>,
    pipe: Pipeline<Answer>,
    /// Whether it has a connection open now (for a keep-alive pool's choice of slot).
    connected: Arc<AtomicBool>,
    unexpected_ends: u32,
    gave_up: Option<String>,
}

impl Worker {
    pub(crate) fn new(
        opts: ClientOptions,
        depth: usize,
        resend: Resend,
        jobs: mpsc::UnboundedReceiver<Job>,
    ) -> Self {
        let authority = opts.connector.origin().authority.clone();
        Self {
            opts,
            jobs,
            pipe: Pipeline::new(authority, depth, resend),
            connected: Arc::default(),
            unexpected_ends: 0,
            gave_up: None,
        }
    }

    /// A flag that is true while the worker has a connection open.
    pub(crate) fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Serves requests until the client says no more are coming and all are answered.
    pub(crate) async fn run(mut self) {
        loop {
            if !self.pipe.has_queued() {
                if !self.pipe.takes_jobs() {
                    return;
                }
                match self.jobs.recv().await {
                    Some(job) => self.pipe.push(job),
                    None => return,
                }
            }
            if let Some(reason) = self.gave_up.clone() {
                self.pipe.fail_queued(&reason);
                self.hand_back();
                if self.pipe.resend() == Resend::ReusedOnce {
                    (self.gave_up, self.unexpected_ends) = (None, 0);
                }
                continue;
            }
            let conn = match self.opts.connector.connect().await {
                Ok(conn) => conn,
                Err(e) => {
                    self.pipe.fail_queued(&format!("connect: {e}"));
                    self.hand_back();
                    continue;
                }
            };
            self.connected.store(true, Ordering::Relaxed);
            let end = self.drive(conn).await;
            self.connected.store(false, Ordering::Relaxed);
            match end {
                End::WorkloadDone => return,
                End::Orderly => {}
                End::Unexpected => {
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

    /// Sends every settled request back to its `fetch`, a failure timed now.
    fn hand_back(&mut self) {
        let clock = self.opts.clock;
        let keep_alive = self.pipe.resend() == Resend::ReusedOnce;
        for outcome in self.pipe.take_outcomes() {
            if keep_alive && matches!(outcome, Outcome::Answered { .. }) {
                self.unexpected_ends = 0;
            }
            let (reply, record) = outcome.into_record(clock.now());
            reply.send(record);
        }
    }

    /// Records how the connection ended (if it did) on its meter, then hands back what settled,
    /// so that a request's record never arrives before its connection's close reason.
    fn settle(&mut self, ended: Option<Ended>, meter: &Meter) -> Option<End> {
        let end = ended.map(|Ended { end, close_reason }| {
            meter.set_close_reason(close_reason);
            end
        });
        self.hand_back();
        end
    }

    /// Runs one connection until it ends.
    async fn drive(&mut self, conn: Connection) -> End {
        let clock = self.opts.clock;
        let meter = conn.meter();
        let id = conn.id;
        self.pipe.open(id, conn.setup);
        let (mut reader, mut writer) = tokio::io::split(conn.stream);
        let mut read_buf = vec![0u8; READ_BUFFER_BYTES];
        let mut needs_flush = false;
        tracing::debug!(connection = id, "pipelined connection open");
        loop {
            let ended = self.pipe.poll();
            if let Some(end) = self.settle(ended, &meter) {
                return end;
            }
            let chunk = self.pipe.next_write();
            let can_write = self.pipe.writable() && (!chunk.is_empty() || needs_flush);
            tokio::select! {
                // Jobs first, and every one already queued: requests issued together are
                // written together (one write, as a browser packs a burst).
                biased;
                job = self.jobs.recv(), if self.pipe.takes_jobs() => match job {
                    Some(job) => {
                        self.pipe.push(job);
                        while self.pipe.takes_jobs() {
                            match self.jobs.try_recv() {
                                Ok(job) => self.pipe.push(job),
                                Err(_) => break,
                            }
                        }
                    }
                    None => self.pipe.no_more_jobs(),
                },
                written = write_or_flush(&mut writer, chunk, clock), if can_write => match written {
                    Written::Bytes(n, started, done) => {
                        self.pipe.wrote(n, started, done);
                        needs_flush = true;
                    }
                    Written::Flushed => needs_flush = false,
                    Written::Failed(e) => self.pipe.write_failed(e.to_string()),
                },
                result = reader.read(&mut read_buf) => {
                    let at = clock.now();
                    let ended = match result {
                        Ok(0) => self.pipe.eof(),
                        Ok(n) => self.pipe.read(&read_buf[..n], at),
                        Err(e) => self.pipe.read_failed(&e.to_string()),
                    };
                    if let Some(end) = self.settle(ended, &meter) {
                        tracing::debug!(connection = id, reason = ?meter.close_reason(), "pipelined connection ended");
                        return end;
                    }
                }
            }
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
