//! The pure link model: what happens to one IP packet offered to one direction of the emulated
//! link — lost, dropped by a full queue, or delivered at a computed time.
//!
//! A direction is a drop-tail FIFO in front of a transmitter of fixed rate, followed by a
//! propagation delay with optional jitter. A packet is first subjected to loss (a seeded PRNG,
//! so a seed gives one sequence of losses), then queued behind the bytes still waiting to be
//! transmitted (dropped if that would overflow the queue), transmitted at the link rate, and
//! delivered one delay (plus jitter) after its last bit left. Unless reordering is allowed, a
//! packet is never delivered before one offered earlier. All arithmetic is in integer
//! nanoseconds, so a 1500-byte packet at 20 Mbit/s takes exactly 600 µs.
//!
//! It owns that arithmetic and the per-direction counters. It deliberately does no I/O, keeps
//! no packets (only their lengths and times) and never reads a clock: time is a `Duration`
//! since the lab clock's epoch, passed in by the caller (the relay, or a unit test).

use httplab_core::{LossModel, NetworkSettings};
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;
use std::time::Duration;

/// The parameters of one direction of the link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay (RTT/2 each way by default).
    pub delay: Duration,
    /// Largest extra delay, drawn uniformly from [0, jitter] per packet; never reorders unless
    /// `allow_reordering`.
    pub jitter: Duration,
    /// Bandwidth in bits/s; `None`: unlimited (no serialization delay and no queue). `Some(0)`
    /// is taken as 1 bit/s (scenario validation refuses a zero bandwidth).
    pub rate_bps: Option<u64>,
    /// Drop-tail queue limit in bytes, counting every accepted packet whose last bit has not
    /// yet been transmitted; `None`: unlimited. Without a rate nothing ever queues.
    pub queue_bytes: Option<u64>,
    pub loss: Loss,
    /// Whether jitter may deliver a packet before one offered earlier (default false).
    pub allow_reordering: bool,
}

impl Default for LinkParams {
    /// A perfect wire: no delay, no jitter, no rate limit, no loss.
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_bps: None,
            queue_bytes: None,
            loss: Loss::None,
            allow_reordering: false,
        }
    }
}

/// How packets are lost, before they reach the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    None,
    /// Each packet is lost independently with probability `p`.
    Random {
        p: f64,
    },
    /// A two-state Markov chain, stepped once per packet: in the good state a packet is lost
    /// with probability `loss_good`, in the bad state with `loss_bad`; after each packet the
    /// chain moves good → bad with `p_good_to_bad`, bad → good with `p_bad_to_good`. It starts
    /// good. Long-run loss: π_bad·loss_bad + (1 − π_bad)·loss_good, with
    /// π_bad = p_good_to_bad / (p_good_to_bad + p_bad_to_good).
    GilbertElliott {
        p_good_to_bad: f64,
        p_bad_to_good: f64,
        loss_good: f64,
        loss_bad: f64,
    },
}

impl Loss {
    /// The loss a scenario's `loss` and `loss_model` describe, for one direction.
    pub fn from_settings(net: &NetworkSettings) -> Loss {
        if net.loss <= 0.0 {
            return Loss::None;
        }
        match net.loss_model {
            LossModel::Random => Loss::Random { p: net.loss },
            LossModel::GilbertElliott { burst } => {
                let (p_good_to_bad, p_bad_to_good) =
                    httplab_core::network::gilbert_elliott_transitions(net.loss, burst);
                Loss::GilbertElliott {
                    p_good_to_bad,
                    p_bad_to_good,
                    loss_good: 0.0,
                    loss_bad: 1.0,
                }
            }
        }
    }
}

/// What became of an offered packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Hand the packet to the far side at `at` (packets with equal times in offer order).
    Deliver {
        at: Duration,
    },
    Drop(DropCause),
}

/// Why the model dropped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// The loss model lost it.
    Loss,
    /// The drop-tail queue was full.
    Queue,
}

/// Counters of one direction since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    pub offered_packets: u64,
    pub offered_bytes: u64,
    pub delivered_packets: u64,
    pub delivered_bytes: u64,
    pub lost_packets: u64,
    pub queue_drops: u64,
}

/// One direction of the link: its parameters and its state (the transmitter's schedule, the
/// queued bytes, the loss chain, the PRNGs).
#[derive(Debug, Clone)]
pub struct Direction {
    params: LinkParams,
    /// Draws for the loss decisions; separate from jitter's so that changing the jitter never
    /// changes which packets a seed loses.
    loss_rng: Pcg64Mcg,
    jitter_rng: Pcg64Mcg,
    /// Gilbert–Elliott state.
    bad: bool,
    /// When the transmitter finishes the last accepted packet.
    busy_until: Duration,
    /// (transmission end, bytes) of accepted packets not yet fully transmitted, oldest first;
    /// kept only when the queue is limited.
    queued: VecDeque<(Duration, u64)>,
    queued_bytes: u64,
    /// Delivery time of the last delivered packet.
    last_at: Duration,
    stats: DirectionStats,
}

/// Mixed into the seed for the jitter PRNG.
const JITTER_STREAM: u64 = 0x6a69_7474_6572_0001;

impl Direction {
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Self {
            params,
            loss_rng: Pcg64Mcg::seed_from_u64(seed),
            jitter_rng: Pcg64Mcg::seed_from_u64(seed ^ JITTER_STREAM),
            bad: false,
            busy_until: Duration::ZERO,
            queued: VecDeque::new(),
            queued_bytes: 0,
            last_at: Duration::ZERO,
            stats: DirectionStats::default(),
        }
    }

    /// A packet of `len` bytes (the whole IP packet) arrives at the link at `now`.
    pub fn offer(&mut self, now: Duration, len: usize) -> Offer {
        let len = len as u64;
        self.stats.offered_packets += 1;
        self.stats.offered_bytes += len;

        if self.lose() {
            self.stats.lost_packets += 1;
            return Offer::Drop(DropCause::Loss);
        }

        let sent = match self.params.rate_bps {
            None => now,
            Some(rate) => {
                if let Some(limit) = self.params.queue_bytes {
                    self.release(now);
                    if self.queued_bytes.saturating_add(len) > limit {
                        self.stats.queue_drops += 1;
                        return Offer::Drop(DropCause::Queue);
                    }
                }
                let start = now.max(self.busy_until);
                let end = start.saturating_add(transmission_time(len, rate));
                self.busy_until = end;
                if self.params.queue_bytes.is_some() {
                    self.queued.push_back((end, len));
                    self.queued_bytes += len;
                }
                end
            }
        };

        let mut at = sent
            .saturating_add(self.params.delay)
            .saturating_add(self.jitter());
        if !self.params.allow_reordering {
            at = at.max(self.last_at);
        }
        self.last_at = self.last_at.max(at);
        self.stats.delivered_packets += 1;
        self.stats.delivered_bytes += len;
        Offer::Deliver { at }
    }

    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    pub fn stats(&self) -> DirectionStats {
        self.stats
    }

    /// How long a packet offered at `now` would wait for the transmitter (queueing delay).
    pub fn backlog(&self, now: Duration) -> Duration {
        self.busy_until.saturating_sub(now)
    }

    /// Forgets the packets whose last bit has left by `now`.
    fn release(&mut self, now: Duration) {
        while let Some(&(end, len)) = self.queued.front() {
            if end > now {
                break;
            }
            self.queued.pop_front();
            self.queued_bytes -= len;
        }
    }

    fn lose(&mut self) -> bool {
        match self.params.loss {
            Loss::None => false,
            Loss::Random { p } => unit(&mut self.loss_rng) < p,
            Loss::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let (p_loss, p_switch) = if self.bad {
                    (loss_bad, p_bad_to_good)
                } else {
                    (loss_good, p_good_to_bad)
                };
                let lost = unit(&mut self.loss_rng) < p_loss;
                if unit(&mut self.loss_rng) < p_switch {
                    self.bad = !self.bad;
                }
                lost
            }
        }
    }

    /// A uniform draw from [0, jitter], in whole nanoseconds.
    fn jitter(&mut self) -> Duration {
        let max = u64::try_from(self.params.jitter.as_nanos()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        let span = u128::from(max) + 1;
        let draw = (u128::from(self.jitter_rng.next_u64()) * span) >> 64;
        Duration::from_nanos(draw as u64)
    }
}

/// A uniform draw from [0, 1) with 53 random bits.
fn unit(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Time to put `len` bytes on a wire of `rate_bps`, rounded up to the nanosecond.
pub fn transmission_time(len: u64, rate_bps: u64) -> Duration {
    let rate = u128::from(rate_bps.max(1));
    let nanos = (u128::from(len) * 8 * 1_000_000_000).div_ceil(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Both directions of the emulated link.
#[derive(Debug, Clone)]
pub struct Link {
    /// Client → server: requests.
    pub uplink: Direction,
    /// Server → client: responses.
    pub downlink: Direction,
}

/// Mixed into the scenario's seed for the downlink, so the two directions lose different
/// packets.
const DOWNLINK_STREAM: u64 = 0x646f_776e_6c69_6e6b;

impl Link {
    /// The link a scenario's `[network]` table describes: half the RTT each way, the rates
    /// and queues of each direction, the same loss model and jitter each way, seeds derived
    /// from `net.seed` and different per direction.
    pub fn from_settings(net: &NetworkSettings) -> Link {
        let params = |delay, rate_bps, queue_bytes| LinkParams {
            delay,
            jitter: net.jitter,
            rate_bps,
            queue_bytes,
            loss: Loss::from_settings(net),
            allow_reordering: false,
        };
        Link {
            uplink: Direction::new(
                params(net.uplink_delay(), net.uplink, net.uplink_queue),
                net.seed,
            ),
            downlink: Direction::new(
                params(net.downlink_delay(), net.bandwidth, net.downlink_queue),
                net.seed ^ DOWNLINK_STREAM,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const US: Duration = Duration::from_micros(1);

    fn direction(params: LinkParams) -> Direction {
        Direction::new(params, 42)
    }

    fn at(offer: Offer) -> Duration {
        match offer {
            Offer::Deliver { at } => at,
            Offer::Drop(cause) => panic!("dropped: {cause:?}"),
        }
    }

    #[test]
    fn transmission_is_exact_in_nanoseconds() {
        assert_eq!(transmission_time(1500, 20_000_000), 600 * US);
        assert_eq!(transmission_time(1500, 1_000_000_000), 12 * US);
        // 40 bytes at 3 bit/s: 106.666… s, rounded up.
        assert_eq!(
            transmission_time(40, 3),
            Duration::from_nanos(106_666_666_667)
        );
        assert_eq!(transmission_time(1500, 0), Duration::from_secs(12_000));
    }

    #[test]
    fn delay_alone_shifts_every_packet() {
        let mut d = direction(LinkParams {
            delay: 20 * MS,
            ..LinkParams::default()
        });
        for now in [Duration::ZERO, 3 * US, 3 * US, 7 * MS, 2 * MS + 7 * MS] {
            assert_eq!(d.offer(now, 1500), Offer::Deliver { at: now + 20 * MS });
        }
        assert_eq!(d.stats().delivered_packets, 5);
    }

    #[test]
    fn serialization_spaces_packets_at_the_rate() {
        let mut d = direction(LinkParams {
            delay: 10 * MS,
            rate_bps: Some(20_000_000),
            ..LinkParams::default()
        });
        // A burst of three leaves back to back, 600 µs apart.
        let burst: Vec<Duration> = (0..3).map(|_| at(d.offer(Duration::ZERO, 1500))).collect();
        assert_eq!(burst, [10_600 * US, 11_200 * US, 11_800 * US]);
        assert_eq!(d.backlog(Duration::ZERO), 1_800 * US);
        // One arriving while the third is on the wire waits for it.
        assert_eq!(at(d.offer(1_000 * US, 1500)), 12_400 * US);
        // After the link went idle a packet pays only its own transmission.
        assert_eq!(at(d.offer(5 * MS, 1500)), 15_600 * US);
        assert_eq!(at(d.offer(20 * MS, 100)), 30_040 * US);
    }

    #[test]
    fn full_queue_drops_exactly_the_excess() {
        // 12 Mbit/s: a 1500-byte packet takes exactly 1 ms. The queue holds ten of them.
        let mut d = direction(LinkParams {
            rate_bps: Some(12_000_000),
            queue_bytes: Some(15_000),
            ..LinkParams::default()
        });
        let offers: Vec<Offer> = (0..20).map(|_| d.offer(Duration::ZERO, 1500)).collect();
        for (i, o) in offers.iter().enumerate() {
            if i < 10 {
                assert_eq!(
                    *o,
                    Offer::Deliver {
                        at: (i as u32 + 1) * MS
                    },
                    "packet {i}"
                );
            } else {
                assert_eq!(*o, Offer::Drop(DropCause::Queue), "packet {i}");
            }
        }
        // Just before the first packet's last bit leaves there is still no room; at 1 ms
        // there is room for exactly one more.
        assert_eq!(d.offer(MS - US, 1500), Offer::Drop(DropCause::Queue));
        assert_eq!(d.offer(MS, 1500), Offer::Deliver { at: 11 * MS });
        assert_eq!(d.offer(MS, 1500), Offer::Drop(DropCause::Queue));
        // A small packet fits where a large one does not: the limit is in bytes.
        assert_eq!(
            d.offer(2500 * US, 1000),
            Offer::Deliver {
                at: 11 * MS + Duration::from_nanos(666_667)
            }
        );
        let s = d.stats();
        assert_eq!(
            (
                s.offered_packets,
                s.delivered_packets,
                s.queue_drops,
                s.lost_packets
            ),
            (24, 12, 12, 0)
        );
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        let params = LinkParams {
            delay: 10 * MS,
            jitter: 5 * MS,
            ..LinkParams::default()
        };
        // Packets 100 µs apart, far closer than the jitter: a packet drawn early waits for the
        // one before it, so none overtakes another and none leaves the bounds.
        let mut d = direction(params.clone());
        let mut previous = Duration::ZERO;
        for i in 0..10_000u32 {
            let now = i * 100 * US;
            let a = at(d.offer(now, 1500));
            assert!(
                a >= now + 10 * MS && a <= now + 15 * MS,
                "packet {i} at {a:?}"
            );
            assert!(a >= previous, "packet {i} overtook the one before");
            previous = a;
        }
        // Packets further apart than the jitter get the full uniform spread.
        let mut d = direction(params.clone());
        let (mut least, mut most, mut sum) = (Duration::MAX, Duration::ZERO, Duration::ZERO);
        for i in 0..10_000u32 {
            let now = i * 6 * MS;
            let extra = at(d.offer(now, 1500)) - now - 10 * MS;
            assert!(extra <= 5 * MS);
            (least, most, sum) = (least.min(extra), most.max(extra), sum + extra);
        }
        assert!(least < 10 * US && most > 4_990 * US, "{least:?}..{most:?}");
        let mean = sum / 10_000;
        assert!(
            mean > 2_450 * US && mean < 2_550 * US,
            "mean jitter {mean:?}"
        );

        // With reordering allowed close packets do overtake, still within the bounds.
        let mut d = direction(LinkParams {
            allow_reordering: true,
            ..params
        });
        let times: Vec<Duration> = (0..1_000u32)
            .map(|i| {
                let a = at(d.offer(i * 100 * US, 1500));
                assert!(a >= i * 100 * US + 10 * MS && a <= i * 100 * US + 15 * MS);
                a
            })
            .collect();
        assert!(times.windows(2).any(|w| w[1] < w[0]));
    }

    fn loss_pattern(loss: Loss, seed: u64, packets: usize) -> Vec<bool> {
        let mut d = Direction::new(
            LinkParams {
                loss,
                ..LinkParams::default()
            },
            seed,
        );
        (0..packets)
            .map(|_| d.offer(Duration::ZERO, 100) == Offer::Drop(DropCause::Loss))
            .collect()
    }

    #[test]
    fn random_loss_matches_p_and_repeats_for_a_seed() {
        for p in [0.001, 0.02, 0.1, 0.3] {
            let lost = loss_pattern(Loss::Random { p }, 7, 100_000);
            let rate = lost.iter().filter(|l| **l).count() as f64 / 100_000.0;
            assert!((rate - p).abs() <= 0.003, "p = {p}: lost {rate}");
            assert_eq!(lost, loss_pattern(Loss::Random { p }, 7, 100_000));
            assert_ne!(lost, loss_pattern(Loss::Random { p }, 8, 100_000));
        }
        assert!(!loss_pattern(Loss::Random { p: 0.0 }, 1, 10_000).contains(&true));
        assert!(!loss_pattern(Loss::Random { p: 1.0 }, 1, 10_000).contains(&false));
    }

    /// Lengths of the runs of consecutive losses.
    fn bursts(lost: &[bool]) -> Vec<usize> {
        lost.split(|l| !*l)
            .map(<[bool]>::len)
            .filter(|n| *n > 0)
            .collect()
    }

    #[test]
    fn gilbert_elliott_loses_in_bursts() {
        // What a scenario's `loss = "2%"`, `burst = 3` becomes.
        let (p_good_to_bad, p_bad_to_good) =
            httplab_core::network::gilbert_elliott_transitions(0.02, 3.0);
        let ge = Loss::GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        };
        let lost = loss_pattern(ge, 3, 1_000_000);
        let rate = lost.iter().filter(|l| **l).count() as f64 / 1e6;
        assert!((rate - 0.02).abs() <= 0.002, "lost {rate}");
        let b = bursts(&lost);
        let mean = b.iter().sum::<usize>() as f64 / b.len() as f64;
        assert!(
            (mean - 1.0 / p_bad_to_good).abs() <= 0.2,
            "mean burst {mean}"
        );
        // Random loss at the same rate has bursts of barely more than one packet.
        let random = bursts(&loss_pattern(Loss::Random { p: 0.02 }, 3, 1_000_000));
        let random_mean = random.iter().sum::<usize>() as f64 / random.len() as f64;
        assert!(random_mean < 1.05, "random mean burst {random_mean}");
        assert_eq!(lost, loss_pattern(ge, 3, 1_000_000));
    }

    #[test]
    fn gilbert_elliott_long_run_loss_is_the_stationary_one() {
        let (p_good_to_bad, p_bad_to_good, loss_good, loss_bad) = (0.01, 0.2, 0.001, 0.5);
        let pi_bad = p_good_to_bad / (p_good_to_bad + p_bad_to_good);
        let expected = pi_bad * loss_bad + (1.0 - pi_bad) * loss_good;
        let lost = loss_pattern(
            Loss::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            },
            11,
            1_000_000,
        );
        let rate = lost.iter().filter(|l| **l).count() as f64 / 1e6;
        assert!(
            (rate - expected).abs() <= 0.003,
            "lost {rate}, expected {expected}"
        );
    }

    #[test]
    fn a_saturated_link_delivers_its_rate() {
        // 24 Mbit/s offered for 10 s into 20 Mbit/s with a 64 KiB queue.
        let mut d = direction(LinkParams {
            delay: 20 * MS,
            rate_bps: Some(20_000_000),
            queue_bytes: Some(64 * 1024),
            ..LinkParams::default()
        });
        let seconds = 10;
        let mut delivered_bits = 0u64;
        let mut dropped = 0;
        for i in 0..(seconds * 2_000) {
            match d.offer(i * 500 * US, 1500) {
                Offer::Deliver { at } if at <= Duration::from_secs(seconds.into()) + 20 * MS => {
                    delivered_bits += 1500 * 8
                }
                Offer::Deliver { .. } => {}
                Offer::Drop(_) => dropped += 1,
            }
        }
        let mbit_per_s = delivered_bits as f64 / f64::from(seconds) / 1e6;
        assert!((19.0..=20.0).contains(&mbit_per_s), "{mbit_per_s} Mbit/s");
        // What could not fit: 20,000 offered − 10 s × 1,667 packets/s sent − the 43 packets a
        // full 64 KiB queue holds at the end.
        assert!((3_280..=3_300).contains(&dropped), "{dropped} dropped");
    }

    fn settings(network: &str) -> NetworkSettings {
        let src = format!("name = \"n\"\n[network]\n{network}[[resource]]\npath = \"/a\"\n");
        httplab_core::Scenario::parse(&src, "n.toml")
            .unwrap_or_else(|e| panic!("{e}"))
            .network
            .expect("a [network] table")
    }

    #[test]
    fn link_follows_the_scenario() {
        let net = settings(
            "rtt = \"41ms\"\nbandwidth = \"20mbit\"\nuplink = \"2mbit\"\njitter = \"1ms\"\n\
             loss = \"1%\"\nloss_model = \"gilbert-elliott\"\nburst = 2\n",
        );
        let link = Link::from_settings(&net);
        let (up, down) = (link.uplink.params(), link.downlink.params());
        assert_eq!(up.delay + down.delay, 41 * MS);
        assert_eq!((up.delay, down.delay), (20_500 * US, 20_500 * US));
        assert_eq!(
            (up.rate_bps, down.rate_bps),
            (Some(2_000_000), Some(20_000_000))
        );
        assert_eq!(
            (up.queue_bytes, down.queue_bytes),
            (Some(65_536), Some(102_500))
        );
        assert_eq!((up.jitter, down.jitter), (MS, MS));
        assert!(!up.allow_reordering && !down.allow_reordering);
        let Loss::GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good,
            loss_bad,
        } = down.loss
        else {
            panic!("{:?}", down.loss)
        };
        assert_eq!((p_bad_to_good, loss_good, loss_bad), (0.5, 0.0, 1.0));
        assert!((p_good_to_bad / (p_good_to_bad + p_bad_to_good) - 0.01).abs() < 1e-12);
        assert_eq!(up.loss, down.loss);

        // Same seed, same link; the two directions lose different packets.
        let pattern = |d: &mut Direction| -> Vec<bool> {
            (0..20_000u32)
                .map(|i| d.offer(i * MS, 100) == Offer::Drop(DropCause::Loss))
                .collect()
        };
        let mut a = Link::from_settings(&net);
        let mut b = Link::from_settings(&net);
        let up_a = pattern(&mut a.uplink);
        assert_eq!(up_a, pattern(&mut b.uplink));
        assert_ne!(up_a, pattern(&mut a.downlink));

        // Random loss, no loss and no rate map as written.
        let net = settings("rtt = \"10ms\"\nloss = 0.05\n");
        let link = Link::from_settings(&net);
        assert_eq!(link.downlink.params().loss, Loss::Random { p: 0.05 });
        assert_eq!(link.downlink.params().rate_bps, None);
        assert_eq!(link.downlink.params().queue_bytes, None);
        let link = Link::from_settings(&settings("rtt = \"10ms\"\n"));
        assert_eq!(link.uplink.params().loss, Loss::None);
    }
}
