//! `report.md`: the comparison for people. A summary table (one column per protocol) with a
//! sentence on header bytes, the verdict in words, a per-request table of each protocol's
//! median run, HTTP/2 frame tables, the conditions, and the glossary. Durations use
//! `units::format_duration`, sizes `units::format_size`. It owns the Markdown layout only:
//! every number, sentence and table row comes from the [`Analysis`] (`tables` for the rows,
//! `glossary` for the terms), and it writes no files.

use crate::analysis::Analysis;
use crate::bytes::frame_tables;
use crate::glossary::{SIGNIFICANCE, TERMS};
use crate::tables::{
    conditions, CauseTable, Cell, Piece, RequestTable, CAUSES_NOTE, MEDIAN_CI_ROW, SUMMARY_NOTE,
    SUMMARY_ROWS,
};
use httplab_core::units::{format_duration, format_size};
use std::fmt::Write as _;

/// The whole Markdown report.
pub fn markdown(a: &Analysis<'_>) -> String {
    let scenario = a.scenario;
    let mut md = String::new();
    let _ = writeln!(md, "# httplab report: {}\n", inline(&scenario.name));
    if let Some(sentence) = a.interruption_sentence() {
        let _ = writeln!(md, "> **{sentence}**\n");
    }
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
    if let Some(origins) = origins_sentence(scenario) {
        let _ = writeln!(md, "{origins}\n");
    }
    let _ = writeln!(md, "Network: {}.\n", a.network);
    if let Some(server) = server_sentence(a) {
        let _ = writeln!(md, "> **{server}**\n");
    }
    if let Some(check) = &a.link_check {
        if check.trustworthy() {
            let _ = writeln!(md, "The {}.\n", check.sentence());
        } else {
            let _ = writeln!(md, "> **{}**\n", check.sentence());
        }
    }
    for line in &a.accept {
        let _ = writeln!(md, "{line}.\n");
    }
    if !a.model.is_empty() {
        md.push_str("Analytical model (DESIGN.md), beside the measurements:\n\n");
        for line in &a.model {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
    }
    if !a.missing.is_empty() {
        let missing: Vec<String> = a.missing.iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(
            md,
            "No runs were recorded for {}; they are absent from everything below.\n",
            missing.join(", ")
        );
    }

    files(&mut md, a);

    md.push_str("## Summary\n\n");
    summary_table(&mut md, a);
    if !a.headers.is_empty() {
        let _ = writeln!(md, "{}\n", a.headers.join(" "));
    }

    md.push_str("## Verdict\n\n");
    md.push_str(&a.verdict);
    md.push_str("\n\n");

    md.push_str("## Why: the page's time by cause\n\n");
    cause_table(&mut md, a);

    md.push_str("## Requests of the median run\n\n");
    md.push_str(
        "One table per protocol, for the repetition with the median page load time (the one its \
         HAR file shows). *issued* and *server arrival* are offsets from the start of the page \
         load; the other columns are durations; \"–\" means the phase did not happen (a reused \
         connection pays no connect, a cleartext one no ssl).\n\n",
    );
    for (_, run) in a.medians() {
        request_table(&mut md, &RequestTable::of(run));
    }
    frame_tables(&mut md, a);

    conditions_list(&mut md, a);
    how_to_read(&mut md);
    md
}

/// Links to the other outputs beside this file.
fn files(md: &mut String, a: &Analysis<'_>) {
    let hars: Vec<String> = a
        .summaries
        .iter()
        .map(|s| {
            let file = Analysis::har_file(&s.label);
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

fn summary_table(md: &mut String, a: &Analysis<'_>) {
    let summaries = &a.summaries;
    if summaries.is_empty() {
        md.push_str("No runs were recorded.\n\n");
        return;
    }
    let header: Vec<String> = summaries.iter().map(|s| format!("`{}`", s.label)).collect();
    let _ = writeln!(md, "| | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(summaries.len()));
    for row in SUMMARY_ROWS {
        let cells: Vec<Cell> = summaries.iter().map(row.cell).collect();
        let texts: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Cell::Hol {
                    mean: Some(_),
                    requests,
                } => format!("{} {}", c.text("–"), Cell::hol_over(*requests)),
                c => c.text("–"),
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", row.name, texts.join(" | "));
        // The median's interval gets a row of its own, under the median.
        let intervals: Vec<String> = cells
            .iter()
            .filter_map(|c| match c {
                Cell::Median { ci, .. } => Some(Cell::interval(*ci)),
                _ => None,
            })
            .collect();
        if !intervals.is_empty() {
            let _ = writeln!(md, "| {MEDIAN_CI_ROW} | {} |", intervals.join(" | "));
        }
    }
    let _ = writeln!(md, "\n{SUMMARY_NOTE}\n");
}

fn cause_table(md: &mut String, a: &Analysis<'_>) {
    let table = CauseTable::of(a);
    if a.summaries.is_empty() {
        return;
    }
    let header: Vec<String> = a
        .summaries
        .iter()
        .map(|s| format!("`{}`", s.label))
        .collect();
    let _ = writeln!(md, "| | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(a.summaries.len()));
    for (cause, ds) in &table.rows {
        let cells: Vec<String> = ds.iter().map(|d| format_duration(*d)).collect();
        let _ = writeln!(md, "| {} | {} |", cause.label(), cells.join(" | "));
    }
    let totals: Vec<String> = table
        .totals
        .iter()
        .map(|d| format!("**{}**", format_duration(*d)))
        .collect();
    let _ = writeln!(md, "| **page (mean)** | {} |", totals.join(" | "));
    let _ = writeln!(md, "\n{CAUSES_NOTE}\n");
}

fn request_table(md: &mut String, table: &RequestTable<'_>) {
    let run = table.run;
    let _ = writeln!(
        md,
        "### `{}`: repetition {}, page load time {}\n",
        run.label(),
        run.repetition,
        format_duration(run.page_time)
    );
    let _ = writeln!(md, "| {} |", table.columns.join(" | "));
    let _ = writeln!(
        md,
        "|---|{}",
        "---:|".repeat(table.columns.len().saturating_sub(1))
    );
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| inline(&c.text)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

/// The conditions, a list item each; a fact of several lines lists them under it.
fn conditions_list(md: &mut String, a: &Analysis<'_>) {
    md.push_str("## Conditions\n\n");
    for c in conditions(a) {
        let mut lines = c.lines.iter().map(|l| pieces(l));
        let first = lines.next().unwrap_or_default();
        let _ = writeln!(md, "- {}: {first}", c.label);
        for line in lines {
            let _ = writeln!(md, "  - {line}");
        }
    }
    md.push('\n');
}

fn pieces(line: &[Piece]) -> String {
    line.iter()
        .map(|p| match p {
            Piece::Plain(s) => inline(s),
            Piece::Code(s) => code(s),
            Piece::Strong(s) => format!("**{}**", inline(s)),
        })
        .collect()
}

fn how_to_read(md: &mut String) {
    md.push_str("## How to read this\n\n");
    for t in TERMS {
        let _ = writeln!(md, "- **{}**: {}", t.term, t.definition);
    }
    let _ = writeln!(md, "\n{SIGNIFICANCE}");
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

/// For runs against a server the lab did not write: what it was, and that the server-side
/// timeline (arrivals, think times, accepts) is absent rather than made up.
pub(crate) fn server_sentence(a: &Analysis<'_>) -> Option<String> {
    let server = a.env.server.as_deref()?;
    Some(format!(
        "Server: {server}. The server-side timeline is absent: the lab keeps no log of a server \
         it did not write, so requests show no arrival, think or ready times on the server, and \
         its think times are its own."
    ))
}

/// For a page on several origins: each with its resources, cap and address, and what HTTP/2
/// does with them. `None` for one origin.
pub(crate) fn origins_sentence(scenario: &httplab_core::Scenario) -> Option<String> {
    if scenario.origins.len() < 2 {
        return None;
    }
    let list: Vec<String> = scenario
        .origins
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let n = scenario.resources.iter().filter(|r| r.origin == i).count();
            let cap = o
                .max_connections
                .unwrap_or(scenario.client.max_connections_per_host);
            format!(
                "`{}` ({n} resource{}, {}, at most {cap} connection{}, address {})",
                o.name,
                if n == 1 { "" } else { "s" },
                if o.tls { "https" } else { "http" },
                if cap == 1 { "" } else { "s" },
                o.address + 1
            )
        })
        .collect();
    let addresses = scenario.address_count();
    let h2 = if !scenario.client.coalesce {
        "HTTP/2 opens one connection per origin (`coalesce = false`)".to_string()
    } else if addresses < scenario.origins.len() {
        format!(
            "HTTP/2 coalesces origins that share an address, as Chrome and Firefox do: {addresses} connection{}",
            if addresses == 1 { "" } else { "s" }
        )
    } else {
        "HTTP/2 opens one connection per origin (no two share an address)".to_string()
    };
    Some(format!(
        "The page comes from {} origins, each with its own connection pool: {}. {h2}.",
        scenario.origins.len(),
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::Environment;
    use std::time::Duration;

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
            server: None,
            real_network: None,
        };
        markdown(&Analysis::new(&scenario(), &runs, &env))
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
        let md = markdown(&Analysis::new(&scenario(), &runs, &Environment::default()));
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
        let md = markdown(&Analysis::new(&scenario(), &runs, &Environment::default()));
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
