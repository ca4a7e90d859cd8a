//! The run budget: what a scenario will cost before anything runs — requests, bytes moved,
//! peak memory, the size of results.json and wall time — and the limits past which the lab
//! refuses to start (`check`, `run` and `sweep`; `--force` goes ahead and names the limit).
//!
//! Costs grow with runs × requests: every configuration the harness plans (each protocol, each
//! `[server] pipelining` model for `http1.1-pipelined`, each client variant; the harness's
//! `planned_runs` counts the same) times `repeat`. The per-request constants were measured on
//! the lab (release build, 2 cores, loopback with TLS, all five protocols, `many-small-objects`
//! with `count` raised, `httplab run X --no-link --quiet` under `/usr/bin/time -v`):
//!
//! | requests | peak RSS | results.json | wall |
//! |---|---|---|---|
//! | 5,000 (count 1000, repeat 1) | 273.7 MB | 30.3 MB | 4.5 s |
//! | 25,000 (count 1000, repeat 5) | 1,305 MB | 151.3 MB | 23.8 s |
//! | 100,000 (count 4000, repeat 5) | 5,181 MB | 607.0 MB | 102.3 s |
//! | 40 (4 × 200 MB, repeat 2) | 16.7 MB | 0.3 MB | 6.3 s (8 GB moved) |
//!
//! Peak memory grows by 51.7 kB per request (every run's records are held until the reports
//! are written, and results.json is built in memory), results.json by 6.1 kB per request
//! (HTTP/1.0's, with a connection record per request, 8 kB; the others' 5.6 kB), and wall
//! time by 1.05 ms per request on loopback (0.83 ms without TLS); response bodies are streamed,
//! never held (8 GB moved in 16.7 MB), and loopback TLS carried 1.28 GB/s.
//!
//! Wall time adds the analytical model's page time (`analytical::predict`) where it walks the
//! page (a page of at most [`MODEL_MAX_PAGE_BYTES`]), else a rough estimate (round trips of the
//! busiest connection, think times, and the bytes at the link's rate). Wall time is a warning,
//! not a refusal: a long run harms nothing but the user's afternoon, can be stopped with
//! Ctrl-C, and the estimate is rough; memory, disk and bytes moved can exhaust the machine.
//! It deliberately runs nothing and reads no file: the CLI prints what it finds.

use super::{PipeliningModel, Scenario, ScenarioError};
use crate::analytical::{self, ModelObject, PageModel, Prediction};
use crate::protocol::Protocol;
use crate::scenario::{ClientSettings, TlsVersion};
use std::ops::Range;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// Most bytes a command may move (request and response bodies and heads, every run).
pub const MAX_BYTES_MOVED: u64 = 10_000_000_000;
/// Largest estimated peak memory of a command.
pub const MAX_PEAK_MEMORY: u64 = 4_000_000_000;
/// Largest estimated results.json (the sum over a sweep's folders).
pub const MAX_RESULTS_BYTES: u64 = 2_000_000_000;
/// Estimated wall time above which the lab warns (it does not refuse).
pub const WARN_WALL_TIME: Duration = Duration::from_secs(3600);

/// Peak memory per request: measured 51.7 kB (see the module header), rounded up.
pub const MEMORY_PER_REQUEST: u64 = 52_000;
/// Peak memory of a run of a few requests: measured 16.7 MB.
pub const MEMORY_BASE: u64 = 17_000_000;
/// results.json bytes per request: measured 6.1 kB on average over the five protocols.
pub const RESULTS_PER_REQUEST: u64 = 6_100;
/// Wall time per request on loopback, beside the network: measured 1.05 ms with TLS.
pub const WALL_PER_REQUEST: Duration = Duration::from_micros(1_050);
/// Bytes per second loopback TLS carries: measured 1.28 GB/s, rounded down.
pub const LOOPBACK_BYTES_PER_SECOND: u64 = 1_000_000_000;
/// Request and response head bytes per request besides the cookie: measured 131 + 159 for an
/// HTTP/1.0 GET, rounded up.
pub const HEAD_BYTES: u64 = 300;
/// A page larger than this is estimated roughly: the model walks it segment by segment.
pub const MODEL_MAX_PAGE_BYTES: u64 = 100_000_000;
/// A response head as the model sees it (the lab server's, as measured: 159 bytes).
const RESPONSE_HEAD_BYTES: u64 = 160;

/// What one scenario (or a sweep of several) will cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    /// Runs: every planned configuration, `repeat` times (summed over a sweep).
    pub runs: u64,
    pub requests: u64,
    /// Request and response bodies and heads.
    pub bytes_moved: u64,
    pub peak_memory: u64,
    pub results_bytes: u64,
    pub wall_time: Duration,
}

/// A limit a budget crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    BytesMoved,
    PeakMemory,
    ResultsBytes,
}

impl Limit {
    const ALL: [Limit; 3] = [Limit::PeakMemory, Limit::ResultsBytes, Limit::BytesMoved];

    /// The limit's value.
    pub fn max(self) -> u64 {
        match self {
            Limit::BytesMoved => MAX_BYTES_MOVED,
            Limit::PeakMemory => MAX_PEAK_MEMORY,
            Limit::ResultsBytes => MAX_RESULTS_BYTES,
        }
    }

    /// What `budget` says of the limit's measure.
    pub fn of(self, budget: &Budget) -> u64 {
        match self {
            Limit::BytesMoved => budget.bytes_moved,
            Limit::PeakMemory => budget.peak_memory,
            Limit::ResultsBytes => budget.results_bytes,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Limit::BytesMoved => "bytes moved",
            Limit::PeakMemory => "estimated peak memory",
            Limit::ResultsBytes => "estimated results.json",
        }
    }

    /// `estimated peak memory 2.60 TB, over the limit of 4.00 GB`.
    pub fn sentence(self, budget: &Budget) -> String {
        format!(
            "{} {}, over the limit of {}",
            self.name(),
            bytes(self.of(budget)),
            bytes(self.max())
        )
    }
}

impl Budget {
    /// The cost of running `scenario`: each planned configuration `repeat` times.
    pub fn of(scenario: &Scenario) -> Budget {
        let page = page_bytes(scenario);
        let n = scenario.resources.len() as u64;
        let mut budget = Budget::default();
        for (protocol, model, client) in configurations(scenario) {
            let repeat = u64::from(scenario.repeat);
            let wall = page_time(scenario, protocol, model, client)
                + WALL_PER_REQUEST * n as u32
                + Duration::from_secs_f64(page as f64 / LOOPBACK_BYTES_PER_SECOND as f64);
            budget.runs += repeat;
            budget.requests += n * repeat;
            budget.bytes_moved = budget
                .bytes_moved
                .saturating_add(page.saturating_mul(repeat));
            budget.wall_time += wall * scenario.repeat;
        }
        budget.peak_memory = MEMORY_BASE + budget.requests.saturating_mul(MEMORY_PER_REQUEST);
        budget.results_bytes = budget.requests.saturating_mul(RESULTS_PER_REQUEST);
        budget
    }

    /// The cost of a sweep: every point's runs, and their records all held at once (the sweep's
    /// report is written from them).
    pub fn of_all<'a>(scenarios: impl IntoIterator<Item = &'a Scenario>) -> Budget {
        let mut total = Budget::default();
        for b in scenarios.into_iter().map(Budget::of) {
            total.runs += b.runs;
            total.requests += b.requests;
            total.bytes_moved = total.bytes_moved.saturating_add(b.bytes_moved);
            total.results_bytes = total.results_bytes.saturating_add(b.results_bytes);
            total.wall_time += b.wall_time;
        }
        total.peak_memory = MEMORY_BASE + total.requests.saturating_mul(MEMORY_PER_REQUEST);
        total
    }

    /// The limits it crosses, most pressing (for the machine) first.
    pub fn crossed(&self) -> Vec<Limit> {
        Limit::ALL
            .into_iter()
            .filter(|l| l.of(self) > l.max())
            .collect()
    }

    /// One line: `budget: 3,840 requests in 18 runs, 38.6 MB moved, peak memory ~217 MB,
    /// results.json ~23.4 MB, about 42 s`.
    pub fn line(&self) -> String {
        format!(
            "budget: {} requests in {} runs, {} moved, peak memory ~{}, results.json ~{}, about {} \
             (limits: {} moved, {} memory, {} of results)",
            self.requests,
            self.runs,
            bytes(self.bytes_moved),
            bytes(self.peak_memory),
            bytes(self.results_bytes),
            duration(self.wall_time),
            bytes(MAX_BYTES_MOVED),
            bytes(MAX_PEAK_MEMORY),
            bytes(MAX_RESULTS_BYTES),
        )
    }

    /// A warning when the run is estimated to take longer than [`WARN_WALL_TIME`].
    pub fn wall_warning(&self) -> Option<String> {
        (self.wall_time > WARN_WALL_TIME).then(|| {
            format!(
                "the run is estimated to take about {} (more than {}): lower `repeat` or the \
                 page's size to finish sooner; Ctrl-C stops it",
                duration(self.wall_time),
                duration(WARN_WALL_TIME)
            )
        })
    }
}

/// Where the keys that set a scenario's cost are written, located as errors are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetKeys {
    /// `repeat`; a place without a line when it is not written (the default, 3).
    pub(crate) repeat: Option<ScenarioError>,
    pub(crate) tables: Vec<TableKeys>,
}

/// One `[[resource]]` table's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableKeys {
    pub(crate) resources: Range<usize>,
    pub(crate) path: ScenarioError,
    pub(crate) count: Option<ScenarioError>,
    pub(crate) size: Option<ScenarioError>,
}

/// The refusal of `scenarios` (one, or a sweep's points) when their budget crosses a limit:
/// located at the key that drives it. `repeat_flag`: the `--repeat` given on the command line,
/// which then drives instead of the file's `repeat`. `None`: within every limit.
pub fn refusal(scenarios: &[&Scenario], repeat_flag: Option<u32>) -> Option<ScenarioError> {
    let first = *scenarios.first()?;
    let budget = Budget::of_all(scenarios.iter().copied());
    let limit = *budget.crossed().first()?;
    let once: Vec<Scenario> = scenarios
        .iter()
        .map(|s| Scenario {
            repeat: 1,
            ..(*s).clone()
        })
        .collect();
    let per_repeat = Budget::of_all(&once);
    let what = format!(
        "the scenario is over the run budget: {} ({} requests in {} runs)",
        limit.sentence(&budget),
        budget.requests,
        budget.runs
    );
    let force = "or run it anyway with --force";
    if limit.of(&per_repeat) <= limit.max() {
        let fits = most_repeats(limit, &per_repeat);
        let advice = match fits {
            1 => format!("only 1 repetition fits: lower it, {force}"),
            n => format!("at most {n} repetitions fit: lower it, {force}"),
        };
        return Some(match (repeat_flag, &first.budget_keys.repeat) {
            (Some(n), _) => {
                unplaced(first).with(format!("{what}; `--repeat {n}` drives it: {advice}"))
            }
            (None, Some(place)) => place.with(format!(
                "{what}; `repeat = {}` drives it: {advice}",
                first.repeat
            )),
            (None, None) => unplaced(first).with(format!(
                "{what}; `repeat` (3 when not written) drives it: {advice}"
            )),
        });
    }
    // One repetition is already over: the page itself is, at its largest table.
    let table = first
        .budget_keys
        .tables
        .iter()
        .max_by_key(|t| table_measure(limit, first, t))?;
    let size_drives = limit == Limit::BytesMoved && table.size.is_some();
    let (place, key) = match (&table.count, &table.size) {
        (_, Some(size)) if size_drives => (size, "size"),
        (Some(count), _) => (count, "count"),
        _ => (&table.path, "path"),
    };
    Some(place.with(format!(
        "{what}; one repetition alone is over it, and this table's `{key}` is the page's \
         largest share: make the page smaller, {force}"
    )))
}

impl ScenarioError {
    /// This place with `message`.
    fn with(&self, message: String) -> ScenarioError {
        ScenarioError {
            message,
            ..self.clone()
        }
    }
}

/// The scenario's file, without a line.
fn unplaced(scenario: &Scenario) -> ScenarioError {
    let file = scenario
        .budget_keys
        .tables
        .first()
        .map_or_else(String::new, |t| t.path.file.clone());
    ScenarioError::at(&file, "", None, String::new())
}

/// What one table adds to `limit`'s measure, per repetition.
fn table_measure(limit: Limit, scenario: &Scenario, table: &TableKeys) -> u64 {
    let resources = &scenario.resources[table.resources.clone()];
    match limit {
        Limit::BytesMoved => resources
            .iter()
            .map(|r| r.size + r.request_body + HEAD_BYTES)
            .sum(),
        Limit::PeakMemory | Limit::ResultsBytes => resources.len() as u64,
    }
}

/// The most repetitions within `limit`, given one repetition's budget.
fn most_repeats(limit: Limit, once: &Budget) -> u64 {
    let base = if limit == Limit::PeakMemory {
        MEMORY_BASE
    } else {
        0
    };
    let per = limit.of(once).saturating_sub(base).max(1);
    (limit.max().saturating_sub(base) / per).max(1)
}

/// Every configuration the harness plans, with its client settings: each protocol once, except
/// `http1.1-pipelined`, once per `[server] pipelining` model; each of those once per client
/// variant (the harness's `plan`, which `planned_runs` counts).
fn configurations(
    scenario: &Scenario,
) -> Vec<(Protocol, Option<PipeliningModel>, &ClientSettings)> {
    let models = &scenario.server.pipelining;
    let clients: Vec<&ClientSettings> = if scenario.variants.is_empty() {
        vec![&scenario.client]
    } else {
        scenario.variants.iter().map(|v| &v.client).collect()
    };
    let mut out = Vec::new();
    for &protocol in &scenario.protocols {
        let per_model: Vec<Option<PipeliningModel>> = match protocol {
            Protocol::Http11Pipelined if !models.is_empty() => {
                models.iter().copied().map(Some).collect()
            }
            _ => vec![models.first().copied()],
        };
        for model in per_model {
            out.extend(clients.iter().map(|c| (protocol, model, *c)));
        }
    }
    out
}

/// Bytes one page load moves: bodies both ways and heads (the cookie with every request).
fn page_bytes(scenario: &Scenario) -> u64 {
    scenario
        .resources
        .iter()
        .map(|r| r.size + r.request_body + HEAD_BYTES + scenario.client.cookie)
        .sum()
}

/// One page load's time on the scenario's network (none: loopback, no round trips): the
/// analytical model's where it walks the page, else a rough estimate; plus the time the link's
/// rate needs for the bytes, and the longest `request_timeout` a never-answered request waits.
fn page_time(
    scenario: &Scenario,
    protocol: Protocol,
    model: Option<PipeliningModel>,
    client: &ClientSettings,
) -> Duration {
    let net = scenario.network.as_ref();
    let rtt = net.map_or(Duration::ZERO, |n| n.rtt);
    let tls = client
        .tls
        .then(|| client.tls_version.unwrap_or(TlsVersion::Tls13));
    let page = PageModel {
        rtt,
        objects: scenario
            .resources
            .iter()
            .map(|r| ModelObject {
                response_header_bytes: RESPONSE_HEAD_BYTES,
                response_body_bytes: r.size,
                think: r.think,
            })
            .collect(),
        connections: client.max_connections_per_host,
        tls,
        serial_server: model == Some(PipeliningModel::Serial),
        max_concurrent_streams: scenario.server.max_concurrent_streams,
        write: scenario.server.write,
        control_segments: analytical::control_segments(protocol, tls),
        loss: net.map_or(0.0, |n| n.loss),
        bandwidth: net.and_then(|n| n.bandwidth),
    };
    let bytes: u64 = scenario.resources.iter().map(|r| r.size).sum();
    let modelled = (bytes <= MODEL_MAX_PAGE_BYTES)
        .then(|| {
            analytical::predict(protocol, &page)
                .or_else(|| analytical::predict(Protocol::Http11, &page))
        })
        .flatten()
        .map(|p: Prediction| p.page_time());
    let time = modelled.unwrap_or_else(|| rough_page_time(protocol, &page));
    let carry = page.bandwidth.map_or(Duration::ZERO, |rate| {
        Duration::from_secs_f64(bytes as f64 * 8.0 / rate.max(1) as f64)
    });
    let never = scenario
        .resources
        .iter()
        .filter(|r| r.respond == super::Respond::Never)
        .filter_map(|r| r.request_timeout)
        .max()
        .unwrap_or_default();
    time.max(carry) + never
}

/// Without the model: handshakes, then a round trip and a think time per request on the
/// busiest connection (HTTP/1.0 and HTTP/1.1 share `connections`; pipelining and HTTP/2 send
/// every request at once, the server thinking about them in turn at worst).
fn rough_page_time(protocol: Protocol, page: &PageModel) -> Duration {
    let n = page.objects.len() as u32;
    let think: Duration = page.objects.iter().map(|o| o.think).sum();
    let handshakes = page.rtt * analytical::handshake_rtts(page.tls);
    match protocol {
        Protocol::Http10 | Protocol::Http11 => {
            let k = page.connections.max(1);
            handshakes + (page.rtt * n.div_ceil(k)) + think / k
        }
        _ => handshakes + page.rtt + think,
    }
}

/// Bytes for people, up to terabytes: `512 B`, `14.0 kB`, `2.60 GB`.
pub fn bytes(n: u64) -> String {
    let b = n as f64;
    match b {
        b if b < 1e3 => format!("{n} B"),
        b if b < 1e6 => format!("{:.1} kB", b / 1e3),
        b if b < 1e9 => format!("{:.1} MB", b / 1e6),
        b if b < 1e12 => format!("{:.2} GB", b / 1e9),
        b => format!("{:.2} TB", b / 1e12),
    }
}

/// A long duration for people: `850ms`, `42 s`, `14 min`, `3.5 h`, `12 days`.
fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s < 1.0 => format!("{:.0}ms", s * 1e3),
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7_200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3_600.0),
        s => format!("{:.0} days", s / 86_400.0),
    }
}
