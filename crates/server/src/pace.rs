//! The request-body pace rule, as pure code: a body must bring at least `min_rate × interval`
//! bytes in every `interval` (`[server] min_body_rate` and `body_timeout`), or end within it.
//!
//! It owns the windows and the arithmetic; it reads no socket and keeps no clock: the caller
//! passes the instants (tokio's, so tests can drive them) and waits for `deadline` itself, on
//! hyper's body (`service.rs`) and in the pipelining loop's reader alike. Each window starts
//! as the previous one is judged, so a body that sends a burst and then trickles is judged on each window
//! alone, not on its average since the start.

use std::time::Duration;
use tokio::time::Instant;

/// One request body's progress against the rule.
#[derive(Debug, Clone)]
pub(crate) struct BodyPace {
    interval: Duration,
    /// Bytes each window must bring.
    needed: u64,
    window_end: Instant,
    in_window: u64,
}

/// A body that brought fewer bytes than a window needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body slower than its least rate: {got} bytes in {interval:?}, {needed} needed")]
pub(crate) struct TooSlow {
    pub got: u64,
    pub needed: u64,
    pub interval: Duration,
}

impl BodyPace {
    /// The rule for a body whose reading starts at `start`: `min_rate` bytes per second, judged
    /// every `interval`.
    pub(crate) fn new(start: Instant, interval: Duration, min_rate: u64) -> Self {
        let needed = (u128::from(min_rate) * interval.as_millis()).div_ceil(1000);
        BodyPace {
            interval,
            needed: u64::try_from(needed).unwrap_or(u64::MAX).max(1),
            window_end: start + interval,
            in_window: 0,
        }
    }

    /// When the current window ends: wait for more bytes until then, then call `window_over`.
    pub(crate) fn deadline(&self) -> Instant {
        self.window_end
    }

    /// `n` more body bytes arrived.
    pub(crate) fn arrived(&mut self, n: u64) {
        self.in_window = self.in_window.saturating_add(n);
    }

    /// The window ending at `deadline` is over (`now` is at or past it): the next window starts
    /// if this one brought enough, else the body is too slow.
    pub(crate) fn window_over(&mut self, now: Instant) -> Result<(), TooSlow> {
        if now < self.window_end {
            return Ok(());
        }
        if self.in_window < self.needed {
            return Err(TooSlow {
                got: self.in_window,
                needed: self.needed,
                interval: self.interval,
            });
        }
        self.in_window = 0;
        // The next window starts as this one is judged (a caller woken late loses nothing).
        self.window_end = now + self.interval;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_window_must_bring_its_share() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        // 1000 B/s judged every 2 s: 2000 bytes per window.
        let mut pace = BodyPace::new(start, 2 * second, 1000);
        assert_eq!(pace.deadline(), start + 2 * second);
        // Looking early changes nothing.
        pace.window_over(start + second).unwrap();
        pace.arrived(1500);
        pace.arrived(500);
        pace.window_over(start + 2 * second).unwrap();
        assert_eq!(pace.deadline(), start + 4 * second);
        // The burst of the first window does not carry over: the second must bring its own.
        pace.arrived(1999);
        assert_eq!(
            pace.window_over(start + 4 * second),
            Err(TooSlow {
                got: 1999,
                needed: 2000,
                interval: 2 * second
            })
        );
    }

    #[test]
    fn a_trickle_fails_its_first_window_and_tiny_rates_still_need_a_byte() {
        let start = Instant::now();
        // One byte every 5 s against 1000 B/s over 30 s.
        let mut pace = BodyPace::new(start, Duration::from_secs(30), 1000);
        for _ in 0..6 {
            pace.arrived(1);
        }
        assert!(pace.window_over(start + Duration::from_secs(30)).is_err());
        let mut pace = BodyPace::new(start, Duration::from_millis(10), 1);
        assert!(pace.window_over(start + Duration::from_millis(10)).is_err());
        pace.arrived(1);
        pace.window_over(start + Duration::from_millis(10)).unwrap();
        // Looked at late: the next window runs from then.
        pace.arrived(1);
        pace.window_over(start + Duration::from_secs(1)).unwrap();
        assert_eq!(pace.deadline(), start + Duration::from_millis(1010));
    }
}
