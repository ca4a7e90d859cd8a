//! Kernel stamps: when the kernel handed each packet to a TUN device, which is when the packet
//! entered the link, rather than when the relay's reader woke up and read it.
//!
//! A reader blocked in `poll` takes tens to hundreds of microseconds to wake on an idle vCPU;
//! stamping a packet at the read adds that to every crossing, unseen by the lateness histogram
//! (the deadline is computed from the late stamp). So each TUN device also has a packet tap: a
//! packet socket bound to the device in its namespace that sees every packet the kernel
//! transmits on it, with the kernel's timestamp (`SO_TIMESTAMPNS`). The kernel hands the tap its
//! copy just before it queues the packet for the TUN reader (`dev_queue_xmit_nit`, then the
//! driver's transmit), so when the reader holds a packet, the tap's copy of it is already
//! waiting, in the same order. [`KernelStamps::arrival`] matches the two by length and leading
//! bytes and converts the stamp, taken on `CLOCK_REALTIME`, to the lab's monotonic clock with an
//! offset it measures at the start and again every [`REMEASURE`] (so a step or slew of the
//! wall clock during a long run costs at most one interval's error). The reader's wake-up then
//! hides inside the emulated delay instead of adding to it.
//!
//! A packet whose copy cannot be found (the tap's buffer overflowed, or the kernel attached no
//! stamp) is stamped at the read as before, and counted; a host that refuses packet sockets
//! stamps every packet at the read, and the link's record says which stamping it used and why.
//!
//! It owns the tap, the matching and the clock mapping; it does not decide a packet's fate
//! (`model`) or move it (`relay`).

use crate::sys::{self, Stamped, TAP_SNAPLEN};
use httplab_core::Clock;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the realtime → lab clock offset is measured again.
pub(crate) const REMEASURE: Duration = Duration::from_secs(1);
/// The tap's receive buffer: thousands of copies, more than a TUN device's queue holds, so the
/// tap never overflows before the device does.
const TAP_RCVBUF: usize = 16 << 20;
/// The most unmatched copies kept (a copy whose packet the device dropped is never matched).
const MAX_COPIES: usize = 4096;
/// A stamp later than the read by more than this is a mapping error, not a packet from the
/// future: it is clamped to the read time.
const MAX_AHEAD: Duration = Duration::from_micros(100);
/// A stamp earlier than the read by more than this is distrusted (a wall-clock step between
/// measurements of the offset): the packet is stamped at the read instead.
const MAX_BEHIND: Duration = Duration::from_secs(1);
/// Readings of both clocks taken to measure the offset; the tightest one wins.
const OFFSET_READINGS: usize = 7;

/// How a packet's arrival at the link was stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// By the kernel, as it handed the packet to the device; `read_delay` is how much later
    /// the reader read it.
    Kernel { read_delay: Duration },
    /// By the reader, when it read the packet.
    Reader,
}

/// One copy from the tap, waiting for its packet.
struct Copy {
    len: usize,
    prefix: [u8; TAP_SNAPLEN as usize],
    copied: usize,
    at_unix: Option<Duration>,
}

impl Copy {
    /// The same leading bytes, and the same length: a copy the filter cut to
    /// [`TAP_SNAPLEN`] bytes is of a longer packet, whose length field (IPv4's total length, in
    /// the first four bytes) is among the bytes compared.
    fn matches(&self, packet: &[u8]) -> bool {
        let cut = self.len >= TAP_SNAPLEN as usize;
        let same_len = if cut {
            packet.len() >= self.len
        } else {
            packet.len() == self.len
        };
        same_len
            && packet.len() >= self.copied
            && self.prefix[..self.copied] == packet[..self.copied]
    }
}

/// The offset between `CLOCK_REALTIME` and the lab clock, and when it was measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RealtimeMap {
    /// Realtime (ns since the Unix epoch) minus lab time (ns since the clock's epoch).
    offset_ns: i128,
    /// Lab time of the measurement.
    measured_at: Duration,
    /// Uncertainty of the measurement: the time between the two realtime readings.
    spread: Duration,
}

impl RealtimeMap {
    /// Measures the offset now: realtime, lab, realtime read back to back, several times;
    /// the reading whose two realtime readings are closest wins, and the lab reading is taken
    /// to sit midway between them.
    pub(crate) fn measure(clock: &Clock) -> Self {
        let mut best: Option<Self> = None;
        for _ in 0..OFFSET_READINGS {
            let before = unix_now();
            let lab = clock.now();
            let after = unix_now();
            let spread = after.saturating_sub(before);
            let mid = before + spread / 2;
            let candidate = Self {
                offset_ns: mid.as_nanos() as i128 - lab.as_nanos() as i128,
                measured_at: lab,
                spread,
            };
            if best.is_none_or(|b| candidate.spread < b.spread) {
                best = Some(candidate);
            }
        }
        best.unwrap_or_else(|| unreachable!("OFFSET_READINGS > 0"))
    }

    /// A map with a known offset (for tests).
    #[cfg(test)]
    pub(crate) fn with_offset(offset_ns: i128, measured_at: Duration) -> Self {
        Self {
            offset_ns,
            measured_at,
            spread: Duration::ZERO,
        }
    }

    /// The lab time of a realtime stamp; `None` before the lab clock's epoch.
    pub(crate) fn to_lab(self, at_unix: Duration) -> Option<Duration> {
        let ns = at_unix.as_nanos() as i128 - self.offset_ns;
        u64::try_from(ns).ok().map(Duration::from_nanos)
    }

    /// How far this map's offset is from `other`'s.
    pub(crate) fn step_from(&self, other: &Self) -> Duration {
        Duration::from_nanos(
            u64::try_from((self.offset_ns - other.offset_ns).abs()).unwrap_or(u64::MAX),
        )
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The tap of one TUN device and the copies read from it but not yet matched.
pub(crate) struct KernelStamps {
    tap: OwnedFd,
    clock: Clock,
    map: RealtimeMap,
    copies: VecDeque<Copy>,
    buf: [u8; TAP_SNAPLEN as usize],
}

impl KernelStamps {
    /// Opens the tap on the device `name` of the calling thread's namespace.
    pub(crate) fn open(name: &str, clock: Clock) -> io::Result<Self> {
        let tap = sys::packet_tap_open(name, TAP_RCVBUF)?;
        Ok(Self {
            tap,
            clock,
            map: RealtimeMap::measure(&clock),
            copies: VecDeque::new(),
            buf: [0; TAP_SNAPLEN as usize],
        })
    }

    /// When the kernel handed `packet` to the device, on the lab clock, given that the reader
    /// read it at `now`; [`Stamp::Reader`] (and `now`) when its copy cannot be found or its
    /// stamp is not believable.
    pub(crate) fn arrival(
        &mut self,
        packet: &[u8],
        now: Duration,
    ) -> io::Result<(Duration, Stamp)> {
        if now.saturating_sub(self.map.measured_at) >= REMEASURE {
            let fresh = RealtimeMap::measure(&self.clock);
            let step = fresh.step_from(&self.map);
            if step > MAX_AHEAD {
                // The wall clock was stepped (or slewed hard): packets stamped since the last
                // measurement were placed up to `step` off, within the bounds `place` keeps.
                tracing::warn!(
                    "the wall clock moved {step:?} against the lab clock in {REMEASURE:?}"
                );
            }
            self.map = fresh;
        }
        let Some(at_unix) = self.find(packet)? else {
            return Ok((now, Stamp::Reader));
        };
        Ok(place(self.map.to_lab(at_unix), now))
    }

    /// Takes `packet`'s copy: from those already read, or read from the tap until it comes.
    /// Copies before it were of packets the device never passed on; they are dropped.
    fn find(&mut self, packet: &[u8]) -> io::Result<Option<Duration>> {
        if let Some(i) = self.copies.iter().position(|c| c.matches(packet)) {
            let copy = self.copies.drain(..=i).next_back();
            return Ok(copy.and_then(|c| c.at_unix));
        }
        loop {
            let Some(Stamped {
                len,
                copied,
                at_unix,
            }) = sys::recv_stamped(self.tap.as_fd(), &mut self.buf)?
            else {
                return Ok(None);
            };
            let mut copy = Copy {
                len,
                prefix: [0; TAP_SNAPLEN as usize],
                copied,
                at_unix,
            };
            copy.prefix[..copied].copy_from_slice(&self.buf[..copied]);
            if copy.matches(packet) {
                // Whatever was read before it belonged to packets the reader will never see.
                self.copies.clear();
                return Ok(copy.at_unix);
            }
            if self.copies.len() >= MAX_COPIES {
                self.copies.pop_front();
            }
            self.copies.push_back(copy);
        }
    }
}

/// A kernel stamp's lab time (if it has one) placed against the read time `now`: clamped to
/// `now` when slightly ahead of it (the mapping's own error), rejected when implausibly far
/// either way.
fn place(kernel: Option<Duration>, now: Duration) -> (Duration, Stamp) {
    match kernel {
        Some(at) if at <= now => {
            let read_delay = now - at;
            if read_delay > MAX_BEHIND {
                (now, Stamp::Reader)
            } else {
                (at, Stamp::Kernel { read_delay })
            }
        }
        Some(at) if at - now <= MAX_AHEAD => (
            now,
            Stamp::Kernel {
                read_delay: Duration::ZERO,
            },
        ),
        _ => (now, Stamp::Reader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_stamp_maps_to_the_lab_clock_by_the_measured_offset() {
        let map = RealtimeMap::with_offset(1_000_000_000_000, ms(5));
        assert_eq!(
            map.to_lab(Duration::from_nanos(1_000_000_000_000) + ms(7)),
            Some(ms(7))
        );
        assert_eq!(map.to_lab(Duration::from_nanos(999_000_000_000)), None);
        let later = RealtimeMap::with_offset(1_000_000_250_000, ms(1005));
        assert_eq!(later.step_from(&map), Duration::from_micros(250));
    }

    #[test]
    fn the_measured_offset_agrees_with_the_clock_epoch() {
        let clock = Clock::start();
        let map = RealtimeMap::measure(&clock);
        // The clock's own epoch was read from the wall clock at its start, a few microseconds
        // from its monotonic zero; the measured map must put that wall time near lab zero.
        let zero = map
            .to_lab(clock.epoch_unix() + ms(1))
            .expect("after the epoch");
        assert!(zero.abs_diff(ms(1)) < ms(1), "{zero:?}");
        assert!(map.spread < ms(1), "{:?}", map.spread);
    }

    #[test]
    fn a_stamp_is_placed_against_the_read() {
        let now = ms(100);
        assert_eq!(
            place(Some(ms(99)), now),
            (ms(99), Stamp::Kernel { read_delay: ms(1) })
        );
        // Slightly ahead: the mapping's error, clamped.
        assert_eq!(
            place(Some(now + Duration::from_micros(20)), now),
            (
                now,
                Stamp::Kernel {
                    read_delay: Duration::ZERO
                }
            )
        );
        // Far ahead or far behind, or no stamp: the reader's time.
        assert_eq!(place(Some(now + ms(5)), now), (now, Stamp::Reader));
        assert_eq!(
            place(Some(ms(100) - ms(99)), ms(2000)),
            (ms(2000), Stamp::Reader)
        );
        assert_eq!(place(None, now), (now, Stamp::Reader));
    }

    #[test]
    fn a_copy_matches_by_length_and_leading_bytes() {
        let packet: Vec<u8> = (0..200u8).collect();
        // The filter cut the copy to TAP_SNAPLEN bytes.
        let mut copy = Copy {
            len: TAP_SNAPLEN as usize,
            prefix: [0; TAP_SNAPLEN as usize],
            copied: TAP_SNAPLEN as usize,
            at_unix: None,
        };
        copy.prefix.copy_from_slice(&packet[..TAP_SNAPLEN as usize]);
        assert!(copy.matches(&packet));
        let mut other = packet.clone();
        other[10] ^= 1;
        assert!(!copy.matches(&other));
        assert!(!copy.matches(&packet[..100]));
        // A short packet is copied whole.
        let short = Copy {
            len: 3,
            prefix: {
                let mut p = [0; TAP_SNAPLEN as usize];
                p[..3].copy_from_slice(&[1, 2, 3]);
                p
            },
            copied: 3,
            at_unix: None,
        };
        assert!(short.matches(&[1, 2, 3]));
        assert!(!short.matches(&[1, 2, 4]));
    }
}
