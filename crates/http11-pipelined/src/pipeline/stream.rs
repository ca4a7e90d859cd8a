//! Stream offsets on one connection: the bytes still to write, and when each read happened.
//!
//! [`Outgoing`] owns the written side: the requests committed to the connection as a queue of
//! segments (heads as bytes, bodies as a count of [`FILLER`] bytes, so a large body is never held
//! in memory), how far it has been written, and each request's offsets in the stream.
//! [`ReadLog`] owns the read side: which stream offsets each read covered and the clock when it
//! returned, so a response's first and last byte can be given the time of the read that carried
//! them. Neither does I/O nor reads a clock; times come in as arguments.

use crate::request::FILLER;
use std::collections::VecDeque;
use std::time::Duration;

/// The bytes committed to the connection and not yet written, as a queue of segments so that a
/// large body is written from [`FILLER`] rather than held in memory.
#[derive(Default)]
pub(super) struct Outgoing {
    segments: VecDeque<Segment>,
    /// How far into the front segment has been written.
    front_written: usize,
    /// Stream offset of the next byte to write.
    pub(super) written: u64,
    /// Stream offset just past the last byte committed.
    committed: u64,
}

enum Segment {
    Bytes(Vec<u8>),
    Filler(u64),
}

impl Outgoing {
    /// Commits a request; returns its offsets `start..end` in the written stream.
    pub(super) fn push(&mut self, head: &[u8], body_bytes: u64) -> (u64, u64) {
        let start = self.committed;
        self.committed += head.len() as u64 + body_bytes;
        // Heads written back to back share one buffer, so one write can carry several.
        match self.segments.back_mut() {
            Some(Segment::Bytes(bytes)) => bytes.extend_from_slice(head),
            _ => self.segments.push_back(Segment::Bytes(head.to_vec())),
        }
        if body_bytes > 0 {
            self.segments.push_back(Segment::Filler(body_bytes));
        }
        (start, self.committed)
    }

    /// The next bytes to write; empty when everything committed is written.
    pub(super) fn next_slice(&self) -> &[u8] {
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
    pub(super) fn advance(&mut self, n: usize) {
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
pub(super) struct ReadLog {
    spans: VecDeque<(u64, u64, Duration)>,
}

impl ReadLog {
    pub(super) fn push(&mut self, start: u64, n: usize, at: Duration) {
        self.spans.push_back((start, start + n as u64, at));
    }

    pub(super) fn time_of(&self, offset: u64) -> Option<Duration> {
        self.spans
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&offset))
            .map(|(_, _, at)| *at)
    }

    /// Forgets reads wholly before `offset`.
    pub(super) fn prune(&mut self, offset: u64) {
        while self.spans.front().is_some_and(|(_, end, _)| *end <= offset) {
            self.spans.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_streams_heads_and_filler_in_order() {
        let mut out = Outgoing::default();
        assert_eq!(out.push(b"GET /a\r\n\r\n", 0), (0, 10));
        assert_eq!(out.push(b"PUT /b\r\n\r\n", 20_000), (10, 20_020));
        assert_eq!(out.push(b"GET /c\r\n\r\n", 0), (20_020, 20_030));
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
