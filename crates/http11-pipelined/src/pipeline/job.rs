//! What goes into the pipeline and what comes out: a [`Job`] (a request and its reply handle),
//! an [`Outcome`] (a settled request to hand back) and [`Ended`] (how a connection ended, and the
//! close reason to record).
//!
//! It owns these types only. The reply handle is opaque (the worker's oneshot, a request id in
//! the unit tests), and a failure carries no time: whoever hands it back stamps it with its clock.
//! A job dropped before it settled (its worker stopped, or panicked, holding it) settles itself
//! through its reply handle ([`Reply::unsettled`]), so whoever awaits a record gets one without
//! keeping a copy of the request to fail it with.

use httplab_core::{CloseReason, RequestRecord};
use httplab_transport::{ByteTimes, RequestTiming};
use std::time::Duration;

/// The way back to whoever awaits a request's record.
pub(crate) trait Reply {
    /// The request was dropped before it settled: tell whoever awaits it, with `timing`.
    fn unsettled(self, timing: RequestTiming);
}

/// A request handed to a worker, with `reply`, the way back to whoever awaits it.
pub(crate) struct Job<R: Reply> {
    /// The request (`timing.spec`) and its timing so far.
    pub timing: RequestTiming,
    /// `None` only once [`Job::into_parts`] has taken it.
    reply: Option<R>,
    /// Some of its bytes went out on a connection that ended before its response: writing it
    /// again is a retry.
    pub sent_before: bool,
}

impl<R: Reply> Job<R> {
    pub(crate) fn new(timing: RequestTiming, reply: R) -> Self {
        Self {
            timing,
            reply: Some(reply),
            sent_before: false,
        }
    }

    /// Its timing and reply handle, for whoever settles it now.
    pub(crate) fn into_parts(mut self) -> (RequestTiming, R) {
        let reply = self
            .reply
            .take()
            .expect("a job's reply is taken once, by the into_parts that consumes it");
        (std::mem::take(&mut self.timing), reply)
    }
}

impl<R: Reply> Drop for Job<R> {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            reply.unsettled(std::mem::take(&mut self.timing));
        }
    }
}

/// A request settled: what to send back through its `reply`.
pub(crate) enum Outcome<R: Reply> {
    /// Its response is complete.
    Answered { reply: R, record: RequestRecord },
    /// It failed with `error`; the record takes the time it is handed back. `bytes`: its byte
    /// times on the connection it was written on (none if it was not): the time since it was
    /// sent is `wait`, or `receive` from a first response byte, not `blocked`.
    Failed {
        reply: R,
        timing: RequestTiming,
        bytes: ByteTimes,
        error: String,
    },
}

impl<R: Reply> Outcome<R> {
    /// The reply handle and the record to send through it, a failure timed at `now`.
    pub(crate) fn into_record(self, now: Duration) -> (R, RequestRecord) {
        match self {
            Self::Answered { reply, record } => (reply, record),
            Self::Failed {
                reply,
                timing,
                bytes,
                error,
            } => (reply, timing.fail_after(bytes, now, error)),
        }
    }
}

/// How a connection ended, for the worker's reconnect budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// No more requests will come and none is left: the worker is done.
    WorkloadDone,
    /// An end the protocol allows (`Connection: close`, an idle connection closed).
    Orderly,
    /// The server closed or broke the connection with requests unanswered.
    Unexpected,
}

/// The connection is over: how, and the close reason to record on its meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub end: End,
    pub close_reason: CloseReason,
}

impl Ended {
    pub(super) fn new(end: End, close_reason: CloseReason) -> Self {
        Self { end, close_reason }
    }
}

/// A request settled with `error` before any of it was written.
pub(super) fn failed<R: Reply>(job: Job<R>, error: String) -> Outcome<R> {
    failed_after(job, ByteTimes::default(), error)
}

/// A request settled with `error`, its bytes on the connection having gone as `bytes` says.
pub(super) fn failed_after<R: Reply>(job: Job<R>, bytes: ByteTimes, error: String) -> Outcome<R> {
    let (timing, reply) = job.into_parts();
    Outcome::Failed {
        reply,
        timing,
        bytes,
        error,
    }
}
