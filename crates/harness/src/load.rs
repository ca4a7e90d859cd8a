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
//! Once a second the server's bill is read (`meters.rs`): connections, CPU time, memory,
//! sockets and descriptors. A server that dies mid-load (a `--server-cmd` that exits, a target
//! that stops answering) ends the run: the samples so far are kept and the failure said.
//!
//! This module owns the schedule, the measurement window and the samples. It deliberately
//! writes nothing: the CLI lays the result out.

use crate::connector::LabConnector;
use crate::lab::Lab;
use crate::meters::{Meters, ServerKind};
use crate::pools::Pools;
use crate::shard::Shard;
use crate::HarnessError;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use httplab_core::{Protocol, RequestRecord};
use httplab_transport::ProtocolClient;
use std::cell::Cell;
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
/// How long pages in flight when the server died may take to fail by themselves.
const DEAD_DRAIN: Duration = Duration::from_secs(2);
/// Seconds in a row in which every page finished failed, after which a server the lab does not
/// run (`--target`, `--server-cmd`) counts as gone.
const DEAD_SECONDS: u32 = 2;
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
    /// Users loading a page at the second's end (closed model: those started; open model: page
    /// loads in flight).
    pub users: u64,
    /// Pages that ended in this second, and how many failed.
    pub pages: u64,
    pub failed: u64,
    /// Of the pages that ended in this second: latency percentiles, microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    /// The server's side, `None` where the server under load does not offer it (see
    /// `meters.rs`). The most connections the server held at once during the second.
    pub peak_connections: Option<u64>,
    /// The connections it held at the second's end.
    pub open_connections: Option<u64>,
    /// Connections the server accepted during the second, and of them over TLS (each a TLS
    /// handshake).
    pub accepted: Option<u64>,
    pub tls_handshakes: Option<u64>,
    /// The server's CPU time during the second, nanoseconds.
    pub server_cpu_ns: Option<u64>,
    /// The server's own memory at the second's end: the lab server's heap, an external
    /// server's resident set.
    pub server_memory_bytes: Option<u64>,
    /// Memory the kernel had charged to the server's sockets, and its connections in
    /// TIME-WAIT, at the second's end.
    pub socket_memory_bytes: Option<u64>,
    pub time_wait: Option<u64>,
    /// Open file descriptors: an external server's; for the lab server, the process's (the
    /// clients' too: they share it).
    pub fds: Option<u64>,
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
    /// Which server was measured, and its memory before the first page (the baseline the
    /// memory per connection is counted from).
    pub server: ServerKind,
    pub baseline_memory_bytes: Option<u64>,
    pub baseline_socket_memory_bytes: Option<u64>,
    /// Why the run ended early: the server died, or stopped answering.
    pub failure: Option<String>,
}

impl LoadResult {
    /// Seconds of the measurement window only.
    pub fn measured_seconds(&self) -> impl Iterator<Item = &LoadSecond> {
        self.seconds.iter().filter(|s| s.at >= 0)
    }

    /// Peak connections the server held during the measurement window, and the mean of its
    /// readings at each second's end; `None` where the server's connections cannot be read.
    pub fn server_connections(&self) -> Option<(u64, f64)> {
        let peak = self
            .measured_seconds()
            .filter_map(|s| s.peak_connections)
            .max()?;
        let ends: Vec<u64> = self
            .measured_seconds()
            .filter_map(|s| s.open_connections)
            .collect();
        let mean = ends.iter().sum::<u64>() as f64 / ends.len().max(1) as f64;
        Some((peak, mean))
    }

    /// The server's CPU time per measured page, milliseconds, over the seconds it was read
    /// in (a server that died has none for its last).
    pub fn server_cpu_per_page_ms(&self) -> Option<f64> {
        let read: Vec<(u64, u64)> = self
            .measured_seconds()
            .filter_map(|s| Some((s.server_cpu_ns?, s.pages)))
            .collect();
        let cpu: u64 = read.iter().map(|r| r.0).sum();
        let pages: u64 = read.iter().map(|r| r.1).sum();
        (pages > 0).then(|| cpu as f64 / 1e6 / pages as f64)
    }

    /// A measure's largest reading in the measurement window.
    fn peak_of(&self, f: impl Fn(&LoadSecond) -> Option<u64>) -> Option<u64> {
        self.measured_seconds().filter_map(f).max()
    }

    /// The server's memory at its largest in the window, bytes.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        self.peak_of(|s| s.server_memory_bytes)
    }

    /// Memory charged to the server's sockets at its largest in the window, bytes.
    pub fn peak_socket_memory_bytes(&self) -> Option<u64> {
        self.peak_of(|s| s.socket_memory_bytes)
    }

    /// The server's own memory per connection: its growth over the baseline at its peak, over
    /// the peak connections.
    pub fn memory_per_connection_bytes(&self) -> Option<f64> {
        per_connection(self.peak_memory_bytes(), self.baseline_memory_bytes, self)
    }

    /// The kernel's socket memory per connection, likewise.
    pub fn socket_memory_per_connection_bytes(&self) -> Option<f64> {
        per_connection(
            self.peak_socket_memory_bytes(),
            self.baseline_socket_memory_bytes,
            self,
        )
    }

    /// TLS handshakes the server made per second of the window.
    pub fn tls_handshakes_per_s(&self) -> Option<f64> {
        let n: u64 = self
            .measured_seconds()
            .map(|s| s.tls_handshakes)
            .sum::<Option<u64>>()?;
        Some(n as f64 / self.duration.as_secs_f64().max(1e-9))
    }
}

/// `(peak − baseline) / peak connections`, where all three are known and connections were held.
fn per_connection(peak: Option<u64>, baseline: Option<u64>, r: &LoadResult) -> Option<f64> {
    let (connections, _) = r.server_connections()?;
    let grown = peak?.saturating_sub(baseline.unwrap_or(0));
    (connections > 0).then(|| grown as f64 / connections as f64)
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
        let baseline = self.meters().await;
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
            server: self.server_kind(),
            baseline_memory_bytes: baseline.memory_bytes,
            baseline_socket_memory_bytes: baseline.sockets.map(|s| s.memory_bytes),
            failure: None,
        };
        // Page loads under way (past their intended start, not yet finished): the users.
        let active = Cell::new(0u64);
        let plan = crate::workload::Plan::new(self.scenario(), !self.runs_the_server());
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
                pages.push(self.page(
                    options.protocol,
                    start + offset,
                    Some((user, None)),
                    &active,
                    &plan,
                ));
            }
        }
        let mut second = Second::new(new_histogram()?, baseline);
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        let mut tick_no: i64 = 1;
        let mut drain_until = end + DRAIN;
        let mut all_failed_seconds = 0u32;
        loop {
            let next_arrival = arrivals
                .next_at()
                .filter(|&at| at < end && result.failure.is_none());
            if pages.is_empty() && next_arrival.is_none() && Instant::now() >= end {
                break;
            }
            if pages.is_empty() && result.failure.is_some() {
                break;
            }
            tokio::select! {
                biased;
                _ = tick.tick() => {
                    let meters = self.meters().await;
                    let at = tick_no - 1 - options.warmup.as_secs() as i64;
                    let closed = second.close(at, active.get(), &meters);
                    second = Second::new(new_histogram()?, meters);
                    all_failed_seconds = match closed.pages > 0 && closed.failed == closed.pages {
                        true => all_failed_seconds + 1,
                        false => 0,
                    };
                    result.seconds.push(closed.clone());
                    progress(&closed, &result);
                    tick_no += 1;
                    if result.failure.is_none() {
                        let gone = self.server_gone().or_else(|| {
                            (self.server_kind() != ServerKind::Lab
                                && all_failed_seconds >= DEAD_SECONDS)
                                .then(|| format!(
                                    "every page failed for {DEAD_SECONDS} s in a row: the server \
                                     stopped answering (the first failure: {})",
                                    result.first_failure.as_deref().unwrap_or("unknown")
                                ))
                        });
                        if let Some(why) = gone {
                            // No more arrivals; the pages out fail by themselves, or at the
                            // short drain's end.
                            result.failure = Some(format!("{why} (at {}s of the run)", tick_no - 1));
                            drain_until = drain_until.min(Instant::now() + DEAD_DRAIN);
                        }
                    }
                    if Instant::now() >= drain_until {
                        // Pages still out past the drain: failed, as the server never finished them.
                        let left = pages.len() as u64;
                        result.pages += left;
                        result.failed_pages += left;
                        result.first_failure.get_or_insert_with(|| {
                            format!("{left} page loads still unfinished when the run ended")
                        });
                        break;
                    }
                }
                Some(page) = pages.next() => {
                    let mut page = page?;
                    self.account(&page, window, &mut result, &mut second);
                    if let Some((user, browser)) = page.user.take() {
                        let next = page.ended + options.think_between;
                        if next < end && result.failure.is_none() {
                            pages.push(self.page(
                                options.protocol,
                                next,
                                Some((user, Some(browser))),
                                &active,
                                &plan,
                            ));
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
                        pages.push(self.page(options.protocol, at, None, &active, &plan));
                    }
                }
            }
        }
        // The last, partial second.
        let meters = self.meters().await;
        let at = tick_no - 1 - options.warmup.as_secs() as i64;
        let closed = second.close(at, active.get(), &meters);
        if closed.pages > 0 || closed.accepted.unwrap_or(0) > 0 {
            result.seconds.push(closed);
        }
        Ok(result)
    }

    /// One page load, started at `intended` (waiting until then). A closed-model user's
    /// (`user`) reuses its browser, if it has one yet, and keeps it; an open-model arrival is a
    /// new visitor whose browser closes when the page is done. `active` counts the loads under
    /// way.
    fn page<'a>(
        &'a self,
        protocol: Protocol,
        intended: Instant,
        user: Option<(u32, Option<Browser>)>,
        active: &'a Cell<u64>,
        plan: &'a crate::workload::Plan,
    ) -> PageFuture<'a> {
        Box::pin(async move {
            // A start already due goes now: tokio's timer rounds a deadline up to its next
            // millisecond, which would cost a closed-model user up to 1 ms a page.
            if intended > Instant::now() {
                tokio::time::sleep_until(intended).await;
            }
            active.set(active.get() + 1);
            let scenario = self.scenario().clone();
            let (user, kept) = match user {
                Some((user, kept)) => (Some(user), kept),
                None => (None, None),
            };
            let browser = match kept {
                Some(browser) => browser,
                None => match self.browser(protocol, &scenario, false) {
                    Ok(browser) => browser,
                    Err(e) => {
                        active.set(active.get().saturating_sub(1));
                        return Err(e);
                    }
                },
            };
            let clock = self.clock();
            let records = crate::workload::issue_plan(&browser.1, plan, clock, &|_| {}).await;
            let ended = Instant::now();
            active.set(active.get().saturating_sub(1));
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

    fn close(&self, at: i64, users: u64, now: &Meters) -> LoadSecond {
        let since = |now: Option<u64>, from: Option<u64>| Some(now?.saturating_sub(from?));
        LoadSecond {
            at,
            users,
            pages: self.pages,
            failed: self.failed,
            p50_us: self.latency.value_at_quantile(0.5),
            p99_us: self.latency.value_at_quantile(0.99),
            peak_connections: now.peak,
            open_connections: now.open,
            accepted: since(now.accepted, self.from.accepted),
            tls_handshakes: since(now.tls_accepted, self.from.tls_accepted),
            server_cpu_ns: since(now.cpu_ns, self.from.cpu_ns),
            server_memory_bytes: now.memory_bytes,
            socket_memory_bytes: now.sockets.map(|s| s.memory_bytes),
            time_wait: now.sockets.map(|s| s.time_wait),
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
