//! One connection's sending side, counted in segments as Linux's congestion window counts
//! them: the walk the analytical model runs for every connection of a page.
//!
//! It owns turning the server's writes into segments (a write fills the last segment still
//! waiting in the socket, then takes new ones of at most [`MSS`] bytes: what Linux's
//! `tcp_sendmsg` does with data the window has not let go yet), the congestion window (the
//! initial window of [`INITIAL_WINDOW_SEGMENTS`], one more segment per segment acknowledged,
//! as slow start without loss grows it), the segments in flight, and the flights as the wire
//! trace counts its rounds (`httplab_core::tcp_trace::WireRound`: a flight begins when a
//! segment leaves after the acknowledgement of the current flight's first segment). Time is
//! an argument, on the lab's one clock: a segment sent at `t` reaches the client at `t + R/2`
//! and its acknowledgement reaches the sender at `t + R`. It deliberately knows nothing of
//! HTTP, TLS or framing (the caller hands it byte counts), nor of loss, the link's rate,
//! delayed ACKs or pacing.
//!
//! Linux grows the window in slow start only while the sender uses it (`tcp_is_cwnd_limited`:
//! the window is under twice what was in flight); the walk grows it on every acknowledgement.
//! The two differ only for a connection that never filled half its window and later sends
//! more than that window: not a page the lab's scenarios load.

use super::{INITIAL_WINDOW_SEGMENTS, MSS};
use std::collections::VecDeque;
use std::time::Duration;

/// One flight (a round trip in which the sender sent new data): when its first segment left
/// and how many segments it sent, control segments included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flight {
    pub first_sent_at: Duration,
    pub segments: u64,
}

/// The sending side of one connection (the server's, in the model).
#[derive(Debug, Clone)]
pub struct Sender {
    rtt: Duration,
    /// The congestion window, in segments.
    window: u64,
    /// The time the walk has reached: nothing happens before it any more.
    now: Duration,
    /// When the acknowledgement of each segment in flight reaches the sender, oldest first.
    acks: VecDeque<Duration>,
    /// Payload bytes of each segment written and not yet sent, oldest first; a control
    /// segment counts as full, so nothing joins it.
    unsent: VecDeque<u64>,
    /// When each segment sent left, by number (the first segment written is number 0).
    sent_at: Vec<Duration>,
    flights: Vec<Flight>,
}

impl Sender {
    /// A fresh connection on a path of round trip `rtt`: the initial window, nothing sent.
    pub fn new(rtt: Duration) -> Self {
        Self {
            rtt,
            window: INITIAL_WINDOW_SEGMENTS,
            now: Duration::ZERO,
            acks: VecDeque::new(),
            unsent: VecDeque::new(),
            sent_at: Vec::new(),
            flights: Vec::new(),
        }
    }

    /// The congestion window now, in segments.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The flights so far.
    pub fn flights(&self) -> &[Flight] {
        &self.flights
    }

    /// `segments` control segments written at `at` (TLS session tickets, HTTP/2 SETTINGS),
    /// each a segment of its own. A time before the walk's present counts as the present.
    pub fn control(&mut self, at: Duration, segments: u64) {
        self.advance(at);
        self.unsent.extend((0..segments).map(|_| MSS));
        self.send();
    }

    /// `bytes` written at `at` in one write (a time before the walk's present counts as the
    /// present). Returns the number of the segment that carries its last byte; an empty write
    /// counts as one byte.
    pub fn write(&mut self, at: Duration, bytes: u64) -> u64 {
        self.advance(at);
        let mut left = bytes.max(1);
        if let Some(tail) = self.unsent.back_mut() {
            let room = (MSS - *tail).min(left);
            *tail += room;
            left -= room;
        }
        while left > 0 {
            let payload = left.min(MSS);
            self.unsent.push_back(payload);
            left -= payload;
        }
        let last = (self.sent_at.len() + self.unsent.len()) as u64 - 1;
        self.send();
        last
    }

    /// When segment number `segment` reaches the client: the walk goes on from
    /// acknowledgement to acknowledgement until it has left. `None` if it was never written.
    pub fn delivered(&mut self, segment: u64) -> Option<Duration> {
        let n = usize::try_from(segment).ok()?;
        while n >= self.sent_at.len() {
            let ack = self.acks.pop_front()?;
            self.acknowledged(ack);
        }
        Some(self.sent_at[n] + self.rtt / 2)
    }

    /// Takes in every acknowledgement that reaches the sender by `to`.
    fn advance(&mut self, to: Duration) {
        while let Some(&ack) = self.acks.front() {
            if ack > to {
                break;
            }
            self.acks.pop_front();
            self.acknowledged(ack);
        }
        self.now = self.now.max(to);
    }

    /// One segment acknowledged at `at`: the window grows by one and lets what it can go.
    fn acknowledged(&mut self, at: Duration) {
        self.now = self.now.max(at);
        self.window += 1;
        self.send();
    }

    /// Sends waiting segments now while the window has room.
    fn send(&mut self) {
        while (self.acks.len() as u64) < self.window {
            if self.unsent.pop_front().is_none() {
                break;
            }
            let now = self.now;
            self.sent_at.push(now);
            self.acks.push_back(now + self.rtt);
            match self.flights.last_mut() {
                Some(f) if now < f.first_sent_at + self.rtt => f.segments += 1,
                _ => self.flights.push(Flight {
                    first_sent_at: now,
                    segments: 1,
                }),
            }
        }
    }
}

/// F(S): the flights `bytes` written at once need on a fresh connection with nothing else
/// to send (at least one).
pub fn cold_flights(bytes: u64) -> u32 {
    let mut sender = Sender::new(Duration::from_secs(1));
    let last = sender.write(Duration::ZERO, bytes);
    let _ = sender.delivered(last);
    sender.flights().len() as u32
}
