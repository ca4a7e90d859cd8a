//! `report.html`: the comparison as one self-contained page — inline CSS, inline SVG, no
//! scripts, no fonts or images from anywhere, so it opens from `file://` and can be mailed or
//! archived as is. Top to bottom: the verdict in words, the page load time of every repetition
//! on one axis, the summary table, per configuration a DevTools-like waterfall and a
//! connection-lanes view of the median run (all on one shared time axis; over an emulated link
//! each lane with its connection's TCP strip, and that strip's legend), the per-request tables,
//! the conditions the run happened in, and how to read it all.
//!
//! It owns the page's layout and the conditions table; the charts live in their own modules,
//! the numbers come from `summary` and the words from `verdict`. Every string from a scenario,
//! a record or the environment is escaped (`text::esc`). The output depends only on its inputs
//! (no clock, no randomness beyond the seeded bootstrap), and it writes no files.
//! `load.html` (`httplab load` and `merge`) is laid out by `load`, from load.json alone, with
//! the same escaping and verdict Markdown (`text`).

mod axis;
pub(crate) mod compare;
mod distribution;
mod lanes;
mod line_chart;
mod load;
pub(crate) mod sweep;
mod tcp_lane;
mod text;
mod waterfall;

pub use load::load_html;

use crate::analysis::Analysis;
use crate::glossary::{SIGNIFICANCE, TERMS};
use crate::summary::ProtocolSummary;
use crate::tables::{
    best, conditions, CauseTable, Cell, Piece, RequestTable, CAUSES_NOTE, SUMMARY_NOTE,
    SUMMARY_ROWS,
};
use axis::TimeScale;
use httplab_core::units::{format_duration, format_size};
use std::fmt::Write as _;
use text::esc;

const STYLE: &str = include_str!("style.css");

/// The whole HTML report.
pub fn html(a: &Analysis<'_>) -> String {
    let (scenario, env) = (a.scenario, a.env);
    let medians: Vec<_> = a.medians().collect();
    // One time axis for every waterfall and lane chart, so bars compare across protocols.
    let longest = medians
        .iter()
        .flat_map(|(_, r)| {
            r.requests
                .iter()
                .map(|q| q.ended_at().saturating_sub(r.started_at))
                .chain(std::iter::once(r.page_time))
        })
        .max()
        .unwrap_or_default();
    let scale = TimeScale::covering(longest);

    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"httplab {}\">\n<title>httplab report: {}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(&env.httplab_version),
        esc(&scenario.name)
    );
    header(&mut h, a);
    h.push_str("<main>\n");

    h.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    h.push_str(&text::markdown_paragraphs(&a.verdict));
    h.push_str("</section>\n");

    if !a.summaries.is_empty() {
        h.push_str(
            "<section id=\"distribution\">\n<h2>Page load time, every repetition</h2>\n\
             <p class=\"note\">One dot per repetition (first request issued → last response \
             byte), the median as a black tick, the bootstrap 95% interval of the median as a \
             band (3 or more repetitions). Hover for values.</p>\n",
        );
        h.push_str(&distribution::distribution(&a.summaries));
        h.push_str("\n</section>\n");
    }

    h.push_str("<section id=\"causes\">\n<h2>Why: the page's time by cause</h2>\n");
    cause_table(&mut h, a);
    h.push_str("</section>\n");
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    summary_table(&mut h, &a.summaries);
    for sentence in &a.headers {
        let _ = writeln!(h, "{}", text::markdown_paragraphs(sentence));
    }
    h.push_str("</section>\n");

    h.push_str(
        "<section id=\"waterfalls\">\n<h2>Waterfalls of the median run</h2>\n<p class=\"note\">\
         For each protocol, the repetition with the median page load time (the one its HAR file \
         holds): one row per request in issue order, its phases as coloured segments; the thin \
         dark bar is the time the server held the request, the dashed line the end of the page \
         load. Every chart here shares one time axis. Hover a row or a segment for its \
         values.</p>\n",
    );
    legend(&mut h, waterfall::PHASES.iter(), true);
    for (s, run) in &medians {
        let _ = writeln!(
            h,
            "<section class=\"waterfall\" data-label=\"{}\">\n<h3>{} <small>repetition {} · \
             page loaded in {} · {} on {}</small></h3>",
            esc(&s.label),
            esc(&s.label),
            run.repetition,
            format_duration(run.page_time),
            requests_word(run.requests.len()),
            connections_word(run.connections.len())
        );
        h.push_str(&waterfall::waterfall(run, &scale));
        h.push_str("\n</section>\n");
    }
    h.push_str("</section>\n");

    h.push_str(
        "<section id=\"connections\">\n<h2>Connections of the median run</h2>\n<p class=\"note\">\
         One lane per connection, from TCP connect to close: its handshakes, then each request \
         it carried from first request byte to last response byte, labelled with the request \
         id. Requests in flight at once on one connection (pipelining, HTTP/2 streams) stack \
         inside its lane.</p>\n",
    );
    legend(&mut h, lanes::legend_phases(), false);
    if medians.iter().any(|(_, run)| tcp_lane::any(run)) {
        h.push_str(&tcp_lane::legend());
    }
    for (s, run) in &medians {
        let _ = writeln!(
            h,
            "<section class=\"lanes\" data-label=\"{}\">\n<h3>{} <small>{}, {} TCP and {} TLS \
             handshakes</small></h3>",
            esc(&s.label),
            esc(&s.label),
            connections_word(run.connections.len()),
            run.tcp_handshakes(),
            run.tls_handshakes()
        );
        h.push_str(&lanes::lanes(run, &scale));
        h.push_str("\n</section>\n");
    }
    h.push_str("</section>\n");

    h.push_str(
        "<section id=\"requests\">\n<h2>Requests of the median run</h2>\n<p class=\"note\">\
         Times from the start of the page load; \"–\" where a phase did not happen. Every \
         request of every repetition is in <a href=\"requests.csv\">requests.csv</a>.</p>\n",
    );
    for (s, run) in &medians {
        request_table(&mut h, s, &RequestTable::of(run));
    }
    h.push_str("</section>\n");

    h.push_str(
        "<section id=\"conditions\">\n<h2>Conditions</h2>\n<table class=\"conditions\">\n<tbody>\n",
    );
    for c in conditions(a) {
        let lines: Vec<String> = c.lines.iter().map(|l| pieces(l)).collect();
        let _ = writeln!(
            h,
            "<tr data-key=\"{}\"><th scope=\"row\">{}</th><td>{}</td></tr>",
            c.key,
            esc(c.label),
            lines.join("<br>")
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");

    how_to_read(&mut h);
    h.push_str("</main>\n");
    let hars: Vec<String> = a
        .summaries
        .iter()
        .map(|s| {
            let file = Analysis::har_file(&s.label);
            format!("<a href=\"{}\">{}</a>", esc(&file), esc(&file))
        })
        .collect();
    let _ =
        write!(
        h,
        "<footer>Written by httplab {}. Beside this file: <a href=\"report.md\">report.md</a>, \
         <a href=\"results.json\">results.json</a> (everything, every repetition), \
         <a href=\"requests.csv\">requests.csv</a>{}{}.</footer>\n</body>\n</html>\n",
        esc(&env.httplab_version),
        if hars.is_empty() { "" } else { ", HAR files for DevTools: " },
        hars.join(", ")
    );
    h
}

fn requests_word(n: usize) -> String {
    format!("{n} request{}", if n == 1 { "" } else { "s" })
}

fn connections_word(n: usize) -> String {
    format!("{n} connection{}", if n == 1 { "" } else { "s" })
}

fn header(h: &mut String, a: &Analysis<'_>) {
    let (scenario, summaries) = (a.scenario, &a.summaries);
    let _ = writeln!(
        h,
        "<header>\n<h1><span class=\"brand\">httplab report:</span> {}</h1>",
        esc(&scenario.name)
    );
    if let Some(sentence) = a.interruption_sentence() {
        let _ = writeln!(
            h,
            "<p class=\"incomplete\"><strong>{}</strong></p>",
            esc(&sentence)
        );
    }
    if !scenario.description.trim().is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"description\">{}</p>",
            esc(scenario.description.trim())
        );
    }
    let labels: Vec<String> = summaries.iter().map(|s| esc(&s.label)).collect();
    // The repetitions that ran (`--repeat` may differ from the file), when all agree.
    let repeat = match summaries.first() {
        Some(first) if summaries.iter().all(|s| s.repetitions == first.repetitions) => {
            first.repetitions
        }
        _ => scenario.repeat as usize,
    };
    let _ = writeln!(
        h,
        "<p class=\"facts\">{} ({} of bodies) · {} · {} repetition{} each · HTTP/1.x {}</p>",
        requests_word(scenario.resources.len()),
        format_size(scenario.page_bytes()),
        if labels.is_empty() {
            "no runs".to_string()
        } else {
            labels.join(", ")
        },
        repeat,
        if repeat == 1 { "" } else { "s" },
        if scenario.client.tls {
            "over TLS"
        } else {
            "in cleartext"
        }
    );
    if let Some(server) = crate::markdown::server_sentence(a) {
        let _ = writeln!(
            h,
            "<p class=\"facts server\" role=\"note\"><strong>{}</strong></p>",
            esc(&server.replace('`', ""))
        );
    }
    if let Some(origins) = crate::markdown::origins_sentence(scenario) {
        let _ = writeln!(
            h,
            "<p class=\"facts origins\">{}</p>",
            esc(&origins.replace('`', ""))
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"facts network\">Network: {}</p>",
        esc(&a.network)
    );
    if let Some(check) = a.link_check.as_ref().filter(|c| !c.trustworthy()) {
        let _ = writeln!(
            h,
            "<p class=\"untrustworthy\" role=\"alert\"><strong>{}</strong></p>",
            esc(&check.sentence())
        );
    }
    h.push_str(
        "<nav><a href=\"#verdict\">Verdict</a><a href=\"#distribution\">Distribution</a>\
         <a href=\"#summary\">Summary</a><a href=\"#waterfalls\">Waterfalls</a>\
         <a href=\"#connections\">Connections</a><a href=\"#requests\">Requests</a>\
         <a href=\"#conditions\">Conditions</a><a href=\"#how-to-read\">How to read</a></nav>\n\
         </header>\n",
    );
}

fn legend<'a>(
    h: &mut String,
    phases: impl Iterator<Item = &'a (&'static str, &'static str)>,
    waterfall: bool,
) {
    h.push_str("<ul class=\"legend\">");
    for (class, label) in phases {
        let _ = write!(h, "<li><span class=\"sw {class}\"></span>{label}</li>");
    }
    if waterfall {
        h.push_str(
            "<li><span class=\"sw srv\"></span>at the server (arrived → response ready)</li>\
             <li><span class=\"sw load\"></span>page loaded</li>",
        );
    }
    h.push_str("</ul>\n");
}

fn cause_table(h: &mut String, a: &Analysis<'_>) {
    let table = CauseTable::of(a);
    h.push_str("<table class=\"summary\">\n<thead><tr><th></th>");
    for s in &a.summaries {
        let _ = write!(h, "<th>{}</th>", esc(&s.label));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (cause, ds) in &table.rows {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", esc(cause.label()));
        for d in ds {
            let _ = write!(h, "<td>{}</td>", esc(&format_duration(*d)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("<tr><th scope=\"row\">page (mean)</th>");
    for d in &table.totals {
        let _ = write!(h, "<td><strong>{}</strong></td>", esc(&format_duration(*d)));
    }
    let _ = write!(
        h,
        "</tr>\n</tbody>\n</table>\n<p class=\"note\">{}</p>\n",
        esc(CAUSES_NOTE)
    );
}

fn summary_table(h: &mut String, summaries: &[ProtocolSummary]) {
    if summaries.is_empty() {
        h.push_str("<p>No runs were recorded.</p>\n");
        return;
    }
    let best = best(summaries);
    let class = |i: usize| {
        if Some(i) == best {
            " class=\"best\""
        } else {
            ""
        }
    };
    h.push_str("<table class=\"summary\">\n<thead><tr><th></th>");
    for (i, s) in summaries.iter().enumerate() {
        let _ = write!(h, "<th{}>{}</th>", class(i), esc(&s.label));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in SUMMARY_ROWS {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", esc(row.name));
        for (i, s) in summaries.iter().enumerate() {
            let cell = (row.cell)(s);
            let shown = match &cell {
                // The median stands out, its interval beneath it.
                Cell::Median { ci, .. } => format!(
                    "<strong>{}</strong>{}",
                    esc(&cell.text(" – ")),
                    ci.map_or_else(String::new, |_| format!(
                        "<small>95% CI {}</small>",
                        esc(&Cell::interval(*ci))
                    ))
                ),
                Cell::Hol {
                    mean: Some(_),
                    requests,
                } => format!(
                    "{}<small>{}</small>",
                    esc(&cell.text(" – ")),
                    esc(&Cell::hol_over(*requests))
                ),
                _ => esc(&cell.text(" – ")),
            };
            let _ = write!(h, "<td{}>{shown}</td>", class(i));
        }
        h.push_str("</tr>\n");
    }
    let _ = writeln!(
        h,
        "</tbody>\n</table>\n<p class=\"note\">{}</p>",
        esc(SUMMARY_NOTE)
    );
}

fn request_table(h: &mut String, s: &ProtocolSummary, table: &RequestTable<'_>) {
    let run = table.run;
    let _ = write!(
        h,
        "<details class=\"requests\" data-label=\"{}\"><summary>{}: repetition {}, {}</summary>\n\
         <table class=\"requests\"><thead><tr>",
        esc(&s.label),
        esc(&s.label),
        run.repetition,
        requests_word(run.requests.len()),
    );
    for c in &table.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        h.push_str("<tr>");
        for c in row {
            if c.failed {
                let _ = write!(h, "<td class=\"failed\">{}</td>", esc(&c.text));
            } else {
                let _ = write!(h, "<td>{}</td>", esc(&c.text));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></details>\n");
}

fn pieces(line: &[Piece]) -> String {
    line.iter()
        .map(|p| match p {
            Piece::Plain(s) => esc(s),
            Piece::Code(s) => format!("<code>{}</code>", esc(s)),
            Piece::Strong(s) => format!("<strong>{}</strong>", esc(s)),
        })
        .collect()
}

fn how_to_read(h: &mut String) {
    h.push_str("<section id=\"how-to-read\">\n<h2>How to read this</h2>\n<dl class=\"phases\">\n");
    for t in TERMS {
        let swatch = t
            .swatch
            .map(|class| format!("<span class=\"sw {class}\"></span>"))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<dt>{swatch}{}</dt><dd>{}</dd>",
            esc(t.term),
            esc(t.definition)
        );
    }
    let _ = writeln!(h, "</dl>\n<p>{}</p>\n</section>", esc(SIGNIFICANCE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::Environment;
    use httplab_core::RunRecord;
    use std::time::Duration;

    fn runs() -> Vec<RunRecord> {
        (0..5)
            .flat_map(|i| {
                [
                    RunBuilder::http10(i, 44 + u64::from(i)).build(),
                    RunBuilder::http11(i, 23 + u64::from(i))
                        .hol(3, Duration::from_micros(700))
                        .build(),
                ]
            })
            .collect()
    }

    #[test]
    fn self_contained_with_every_section() {
        let env = Environment {
            httplab_version: "0.1.0".into(),
            congestion_control: "bbr".into(),
            notes: vec!["network: loopback".into()],
            ..Environment::default()
        };
        let html = html(&Analysis::new(&scenario(), &runs(), &env));
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
            "{html}"
        );
        assert!(html.ends_with("</html>\n"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(!html.contains("<script"), "no scripts");
        for id in [
            "verdict",
            "distribution",
            "summary",
            "waterfalls",
            "connections",
            "requests",
            "conditions",
            "how-to-read",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        // A waterfall per configuration, with a row per request.
        for label in ["http1.0", "http1.1"] {
            let start = html
                .find(&format!(
                    "<section class=\"waterfall\" data-label=\"{label}\">"
                ))
                .expect("waterfall section");
            let section = &html[start..];
            let section = &section[..section.find("</section>").unwrap_or(section.len())];
            assert_eq!(section.matches("class=\"wf-row\"").count(), 4, "{label}");
        }
        // The verdict with its statistics, as HTML.
        assert!(
            html.contains("<strong>http1.1</strong> loaded the page in 25.0ms (median of 5), 1.8× faster than http1.0 (46.0ms; 95% CI "),
            "{html}"
        );
        assert!(html.contains("p = 0.008)."), "{html}");
        // Summary: the fastest column marked, the median's interval, min–max, hol.
        assert!(html.contains("<th class=\"best\">http1.1</th>"), "{html}");
        assert!(
            html.contains("<td class=\"best\"><strong>25.0ms</strong><small>95% CI "),
            "{html}"
        );
        assert!(html.contains("<td>44.0ms – 48.0ms</td>"), "{html}");
        assert!(
            html.contains("<td class=\"best\">700us<small>on 1 request</small></td>"),
            "{html}"
        );
        // Conditions, one row per fact.
        assert!(
            html.contains("<tr data-key=\"congestion_control\"><th scope=\"row\">TCP congestion control (host default)</th><td>bbr</td></tr>"),
            "{html}"
        );
        assert!(html.contains("<tr data-key=\"tls_negotiated\">"), "{html}");
        assert!(
            html.contains("TLSv1.3 TLS13_AES_128_GCM_SHA256 X25519 ALPN http/1.1"),
            "{html}"
        );
        assert!(html.contains("<td>network: loopback</td>"), "{html}");
        // Deterministic.
        assert_eq!(
            html,
            super::html(&Analysis::new(&scenario(), &runs(), &env))
        );
    }

    #[test]
    fn strings_from_the_scenario_and_records_are_escaped() {
        let mut sc = scenario();
        sc.name = "x<script>alert(1)</script>".into();
        sc.description = "\"quoted\" & <b>bold</b>".into();
        let mut runs = runs();
        for r in &mut runs {
            r.requests[1].path = "/<script>alert('p')</script>".into();
            r.requests[2].error = Some("<img src=x onerror=alert(2)>".into());
        }
        let env = Environment {
            command_line: "httplab run '<x>'".into(),
            ..Environment::default()
        };
        let html = html(&Analysis::new(&sc, &runs, &env));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("/&lt;script&gt;alert(&#39;p&#39;)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<code>httplab run &#39;&lt;x&gt;&#39;</code>"),
            "{html}"
        );
    }

    #[test]
    fn no_runs_still_renders() {
        let html = html(&Analysis::new(&scenario(), &[], &Environment::default()));
        assert!(html.contains("nothing to compare"), "{html}");
        assert!(!html.contains("class=\"wf-row\""));
    }
}
