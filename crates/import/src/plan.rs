//! From HAR entries to the resources of a scenario: which entries a replay can use, and for each
//! one its path, method, status, sizes, server think, and when the client asks for it (`after`
//! and `delay`), with the reason behind every choice kept for the scenario's comments.
//!
//! The rules (the scenario's header states them too; `write.rs` words them):
//! - skipped: URLs that are not http(s) (data:, blob:, extensions), WebSockets, entries served
//!   from the browser's cache (`_fromCache`, 304), failed or aborted ones (status 0, `_error`),
//!   informational or impossible statuses, methods the lab does not have, bodies over 1gb,
//!   entries on a 65th origin, and any beyond the lab's 10,000;
//! - origins: one per `scheme://host[:port]`, in order of first appearance; those the HAR saw
//!   at one `serverIPAddress` share a server address, so HTTP/2 may coalesce them;
//! - think: the response's `Server-Timing` `total` (else `app`) duration, the server's own
//!   account; without one, `timings.wait` less its connection's round trip (the least
//!   `connect − ssl` of the connection's entries, else its least `wait`), never below zero; a connection is the
//!   entry's `connection`, else `serverIPAddress` and the URL's port, else its origin;
//! - after: `_initiator`'s URL, the latest entry of that URL that started before this one; an
//!   initiator that was skipped hands over to its own initiator, up to the nearest kept one (or
//!   none). Without `_initiator`, the kept entry whose response ended last at or before this
//!   one started. Every `after` points to an entry that started earlier (ties: earlier in the
//!   file), so no chain can loop;
//! - delay: this entry's start less its `after`'s end (start + `time`), or less the page's
//!   first start without `after`; between zero and the lab's 600 s.
//!
//! It deliberately writes no text: `write.rs` lays the plan out as TOML.

use crate::har::{Entry, Har, Initiator};
use crate::url::{self, Url};
use httplab_core::scenario::{MAX_DELAY, MAX_ORIGINS, MAX_REQUESTS, MAX_RESPONSE_SIZE, METHODS};
use std::collections::HashMap;

/// What the scenario will hold, and what was left out.
pub(crate) struct Plan {
    /// Every origin of the kept entries, in order of first appearance: the page's own first.
    pub(crate) origins: Vec<PlannedOrigin>,
    pub(crate) resources: Vec<Planned>,
    /// Entries left out one by one, with why, in the file's order.
    pub(crate) skipped: Vec<Skipped>,
    /// Entries of the HAR's later pages, left out.
    pub(crate) later_pages: usize,
    /// Usable entries beyond the lab's [`MAX_REQUESTS`], left out.
    pub(crate) beyond_limit: usize,
    pub(crate) network: NetworkEstimate,
    /// `response.httpVersion` of the kept entries with how many used it, most used first.
    pub(crate) versions: Vec<(String, usize)>,
}

impl Plan {
    /// How many entries were left out, for whatever reason.
    pub(crate) fn skipped_entries(&self) -> usize {
        self.skipped.len() + self.beyond_limit + self.later_pages
    }
}

/// One origin (`scheme://host[:port]`) of the page, as the scenario names it.
pub(crate) struct PlannedOrigin {
    /// `scheme://host[:port]`, as the HAR's URLs have it.
    pub(crate) url: String,
    /// The scenario's name for it: the host, made a DNS name (an IP address `10.0.0.1` becomes
    /// `ip-10-0-0-1`, a second port of one host `host-8443`).
    pub(crate) name: String,
    pub(crate) tls: bool,
    /// The HAR's `serverIPAddress` of its first entry, if any.
    pub(crate) ip: Option<String>,
    /// The earlier origin at the same `serverIPAddress`, whose address it shares.
    pub(crate) same_address_as: Option<usize>,
    /// Its kept entries.
    pub(crate) entries: usize,
}

/// An entry left out.
pub(crate) struct Skipped {
    /// 0-based in `log.entries`.
    pub(crate) index: usize,
    pub(crate) url: String,
    pub(crate) why: String,
}

/// One resource of the scenario (all durations in microseconds).
pub(crate) struct Planned {
    /// 0-based in `log.entries`.
    pub(crate) index: usize,
    /// Index into `Plan::origins`.
    pub(crate) origin: usize,
    pub(crate) url: String,
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) status: u16,
    /// The status the HAR recorded, when `status` differs from it (204 → 200).
    pub(crate) har_status: Option<i64>,
    pub(crate) size: u64,
    pub(crate) request_body: u64,
    /// Request body bytes a GET or HEAD carried, which a scenario cannot.
    pub(crate) dropped_body: u64,
    pub(crate) think: i64,
    /// The `Server-Timing` metric `think` came from, if it did (else the wait rule).
    pub(crate) think_from: Option<String>,
    pub(crate) wait: i64,
    pub(crate) round_trip: RoundTrip,
    /// Index into `Plan::resources`.
    pub(crate) after: Option<usize>,
    pub(crate) delay: i64,
    /// The gap was over 600 s and is written as 600 s.
    pub(crate) delay_capped: bool,
    pub(crate) discovery: Discovery,
    /// The head sizes to replay: the HAR's, for HTTP/1.x entries.
    pub(crate) request_headers: Option<u64>,
    pub(crate) response_headers: Option<u64>,
    /// The HAR's `headersSize`s as recorded, for the comment.
    pub(crate) har_headers: (Option<u64>, Option<u64>),
}

/// A connection's round trip, as the think rule took it.
#[derive(Clone, Copy)]
pub(crate) struct RoundTrip {
    pub(crate) micros: i64,
    pub(crate) source: RttSource,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RttSource {
    /// The least `connect − ssl` of the connection's entries.
    Connect,
    /// The least `wait` of the connection's entries (none showed a connect).
    SmallestWait,
}

/// How a resource's `after` was found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Discovery {
    /// `_initiator` named it.
    Initiator,
    /// `_initiator` named entry `skipped` (0-based), which was skipped: its nearest kept
    /// initiator instead (or none).
    Repointed { skipped: usize },
    /// `_initiator` names a URL no earlier entry has: from the page's start.
    InitiatorNotFound,
    /// `_initiator` names no URL (`type: "other"`): from the page's start.
    NoInitiatorUrl,
    /// No `_initiator`: the latest response that ended before it started.
    LatestEnded,
    /// No `_initiator`, and no kept response ended before it started: from the page's start.
    NothingEnded,
}

/// The `[network]` the HAR suggests.
pub(crate) struct NetworkEstimate {
    /// The least `connect − ssl` of any entry, microseconds.
    pub(crate) rtt: Option<i64>,
    /// Bits per second: the most of (bytes · 8 / receive time) over the largest transfers.
    pub(crate) bandwidth: Option<u64>,
    /// How many of the largest transfers were compared.
    pub(crate) transfers: usize,
}

/// Transfers the bandwidth estimate compares: the largest few, which are long enough to be
/// limited by the link rather than by a round trip.
const LARGEST_TRANSFERS: usize = 3;

/// Maps every entry of `har`.
pub(crate) fn plan(har: &Har) -> Plan {
    let entries = &har.entries;
    let reasons: Vec<Option<String>> = entries.iter().map(unusable).collect();
    let mut skipped = Vec::new();
    let mut origins: Vec<PlannedOrigin> = Vec::new();
    let mut beyond_limit = 0;
    let mut kept: Vec<usize> = Vec::new();
    for (p, e) in entries.iter().enumerate() {
        if let Some(why) = &reasons[p] {
            skipped.push(Skipped {
                index: e.index,
                url: e.url.clone(),
                why: why.clone(),
            });
            continue;
        }
        let here = e.parsed.origin().unwrap_or_default();
        let known = origins.iter().any(|o| o.url == here);
        if kept.len() == MAX_REQUESTS {
            beyond_limit += 1;
        } else if !known && origins.len() == MAX_ORIGINS {
            skipped.push(Skipped {
                index: e.index,
                url: e.url.clone(),
                why: format!(
                    "on a {}th origin: a scenario has at most {MAX_ORIGINS}",
                    MAX_ORIGINS + 1
                ),
            });
        } else {
            if !known {
                origins.push(new_origin(e, &here, &origins));
            }
            kept.push(p);
        }
    }
    let origin_of = |e: &Entry| {
        let here = e.parsed.origin().unwrap_or_default();
        origins.iter().position(|o| o.url == here).unwrap_or(0)
    };
    let resource_of: HashMap<usize, usize> =
        kept.iter().enumerate().map(|(r, &p)| (p, r)).collect();
    let timeline = Timeline::new(entries, &kept);
    let round_trips = round_trips(entries);

    // The longest `delay` and think a scenario takes (both 600 s).
    let max_delay = i64::try_from(MAX_DELAY.as_micros()).unwrap_or(i64::MAX);
    let mut seen: HashMap<(usize, String), usize> = HashMap::new();
    let mut resources = Vec::with_capacity(kept.len());
    for &p in &kept {
        let e = &entries[p];
        let Url::Web { path_and_query, .. } = &e.parsed else {
            continue;
        };
        let origin = origin_of(e);
        let base = url::scenario_path(path_and_query);
        let n = seen.entry((origin, base.clone())).or_insert(0);
        *n += 1;
        let path = if *n == 1 {
            base
        } else {
            url::repeated(&base, *n)
        };
        let (after, discovery) = timeline.after(p, &resource_of);
        let gap = match after {
            Some(q) => e.started - timeline.end(q),
            None => e.started - timeline.page_start,
        };
        let round_trip = round_trips
            .get(&connection_key(e))
            .copied()
            .unwrap_or(RoundTrip {
                micros: 0,
                source: RttSource::SmallestWait,
            });
        let wait = e.wait.unwrap_or_default();
        let (status, har_status) = match e.status {
            204 => (200, Some(204)),
            s => (u16::try_from(s).unwrap_or(200), None),
        };
        let no_body = matches!(e.method.as_str(), "GET" | "HEAD");
        resources.push(Planned {
            index: e.index,
            origin,
            url: e.url.clone(),
            path,
            method: e.method.clone(),
            status,
            har_status,
            size: e.response_body.unwrap_or_default(),
            request_body: if no_body { 0 } else { e.request_body },
            dropped_body: if no_body { e.request_body } else { 0 },
            think: e
                .server_timing
                .as_ref()
                .map_or(wait - round_trip.micros, |(_, t)| *t)
                .clamp(0, max_delay),
            think_from: e.server_timing.as_ref().map(|(m, _)| m.clone()),
            wait,
            round_trip,
            after: after.and_then(|q| resource_of.get(&q).copied()),
            delay: gap.clamp(0, max_delay),
            delay_capped: gap > max_delay,
            discovery,
            // HTTP/2 and HTTP/3 heads are HPACK or QPACK blocks, not the HTTP/1.1 text the
            // keys mean: their sizes stay in the comment only.
            request_headers: e.request_headers.filter(|_| !binary_heads(e)),
            response_headers: e.response_headers.filter(|_| !binary_heads(e)),
            har_headers: (e.request_headers, e.response_headers),
        });
    }
    let mut versions: Vec<(String, usize)> = Vec::new();
    for &p in &kept {
        let v = entries[p].http_version.to_ascii_lowercase();
        match versions.iter_mut().find(|(name, _)| *name == v) {
            Some((_, n)) => *n += 1,
            None => versions.push((v, 1)),
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.1));
    for r in &resources {
        origins[r.origin].entries += 1;
    }
    Plan {
        origins,
        resources,
        skipped,
        later_pages: har.later_pages,
        beyond_limit,
        network: estimate(entries),
        versions,
    }
}

/// Whether `e`'s heads went as HTTP/2 or HTTP/3 header blocks (`h2`, `HTTP/2.0`, `h3`…).
fn binary_heads(e: &Entry) -> bool {
    let v = e.http_version.to_ascii_lowercase();
    v.starts_with("h2") || v.starts_with("h3") || v.starts_with("http/2") || v.starts_with("http/3")
}

/// The origin `url` (`scheme://host[:port]`) of `e`, named apart from `earlier` ones.
fn new_origin(e: &Entry, url: &str, earlier: &[PlannedOrigin]) -> PlannedOrigin {
    let (host, port) = match &e.parsed {
        Url::Web { host, port, .. } => (host.as_str(), *port),
        Url::Other { .. } => ("localhost", 0),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut name = if bare.parse::<std::net::IpAddr>().is_ok() {
        format!("ip-{}", bare.replace(['.', ':'], "-"))
    } else {
        host.to_string()
    };
    if earlier.iter().any(|o| o.name == name) {
        name = format!("{name}-{port}");
    }
    let ip = e.server_ip.clone().filter(|ip| !ip.is_empty());
    PlannedOrigin {
        url: url.to_string(),
        name,
        tls: url.starts_with("https:"),
        same_address_as: ip
            .as_ref()
            .and_then(|ip| earlier.iter().position(|o| o.ip.as_ref() == Some(ip))),
        ip,
        entries: 0,
    }
}

/// Why a replay cannot use `e`, or `None` when it can.
fn unusable(e: &Entry) -> Option<String> {
    let scheme = match &e.parsed {
        Url::Other { scheme } => scheme.as_str(),
        Url::Web { scheme, .. } => scheme.as_str(),
    };
    let why = match scheme {
        "data" => "a data: URL: the page carries it, nothing was requested".to_string(),
        "blob" => "a blob: URL: the page's script made it, nothing was requested".to_string(),
        "chrome-extension" | "moz-extension" | "extension" => {
            format!("a browser extension's URL ({scheme}:), not the page's")
        }
        "ws" | "wss" => websocket(),
        "http" | "https" => return unusable_response(e),
        other => format!("a {other}: URL, not HTTP"),
    };
    Some(why)
}

fn websocket() -> String {
    "a WebSocket: the lab replays HTTP requests only".into()
}

/// Why an http(s) entry cannot be replayed, if it cannot.
fn unusable_response(e: &Entry) -> Option<String> {
    let websocket_type = e
        .resource_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("websocket"));
    Some(if websocket_type || e.status == 101 {
        websocket()
    } else if let Some(cache) = &e.from_cache {
        format!(
            "served from the browser's cache (_fromCache: {cache}): nothing crossed the network"
        )
    } else if e.status == 304 {
        "a 304: the browser revalidated its cached copy, and no body crossed the network".into()
    } else if e.status == 0 {
        match &e.error {
            Some(error) => format!("failed or aborted before a response (status 0, {error})"),
            None => "failed or aborted before a response (status 0)".into(),
        }
    } else if let Some(error) = &e.error {
        format!("failed or aborted: {error}")
    } else if (100..200).contains(&e.status) {
        format!(
            "status {} is informational, with no final response",
            e.status
        )
    } else if !(200..=599).contains(&e.status) {
        format!("status {} is not an HTTP status", e.status)
    } else if !METHODS.contains(&e.method.as_str()) {
        format!(
            "method {}: a scenario's resources use {}",
            e.method,
            METHODS.join(", ")
        )
    } else if e.response_body.unwrap_or_default() > MAX_RESPONSE_SIZE
        || e.request_body > MAX_RESPONSE_SIZE
    {
        "a body over the lab's 1gb limit".into()
    } else {
        return None;
    })
}

/// An entry's connection: `connection`, else `serverIPAddress` and the URL's port, else its
/// origin.
fn connection_key(e: &Entry) -> String {
    let port = match &e.parsed {
        Url::Web { port, .. } => *port,
        Url::Other { .. } => 0,
    };
    match (&e.connection, &e.server_ip) {
        (Some(c), _) => format!("connection {c}"),
        (None, Some(ip)) => format!("{ip} port {port}"),
        (None, None) => e.parsed.origin().unwrap_or_default(),
    }
}

/// The TCP connect time an entry shows: `connect − ssl` where `connect` includes `ssl` (HAR
/// 1.2, Chrome), else `connect`; `None` on a reused connection.
fn tcp_connect(e: &Entry) -> Option<i64> {
    match (e.connect, e.ssl) {
        (Some(c), Some(s)) if s > 0 && c > s => Some(c - s),
        (Some(c), _) if c > 0 => Some(c),
        _ => None,
    }
}

/// Each connection's round trip (see [`RoundTrip`]).
fn round_trips(entries: &[Entry]) -> HashMap<String, RoundTrip> {
    let mut connects: HashMap<String, i64> = HashMap::new();
    let mut waits: HashMap<String, i64> = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| matches!(e.parsed, Url::Web { .. }))
    {
        let key = connection_key(e);
        if let Some(c) = tcp_connect(e) {
            let least = connects.entry(key.clone()).or_insert(c);
            *least = (*least).min(c);
        }
        if let Some(w) = e.wait {
            let least = waits.entry(key).or_insert(w);
            *least = (*least).min(w);
        }
    }
    let mut out: HashMap<String, RoundTrip> = waits
        .into_iter()
        .map(|(k, micros)| {
            let rt = RoundTrip {
                micros,
                source: RttSource::SmallestWait,
            };
            (k, rt)
        })
        .collect();
    for (k, micros) in connects {
        out.insert(
            k,
            RoundTrip {
                micros,
                source: RttSource::Connect,
            },
        );
    }
    out
}

/// When entries started and ended, for `after` and `delay`.
struct Timeline<'a> {
    entries: &'a [Entry],
    /// The page's first start (of any http(s) entry, kept or not).
    page_start: i64,
    /// Kept entries (positions in `entries`) by when their response ended.
    by_end: Vec<(i64, usize)>,
    /// Positions of the entries of each URL (fragment dropped).
    by_url: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Timeline<'a> {
    fn new(entries: &'a [Entry], kept: &[usize]) -> Self {
        let web = entries
            .iter()
            .filter(|e| matches!(e.parsed, Url::Web { .. }));
        let page_start = web.map(|e| e.started).min().unwrap_or_default();
        let mut by_end: Vec<(i64, usize)> = kept
            .iter()
            .map(|&p| (entries[p].started + entries[p].time, p))
            .collect();
        by_end.sort_unstable();
        let mut by_url: HashMap<&str, Vec<usize>> = HashMap::new();
        for (p, e) in entries.iter().enumerate() {
            by_url.entry(without_fragment(&e.url)).or_default().push(p);
        }
        Timeline {
            entries,
            page_start,
            by_end,
            by_url,
        }
    }

    fn end(&self, p: usize) -> i64 {
        self.entries[p].started + self.entries[p].time
    }

    /// The order every `after` respects: an entry waits only for one before it.
    fn key(&self, p: usize) -> (i64, usize) {
        (self.entries[p].started, p)
    }

    /// The latest entry of `url` that started before entry `p`.
    fn initiator(&self, p: usize, url: &str) -> Option<usize> {
        self.by_url
            .get(without_fragment(url))?
            .iter()
            .copied()
            .filter(|&q| self.key(q) < self.key(p))
            .max_by_key(|&q| self.key(q))
    }

    /// The kept entry whose response ended last at or before entry `p` started.
    fn latest_ended(&self, p: usize) -> Option<usize> {
        let started = self.entries[p].started;
        let upto = self.by_end.partition_point(|&(end, _)| end <= started);
        self.by_end[..upto]
            .iter()
            .rev()
            .map(|&(_, q)| q)
            .find(|&q| self.key(q) < self.key(p))
    }

    /// The entry `p`'s request waits for, by its own rule, kept or not.
    fn parent(&self, p: usize) -> Option<usize> {
        match &self.entries[p].initiator {
            Initiator::Absent => self.latest_ended(p),
            Initiator::NoUrl => None,
            Initiator::Url(u) => self.initiator(p, u),
        }
    }

    /// The kept entry `p` waits for, and how it was found.
    fn after(&self, p: usize, kept: &HashMap<usize, usize>) -> (Option<usize>, Discovery) {
        let found = self.parent(p);
        let discovery = match (&self.entries[p].initiator, found) {
            (Initiator::Absent, Some(_)) => Discovery::LatestEnded,
            (Initiator::Absent, None) => Discovery::NothingEnded,
            (Initiator::NoUrl, _) => Discovery::NoInitiatorUrl,
            (Initiator::Url(_), None) => Discovery::InitiatorNotFound,
            (Initiator::Url(_), Some(q)) if kept.contains_key(&q) => Discovery::Initiator,
            (Initiator::Url(_), Some(q)) => Discovery::Repointed {
                skipped: self.entries[q].index,
            },
        };
        // Each step goes to an entry with a smaller key, so this ends; the bound is a guard.
        let mut at = found;
        for _ in 0..self.entries.len() {
            match at {
                Some(q) if !kept.contains_key(&q) => at = self.parent(q),
                _ => break,
            }
        }
        (at.filter(|q| kept.contains_key(q)), discovery)
    }
}

fn without_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// The `[network]` the HAR suggests (see [`NetworkEstimate`]).
fn estimate(entries: &[Entry]) -> NetworkEstimate {
    let web: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.parsed, Url::Web { .. }))
        .collect();
    let rtt = web.iter().filter_map(|e| tcp_connect(e)).min();
    let mut transfers: Vec<(u64, i64)> = web
        .iter()
        .filter(|e| e.from_cache.is_none())
        .filter_map(|e| Some((e.transferred?, e.receive?)))
        .filter(|&(bytes, receive)| bytes > 0 && receive > 0)
        .collect();
    transfers.sort_by_key(|t| std::cmp::Reverse(t.0));
    transfers.truncate(LARGEST_TRANSFERS);
    let bandwidth = transfers
        .iter()
        .map(|&(bytes, receive)| {
            let bps = u128::from(bytes) * 8 * 1_000_000 / u128::from(receive.unsigned_abs());
            u64::try_from(bps).unwrap_or(u64::MAX)
        })
        .max();
    NetworkEstimate {
        rtt,
        bandwidth,
        transfers: transfers.len(),
    }
}
