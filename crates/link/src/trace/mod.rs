//! TCP from the wire: a record of every TCP packet the relay carries, and the per-connection
//! analysis of it (handshakes, rounds, retransmissions and their causes, receive windows) that
//! a run's `RunRecord::wire` holds (`httplab_core::tcp_trace`).
//!
//! - `segment`: the header facts of one packet, parsed from its bytes into a `Copy` value;
//! - this module: the recording, cheap enough for the relay's reader threads. A reader keeps a
//!   [`Batch`] of its own (no lock, no allocation per packet beyond a `Vec` push) and hands it
//!   to its direction's shared [`TraceLog`] once per batch, before the batch's packets are
//!   queued for delivery, so a packet's observation is in the log by the time it is delivered.
//!   A log holds at most [`MAX_OBSERVATIONS`]; beyond that it stops recording and says so;
//! - `analyze` and `flow`: the pure analysis, [`analyze`] — per connection, then per direction
//!   — driven in the unit tests by packets built as bytes, with injected stamps.
//!
//! It owns none of the relay's threads or decisions: the reader gives it each packet's stamp,
//! way and fate. It knows TCP, never HTTP.

mod analyze;
mod flow;
mod segment;
#[cfg(test)]
mod tests;

pub use analyze::analyze;
pub use segment::{TcpHeader, ACK, FIN, MAX_SACK_BLOCKS, MAX_WINDOW_SCALE, PSH, RST, SYN};

use crate::handshake::Way;
use httplab_core::tcp_trace::WireTrace;
use std::time::Duration;

/// The most observations one direction's log keeps per run (about 90 MB at the most); the rest
/// of the run is not recorded and the trace is marked `truncated`.
pub const MAX_OBSERVATIONS: usize = 1_000_000;

/// One TCP packet as it entered the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The relay's arrival stamp (lab clock offset).
    pub at: Duration,
    /// Which way it crossed.
    pub way: Way,
    /// Whether the link dropped it (loss model or full queue). A packet the far TUN device
    /// then refused counts as delivered here; the link's self-check counts those (`drops.tun`).
    pub dropped: bool,
    pub header: TcpHeader,
}

/// What one reader recorded since it last handed over.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    observations: Vec<Observation>,
    skipped: u64,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records one packet: its TCP facts, or a skipped packet if it is not IPv4 TCP.
    pub(crate) fn record(&mut self, at: Duration, way: Way, dropped: bool, packet: &[u8]) {
        match TcpHeader::parse(packet) {
            Some(header) => self.observations.push(Observation {
                at,
                way,
                dropped,
                header,
            }),
            None => self.skipped += 1,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.observations.is_empty() && self.skipped == 0
    }
}

/// One direction's record of a run.
#[derive(Debug)]
pub(crate) struct TraceLog {
    observations: Vec<Observation>,
    skipped: u64,
    truncated: bool,
    /// The most observations it keeps.
    limit: usize,
}

impl Default for TraceLog {
    fn default() -> Self {
        Self::with_limit(MAX_OBSERVATIONS)
    }
}

impl TraceLog {
    /// A log of at most [`MAX_OBSERVATIONS`].
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A log of at most `limit` observations.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            observations: Vec::new(),
            skipped: 0,
            truncated: false,
            limit,
        }
    }

    /// Moves `batch` in (keeping the batch's allocation for reuse), up to its limit; past the
    /// bound the log is marked truncated and records no more.
    pub(crate) fn append(&mut self, batch: &mut Batch) {
        self.skipped += batch.skipped;
        batch.skipped = 0;
        let room = self.limit.saturating_sub(self.observations.len());
        if batch.observations.len() > room {
            self.truncated = true;
        }
        let take = batch.observations.len().min(room);
        self.observations.extend(batch.observations.drain(..take));
        batch.observations.clear();
    }

    /// Observations held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.observations.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.observations.is_empty()
    }

    /// Whether the log reached its bound.
    #[cfg(test)]
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// Empties the log, giving its memory back.
    pub(crate) fn clear(&mut self) {
        *self = Self::with_limit(self.limit);
    }

    /// The log so far, leaving this one empty (with the same limit).
    pub(crate) fn take(&mut self) -> TraceLog {
        std::mem::replace(self, Self::with_limit(self.limit))
    }
}

/// Merges both directions' logs by stamp and analyses them ([`analyze`]).
pub(crate) fn analyze_logs(logs: impl IntoIterator<Item = TraceLog>) -> WireTrace {
    let mut observations = Vec::new();
    let (mut skipped, mut truncated) = (0, false);
    for log in logs {
        skipped += log.skipped;
        truncated |= log.truncated;
        if observations.is_empty() {
            observations = log.observations;
        } else {
            observations.extend(log.observations);
        }
    }
    analyze(observations, skipped, truncated)
}
