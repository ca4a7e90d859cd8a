//! The per-protocol summary across repetitions: the numbers the Markdown and HTML reports print
//! and the verdict reasons from. It owns how repetitions are aggregated (order statistics and
//! the median's bootstrap interval from `httplab_core::stats`) and which repetition represents
//! a protocol; it deliberately formats nothing.

use httplab_core::stats::{self, Interval};
use httplab_core::{Protocol, RequestRecord, RunRecord};
use std::time::Duration;

/// Per-protocol summary across repetitions.
///
/// Counts (`connections_opened`, handshakes, `wire_bytes`) are means per repetition.
/// `mean_blocked` and `mean_ttfb` are means over every request that did not fail, across all
/// repetitions; `failed_requests` is the total across all repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolSummary {
    /// The configuration's name: `RunRecord::label` (the protocol id, plus the server's
    /// pipelining model for pipelined runs that chose one).
    pub label: String,
    pub protocol: Protocol,
    pub repetitions: usize,
    pub page_time_median: Duration,
    /// Nearest-rank 95th percentile (with fewer than 20 repetitions, the slowest one).
    pub page_time_p95: Duration,
    pub page_time_min: Duration,
    pub page_time_max: Duration,
    /// Bootstrap 95% interval of the median page time (`stats::median_ci`); `None` with fewer
    /// than `stats::MIN_REPETITIONS` repetitions.
    pub page_time_median_ci: Option<Interval<Duration>>,
    /// Every repetition's page time, in the order the runs appear.
    pub page_times: Vec<Duration>,
    /// Mean per repetition.
    pub connections_opened: f64,
    pub tcp_handshakes: f64,
    pub tls_handshakes: f64,
    pub mean_blocked: Duration,
    /// `mean_blocked` split (`causes.rs`): queued for a connection or stream slot, and waiting
    /// for the connection's own handshakes (multiplexed requests issued before their one
    /// connection was up). Means over the requests that did not fail; set by the analysis.
    pub mean_queued: Duration,
    pub mean_own_handshake: Duration,
    /// Mean `wait`: last request byte written → first response byte read.
    pub mean_ttfb: Duration,
    /// Mean head-of-line time over the requests that had any (pipelining); `None` when none did.
    pub mean_hol: Option<Duration>,
    /// Requests with head-of-line time, mean per repetition.
    pub hol_requests: f64,
    /// Mean per repetition, both directions, TLS records included.
    pub wire_bytes: f64,
    pub failed_requests: usize,
    /// Requests issued, mean per repetition.
    pub requests: f64,
    /// Header bytes each way, mean per repetition: for HTTP/1.x the text heads as written and
    /// read; for HTTP/2 the HPACK-compressed header blocks (HEADERS + CONTINUATION payloads)
    /// counted in the frames, or the request records' counts on a connection without frame
    /// counts (see `header_bytes_from_frames`).
    pub request_header_bytes: f64,
    pub response_header_bytes: f64,
    /// Body bytes each way, mean per repetition, as the request records count them (without
    /// chunked or DATA framing).
    pub request_body_bytes: f64,
    pub response_body_bytes: f64,
    /// Whether any header bytes above came from counted HTTP/2 frames.
    pub header_bytes_from_frames: bool,
    /// Index into this protocol's runs (in the order they appear in `runs`) of the
    /// representative repetition by page time (`stats::median_index`).
    pub median_repetition: usize,
}

/// Configuration labels present in `runs`, with their protocol, in order of first appearance.
pub(crate) fn labels(runs: &[RunRecord]) -> Vec<(String, Protocol)> {
    let mut out: Vec<(String, Protocol)> = Vec::new();
    for r in runs {
        let label = r.label();
        if !out.iter().any(|(l, _)| *l == label) {
            out.push((label, r.protocol));
        }
    }
    out
}

/// One configuration's runs, in the order they appear in `runs`.
pub(crate) fn runs_of<'a>(runs: &'a [RunRecord], label: &str) -> Vec<&'a RunRecord> {
    runs.iter().filter(|r| r.label() == label).collect()
}

/// The representative run of each summary, alongside it.
pub(crate) fn median_run<'a>(runs: &'a [RunRecord], s: &ProtocolSummary) -> Option<&'a RunRecord> {
    runs.iter()
        .filter(|r| r.label() == s.label)
        .nth(s.median_repetition)
}

/// Summarizes every protocol present in `runs`, in order of first appearance.
pub fn summarize(runs: &[RunRecord]) -> Vec<ProtocolSummary> {
    labels(runs)
        .into_iter()
        .map(|(label, p)| {
            let of = runs_of(runs, &label);
            summarize_one(label, p, &of)
        })
        .collect()
}

fn summarize_one(label: String, protocol: Protocol, runs: &[&RunRecord]) -> ProtocolSummary {
    let page_times: Vec<Duration> = runs.iter().map(|r| r.page_time).collect();
    let per_rep = |f: &dyn Fn(&RunRecord) -> f64| -> f64 {
        if runs.is_empty() {
            0.0
        } else {
            runs.iter().map(|r| f(r)).sum::<f64>() / runs.len() as f64
        }
    };
    let ok_requests = || {
        runs.iter()
            .flat_map(|r| r.requests.iter())
            .filter(|q| q.error.is_none())
    };
    let blocked: Vec<Duration> = ok_requests().map(|q| q.phases.blocked).collect();
    let waits: Vec<Duration> = ok_requests().map(|q| q.phases.wait).collect();
    let hols: Vec<Duration> = ok_requests()
        .filter_map(|q| q.phases.hol)
        .filter(|h| !h.is_zero())
        .collect();
    let (page_time_min, page_time_max) = stats::min_max(&page_times).unwrap_or_default();
    ProtocolSummary {
        label,
        protocol,
        repetitions: runs.len(),
        page_time_median: stats::median(&page_times).unwrap_or_default(),
        page_time_p95: stats::percentile(&page_times, 95.0).unwrap_or_default(),
        page_time_min,
        page_time_max,
        page_time_median_ci: stats::median_ci(&page_times),
        connections_opened: per_rep(&|r| r.connections.len() as f64),
        tcp_handshakes: per_rep(&|r| r.tcp_handshakes() as f64),
        tls_handshakes: per_rep(&|r| r.tls_handshakes() as f64),
        mean_blocked: stats::mean(&blocked).unwrap_or_default(),
        mean_queued: Duration::ZERO,
        mean_own_handshake: Duration::ZERO,
        mean_ttfb: stats::mean(&waits).unwrap_or_default(),
        mean_hol: stats::mean(&hols),
        hol_requests: if runs.is_empty() {
            0.0
        } else {
            hols.len() as f64 / runs.len() as f64
        },
        wire_bytes: per_rep(&|r| r.wire_bytes() as f64),
        failed_requests: runs.iter().map(|r| r.failed_requests()).sum(),
        requests: per_rep(&|r| r.requests.len() as f64),
        request_header_bytes: per_rep(&|r| header_bytes(r).request as f64),
        response_header_bytes: per_rep(&|r| header_bytes(r).response as f64),
        request_body_bytes: per_rep(&|r| {
            r.requests.iter().map(|q| q.request_body_bytes).sum::<u64>() as f64
        }),
        response_body_bytes: per_rep(&|r| {
            r.requests
                .iter()
                .map(|q| q.response_body_bytes)
                .sum::<u64>() as f64
        }),
        header_bytes_from_frames: runs.iter().any(|r| header_bytes(r).from_frames),
        median_repetition: stats::median_index(&page_times).unwrap_or(0),
        page_times,
    }
}

/// One run's header bytes each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HeaderBytes {
    pub request: u64,
    pub response: u64,
    /// Whether any connection's count came from its HTTP/2 frames.
    pub from_frames: bool,
}

/// A run's header bytes: per connection, the HTTP/2 header blocks its frames counted when it
/// has frame counts (HTTP/2 runs), else the request records' head bytes of the requests it
/// carried; plus the records of requests that got no connection.
pub(crate) fn header_bytes(run: &RunRecord) -> HeaderBytes {
    let h2 = matches!(run.protocol, Protocol::H2 | Protocol::H2c);
    let mut out = HeaderBytes::default();
    fn add_records<'a>(out: &mut HeaderBytes, rs: impl Iterator<Item = &'a RequestRecord>) {
        for r in rs {
            out.request += r.request_header_bytes;
            out.response += r.response_header_bytes;
        }
    }
    for c in &run.connections {
        match c.h2_frames.filter(|_| h2) {
            Some(f) => {
                out.request += f.sent.header_block_bytes;
                out.response += f.received.header_block_bytes;
                out.from_frames = true;
            }
            None => add_records(
                &mut out,
                run.requests.iter().filter(|r| r.connection == Some(c.id)),
            ),
        }
    }
    let known = |id: u32| run.connections.iter().any(|c| c.id == id);
    add_records(
        &mut out,
        run.requests
            .iter()
            .filter(|r| !r.connection.is_some_and(known)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_repetition_is_the_middle_page_time_among_that_protocols_runs() {
        // Interleaved protocols: the index counts only http1.0's runs.
        let runs = vec![
            RunBuilder::http10(0, 50).build(),
            RunBuilder::http11(0, 5).build(),
            RunBuilder::http10(1, 10).build(),
            RunBuilder::http11(1, 7).build(),
            RunBuilder::http10(2, 40).build(),
            RunBuilder::http10(3, 20).build(),
            RunBuilder::http10(4, 30).build(),
        ];
        let s = summarize(&runs);
        assert_eq!(
            s.iter().map(|s| s.protocol).collect::<Vec<_>>(),
            [Protocol::Http10, Protocol::Http11]
        );
        let h10 = &s[0];
        assert_eq!(h10.repetitions, 5);
        assert_eq!(
            h10.median_repetition, 4,
            "page times 50,10,40,20,30 → the 30 ms one"
        );
        assert_eq!(
            median_run(&runs, h10).map(|r| (r.repetition, r.page_time)),
            Some((4, Duration::from_millis(30)))
        );
        assert_eq!(h10.page_time_median, Duration::from_millis(30));
        assert_eq!(h10.page_time_p95, Duration::from_millis(50));
        assert_eq!(h10.page_time_min, Duration::from_millis(10));
        assert_eq!(h10.page_time_max, Duration::from_millis(50));
        assert_eq!(h10.page_times, ms(&[50, 10, 40, 20, 30]));
        let ci = h10.page_time_median_ci.expect("five repetitions");
        assert!(ci.low <= ms(&[30])[0] && ms(&[30])[0] <= ci.high, "{ci:?}");
        // Two runs: the lower middle one is the representative, the median is their mean.
        let h11 = &s[1];
        assert_eq!(h11.median_repetition, 0);
        assert_eq!(h11.page_time_median, Duration::from_millis(6));
        assert_eq!(
            h11.page_time_median_ci, None,
            "two repetitions: no interval"
        );
    }

    #[test]
    fn hol_is_averaged_over_the_requests_that_had_it() {
        let runs = vec![
            RunBuilder::http11(0, 23)
                .hol(2, Duration::from_micros(700))
                .hol(3, Duration::from_micros(900))
                .build(),
            RunBuilder::http11(1, 23).build(),
        ];
        let s = &summarize(&runs)[0];
        assert_eq!(s.mean_hol, Some(Duration::from_micros(800)));
        assert_eq!(s.hol_requests, 1.0);
        assert_eq!(summarize(&runs[1..])[0].mean_hol, None);
    }

    #[test]
    fn counts_are_means_per_repetition_and_failures_are_totals() {
        let runs = vec![
            RunBuilder::http10(0, 10).build(),
            RunBuilder::http10(1, 10)
                .fail(2, "connection reset")
                .build(),
        ];
        let s = &summarize(&runs)[0];
        // The fixture's http1.0 run: 4 requests, a TLS connection each.
        assert_eq!(s.connections_opened, 4.0);
        assert_eq!(s.tcp_handshakes, 4.0);
        assert_eq!(s.tls_handshakes, 4.0);
        assert_eq!(s.failed_requests, 1);
        let one = runs[0].wire_bytes() as f64;
        let two = runs[1].wire_bytes() as f64;
        assert_eq!(s.wire_bytes, (one + two) / 2.0);
        // The fixture's TTFB is 2 ms for every request; blocked is 3 us on new connections.
        assert_eq!(s.mean_ttfb, Duration::from_millis(2));
        assert_eq!(s.mean_blocked, Duration::from_micros(3));
    }

    #[test]
    fn header_bytes_are_text_heads_for_http1_and_hpack_blocks_for_h2() {
        let runs = vec![
            RunBuilder::http11(0, 23).build(),
            RunBuilder::http11(1, 23).fail(1, "reset").build(),
            RunBuilder::h2(0, 15).build(),
            // A repetition whose connection carries no frame counts: its records count.
            RunBuilder::h2(1, 16).without_h2_frames().build(),
        ];
        let s = summarize(&runs);
        let (h1, h2) = (&s[0], &s[1]);
        // 4 requests of 64-byte heads; 96-byte response heads, none for the failed request.
        assert_eq!(h1.requests, 4.0);
        assert_eq!(h1.request_header_bytes, 256.0);
        assert_eq!(h1.response_header_bytes, (384.0 + 288.0) / 2.0);
        assert_eq!(h1.request_body_bytes, 0.0);
        assert_eq!(h1.response_body_bytes, (44_000.0 + 30_000.0) / 2.0);
        assert!(!h1.header_bytes_from_frames);
        // h2: HPACK blocks of 30 + 3 × 8 and 40 + 3 × 6 bytes in repetition 0, the records'
        // 256 and 384 in repetition 1.
        assert_eq!(h2.protocol, Protocol::H2);
        assert_eq!(h2.request_header_bytes, (54.0 + 256.0) / 2.0);
        assert_eq!(h2.response_header_bytes, (58.0 + 384.0) / 2.0);
        assert_eq!(h2.response_body_bytes, 44_000.0);
        assert!(h2.header_bytes_from_frames);
    }

    #[test]
    fn frame_counts_on_an_http1_run_are_ignored_and_orphan_requests_count() {
        let mut run = RunBuilder::http11(0, 23).build();
        run.connections[0].h2_frames = RunBuilder::h2(0, 1).build().connections[0].h2_frames;
        // A request that never got a connection still wrote its head.
        run.requests[3].connection = None;
        assert_eq!(
            header_bytes(&run),
            HeaderBytes {
                request: 256,
                response: 384,
                from_frames: false
            }
        );
        let mut h2 = RunBuilder::h2(0, 15).build();
        h2.requests[3].connection = Some(7);
        assert_eq!(
            header_bytes(&h2),
            HeaderBytes {
                request: 54 + 64,
                response: 58 + 96,
                from_frames: true
            }
        );
    }
}
