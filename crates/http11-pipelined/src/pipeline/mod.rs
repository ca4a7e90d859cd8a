//! The pipelining rules of one worker, as a state machine driven by events (sans-IO).
//!
//! [`Pipeline`] owns a worker's queue of requests and the state of its current connection, and
//! every rule of RFC 9112 §9.3.2 the client follows: which queued requests may go on the
//! connection (at most `depth` unanswered; a non-idempotent request only on an otherwise idle
//! connection, and nothing behind it until it is answered), answering requests strictly in the
//! order they were written as [`crate::parse::ResponseParser`] completes responses, and recovery
//! when the connection ends (unanswered idempotent requests go back to the front of the queue, a
//! retry if any of their bytes had been written; a written non-idempotent one fails; a malformed
//! response fails every request outstanding). It says how a connection ended and which close
//! reason to record. Its parts: `job.rs` (what goes in and comes out), `connection.rs` (one
//! connection's requests in flight and their byte times), `stream.rs` (stream offsets of writes
//! and reads) and `tests.rs` (the rules driven with byte slices).
//!
//! It deliberately does no I/O, knows no tokio and reads no clock: the worker in `conn.rs` feeds
//! it events (a request queued, bytes written between two times, bytes read at a time, the end of
//! the stream, an error), writes the bytes [`Pipeline::next_write`] gives it, and hands back each
//! [`Outcome`] through the request's `reply` (opaque here), stamping failures with its clock. It
//! does not parse bytes (`parse.rs`), encode requests (`request.rs`), open connections or count
//! reconnects (`conn.rs`).

mod connection;
mod job;
mod stream;
#[cfg(test)]
mod tests;

pub(crate) use job::{End, Ended, Job, Outcome, Reply};

use crate::parse::{ParseError, ParsedResponse};
use crate::request::{encode, EncodedRequest, RequestError};
use connection::Conn;
use httplab_core::scenario::is_idempotent;
use httplab_core::{CloseReason, RequestSpec};
use httplab_transport::exchange::header_fields_kept;
use httplab_transport::Setup;
use job::{failed, failed_after};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::time::Duration;

/// Which unanswered requests go out again on a new connection when theirs ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Pipelining (RFC 9112 §9.3.2): every idempotent one, however many times.
    Idempotent,
    /// A browser's keep-alive pool (Chromium's `ShouldResendRequest`): an idempotent one, and
    /// only if its connection had answered an earlier request. A server may close an idle
    /// connection just as a request goes out on it; on a fresh connection, a close before the
    /// response is the server's answer (`ERR_EMPTY_RESPONSE`). So a request goes out again at
    /// most once: re-sent, it is the first on a new connection.
    ReusedOnce,
}

/// One worker's requests: queued, and in flight on its current connection.
pub(crate) struct Pipeline<R: Reply> {
    /// `host` of every request.
    authority: String,
    /// Unanswered requests allowed on the connection.
    depth: usize,
    resend: Resend,
    /// Requests not written on the current connection yet, in order.
    queue: VecDeque<Job<R>>,
    no_more_jobs: bool,
    /// The open connection, if any.
    conn: Option<Conn<R>>,
    /// Settled requests not handed back yet.
    outcomes: Vec<Outcome<R>>,
    /// Each request's bytes as encoded before, kept with the request they were encoded for: a
    /// load sends the same page's requests again and again.
    encoded: FxHashMap<u32, (RequestSpec, EncodedRequest)>,
    /// The responses one read completed (empty between reads; kept for its allocation).
    parsed: Vec<ParsedResponse>,
}

impl<R: Reply> Pipeline<R> {
    /// `depth`: unanswered requests allowed per connection (at least 1); `resend`: which
    /// unanswered requests go out again when their connection ends.
    pub(crate) fn new(authority: String, depth: usize, resend: Resend) -> Self {
        Self {
            authority,
            depth: depth.max(1),
            resend,
            queue: VecDeque::new(),
            no_more_jobs: false,
            conn: None,
            outcomes: Vec::new(),
            encoded: FxHashMap::default(),
            parsed: Vec::new(),
        }
    }

    /// Which unanswered requests go out again when their connection ends.
    pub(crate) fn resend(&self) -> Resend {
        self.resend
    }

    /// A request arrived.
    pub(crate) fn push(&mut self, job: Job<R>) {
        self.queue.push_back(job);
    }

    /// No more requests will arrive.
    pub(crate) fn no_more_jobs(&mut self) {
        self.no_more_jobs = true;
    }

    /// Whether requests may still arrive.
    pub(crate) fn takes_jobs(&self) -> bool {
        !self.no_more_jobs
    }

    /// Whether requests wait for a connection.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Every queued request fails with `error` (no connection can be had for them).
    pub(crate) fn fail_queued(&mut self, error: &str) {
        for job in self.queue.drain(..) {
            self.outcomes.push(failed(job, error.to_owned()));
        }
    }

    /// The requests settled since the last call, to hand back (drained in place, so that the
    /// buffer is not allocated again for every response).
    pub(crate) fn take_outcomes(&mut self) -> std::vec::Drain<'_, Outcome<R>> {
        self.outcomes.drain(..)
    }

    /// A connection `id` opened, having cost `setup`; it replaces any previous one.
    pub(crate) fn open(&mut self, id: u32, setup: Setup) {
        self.conn = Some(Conn::new(id, setup));
    }

    /// Moves queued requests onto the connection while the rules allow, and says whether the
    /// connection is over: a write failed and nothing is in flight, or no request is left and
    /// none will come. To be called before each wait for I/O.
    pub(crate) fn poll(&mut self) -> Option<Ended> {
        let conn = self.conn.as_ref()?;
        if conn.write_error.is_none() {
            self.commit();
        }
        let conn = self.conn.as_ref()?;
        if !conn.in_flight.is_empty() {
            return None;
        }
        let ended = if let Some(e) = &conn.write_error {
            Ended::new(End::Unexpected, CloseReason::Error(format!("write: {e}")))
        } else if self.queue.is_empty() && self.no_more_jobs {
            Ended::new(End::WorkloadDone, CloseReason::WorkloadDone)
        } else {
            return None;
        };
        self.conn = None;
        Some(ended)
    }

    /// Whether the connection still takes writes (it is open and no write has failed).
    pub(crate) fn writable(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.write_error.is_none())
    }

    /// The next bytes to write; empty when everything committed is written.
    pub(crate) fn next_write(&self) -> &[u8] {
        match &self.conn {
            Some(conn) if conn.write_error.is_none() => conn.out.next_slice(),
            _ => &[],
        }
    }

    /// `n` bytes of [`Self::next_write`] were written by a call that began at `started` and
    /// returned at `done`: every request they belong to gets its share. A write of no bytes
    /// is a write error.
    pub(crate) fn wrote(&mut self, n: usize, started: Duration, done: Duration) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if n == 0 {
            conn.write_error = Some("the stream accepted no bytes".into());
            return;
        }
        conn.wrote(n, started, done);
    }

    /// A write (or flush) failed: nothing more is written on this connection, which ends once
    /// the requests in flight are answered or the read side ends.
    pub(crate) fn write_failed(&mut self, error: String) {
        if let Some(conn) = self.conn.as_mut() {
            conn.write_error = Some(error);
        }
    }

    /// `data` was read, the read returning at `at`: answers the requests whose responses it
    /// completed, and says whether the connection is over.
    pub(crate) fn read(&mut self, data: &[u8], at: Duration) -> Option<Ended> {
        let conn = self.conn.as_mut()?;
        conn.reads.push(conn.parser.offset(), data.len(), at);
        let mut done = std::mem::take(&mut self.parsed);
        let result = conn.parser.feed(data, &mut done);
        let mut close = false;
        for response in done.drain(..) {
            close |= response.connection_close;
            conn.answer(response, &mut self.outcomes);
        }
        self.parsed = done;
        if let Err(e) = result {
            return Some(self.malformed(&e));
        }
        if close {
            self.requeue_unanswered();
            return Some(Ended::new(End::Orderly, CloseReason::AfterResponse));
        }
        conn.reads
            .prune(conn.parser.message_start().unwrap_or(conn.parser.offset()));
        None
    }

    /// The server ended the stream.
    pub(crate) fn eof(&mut self) -> Option<Ended> {
        let conn = self.conn.as_mut()?;
        let last = match conn.parser.finish_eof() {
            Ok(last) => last,
            Err(e) => return Some(self.malformed(&e)),
        };
        let delimited_by_close = last.is_some();
        if let Some(response) = last {
            conn.answer(response, &mut self.outcomes);
        }
        let unanswered = !conn.in_flight.is_empty();
        let close_reason = if delimited_by_close && !unanswered {
            CloseReason::AfterResponse
        } else {
            CloseReason::ServerClosed
        };
        self.requeue_unanswered();
        Some(Ended::new(unexpected_if(unanswered), close_reason))
    }

    /// A read failed with `error`.
    pub(crate) fn read_failed(&mut self, error: &str) -> Option<Ended> {
        self.conn.as_ref()?;
        let unanswered = self.requeue_unanswered();
        Some(Ended::new(
            unexpected_if(unanswered),
            CloseReason::Error(format!("read: {error}")),
        ))
    }

    /// Moves queued requests onto the connection while the pipelining rules allow.
    fn commit(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        while let Some(next) = self.queue.front() {
            let idempotent = is_idempotent(&next.timing.spec.method);
            let room = conn.in_flight.len() < self.depth;
            // RFC 9112 §9.3.2: a non-idempotent request is never pipelined, on either side.
            let alone_ok = conn.in_flight.is_empty()
                || (idempotent && conn.in_flight.iter().all(|f| f.idempotent));
            if !(room && alone_ok) {
                return;
            }
            let Some(mut job) = self.queue.pop_front() else {
                return;
            };
            let request = match encoded(&mut self.encoded, &job.timing.spec, &self.authority) {
                Ok(request) => request,
                Err(e) => {
                    self.outcomes.push(failed(job, e.to_string()));
                    continue;
                }
            };
            if std::mem::take(&mut job.sent_before) {
                job.timing.retries += 1;
            }
            if header_fields_kept() {
                job.timing.request_headers = request.headers.clone();
            }
            job.timing.request_body_bytes = request.body_bytes;
            conn.push(job, idempotent, &request.head, request.body_bytes);
        }
    }

    /// The response stream is unreadable from here on: every request still in flight fails.
    fn malformed(&mut self, error: &ParseError) -> Ended {
        let error = error.to_string();
        if let Some(conn) = self.conn.take() {
            for (i, f) in conn.in_flight.into_iter().enumerate() {
                let message = if i == 0 {
                    format!("malformed response on connection {}: {error}", conn.id)
                } else {
                    format!(
                        "no response: an earlier response on connection {} was malformed: {error}",
                        conn.id
                    )
                };
                self.outcomes.push(failed_after(f.job, f.bytes, message));
            }
        }
        Ended::new(End::Unexpected, CloseReason::Error(error))
    }

    /// The connection is gone: its unanswered requests go back to the front of the queue, in
    /// order, for a new connection; a written one that [`Resend`] allows will count a retry when
    /// it is written again, any other written one fails instead. Says whether any were left.
    fn requeue_unanswered(&mut self) -> bool {
        let Some(mut conn) = self.conn.take() else {
            return false;
        };
        let unanswered = !conn.in_flight.is_empty();
        while let Some(f) = conn.in_flight.pop_back() {
            let mut job = f.job;
            if f.bytes.bytes_written == 0 {
                self.queue.push_front(job);
                continue;
            }
            let not_resent = if !f.idempotent {
                Some(format!(
                    "{} is not idempotent (RFC 9110 §9.2.2)",
                    job.timing.spec.method
                ))
            } else {
                match self.resend {
                    Resend::Idempotent => None,
                    Resend::ReusedOnce if !conn.reused() => Some(format!(
                        "it was the first request on connection {}, so the close is the \
                         server's answer (an empty response)",
                        conn.id
                    )),
                    Resend::ReusedOnce => None,
                }
            };
            match not_resent {
                None => {
                    job.sent_before = true;
                    self.queue.push_front(job);
                }
                Some(why) => self.outcomes.push(failed_after(
                    job,
                    f.bytes,
                    format!(
                        "the connection closed before the response and the request was not \
                         retried: {why}"
                    ),
                )),
            }
        }
        unanswered
    }
}

/// `spec` encoded for `authority`: the bytes encoded before for an equal request, or new ones,
/// kept.
fn encoded<'a>(
    cache: &'a mut FxHashMap<u32, (RequestSpec, EncodedRequest)>,
    spec: &RequestSpec,
    authority: &str,
) -> Result<&'a EncodedRequest, RequestError> {
    let kept = match cache.entry(spec.id) {
        Entry::Occupied(mut kept) => {
            if kept.get().0 != *spec {
                kept.insert((spec.clone(), encode(spec, authority)?));
            }
            kept.into_mut()
        }
        Entry::Vacant(slot) => slot.insert((spec.clone(), encode(spec, authority)?)),
    };
    Ok(&kept.1)
}

/// A connection that ended with requests unanswered ended unexpectedly.
fn unexpected_if(unanswered: bool) -> End {
    if unanswered {
        End::Unexpected
    } else {
        End::Orderly
    }
}
