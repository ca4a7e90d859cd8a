//! One direction of a connection, as its sender lived it: the sequence space it used (every
//! range sent, when first and last, and whether the link ever delivered it), and what its
//! receiver told it in the segments the link delivered (the highest ACK, the window's right
//! edge, duplicate ACKs and SACK blocks). From that it derives the direction's rounds, each
//! retransmission and its cause, the bytes in flight, the receive-window-full time and the
//! zero-window episodes, as `httplab_core::tcp_trace` defines them.
//!
//! Sequence numbers are unwrapped to 64-bit offsets around the last one seen, so a stream may
//! cross 2^32 any number of times. Pure code; it never panics on any sequence of segments.

use super::TcpHeader;
use httplab_core::tcp_trace::{
    RetransmissionKind, WireDirection, WireRetransmission, WireRound, ZeroWindow,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The most rounds, retransmissions and zero-window episodes listed per direction (each is
/// counted in full).
pub(crate) const MAX_LISTED: usize = 10_000;
/// Linux's minimum retransmission timeout: a retransmission without ACK evidence after this much
/// silence is a timeout.
pub(crate) const MIN_RTO: Duration = Duration::from_millis(200);
/// Duplicate ACKs that trigger fast retransmit (RFC 5681).
const DUPACK_THRESHOLD: u32 = 3;

/// An offset as the records give it: never below 0 (a SYN's sequence number is −1).
fn offset(x: i64) -> u64 {
    u64::try_from(x).unwrap_or(0)
}

/// A range of sequence numbers sent before, `[its key, end)`.
#[derive(Debug, Clone, Copy)]
struct Sent {
    end: i64,
    /// Its first transmission's stamp.
    first_at: Duration,
    /// Its latest transmission's stamp.
    last_at: Duration,
    /// Whether the link delivered any of its transmissions.
    delivered: bool,
}

/// A receiver's ACK that is evidence of loss to the sender.
#[derive(Debug, Clone, Copy)]
struct Evidence {
    at: Duration,
    ack: i64,
    /// A duplicate ACK (RFC 5681: no data, no SYN/FIN, same ACK number and window as the
    /// previous ACK, with data outstanding).
    duplicate: bool,
    /// The highest left edge of its SACK blocks above the ACK number (D-SACK blocks excluded).
    sack_above: Option<i64>,
}

/// A recovery the sender is in: begun by a `fast` or `rto` retransmission, over until the
/// receiver acknowledges `until` (everything sent before it began).
#[derive(Debug, Clone, Copy)]
struct Recovery {
    kind: RetransmissionKind,
    until: i64,
}

/// The round being sent.
#[derive(Debug, Clone, Copy)]
struct Round {
    index: u64,
    first_at: Duration,
    last_at: Duration,
    start: i64,
    end: i64,
    segments: u64,
    bytes: u64,
}

/// One direction: the sender's sequence space and what the receiver told it.
#[derive(Default)]
pub(super) struct Flow {
    /// The sequence number of offset 0.
    pub(super) base: Option<u32>,
    /// The last offset unwrapped: the next is taken within 2^31 of it.
    reference: i64,
    /// One past the highest sequence number sent.
    highest_end: Option<i64>,
    /// The lowest sequence number sent (in flight before any ACK counts from it).
    lowest_start: Option<i64>,
    /// The stamp of the last segment that took sequence space.
    last_send_at: Option<Duration>,
    /// Every range sent, disjoint, by start.
    sent: BTreeMap<i64, Sent>,
    /// Scratch: the never-sent ranges of the segment being sent.
    gaps: Vec<(i64, i64)>,
    /// The highest ACK number delivered to the sender.
    pub(super) acked: Option<i64>,
    /// The right edge of the last window delivered (ACK number + scaled window).
    right_edge: Option<i64>,
    /// The raw window of the last ACK delivered (for duplicate ACKs).
    last_window: Option<u16>,
    evidence: Vec<Evidence>,
    recovery: Option<Recovery>,
    round: Option<Round>,
    pub(super) max_payload: u64,
    full_since: Option<Duration>,
    window_full: Duration,
    zero_since: Option<Duration>,
    /// Segments that carried never-sent numbers below the highest sent.
    reordered: u64,
    /// ACKs of numbers never sent.
    ack_unsent: u64,
    /// Lists that reached [`MAX_LISTED`].
    capped: bool,
    pub(super) out: WireDirection,
}

impl Flow {
    /// `seq` as an offset, without moving the reference.
    fn relative(&self, seq: u32) -> i64 {
        let rel = seq.wrapping_sub(self.base.unwrap_or(seq));
        // Truncating the reference keeps its low 32 bits: the distance is taken modulo 2^32.
        let delta = rel.wrapping_sub(self.reference as u32) as i32;
        self.reference + i64::from(delta)
    }

    /// `seq` as an offset (the first number seen is offset 0 when no SYN set the base).
    pub(super) fn unwrap(&mut self, seq: u32) -> i64 {
        self.base.get_or_insert(seq);
        let value = self.relative(seq);
        self.reference = value;
        value
    }

    /// Splits the range containing `at` (strictly inside it) in two.
    fn split(&mut self, at: i64) {
        let Some((&start, sent)) = self.sent.range_mut(..at).next_back() else {
            return;
        };
        if sent.end > at && start < at {
            let tail = *sent;
            sent.end = at;
            self.sent.insert(at, tail);
        }
    }

    /// A segment taking `[start, start + h.seq_len())`; returns whether it was a
    /// retransmission.
    pub(super) fn transmit(
        &mut self,
        at: Duration,
        start: i64,
        h: &TcpHeader,
        dropped: bool,
    ) -> bool {
        let end = start + i64::from(h.seq_len());
        let data_start = start + i64::from(h.syn());
        let data_end = data_start + i64::from(h.payload_len);
        let payload = u64::from(h.payload_len);
        let highest_before = self.highest_end;
        self.split(start);
        self.split(end);

        // What was sent before within the range, and the never-sent gaps.
        self.gaps.clear();
        let mut cursor = start;
        let mut earlier: Option<(i64, Sent)> = None;
        let mut needed = false;
        for (&s, sent) in self.sent.range_mut(start..end) {
            if s > cursor {
                self.gaps.push((cursor, s));
            }
            if earlier.is_none() {
                earlier = Some((s, *sent));
            }
            needed |= !sent.delivered;
            sent.delivered |= !dropped;
            sent.last_at = at;
            cursor = sent.end;
        }
        if cursor < end {
            self.gaps.push((cursor, end));
        }

        let mut new_bytes = 0u64;
        let mut new_range: Option<(i64, i64)> = None;
        let mut reordered = false;
        for &(gap_start, gap_end) in &self.gaps {
            self.sent.insert(
                gap_start,
                Sent {
                    end: gap_end,
                    first_at: at,
                    last_at: at,
                    delivered: !dropped,
                },
            );
            reordered |= highest_before.is_some_and(|high| gap_start < high);
            let (ns, ne) = (gap_start.max(data_start), gap_end.min(data_end));
            if ns < ne {
                new_bytes += offset(ne - ns);
                new_range = Some(new_range.map_or((ns, ne), |(a, b)| (a.min(ns), b.max(ne))));
            }
        }
        if reordered {
            self.reordered += 1;
        }
        self.highest_end = Some(highest_before.map_or(end, |high| high.max(end)));
        self.lowest_start = Some(self.lowest_start.map_or(start, |low| low.min(start)));

        if payload > 0 {
            self.out.data_segments += 1;
            self.out.payload_bytes += payload;
            self.max_payload = self.max_payload.max(payload);
        }
        if let Some((ns, ne)) = new_range {
            self.out.new_data_segments += 1;
            self.out.new_payload_bytes += new_bytes;
            self.extend_round(at, ns, ne, new_bytes);
        }
        let retransmission = earlier.is_some();
        if let Some((first, original)) = earlier {
            let kind = self.classify(at, first, original.last_at, highest_before.unwrap_or(end));
            self.record_retransmission(WireRetransmission {
                at,
                original_at: original.first_at,
                offset: offset(data_start),
                length: payload,
                syn: h.syn(),
                fin: h.fin(),
                original_dropped: needed,
                kind,
            });
        }
        self.last_send_at = Some(at);
        if let (Some(high), Some(low)) = (self.highest_end, self.acked.or(self.lowest_start)) {
            self.out.max_in_flight = self.out.max_in_flight.max(offset(high - low));
        }
        retransmission
    }

    /// Why the sequence number `first`, last sent at `previous`, was sent again at `at`;
    /// `high` is the highest sent before (where a recovery it begins ends).
    fn classify(
        &mut self,
        at: Duration,
        first: i64,
        previous: Duration,
        high: i64,
    ) -> RetransmissionKind {
        let silence = self
            .last_send_at
            .map_or(Duration::ZERO, |last| at.saturating_sub(last));
        let kind = if self.evidence(previous, at, first) {
            RetransmissionKind::Fast
        } else if silence >= MIN_RTO {
            RetransmissionKind::Rto
        } else if let Some(recovery) = self.recovery {
            recovery.kind
        } else {
            RetransmissionKind::TailLossProbe
        };
        match (kind, self.recovery) {
            (RetransmissionKind::Rto, _) | (RetransmissionKind::Fast, None) => {
                self.recovery = Some(Recovery { kind, until: high });
            }
            _ => {}
        }
        kind
    }

    /// Whether the receiver sent, after `after` and before `until`, three duplicate ACKs at or
    /// below `offset` or a SACK block above it.
    fn evidence(&self, after: Duration, until: Duration, offset: i64) -> bool {
        let from = self.evidence.partition_point(|e| e.at <= after);
        let mut duplicates = 0;
        for e in &self.evidence[from..] {
            if e.at >= until {
                break;
            }
            if e.sack_above.is_some_and(|left| left > offset) {
                return true;
            }
            if e.duplicate && e.ack <= offset {
                duplicates += 1;
                if duplicates >= DUPACK_THRESHOLD {
                    return true;
                }
            }
        }
        false
    }

    fn record_retransmission(&mut self, r: WireRetransmission) {
        let out = &mut self.out;
        out.retransmitted_segments += 1;
        out.retransmitted_bytes += r.length;
        match r.kind {
            RetransmissionKind::Fast => out.fast_retransmits += 1,
            RetransmissionKind::Rto => out.rto_retransmits += 1,
            RetransmissionKind::TailLossProbe => out.tail_loss_probes += 1,
        }
        if !r.original_dropped {
            out.spurious_retransmits += 1;
        }
        if out.retransmissions.len() < MAX_LISTED {
            out.retransmissions.push(r);
        } else {
            self.capped = true;
        }
    }

    /// New data `[start, end)` sent at `at`: in the current round, or the first of a new one
    /// if the sender has been delivered an ACK of the current round's first byte.
    fn extend_round(&mut self, at: Duration, start: i64, end: i64, bytes: u64) {
        let acked = self.acked;
        match &mut self.round {
            Some(round) if acked.is_none_or(|a| a <= round.start) => {
                round.last_at = at;
                round.start = round.start.min(start);
                round.end = round.end.max(end);
                round.segments += 1;
                round.bytes += bytes;
            }
            _ => {
                self.close_round();
                self.out.round_count += 1;
                self.round = Some(Round {
                    index: self.out.round_count,
                    first_at: at,
                    last_at: at,
                    start,
                    end,
                    segments: 1,
                    bytes,
                });
            }
        }
    }

    fn close_round(&mut self) {
        let Some(r) = self.round.take() else {
            return;
        };
        if self.out.rounds.len() < MAX_LISTED {
            self.out.rounds.push(WireRound {
                index: r.index,
                first_sent_at: r.first_at,
                last_sent_at: r.last_at,
                start: offset(r.start),
                end: offset(r.end),
                segments: r.segments,
                bytes: r.bytes,
            });
        } else {
            self.capped = true;
        }
    }

    /// The receiver's segment `h`, delivered at `at`, acknowledging this direction;
    /// `window` is its advertised window in bytes, when the scale is known.
    pub(super) fn on_ack(&mut self, at: Duration, h: &TcpHeader, window: Option<u64>) {
        let ack = self.unwrap(h.ack);
        if self.highest_end.is_some_and(|high| ack > high) {
            self.ack_unsent += 1;
        }
        let previous = self.acked;
        let duplicate = h.seq_len() == 0
            && previous == Some(ack)
            && self.last_window == Some(h.window)
            && self.highest_end.is_some_and(|high| high > ack);
        // An ACK older than one already delivered (reordered) says nothing new.
        if previous.is_none_or(|a| ack >= a) {
            if previous.is_none_or(|a| ack > a) {
                self.acked = Some(ack);
                if self.recovery.is_some_and(|r| ack >= r.until) {
                    self.recovery = None;
                }
            }
            self.right_edge = window.map(|w| ack.saturating_add(i64::try_from(w).unwrap_or(0)));
            self.last_window = Some(h.window);
            self.zero_window(at, h.window == 0);
        }
        let sack_above = h
            .sack_blocks()
            .iter()
            .map(|&(left, _)| self.relative(left))
            .filter(|&left| left >= ack)
            .max();
        if duplicate || sack_above.is_some() {
            self.evidence.push(Evidence {
                at,
                ack,
                duplicate,
                sack_above,
            });
        }
    }

    fn zero_window(&mut self, at: Duration, zero: bool) {
        match (zero, self.zero_since) {
            (true, None) => {
                self.zero_since = Some(at);
                self.out.zero_window_count += 1;
            }
            (false, Some(start)) => {
                self.zero_since = None;
                self.close_zero_window(start, at, Some(at));
            }
            _ => {}
        }
    }

    fn close_zero_window(&mut self, start: Duration, until: Duration, end: Option<Duration>) {
        self.out.zero_window += until.saturating_sub(start);
        if self.out.zero_windows.len() < MAX_LISTED {
            self.out.zero_windows.push(ZeroWindow { start, end });
        } else {
            self.capped = true;
        }
    }

    /// Whether the window left less than one MSS, brought up to `at`.
    pub(super) fn track_full(&mut self, at: Duration, mss: u64) {
        let full = match (self.right_edge, self.highest_end) {
            (Some(edge), Some(high)) => edge - high < i64::try_from(mss).unwrap_or(i64::MAX),
            _ => false,
        };
        match (full, self.full_since) {
            (true, None) => self.full_since = Some(at),
            (false, Some(since)) => {
                self.window_full += at.saturating_sub(since);
                self.full_since = None;
            }
            _ => {}
        }
    }

    pub(super) fn notes(&self, name: &str, notes: &mut Vec<String>) {
        if self.reordered > 0 {
            notes.push(format!(
                "{} {name} segment(s) carried sequence numbers below the highest already sent \
                 that had never been sent: out of order at the link's entry, counted as new data",
                self.reordered
            ));
        }
        if self.ack_unsent > 0 {
            notes.push(format!(
                "{} ACK(s) acknowledged {name} sequence numbers never seen sent",
                self.ack_unsent
            ));
        }
        if self.capped {
            notes.push(format!(
                "only the first {MAX_LISTED} of the {name}'s rounds, retransmissions or \
                 zero-window episodes are listed; the counts are complete"
            ));
        }
    }

    /// The direction's record, its open round, zero window and full window closed at
    /// `last_at`.
    pub(super) fn finish(&mut self, last_at: Duration, scale_known: bool) -> WireDirection {
        self.close_round();
        if let Some(start) = self.zero_since.take() {
            self.close_zero_window(start, last_at, None);
        }
        if let Some(since) = self.full_since.take() {
            self.window_full += last_at.saturating_sub(since);
        }
        self.out.receive_window_full = scale_known.then_some(self.window_full);
        std::mem::take(&mut self.out)
    }
}
