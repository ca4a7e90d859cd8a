//! The reports' tables as values: the summary (a row per measure, a column per
//! configuration), the requests of a median run, and the conditions a run happened in. Each is
//! computed here once, from the [`Analysis`], with its cells' words and numbers; `report.md`
//! and `report.html` lay the same rows out, each in its own markup, and add nothing.

use crate::analysis::Analysis;
use crate::causes::Cause;
use crate::date::rfc3339;
use crate::summary::{median_run, runs_of, ProtocolSummary};
use crate::verdict::count;
use httplab_core::stats::Interval;
use httplab_core::units::{format_duration, format_size};
use httplab_core::{ConnectionRecord, HandshakeKind, Protocol, RunRecord, TlsVersion};
use std::fmt::Write as _;
use std::time::Duration;

/// One cell of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// The median page time with its bootstrap 95% interval (3 or more repetitions).
    Median {
        median: Duration,
        ci: Option<Interval<Duration>>,
    },
    Duration(Duration),
    /// Least – most.
    Range(Duration, Duration),
    /// A mean per repetition, as people say it ("13", or "6.5").
    Count(f64),
    Whole(usize),
    /// A mean byte count.
    Size(f64),
    /// Mean head-of-line time over the requests that had any, and how many did per repetition.
    Hol {
        mean: Option<Duration>,
        requests: f64,
    },
}

impl Cell {
    /// The cell as plain words; `range` separates the ends of a range.
    pub(crate) fn text(&self, range: &str) -> String {
        match self {
            Cell::Median { median, .. } => format_duration(*median),
            Cell::Duration(d) => format_duration(*d),
            Cell::Range(low, high) => {
                format!("{}{range}{}", format_duration(*low), format_duration(*high))
            }
            Cell::Count(x) => count(*x),
            Cell::Whole(n) => n.to_string(),
            Cell::Size(b) => format_size(b.max(0.0).round() as u64),
            Cell::Hol { mean: None, .. } => "–".to_string(),
            Cell::Hol {
                mean: Some(mean), ..
            } => format_duration(*mean),
        }
    }

    /// The median's interval, as words ("–" without one).
    pub(crate) fn interval(ci: Option<Interval<Duration>>) -> String {
        ci.map_or_else(
            || "–".to_string(),
            |ci| format!("{}–{}", format_duration(ci.low), format_duration(ci.high)),
        )
    }

    /// What the head-of-line mean was taken over: "on 1 request".
    pub(crate) fn hol_over(requests: f64) -> String {
        format!(
            "on {} request{}",
            count(requests),
            if count(requests) == "1" { "" } else { "s" }
        )
    }
}

/// One row of the summary table.
pub(crate) struct SummaryRow {
    pub name: &'static str,
    pub cell: fn(&ProtocolSummary) -> Cell,
}

/// The summary table's rows, top to bottom.
pub(crate) const SUMMARY_ROWS: &[SummaryRow] = &[
    SummaryRow {
        name: "Page load time, median",
        cell: |s| Cell::Median {
            median: s.page_time_median,
            ci: s.page_time_median_ci,
        },
    },
    SummaryRow {
        name: "Page load time, p95",
        cell: |s| Cell::Duration(s.page_time_p95),
    },
    SummaryRow {
        name: "Page load time, min–max",
        cell: |s| Cell::Range(s.page_time_min, s.page_time_max),
    },
    SummaryRow {
        name: "Repetitions",
        cell: |s| Cell::Whole(s.repetitions),
    },
    SummaryRow {
        name: "Connections opened",
        cell: |s| Cell::Count(s.connections_opened),
    },
    SummaryRow {
        name: "TCP handshakes",
        cell: |s| Cell::Count(s.tcp_handshakes),
    },
    SummaryRow {
        name: "TLS handshakes",
        cell: |s| Cell::Count(s.tls_handshakes),
    },
    SummaryRow {
        name: "Mean blocked",
        cell: |s| Cell::Duration(s.mean_blocked),
    },
    SummaryRow {
        name: "… queued for a connection or stream",
        cell: |s| Cell::Duration(s.mean_queued),
    },
    SummaryRow {
        name: "… waiting for its connection's handshakes",
        cell: |s| Cell::Duration(s.mean_own_handshake),
    },
    SummaryRow {
        name: "Mean TTFB (wait)",
        cell: |s| Cell::Duration(s.mean_ttfb),
    },
    SummaryRow {
        name: "Mean head-of-line",
        cell: |s| Cell::Hol {
            mean: s.mean_hol,
            requests: s.hol_requests,
        },
    },
    SummaryRow {
        name: "Bytes on the wire",
        cell: |s| Cell::Size(s.wire_bytes),
    },
    SummaryRow {
        name: "Request header bytes",
        cell: |s| Cell::Size(s.request_header_bytes),
    },
    SummaryRow {
        name: "Response header bytes",
        cell: |s| Cell::Size(s.response_header_bytes),
    },
    SummaryRow {
        name: "Body bytes (up)",
        cell: |s| Cell::Size(s.request_body_bytes),
    },
    SummaryRow {
        name: "Body bytes (down)",
        cell: |s| Cell::Size(s.response_body_bytes),
    },
    SummaryRow {
        name: "Failed requests",
        cell: |s| Cell::Whole(s.failed_requests),
    },
    SummaryRow {
        name: "Median repetition",
        cell: |s| Cell::Whole(s.median_repetition),
    },
];

/// The name of the row Markdown gives the median's interval (HTML sets it in the median's
/// cell).
pub(crate) const MEDIAN_CI_ROW: &str = "Median's 95% CI (bootstrap)";

/// What the summary's numbers are over, under the table.
pub(crate) const SUMMARY_NOTE: &str = "Connections, handshakes and bytes are means per \
    repetition; blocked, TTFB and head-of-line are means over the requests that did not fail \
    (head-of-line over those that had any); failed requests are totals over all repetitions; \
    the median repetition counts the configuration's runs from 0; the median's interval needs \
    3 or more repetitions. Header bytes are HTTP/1.x's text heads and HTTP/2's HPACK-compressed \
    header blocks.";

/// The index of the configuration with the least median page time.
pub(crate) fn best(summaries: &[ProtocolSummary]) -> Option<usize> {
    summaries
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| s.page_time_median)
        .map(|(i, _)| i)
}

/// The requests of one run, in issue order, a row of words each.
pub(crate) struct RequestTable<'a> {
    pub run: &'a RunRecord,
    /// Column names, left to right.
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<RequestCell>>,
}

/// One cell of the request table: plain words (escaped by the view), marked when they report
/// a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestCell {
    pub text: String,
    pub failed: bool,
}

impl RequestTable<'_> {
    pub(crate) fn of(run: &RunRecord) -> RequestTable<'_> {
        let with_hol = run.requests.iter().any(|r| r.phases.hol.is_some());
        let mut columns = vec![
            "request",
            "connection",
            "status",
            "issued",
            "blocked",
            "connect",
            "ssl",
            "send",
            "wait",
            "receive",
        ];
        if with_hol {
            columns.push("hol");
        }
        columns.extend(["total", "server arrival"]);
        let plain = |text: String| RequestCell {
            text,
            failed: false,
        };
        let phase = |d: Option<Duration>| plain(d.map_or_else(|| "–".to_string(), format_duration));
        let since_start = |at: Duration| format_duration(at.saturating_sub(run.started_at));
        let mut requests: Vec<_> = run.requests.iter().collect();
        requests.sort_by_key(|r| (r.issued_at, r.id));
        let rows = requests
            .into_iter()
            .map(|r| {
                let p = &r.phases;
                let status = match &r.error {
                    Some(e) => RequestCell {
                        text: format!("failed: {e}"),
                        failed: true,
                    },
                    None => plain(r.status.to_string()),
                };
                let mut row = vec![
                    plain(format!("{} {}", r.id, r.path)),
                    plain(
                        r.connection
                            .map_or_else(|| "–".to_string(), |c| c.to_string()),
                    ),
                    status,
                    plain(since_start(r.issued_at)),
                    phase(Some(p.blocked)),
                    phase(p.connect),
                    phase(p.ssl),
                    phase(Some(p.send)),
                    phase(Some(p.wait)),
                    phase(Some(p.receive)),
                ];
                if with_hol {
                    row.push(phase(p.hol));
                }
                row.push(phase(Some(p.total())));
                row.push(plain(
                    run.server_view(r.id)
                        .map_or_else(|| "–".to_string(), |s| since_start(s.arrived_at)),
                ));
                row
            })
            .collect();
        RequestTable { run, columns, rows }
    }
}

/// A piece of a condition's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Plain(String),
    /// A name to set in code type: a configuration's label, a command line.
    Code(String),
    Strong(String),
}

/// One fact of the conditions a run happened in: a label and one or more lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    /// A stable key (HTML's `data-key`).
    pub key: &'static str,
    pub label: &'static str,
    pub lines: Vec<Vec<Piece>>,
}

fn plain(s: impl Into<String>) -> Vec<Piece> {
    vec![Piece::Plain(s.into())]
}

fn requests_word(n: usize) -> String {
    format!("{n} request{}", if n == 1 { "" } else { "s" })
}

/// The conditions the run happened in, top to bottom: the workload, client, TLS, server and
/// network, the link's self-check and the model, then the machine and the command. A new
/// condition is one more row here.
pub(crate) fn conditions(a: &Analysis<'_>) -> Vec<Condition> {
    let (scenario, env) = (a.scenario, a.env);
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            s.to_string()
        }
    };
    let row = |key, label, lines| Condition { key, label, lines };
    let c = &scenario.client;
    let sv = &scenario.server;
    let mut name = vec![Piece::Strong(scenario.name.clone())];
    if !scenario.description.trim().is_empty() {
        name.push(Piece::Plain(format!(" — {}", scenario.description.trim())));
    }
    let mut configurations = Vec::new();
    for (i, s) in a.summaries.iter().enumerate() {
        if i > 0 {
            configurations.push(Piece::Plain(", ".into()));
        }
        configurations.push(Piece::Code(s.label.clone()));
        configurations.push(Piece::Plain(format!(" × {}", s.repetitions)));
    }
    let mut client = format!(
        "at most {} connection{} per host",
        c.max_connections_per_host,
        if c.max_connections_per_host == 1 {
            ""
        } else {
            "s"
        }
    );
    if c.cookie > 0 {
        let _ = write!(client, "; a {}-byte cookie on every request", c.cookie);
    }
    let mut rows = vec![
        row("scenario", "Scenario", vec![name]),
        row("protocols", "Configurations run", vec![configurations]),
        row(
            "workload",
            "Workload",
            vec![plain(format!(
                "{} ({} of response bodies), all issued at the start, in file order",
                requests_word(scenario.resources.len()),
                format_size(scenario.page_bytes())
            ))],
        ),
        row("client", "Client", vec![plain(client)]),
        row(
            "tls",
            "TLS",
            vec![plain(format!(
                "HTTP/1.x {}; h2 always over TLS, h2c never; version {}; session resumption {}",
                if c.tls { "over TLS" } else { "in cleartext" },
                match c.tls_version {
                    None => "negotiated",
                    Some(TlsVersion::Tls12) => "1.2 only",
                    Some(TlsVersion::Tls13) => "1.3 only",
                },
                if c.resumption { "on" } else { "off" }
            ))],
        ),
    ];
    let negotiated = negotiated_tls(a.runs, &a.summaries);
    if !negotiated.is_empty() {
        rows.push(row("tls_negotiated", "TLS negotiated", negotiated));
    }
    let mut server = format!(
        "think time {} unless a resource sets its own",
        format_duration(sv.think)
    );
    let own_think = scenario
        .resources
        .iter()
        .filter(|r| r.think != sv.think)
        .count();
    if own_think > 0 {
        let _ = write!(server, " ({own_think} do)");
    }
    if !sv.pipelining.is_empty() {
        let models: Vec<&str> = sv.pipelining.iter().map(|m| m.id()).collect();
        let _ = write!(server, "; pipelining served {}", models.join(" and "));
    }
    rows.push(row("server", "Server", vec![plain(server)]));
    let ran = |p: &dyn Fn(Protocol) -> bool| a.summaries.iter().any(|s| p(s.protocol));
    if ran(&|p| p == Protocol::Http11Pipelined) {
        rows.push(row(
            "pipelining",
            "Pipelining",
            vec![plain(format!(
                "{} connection{}, depth {}",
                c.pipeline_connections,
                if c.pipeline_connections == 1 { "" } else { "s" },
                c.pipeline_depth
                    .map_or_else(|| "unlimited".to_string(), |d| d.to_string())
            ))],
        ));
    }
    if ran(&|p| matches!(p, Protocol::H2 | Protocol::H2c)) {
        rows.push(row(
            "http2",
            "HTTP/2",
            vec![plain(format!(
                "server: max concurrent streams {}, stream window {}, max frame size {}; client: \
                 stream window {}, connection window {}",
                sv.max_concurrent_streams,
                format_size(u64::from(sv.h2_stream_window)),
                format_size(u64::from(sv.max_frame_size)),
                format_size(u64::from(c.h2_stream_window)),
                format_size(u64::from(c.h2_connection_window))
            ))],
        ));
    }
    rows.push(row("network", "Network", vec![plain(a.network.clone())]));
    if let Some(check) = &a.link_check {
        rows.push(row(
            "link_check",
            "Link self-check",
            vec![plain(check.sentence())],
        ));
    }
    if !a.accept.is_empty() {
        rows.push(row(
            "accept_backlog",
            "Server accept backlog",
            a.accept.iter().map(plain).collect(),
        ));
    }
    if !a.model.is_empty() {
        rows.push(row(
            "model",
            "Analytical model",
            a.model.iter().map(plain).collect(),
        ));
    }
    rows.push(row(
        "congestion_control",
        "TCP congestion control (host default)",
        vec![plain(or_unknown(&env.congestion_control))],
    ));
    rows.push(row(
        "kernel",
        "Kernel",
        vec![plain(or_unknown(&env.kernel))],
    ));
    rows.push(row("host", "Host", vec![plain(or_unknown(&env.hostname))]));
    rows.push(row(
        "httplab_version",
        "httplab version",
        vec![plain(or_unknown(&env.httplab_version))],
    ));
    if let Some(first) = a.runs.iter().min_by_key(|r| r.epoch_unix_ms) {
        rows.push(row(
            "started",
            "First run started",
            vec![plain(rfc3339(first.epoch_unix_ms, first.started_at))],
        ));
    }
    rows.push(row(
        "command_line",
        "Command line",
        vec![if env.command_line.trim().is_empty() {
            plain("unknown")
        } else {
            vec![Piece::Code(env.command_line.clone())]
        }],
    ));
    for note in &env.notes {
        rows.push(row("note", "Note", vec![plain(note.clone())]));
    }
    rows
}

/// What TLS the connections negotiated, a line per configuration: version, cipher, group and
/// ALPN (each distinct combination), with full and resumed handshakes per repetition.
fn negotiated_tls(runs: &[RunRecord], summaries: &[ProtocolSummary]) -> Vec<Vec<Piece>> {
    let mut lines = Vec::new();
    for s in summaries {
        let of: Vec<&RunRecord> = runs_of(runs, &s.label);
        let mut kinds: Vec<String> = Vec::new();
        let (mut full, mut resumed, mut early) = (0usize, 0usize, 0usize);
        for t in of
            .iter()
            .flat_map(|r| r.connections.iter())
            .filter_map(|c| c.tls.as_ref())
        {
            let kind = format!(
                "{} {} {} ALPN {}",
                t.version,
                t.cipher,
                t.key_exchange_group.as_deref().unwrap_or("(group unknown)"),
                t.alpn.as_deref().unwrap_or("none")
            );
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
            match t.handshake_kind {
                HandshakeKind::Resumed => resumed += 1,
                HandshakeKind::ZeroRtt => early += 1,
                _ => full += 1,
            }
        }
        if kinds.is_empty() {
            continue;
        }
        let n = of.len().max(1) as f64;
        let early = match early {
            0 => String::new(),
            e => format!(" and {} 0-RTT", count(e as f64 / n)),
        };
        // The median run's connections by the round trips their handshakes cost.
        let mut ledger: Vec<(String, usize)> = Vec::new();
        for c in median_run(runs, s).map_or(&[][..], |r| &r.connections[..]) {
            let trips = round_trips(c);
            match ledger.iter_mut().find(|(t, _)| *t == trips) {
                Some((_, n)) => *n += 1,
                None => ledger.push((trips, 1)),
            }
        }
        let ledger = match ledger.is_empty() {
            true => String::new(),
            false => format!(
                "; round trips before a connection's first request could leave (median run): {}",
                ledger
                    .iter()
                    .map(|(t, n)| format!("{t} × {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        lines.push(vec![
            Piece::Code(s.label.clone()),
            Piece::Plain(format!(
                ": {}; {} full, {} resumed{early} handshakes per repetition{ledger}",
                kinds.join(" | "),
                count(full as f64 / n),
                count(resumed as f64 / n)
            )),
        ]);
    }
    lines
}

/// The round trips a connection's handshakes cost before its first request could leave, as
/// the protocols define them: TCP's one, then TLS 1.3's one (TLS 1.2's two, one when resumed);
/// QUIC's one handshake; none for QUIC 0-RTT, whose requests leave with its first packet.
fn round_trips(c: &ConnectionRecord) -> String {
    let kind = c.tls.as_ref().map(|t| t.handshake_kind);
    if c.quic.is_some() {
        return match kind {
            Some(HandshakeKind::ZeroRtt) => "0 (QUIC 0-RTT)".into(),
            _ => "1 (QUIC, TLS 1.3 inside)".into(),
        };
    }
    let tls = match c.tls.as_ref() {
        None => return "1 (TCP)".into(),
        Some(t) => match (t.version.as_str(), t.handshake_kind) {
            ("TLSv1.2", HandshakeKind::Resumed) => 1,
            ("TLSv1.2", _) => 2,
            _ => 1,
        },
    };
    format!("{} (TCP 1 + TLS {tls})", 1 + tls)
}

/// The page's time by cause, one column per configuration: the mean over its repetitions of
/// its critical path's split (`causes.rs`). Rows are the causes any configuration spent time
/// on, in the order of a request's life, then the total (the mean page time along the path).
pub(crate) struct CauseTable {
    pub rows: Vec<(Cause, Vec<Duration>)>,
    pub totals: Vec<Duration>,
}

impl CauseTable {
    pub(crate) fn of(a: &Analysis<'_>) -> CauseTable {
        let rows = Cause::ALL
            .iter()
            .map(|c| {
                (
                    *c,
                    a.page_causes.iter().map(|s| s.get(*c)).collect::<Vec<_>>(),
                )
            })
            .filter(|(_, ds): &(Cause, Vec<Duration>)| ds.iter().any(|d| *d >= CAUSE_SHOWN))
            .collect();
        CauseTable {
            rows,
            totals: a.page_causes.iter().map(|s| s.total()).collect(),
        }
    }
}

/// A cause below this in every configuration is left out of the table (its time is in the
/// total all the same).
const CAUSE_SHOWN: Duration = Duration::from_micros(50);

/// What the cause table is, under it.
pub(crate) const CAUSES_NOTE: &str = "Each column is the page's critical path (the request \
     that ended last, and the ones it waited for) split into causes that add up to its time, \
     the mean over the repetitions. Handshakes, queueing and think time come from the lab's \
     clocks; loss recovery, congestion-window rounds and serialization from the link's view of \
     every packet (none on plain loopback, where what is left shows as the endpoints' own \
     time). `requests.csv`, `results.json` and the HAR files split every request the same way.";
