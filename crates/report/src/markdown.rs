//! `report.md`: the comparison for people. A summary table (one column per protocol) with a
//! sentence on header bytes, the verdict in words, a per-request table of each protocol's
//! median run, HTTP/2 frame tables, the environment, and one line per phase on how to read it
//! all. Durations use `units::format_duration`, sizes
//! `units::format_size`. It owns the layout only: the numbers come from `summary`, the words
//! of the verdict from `verdict`, and it writes no files.

use crate::bytes::{frame_tables, header_sentences};
use crate::date::rfc3339;
use crate::network::{link_check, model_lines, network_sentence};
use crate::server_side::accept_sentences;
use crate::summary::{median_run, summarize, ProtocolSummary};
use crate::verdict::{count, verdict};
use crate::Environment;
use httplab_core::units::{format_duration, format_size};
use httplab_core::{RunRecord, Scenario};
use std::fmt::Write as _;
use std::time::Duration;

/// The whole Markdown report.
pub fn markdown(scenario: &Scenario, runs: &[RunRecord], env: &Environment) -> String {
    let summaries = summarize(runs);
    let mut md = String::new();
    let _ = writeln!(md, "# httplab report: {}\n", inline(&scenario.name));
    if !scenario.description.trim().is_empty() {
        let _ = writeln!(md, "{}\n", scenario.description.trim());
    }
    let _ = writeln!(
        md,
        "The workload requests {} resources ({} of bodies) with at most {} connection{} per host, \
         {}; server think time {} unless a resource sets its own. Protocols: {}; {} repetition{} each.\n",
        scenario.resources.len(),
        format_size(scenario.page_bytes()),
        scenario.client.max_connections_per_host,
        if scenario.client.max_connections_per_host == 1 { "" } else { "s" },
        if scenario.client.tls { "HTTP/1.x over TLS" } else { "HTTP/1.x in cleartext" },
        format_duration(scenario.server.think),
        scenario
            .protocols
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", "),
        scenario.repeat,
        if scenario.repeat == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        md,
        "Network: {}.\n",
        network_sentence(scenario, runs, &env.notes)
    );
    if let Some(check) = link_check(runs) {
        if check.trustworthy() {
            let _ = writeln!(md, "The {}.\n", check.sentence());
        } else {
            let _ = writeln!(md, "> **{}**\n", check.sentence());
        }
    }
    for line in accept_sentences(scenario, runs, &summaries) {
        let _ = writeln!(md, "{line}.\n");
    }
    let model = model_lines(scenario, runs, &summaries);
    if !model.is_empty() {
        md.push_str("Analytical model (DESIGN.md), beside the measurements:\n\n");
        for line in model {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
    }
    let missing: Vec<String> = scenario
        .protocols
        .iter()
        .filter(|p| !summaries.iter().any(|s| s.protocol == **p))
        .map(|p| format!("`{p}`"))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            md,
            "No runs were recorded for {}; they are absent from everything below.\n",
            missing.join(", ")
        );
    }

    files(&mut md, &summaries);

    md.push_str("## Summary\n\n");
    summary_table(&mut md, &summaries);
    let headers = header_sentences(&summaries);
    if !headers.is_empty() {
        let _ = writeln!(md, "{}\n", headers.join(" "));
    }

    md.push_str("## Verdict\n\n");
    md.push_str(&verdict(&summaries, runs));
    md.push_str("\n\n");

    md.push_str("## Requests of the median run\n\n");
    md.push_str(
        "One table per protocol, for the repetition with the median page load time (the one its \
         HAR file shows). *issued* and *server arrival* are offsets from the start of the page \
         load; the other columns are durations; \"–\" means the phase did not happen (a reused \
         connection pays no connect, a cleartext one no ssl).\n\n",
    );
    for s in &summaries {
        if let Some(run) = median_run(runs, s) {
            request_table(&mut md, run);
        }
    }
    frame_tables(&mut md, runs, &summaries);

    environment(&mut md, env, runs);
    how_to_read(&mut md);
    md
}

/// Links to the other outputs beside this file.
fn files(md: &mut String, summaries: &[ProtocolSummary]) {
    let hars: Vec<String> = summaries
        .iter()
        .map(|s| {
            let file = format!("{}.har", s.label.replace('/', "-"));
            format!("[{file}]({file})")
        })
        .collect();
    md.push_str(
        "Beside this file: [report.html](report.html) draws the same comparison (waterfalls, \
         connection lanes, every repetition's page load time); \
         [requests.csv](requests.csv) holds every request of every repetition; \
         [results.json](results.json) everything",
    );
    if hars.is_empty() {
        md.push_str(".\n\n");
    } else {
        let _ = writeln!(
            md,
            "; the median run of each protocol as HAR, for DevTools: {}.\n",
            hars.join(", ")
        );
    }
}

fn summary_table(md: &mut String, summaries: &[ProtocolSummary]) {
    if summaries.is_empty() {
        md.push_str("No runs were recorded.\n\n");
        return;
    }
    let header: Vec<String> = summaries.iter().map(|s| format!("`{}`", s.label)).collect();
    let _ = writeln!(md, "| | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(summaries.len()));
    type Cell = fn(&ProtocolSummary) -> String;
    let rows: [(&str, Cell); 16] = [
        ("Page load time, median", |s| {
            format_duration(s.page_time_median)
        }),
        ("Median's 95% CI (bootstrap)", |s| {
            s.page_time_median_ci.map_or_else(
                || "–".to_string(),
                |ci| format!("{}–{}", format_duration(ci.low), format_duration(ci.high)),
            )
        }),
        ("Page load time, p95", |s| format_duration(s.page_time_p95)),
        ("Page load time, min–max", |s| {
            format!(
                "{}–{}",
                format_duration(s.page_time_min),
                format_duration(s.page_time_max)
            )
        }),
        ("Repetitions", |s| s.repetitions.to_string()),
        ("Connections opened", |s| count(s.connections_opened)),
        ("TCP handshakes", |s| count(s.tcp_handshakes)),
        ("TLS handshakes", |s| count(s.tls_handshakes)),
        ("Mean blocked", |s| format_duration(s.mean_blocked)),
        ("Mean TTFB (wait)", |s| format_duration(s.mean_ttfb)),
        ("Bytes on the wire", |s| {
            format_size(s.wire_bytes.round() as u64)
        }),
        ("Request header bytes", |s| {
            format_size(s.request_header_bytes.round() as u64)
        }),
        ("Response header bytes", |s| {
            format_size(s.response_header_bytes.round() as u64)
        }),
        ("Body bytes (down)", |s| {
            format_size(s.response_body_bytes.round() as u64)
        }),
        ("Failed requests", |s| s.failed_requests.to_string()),
        ("Median repetition", |s| s.median_repetition.to_string()),
    ];
    for (name, cell) in rows {
        let cells: Vec<String> = summaries.iter().map(cell).collect();
        let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
    }
    md.push_str(
        "\nConnections, handshakes and bytes are means per repetition; mean blocked and TTFB are \
         over every request that did not fail; failed requests are totals over all repetitions; \
         the median repetition counts this protocol's runs from 0; the median's interval needs 3 \
         or more repetitions. Header bytes are HTTP/1.x's \
         text heads and HTTP/2's HPACK-compressed header blocks.\n\n",
    );
}

fn dur(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_string(), format_duration)
}

fn request_table(md: &mut String, run: &RunRecord) {
    let _ = writeln!(
        md,
        "### `{}`: repetition {}, page load time {}\n",
        run.label(),
        run.repetition,
        format_duration(run.page_time)
    );
    let with_hol = run.requests.iter().any(|r| r.phases.hol.is_some());
    let _ = writeln!(
        md,
        "| request | connection | status | issued | blocked | connect | ssl | send | wait | receive |{} total | server arrival |",
        if with_hol { " hol |" } else { "" }
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}---:|---:|",
        if with_hol { "---:|" } else { "" }
    );
    let mut requests: Vec<_> = run.requests.iter().collect();
    requests.sort_by_key(|r| (r.issued_at, r.id));
    for r in requests {
        let p = &r.phases;
        let since_start = |at: Duration| format_duration(at.saturating_sub(run.started_at));
        let arrival = run
            .server_view(r.id)
            .map_or_else(|| "–".to_string(), |s| since_start(s.arrived_at));
        let status = match &r.error {
            Some(e) => format!("failed: {}", inline(e)),
            None => r.status.to_string(),
        };
        let _ = writeln!(
            md,
            "| {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |{} {} | {} |",
            r.id,
            inline(&r.path),
            r.connection
                .map_or_else(|| "–".to_string(), |c| c.to_string()),
            status,
            since_start(r.issued_at),
            format_duration(p.blocked),
            dur(p.connect),
            dur(p.ssl),
            format_duration(p.send),
            format_duration(p.wait),
            format_duration(p.receive),
            if with_hol {
                format!(" {} |", dur(p.hol))
            } else {
                String::new()
            },
            format_duration(p.total()),
            arrival,
        );
    }
    md.push('\n');
}

fn environment(md: &mut String, env: &Environment, runs: &[RunRecord]) {
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            inline(s)
        }
    };
    md.push_str("## Environment\n\n");
    let _ = writeln!(
        md,
        "- httplab version: {}",
        or_unknown(&env.httplab_version)
    );
    let _ = writeln!(md, "- Host: {}", or_unknown(&env.hostname));
    let _ = writeln!(md, "- Kernel: {}", or_unknown(&env.kernel));
    let _ = writeln!(
        md,
        "- TCP congestion control (host default): {}",
        or_unknown(&env.congestion_control)
    );
    if let Some(first) = runs.iter().min_by_key(|r| r.epoch_unix_ms) {
        let _ = writeln!(
            md,
            "- First run started: {}",
            rfc3339(first.epoch_unix_ms, first.started_at)
        );
    }
    if env.command_line.trim().is_empty() {
        md.push_str("- Command line: unknown\n");
    } else {
        let _ = writeln!(md, "- Command line: {}", code(&env.command_line));
    }
    for note in &env.notes {
        let _ = writeln!(md, "- Note: {}", inline(note));
    }
    md.push('\n');
}

fn how_to_read(md: &mut String) {
    md.push_str(
        "## How to read this\n\n\
- **Page load time**: the workload's first request issued → the last response byte received.\n\
- **blocked**: the request was issued → a connection (or HTTP/2 stream slot) was free for it.\n\
- **connect**: the TCP handshake on a new connection; \"–\" when the connection was reused.\n\
- **ssl**: the TLS handshake on a new connection; \"–\" on reuse or without TLS (in the HAR files it is also counted inside connect, as HAR requires).\n\
- **send**: the first request byte written → the last one written.\n\
- **wait (TTFB)**: the last request byte written → the first response byte read: the round trip plus the server's think time.\n\
- **receive**: the first response byte → the last one; grows with size and the congestion window.\n\
- **hol**: the part of wait when the response was ready but queued behind earlier responses on the same connection (pipelining).\n\
- **total**: blocked + connect + ssl + send + wait + receive; the phases are contiguous.\n\
- **server arrival**: when the lab server had parsed the request head, on the same clock as the client.\n\
- **Bytes on the wire**: TCP payload both ways, TLS records included, TCP/IP headers not.\n\
- **Header bytes**: for HTTP/1.x the request and response heads as text (request or status line, header lines, blank line); for HTTP/2 the HEADERS and CONTINUATION payloads, HPACK-compressed, counted in the frames (padding and priority fields excluded). **Body bytes (down)**: response bodies, without chunked or DATA framing.\n",
    );
}

/// Text safe inside a table cell or a line: no pipes breaking cells, no line breaks.
fn inline(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Inline code that survives backticks inside it.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};

    fn report() -> String {
        let runs = vec![
            RunBuilder::http10(0, 44).build(),
            RunBuilder::http11(0, 23).build(),
            RunBuilder::http10(1, 46).fail(3, "reset | by peer").build(),
            RunBuilder::http11(1, 24)
                .hol(3, Duration::from_micros(900))
                .build(),
            RunBuilder::http10(2, 42).build(),
            RunBuilder::http11(2, 22).build(),
        ];
        let env = Environment {
            httplab_version: "0.1.0".into(),
            hostname: "lab1".into(),
            kernel: "6.8.0".into(),
            congestion_control: "bbr".into(),
            command_line: "httplab run four.toml".into(),
            notes: vec!["tcp_no_metrics_save=1".into()],
        };
        markdown(&scenario(), &runs, &env)
    }

    #[test]
    fn summary_table_has_a_column_per_protocol() {
        let md = report();
        assert!(
            md.starts_with("# httplab report: four-objects\n\nAn HTML page"),
            "{md}"
        );
        assert!(md.contains("| | `http1.0` | `http1.1` |"), "{md}");
        assert!(
            md.contains("| Page load time, median | 44.0ms | 23.0ms |"),
            "{md}"
        );
        assert!(
            md.contains("| Page load time, p95 | 46.0ms | 24.0ms |"),
            "{md}"
        );
        assert!(
            md.contains("| Page load time, min–max | 42.0ms–46.0ms | 22.0ms–24.0ms |"),
            "{md}"
        );
        // Three repetitions: the bootstrap interval of the median lies within min–max.
        assert!(
            md.contains("| Median's 95% CI (bootstrap) | 42.0ms–"),
            "{md}"
        );
        assert!(
            md.contains("[report.html](report.html) draws the same comparison")
                && md.contains("[requests.csv](requests.csv)")
                && md.contains(
                    "for DevTools: [http1.0.har](http1.0.har), [http1.1.har](http1.1.har)."
                ),
            "{md}"
        );
        assert!(md.contains("| Connections opened | 4 | 2 |"), "{md}");
        assert!(md.contains("| TCP handshakes | 4 | 2 |"), "{md}");
        assert!(md.contains("| TLS handshakes | 4 | 2 |"), "{md}");
        assert!(md.contains("| Failed requests | 1 | 0 |"), "{md}");
        assert!(md.contains("| Mean TTFB (wait) | 2.0ms | 2.0ms |"), "{md}");
    }

    #[test]
    fn verdict_requests_environment_and_legend() {
        let md = report();
        let verdict = md
            .split("## Verdict\n\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        assert!(
            verdict.contains("**http1.0**: 1 of 12 requests failed"),
            "{verdict}"
        );
        assert!(
            verdict.contains("**http1.1** loaded the page in 23.0ms"),
            "{verdict}"
        );
        // Median runs: http1.0 repetition 0 (44 ms), http1.1 repetition 0 (23 ms).
        assert!(
            md.contains("### `http1.0`: repetition 0, page load time 44.0ms"),
            "{md}"
        );
        assert!(
            md.contains("### `http1.1`: repetition 0, page load time 23.0ms"),
            "{md}"
        );
        // http1.1's request 2 reused connection 0 after 4.1 ms blocked; the server saw it
        // 0.5 ms after its last byte: 4.102 + 0.012 + 0.5 ms after the start.
        assert!(
            md.contains("| 2 /img/2.png | 0 | 200 | 0us | 4.1ms | – | – | 12us | 2.0ms | 826us | 6.9ms | 4.6ms |"),
            "{md}"
        );
        let rows = md
            .lines()
            .filter(|l| l.starts_with("| 0 /index.html |"))
            .count();
        assert_eq!(rows, 2, "one request table per protocol");
        assert!(
            md.contains("- TCP congestion control (host default): bbr"),
            "{md}"
        );
        assert!(
            md.contains(
                "Network: plain loopback, no emulated link (the scenario has no [network] table)"
            ),
            "{md}"
        );
        assert!(
            md.contains("- Command line: `httplab run four.toml`"),
            "{md}"
        );
        assert!(md.contains("- Note: tcp_no_metrics_save=1"), "{md}");
        assert!(
            md.contains("- First run started: 2023-11-14T22:13:20.001Z"),
            "{md}"
        );
        for phase in [
            "blocked",
            "connect",
            "ssl",
            "send",
            "wait (TTFB)",
            "receive",
            "hol",
        ] {
            assert!(
                md.contains(&format!("- **{phase}**: ")),
                "legend lacks {phase}"
            );
        }
    }

    #[test]
    fn failed_request_and_hol_columns_render() {
        let runs = vec![RunBuilder::http10(0, 44)
            .fail(3, "reset | by peer")
            .hol(1, Duration::from_micros(900))
            .build()];
        let md = markdown(&scenario(), &runs, &Environment::default());
        assert!(md.contains("| hol | total |"), "{md}");
        assert!(md.contains("failed: reset \\| by peer"), "{md}");
        assert!(md.contains("| 900us |"), "{md}");
        assert!(md.contains("- Host: unknown"), "{md}");
        assert!(md.contains("No runs were recorded for `http1.1`"), "{md}");
    }

    #[test]
    fn header_bytes_rows_sentence_and_frame_table() {
        let runs = vec![
            RunBuilder::http11(0, 23).build(),
            RunBuilder::h2(0, 15).build(),
        ];
        let md = markdown(&scenario(), &runs, &Environment::default());
        assert!(md.contains("| | `http1.1` | `h2` |"), "{md}");
        assert!(
            md.contains("| Request header bytes | 256 B | 54 B |"),
            "{md}"
        );
        assert!(
            md.contains("| Response header bytes | 384 B | 58 B |"),
            "{md}"
        );
        assert!(
            md.contains("| Body bytes (down) | 44.0 kB | 44.0 kB |"),
            "{md}"
        );
        let summary = md
            .split("## Summary\n\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        assert!(
            summary.contains("`h2` sent 54 B of request headers for 4 requests against 256 B"),
            "{summary}"
        );
        let frames = md
            .split("## HTTP/2 frames of the median run\n\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        assert!(frames.contains("### `h2`: repetition 0"), "{frames}");
        assert!(frames.contains("| 0 | client → server |"), "{frames}");
        assert!(md.contains("- **Header bytes**: "), "{md}");
        // HTTP/1.x alone: no sentence, no frame section.
        let md = report();
        assert!(!md.contains("HPACK's table"), "{md}");
        assert!(!md.contains("## HTTP/2 frames"), "{md}");
    }

    #[test]
    #[ignore = "prints a sample report for a human to read"]
    fn print_sample() {
        println!("{}", report());
    }
}
