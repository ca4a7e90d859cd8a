//! One connection's state: the requests in flight on it, the bytes still to write, the reads.
//!
//! It owns the per-request byte times: each write's stream offsets are shared out among the
//! requests it carried ([`Conn::wrote`]), and a completed response takes the times of the reads
//! that carried its first and last byte ([`Conn::answer`]). It deliberately decides nothing about
//! which requests go on the connection or what happens when it ends (`mod.rs`), and does no I/O.

use super::job::{Outcome, Reply};
use super::stream::{Outgoing, ReadLog};
use super::Job;
use crate::parse::{ParsedResponse, ResponseParser};
use httplab_transport::{ByteTimes, ResponseSummary, Setup};
use std::collections::VecDeque;
use std::time::Duration;

/// A request written (or being written) on the connection and not answered yet.
pub(super) struct InFlight<R: Reply> {
    pub(super) job: Job<R>,
    pub(super) idempotent: bool,
    /// Its bytes' offsets in the written stream: `start..end`.
    start: u64,
    end: u64,
    /// Its write times and bytes so far; reads are added when the response completes.
    pub(super) bytes: ByteTimes,
}

/// One connection's state: what is in flight, what is still to write, what was read when.
pub(super) struct Conn<R: Reply> {
    pub(super) id: u32,
    setup: Setup,
    /// Whether a request has been put on it (the first one pays for the connection).
    used: bool,
    /// Responses it has completed.
    answered: u64,
    pub(super) parser: ResponseParser,
    pub(super) in_flight: VecDeque<InFlight<R>>,
    pub(super) out: Outgoing,
    pub(super) reads: ReadLog,
    /// A write failed: nothing more is written, and the connection ends once nothing is in flight.
    pub(super) write_error: Option<String>,
}

impl<R: Reply> Conn<R> {
    pub(super) fn new(id: u32, setup: Setup) -> Self {
        Self {
            id,
            setup,
            used: false,
            answered: 0,
            parser: ResponseParser::new(),
            in_flight: VecDeque::new(),
            out: Outgoing::default(),
            reads: ReadLog::default(),
            write_error: None,
        }
    }

    /// Puts `job` on the connection, written as `head` and then `body_bytes` of filler.
    pub(super) fn push(&mut self, mut job: Job<R>, idempotent: bool, head: &[u8], body_bytes: u64) {
        job.timing.connection = Some(self.id);
        job.timing.new_connection = (!self.used).then_some(self.setup);
        self.used = true;
        self.parser.expect(&job.timing.spec.method);
        let (start, end) = self.out.push(head, body_bytes);
        self.in_flight.push_back(InFlight {
            job,
            idempotent,
            start,
            end,
            bytes: ByteTimes::default(),
        });
    }

    /// `n` bytes from `out` were written by a call that began at `started` and returned at
    /// `done`: every request they belong to gets its share.
    pub(super) fn wrote(&mut self, n: usize, started: Duration, done: Duration) {
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

    /// Whether it has answered a request: a request on it now is on a reused connection.
    pub(super) fn reused(&self) -> bool {
        self.answered > 0
    }

    /// Completes the oldest request with `response`.
    pub(super) fn answer(&mut self, response: ParsedResponse, outcomes: &mut Vec<Outcome<R>>) {
        let Some(f) = self.in_flight.pop_front() else {
            return;
        };
        self.answered += 1;
        let mut bytes = f.bytes;
        bytes.bytes_read = response.wire_bytes();
        bytes.first_read = self.reads.time_of(response.first_byte);
        bytes.last_read = self.reads.time_of(response.last_byte());
        let summary = ResponseSummary {
            status: response.status,
            http_version: response.http_version.into(),
            headers: response.headers,
            body_bytes: response.body_bytes,
            connection_close: response.connection_close,
            error: None,
        };
        let (timing, reply) = f.job.into_parts();
        outcomes.push(Outcome::Answered {
            reply,
            record: timing.finish(bytes, summary),
        });
    }
}
