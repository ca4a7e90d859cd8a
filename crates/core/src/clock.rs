//! The lab's one clock. Client, server and link events are all offsets from the same monotonic
//! epoch, so they can be compared directly; the wall-clock time of the epoch is kept only to
//! print dates (HAR's `startedDateTime`). Reading a monotonic clock is not I/O; tests that need
//! determinism build records with literal offsets instead.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic epoch shared by everything in one run. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
    epoch_unix: Duration,
}

impl Clock {
    /// Starts a clock whose zero is now.
    pub fn start() -> Self {
        let epoch_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            epoch: Instant::now(),
            epoch_unix,
        }
    }

    /// Time elapsed since the epoch.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The offset of an `Instant` taken elsewhere (saturating at zero if it predates the epoch).
    pub fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.epoch)
    }

    /// Wall-clock time of the epoch, since the Unix epoch.
    pub fn epoch_unix(&self) -> Duration {
        self.epoch_unix
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::start()
    }
}
