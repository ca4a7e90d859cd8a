//! Many browsers at once (`httplab load`): each virtual user is a browser as the scenario
//! describes it (its own pools, connection cap, TLS sessions), loading the scenario's page.
//!
//! - Closed model: N users each load the page, wait `think_between`, and load it again with
//!   the same browser, whose keep-alive connections stay open between pages, as a returning
//!   user's do: the connections a protocol makes the server hold.
//! - Open model: page loads arrive at a rate, on a constant or Poisson schedule, whether or not
//!   the earlier ones have finished; each is a new visitor with a new browser.
//!
//! Latency runs from each page's *intended* start, so a server that falls behind shows in the
//! latency, not in fewer samples (no coordinated omission, as wrt2 and oha measure). Samples go
//! into HDR histograms (microseconds, 3 significant digits). Warm-up is run but not measured.
//! Once a second the server's bill is read: connections open and accepted, and the CPU time of
//! the server's own thread (the clients run on another), plus the process's file descriptors.
//!
//! This module owns the schedule, the measurement window and the samples. It deliberately
//! writes nothing: the CLI lays the result out.

use crate::connector::LabConnector;
use crate::lab::Lab;
use crate::pools::Pools;
use crate::shard::Shard;
use crate::HarnessError;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use httplab_core::{Protocol, RequestRecord};
use httplab_transport::ProtocolClient;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most page loads in flight at once in the open model: beyond it, an arrival is counted as
/// failed ("the lab's client fell behind") rather than started, so memory stays bounded.
pub const MAX_IN_FLIGHT: usize = 20_000;
/// How long pages still in flight at the end may take to finish before they count as failed.
const DRAIN: Duration = Duration::from_secs(10);
/// Largest latency the histograms hold (an hour, in microseconds).
const HIGHEST_US: u64 = 3_600_000_000;

/// How page loads arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrival {
    /// `users` browsers, each loading the page again as soon as it has finished (and waited
    /// `think_between`).
    Closed { users: u32 },
    /// Page loads at `rate` per second, evenly spaced or (`poisson`) with exponential gaps.
    Open { rate: f64, poisson: bool },
}

/// One load run: one protocol, one arrival model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    pub protocol: Protocol,
    pub arrival: Arrival,
    /// The measurement window, after the warm-up.
    pub duration: Duration,
    /// Run, not measured; closed-model users start spread evenly over it (ramp-up).
    pub warmup: Duration,
    /// Closed model: a user's pause between page loads.
    pub think_between: Duration,
    /// Seed of the Poisson schedule.
    pub seed: u64,
    /// Run only this part of the load (`--shard K/N`): of the open model's arrivals, every
    /// N-th of the same seeded schedule (arrival `i` iff `i mod N = K`); of the closed model's
    /// users, user `u` iff `u mod N = K`, starting when it would in the whole load.
    pub shard: Option<Shard>,
}

/// One second of the measurement window.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSecond {
    /// Seconds since the measurement window opened (the warm-up's are negative).
    pub at: i64,
    /// Pages that ended in this second, and how many failed.
    pub pages: u64,
    pub failed: u64,
    /// Of the pages that ended in this second: latency percentiles, microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    /// The most connections the server held at once during the second.
    pub peak_connections: u64,
    /// The connections it held at the second's end.
    pub open_connections: u64,
    /// Connections the server accepted during the second.
    pub accepted: u64,
    /// CPU time of the server's thread during the second, nanoseconds.
    pub server_cpu_ns: u64,
    /// The process's open file descriptors (client and server: both are in it).
    pub fds: u64,
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub protocol: Protocol,
    pub arrival: Arrival,
    pub duration: Duration,
    pub warmup: Duration,
    /// Pages measured (started in the window), and how many failed.
    pub pages: u64,
    pub failed_pages: u64,
    pub requests: u64,
    pub failed_requests: u64,
    /// Page load time from the intended start, microseconds, of measured pages that finished.
    pub page_latency: Histogram<u64>,
    /// Each request from its issue to its end, microseconds.
    pub request_latency: Histogram<u64>,
    /// The HTTP messages' bytes (heads and bodies, both ways) of the measured pages.
    pub bytes: u64,
    /// Connections the client opened for the measured pages.
    pub connections_opened: u64,
    /// Every second, the warm-up's included.
    pub seconds: Vec<LoadSecond>,
    /// The first failure's message, if any page failed.
    pub first_failure: Option<String>,
}

impl LoadResult {
    /// Seconds of the measurement window only.
    pub fn measured_seconds(&self) -> impl Iterator<Item = &LoadSecond> {
        self.seconds.iter().filter(|s| s.at >= 0)
    }

    /// Peak connections the server held during the measurement window, and the mean of its
    /// readings at each second's end.
    pub fn server_connections(&self) -> (u64, f64) {
        let peak = self
            .measured_seconds()
            .map(|s| s.peak_connections)
            .max()
            .unwrap_or(0);
        let ends: Vec<u64> = self
            .measured_seconds()
            .map(|s| s.open_connections)
            .collect();
        let mean = ends.iter().sum::<u64>() as f64 / ends.len().max(1) as f64;
        (peak, mean)
    }

    /// The server's CPU time per measured page, milliseconds.
    pub fn server_cpu_per_page_ms(&self) -> Option<f64> {
        let cpu: u64 = self.measured_seconds().map(|s| s.server_cpu_ns).sum();
        let pages: u64 = self.measured_seconds().map(|s| s.pages).sum();
        (pages > 0).then(|| cpu as f64 / 1e6 / pages as f64)
    }
}

/// One page load's outcome.
struct Page {
    /// When it was meant to start; measured if at or after the window opened.
    intended: Instant,
    ended: Instant,
    records: Vec<RequestRecord>,
    bytes: u64,
    connections: u64,
    /// The user that loaded it (closed model), to start its next with the same browser.
    user: Option<(u32, Browser)>,
}

/// A browser a closed-model user keeps from one page load to the next: its connections stay
/// open (keep-alive), as a returning user's do, so the server holds them between pages.
type Browser = (Arc<LabConnector>, Pools);

type PageFuture<'a> = Pin<Box<dyn Future<Output = Result<Page, HarnessError>> + 'a>>;

impl Lab {
    /// Runs `options` against the lab's server (or `--server-cmd`/`--target`), calling
    /// `progress` with each second as it closes.
    pub async fn load(
        &self,
        options: &LoadOptions,
        mut progress: impl FnMut(&LoadSecond, &LoadResult),
    ) -> Result<LoadResult, HarnessError> {
        let new_histogram = || {
            Histogram::<u64>::new_with_bounds(1, HIGHEST_US, 3)
                .map_err(|e| HarnessError::Load(format!("a latency histogram: {e}")))
        };
        let mut result = LoadResult {
            protocol: options.protocol,
            arrival: options.arrival,
            duration: options.duration,
            warmup: options.warmup,
            pages: 0,
            failed_pages: 0,
            requests: 0,
            failed_requests: 0,
            page_latency: new_histogram()?,
            request_latency: new_histogram()?,
            bytes: 0,
            connections_opened: 0,
            seconds: Vec::new(),
            first_failure: None,
        };
        let start = Instant::now();
        let window = start + options.warmup;
        let end = window + options.duration;
        let mut pages: FuturesUnordered<PageFuture<'_>> = FuturesUnordered::new();
        let mut arrivals = Schedule::new(options, start);
        // Closed model: users start spread over the warm-up (or all at once without one).
        if let Arrival::Closed { users } = options.arrival {
            let kept = |u: &u32| options.shard.is_none_or(|s| s.keeps(u64::from(*u)));
            for user in (0..users).filter(kept) {
                let offset = options
                    .warmup
                    .mul_f64(f64::from(user) / f64::from(users.max(1)));
                pages.push(self.page(options.protocol, start + offset, Some((user, None))));
            }
        }
        let mut second = Second::new(new_histogram()?, self.meters().await);
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        let mut tick_no: i64 = 1;
        let drain_until = end + DRAIN;
        loop {
            let next_arrival = arrivals.next_at().filter(|&at| at < end);
            if pages.is_empty() && next_arrival.is_none() && Instant::now() >= end {
                break;
            }
            tokio::select! {
                biased;
                _ = tick.tick() => {
                    let meters = self.meters().await;
                    let at = tick_no - 1 - options.warmup.as_secs() as i64;
                    let closed = second.close(at, &meters);
                    second = Second::new(new_histogram()?, meters);
                    result.seconds.push(closed.clone());
                    progress(&closed, &result);
                    tick_no += 1;
                    if Instant::now() >= drain_until {
                        // Pages still out past the drain: failed, as the server never finished them.
                        let left = pages.len() as u64;
                        result.pages += left;
                        result.failed_pages += left;
                        result.first_failure.get_or_insert_with(|| {
                            format!("{left} page loads still unfinished {DRAIN:?} after the end")
                        });
                        break;
                    }
                }
                Some(page) = pages.next() => {
                    let mut page = page?;
                    self.account(&page, window, &mut result, &mut second);
                    if let Some((user, browser)) = page.user.take() {
                        let next = page.ended + options.think_between;
                        if next < end {
                            pages.push(self.page(options.protocol, next, Some((user, Some(browser)))));
                        } else {
                            // The user is done: its browser closes its connections.
                            browser.1.finish().await;
                        }
                    }
                }
                _ = sleep_until_opt(next_arrival) => {
                    let at = arrivals.advance();
                    if pages.len() >= MAX_IN_FLIGHT {
                        if at >= window {
                            result.pages += 1;
                            result.failed_pages += 1;
                            result.first_failure.get_or_insert_with(|| format!(
                                "more than {MAX_IN_FLIGHT} page loads in flight: arrivals dropped"
                            ));
                        }
                    } else {
                        pages.push(self.page(options.protocol, at, None));
                    }
                }
            }
        }
        // The last, partial second.
        let meters = self.meters().await;
        let at = tick_no - 1 - options.warmup.as_secs() as i64;
        let closed = second.close(at, &meters);
        if closed.pages > 0 || closed.accepted > 0 {
            result.seconds.push(closed);
        }
        Ok(result)
    }

    /// One page load, started at `intended` (waiting until then). A closed-model user's
    /// (`user`) reuses its browser, if it has one yet, and keeps it; an open-model arrival is a
    /// new visitor whose browser closes when the page is done.
    fn page(
        &self,
        protocol: Protocol,
        intended: Instant,
        user: Option<(u32, Option<Browser>)>,
    ) -> PageFuture<'_> {
        Box::pin(async move {
            tokio::time::sleep_until(intended).await;
            let scenario = self.scenario().clone();
            let (user, kept) = match user {
                Some((user, kept)) => (Some(user), kept),
                None => (None, None),
            };
            let browser = match kept {
                Some(browser) => browser,
                None => self.browser(protocol, &scenario)?,
            };
            let clock = self.clock();
            let records = crate::workload::issue(&browser.1, &scenario, clock, &|_| {}).await;
            let ended = Instant::now();
            if user.is_none() {
                browser.1.finish().await;
            }
            Ok(Page {
                intended,
                ended,
                // The HTTP messages both ways; TLS and TCP add theirs on the wire.
                bytes: records
                    .iter()
                    .map(|r| {
                        r.request_header_bytes
                            + r.request_body_bytes
                            + r.response_header_bytes
                            + r.response_body_bytes
                    })
                    .sum(),
                connections: records.iter().filter(|r| r.opened_connection()).count() as u64,
                records,
                user: user.map(|u| (u, browser)),
            })
        })
    }

    /// Adds a finished page to the result, if it is measured, and to its second.
    fn account(&self, page: &Page, window: Instant, result: &mut LoadResult, second: &mut Second) {
        let latency = page.ended.saturating_duration_since(page.intended);
        let failed = page.records.iter().find_map(|r| r.error.clone());
        second.pages += 1;
        if failed.is_some() {
            second.failed += 1;
        } else {
            let _ = second.latency.record(micros(latency));
        }
        if page.intended < window {
            return;
        }
        result.pages += 1;
        result.requests += page.records.len() as u64;
        result.bytes += page.bytes;
        result.connections_opened += page.connections;
        for r in &page.records {
            match &r.error {
                None => {
                    let _ = result.request_latency.record(micros(r.phases.total()));
                }
                Some(_) => result.failed_requests += 1,
            }
        }
        match failed {
            Some(why) => {
                result.failed_pages += 1;
                result.first_failure.get_or_insert(why);
            }
            None => {
                let _ = result.page_latency.record(micros(latency));
            }
        }
    }

    /// The server's meters now.
    async fn meters(&self) -> Meters {
        let (servers, thread) = self.servers();
        Meters {
            open: servers.iter().map(|s| s.open_connections() as u64).sum(),
            peak: servers.iter().map(|s| s.take_peak_connections()).sum(),
            accepted: servers.iter().map(|s| s.accepted_connections()).sum(),
            cpu_ns: thread.cpu_time().await.unwrap_or(0),
            fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
        }
    }
}

/// The server's cumulative counters at one instant.
#[derive(Debug, Clone, Copy)]
struct Meters {
    open: u64,
    /// The most open at once since the previous reading.
    peak: u64,
    accepted: u64,
    cpu_ns: u64,
    fds: u64,
}

/// The second being gathered.
struct Second {
    pages: u64,
    failed: u64,
    latency: Histogram<u64>,
    from: Meters,
}

impl Second {
    fn new(latency: Histogram<u64>, from: Meters) -> Second {
        Second {
            pages: 0,
            failed: 0,
            latency,
            from,
        }
    }

    fn close(&self, at: i64, now: &Meters) -> LoadSecond {
        LoadSecond {
            at,
            pages: self.pages,
            failed: self.failed,
            p50_us: self.latency.value_at_quantile(0.5),
            p99_us: self.latency.value_at_quantile(0.99),
            peak_connections: now.peak,
            open_connections: now.open,
            accepted: now.accepted.saturating_sub(self.from.accepted),
            server_cpu_ns: now.cpu_ns.saturating_sub(self.from.cpu_ns),
            fds: now.fds,
        }
    }
}

/// The open model's arrival times: the whole load's schedule, of which a shard keeps its part.
struct Schedule {
    next: Option<Instant>,
    gap: Option<Duration>,
    poisson: bool,
    rng: u64,
    /// The position of `next` in the whole load's schedule.
    index: u64,
    shard: Option<Shard>,
}

impl Schedule {
    fn new(options: &LoadOptions, start: Instant) -> Schedule {
        let mut schedule = match options.arrival {
            Arrival::Open { rate, poisson } if rate > 0.0 => Schedule {
                next: Some(start),
                gap: Some(Duration::from_secs_f64(1.0 / rate)),
                poisson,
                rng: options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
                index: 0,
                shard: options.shard,
            },
            _ => Schedule {
                next: None,
                gap: None,
                poisson: false,
                rng: 1,
                index: 0,
                shard: None,
            },
        };
        schedule.skip_to_kept();
        schedule
    }

    fn next_at(&self) -> Option<Instant> {
        self.next
    }

    /// The arrival due now, and the next one this shard keeps scheduled.
    fn advance(&mut self) -> Instant {
        let at = self.next.unwrap_or_else(Instant::now);
        self.step(at);
        self.skip_to_kept();
        at
    }

    /// Passes over the whole load's arrivals that other shards keep, drawing their gaps so
    /// that every shard walks the same seeded schedule.
    fn skip_to_kept(&mut self) {
        let Some(shard) = self.shard else {
            return;
        };
        while let Some(at) = self.next.filter(|_| !shard.keeps(self.index)) {
            self.step(at);
        }
    }

    /// Schedules the arrival after the one at `at`.
    fn step(&mut self, at: Instant) {
        self.index += 1;
        if let Some(gap) = self.gap {
            let gap = if self.poisson {
                // Exponential gaps of mean `gap`: −ln(U) · mean, U uniform in (0, 1].
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let u = ((self.rng >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                gap.mul_f64(-u.ln())
            } else {
                gap
            };
            self.next = Some(at + gap);
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_US)
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn options(poisson: bool, shard: Option<Shard>) -> LoadOptions {
        LoadOptions {
            protocol: Protocol::H2,
            arrival: Arrival::Open {
                rate: 40.0,
                poisson,
            },
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            think_between: Duration::ZERO,
            seed: 7,
            shard,
        }
    }

    fn arrivals(options: &LoadOptions, start: Instant, n: usize) -> Vec<Instant> {
        let mut s = Schedule::new(options, start);
        (0..n).map(|_| s.advance()).collect()
    }

    #[test]
    fn the_shards_arrivals_together_are_the_whole_schedule() {
        let start = Instant::now();
        for poisson in [false, true] {
            let whole = arrivals(&options(poisson, None), start, 60);
            let mut merged = Vec::new();
            for index in 0..3 {
                let shard = Shard::new(index, 3);
                let part = arrivals(&options(poisson, shard), start, 20);
                let expected: Vec<Instant> = whole
                    .iter()
                    .skip(index as usize)
                    .step_by(3)
                    .copied()
                    .collect();
                assert_eq!(part, expected, "shard {index}/3, poisson {poisson}");
                merged.extend(part);
            }
            merged.sort();
            assert_eq!(merged, whole, "poisson {poisson}");
        }
    }
}
