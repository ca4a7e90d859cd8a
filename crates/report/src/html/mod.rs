//! `report.html`: the comparison as one self-contained page — inline CSS, inline SVG, no
//! scripts, no fonts or images from anywhere, so it opens from `file://` and can be mailed or
//! archived as is. Top to bottom: the verdict in words, the page load time of every repetition
//! on one axis, the summary table, per configuration a DevTools-like waterfall and a
//! connection-lanes view of the median run (all on one shared time axis), the per-request
//! tables, the conditions the run happened in, and how to read it all.
//!
//! It owns the page's layout and the conditions table; the charts live in their own modules,
//! the numbers come from `summary` and the words from `verdict`. Every string from a scenario,
//! a record or the environment is escaped (`text::esc`). The output depends only on its inputs
//! (no clock, no randomness beyond the seeded bootstrap), and it writes no files.

mod axis;
pub(crate) mod compare;
mod distribution;
mod lanes;
mod line_chart;
pub(crate) mod sweep;
mod text;
mod waterfall;

use crate::bytes::header_sentences;
use crate::date::rfc3339;
use crate::network::{link_check, model_lines, network_sentence};
use crate::server_side::accept_sentences;
use crate::summary::{median_run, summarize, ProtocolSummary};
use crate::verdict::{count, verdict};
use crate::Environment;
use axis::TimeScale;
use httplab_core::units::{format_duration, format_size};
use httplab_core::{HandshakeKind, RunRecord, Scenario, TlsVersion};
use std::fmt::Write as _;
use std::time::Duration;
use text::esc;

const STYLE: &str = include_str!("style.css");

/// The whole HTML report.
pub fn html(scenario: &Scenario, runs: &[RunRecord], env: &Environment) -> String {
    let summaries = summarize(runs);
    let medians: Vec<(&ProtocolSummary, &RunRecord)> = summaries
        .iter()
        .filter_map(|s| median_run(runs, s).map(|r| (s, r)))
        .collect();
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
    header(&mut h, scenario, &summaries, runs, env);
    h.push_str("<main>\n");

    h.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    h.push_str(&text::markdown_paragraphs(&verdict(&summaries, runs)));
    h.push_str("</section>\n");

    if !summaries.is_empty() {
        h.push_str(
            "<section id=\"distribution\">\n<h2>Page load time, every repetition</h2>\n\
             <p class=\"note\">One dot per repetition (first request issued → last response \
             byte), the median as a black tick, the bootstrap 95% interval of the median as a \
             band (3 or more repetitions). Hover for values.</p>\n",
        );
        h.push_str(&distribution::distribution(&summaries));
        h.push_str("\n</section>\n");
    }

    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    summary_table(&mut h, &summaries);
    for sentence in header_sentences(&summaries) {
        let _ = writeln!(h, "{}", text::markdown_paragraphs(&sentence));
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
        request_table(&mut h, s, run);
    }
    h.push_str("</section>\n");

    h.push_str(
        "<section id=\"conditions\">\n<h2>Conditions</h2>\n<table class=\"conditions\">\n<tbody>\n",
    );
    for (key, label, value) in conditions(scenario, runs, env, &summaries) {
        let _ = writeln!(
            h,
            "<tr data-key=\"{key}\"><th scope=\"row\">{label}</th><td>{value}</td></tr>"
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");

    how_to_read(&mut h);
    h.push_str("</main>\n");
    let hars: Vec<String> = summaries
        .iter()
        .map(|s| {
            let file = format!("{}.har", s.label.replace('/', "-"));
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

fn header(
    h: &mut String,
    scenario: &Scenario,
    summaries: &[ProtocolSummary],
    runs: &[RunRecord],
    env: &Environment,
) {
    let _ = writeln!(
        h,
        "<header>\n<h1><span class=\"brand\">httplab report:</span> {}</h1>",
        esc(&scenario.name)
    );
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
    let _ = writeln!(
        h,
        "<p class=\"facts network\">Network: {}</p>",
        esc(&network_sentence(scenario, runs, &env.notes))
    );
    if let Some(check) = link_check(runs).filter(|c| !c.trustworthy()) {
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

fn summary_table(h: &mut String, summaries: &[ProtocolSummary]) {
    if summaries.is_empty() {
        h.push_str("<p>No runs were recorded.</p>\n");
        return;
    }
    let best = summaries
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| s.page_time_median)
        .map(|(i, _)| i);
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
    let size = |b: f64| format_size(b.max(0.0).round() as u64);
    type Cell = Box<dyn Fn(&ProtocolSummary) -> String>;
    let rows: Vec<(&str, Cell)> = vec![
        (
            "Page load time, median",
            Box::new(|s| {
                let ci = s.page_time_median_ci.map_or_else(String::new, |ci| {
                    format!(
                        "<small>95% CI {}–{}</small>",
                        format_duration(ci.low),
                        format_duration(ci.high)
                    )
                });
                format!(
                    "<strong>{}</strong>{ci}",
                    format_duration(s.page_time_median)
                )
            }),
        ),
        (
            "Page load time, p95",
            Box::new(|s| format_duration(s.page_time_p95)),
        ),
        (
            "Page load time, min – max",
            Box::new(|s| {
                format!(
                    "{} – {}",
                    format_duration(s.page_time_min),
                    format_duration(s.page_time_max)
                )
            }),
        ),
        ("Repetitions", Box::new(|s| s.repetitions.to_string())),
        (
            "Connections opened",
            Box::new(|s| count(s.connections_opened)),
        ),
        ("TCP handshakes", Box::new(|s| count(s.tcp_handshakes))),
        ("TLS handshakes", Box::new(|s| count(s.tls_handshakes))),
        (
            "Mean blocked",
            Box::new(|s| format_duration(s.mean_blocked)),
        ),
        (
            "Mean TTFB (wait)",
            Box::new(|s| format_duration(s.mean_ttfb)),
        ),
        (
            "Mean head-of-line",
            Box::new(|s| match s.mean_hol {
                Some(h) => format!(
                    "{}<small>on {} request{}</small>",
                    format_duration(h),
                    count(s.hol_requests),
                    if count(s.hol_requests) == "1" {
                        ""
                    } else {
                        "s"
                    }
                ),
                None => "–".to_string(),
            }),
        ),
        ("Bytes on the wire", Box::new(move |s| size(s.wire_bytes))),
        (
            "Request header bytes",
            Box::new(move |s| size(s.request_header_bytes)),
        ),
        (
            "Response header bytes",
            Box::new(move |s| size(s.response_header_bytes)),
        ),
        (
            "Body bytes up",
            Box::new(move |s| size(s.request_body_bytes)),
        ),
        (
            "Body bytes down",
            Box::new(move |s| size(s.response_body_bytes)),
        ),
        (
            "Failed requests",
            Box::new(|s| s.failed_requests.to_string()),
        ),
    ];
    for (name, cell) in rows {
        let _ = write!(h, "<tr><th scope=\"row\">{name}</th>");
        for (i, s) in summaries.iter().enumerate() {
            let _ = write!(h, "<td{}>{}</td>", class(i), cell(s));
        }
        h.push_str("</tr>\n");
    }
    h.push_str(
        "</tbody>\n</table>\n<p class=\"note\">Connections, handshakes and bytes are means per \
         repetition; blocked, TTFB and head-of-line are means over the requests that did not \
         fail (head-of-line over those that had any); failed requests are totals. Header bytes \
         are HTTP/1.x's text heads and HTTP/2's HPACK-compressed header blocks.</p>\n",
    );
}

fn request_table(h: &mut String, s: &ProtocolSummary, run: &RunRecord) {
    let with_hol = run.requests.iter().any(|r| r.phases.hol.is_some());
    let _ = write!(
        h,
        "<details class=\"requests\" data-label=\"{}\"><summary>{}: repetition {}, {}</summary>\n\
         <table class=\"requests\"><thead><tr><th>request</th><th>connection</th><th>status</th>\
         <th>issued</th><th>blocked</th><th>connect</th><th>ssl</th><th>send</th><th>wait</th>{}\
         <th>receive</th><th>total</th><th>server arrival</th></tr></thead>\n<tbody>\n",
        esc(&s.label),
        esc(&s.label),
        run.repetition,
        requests_word(run.requests.len()),
        if with_hol { "<th>hol</th>" } else { "" }
    );
    let dur = |d: Option<Duration>| d.map_or_else(|| "–".to_string(), format_duration);
    for r in waterfall::in_issue_order(run) {
        let p = &r.phases;
        let since = |at: Duration| format_duration(at.saturating_sub(run.started_at));
        let status = match &r.error {
            Some(e) => format!("<td class=\"failed\">failed: {}</td>", esc(e)),
            None => format!("<td>{}</td>", r.status),
        };
        let _ = writeln!(
            h,
            "<tr><td>{} {}</td><td>{}</td>{status}<td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.path),
            r.connection
                .map_or_else(|| "–".to_string(), |c| c.to_string()),
            since(r.issued_at),
            format_duration(p.blocked),
            dur(p.connect),
            dur(p.ssl),
            format_duration(p.send),
            format_duration(p.wait),
            if with_hol {
                format!("<td>{}</td>", dur(p.hol))
            } else {
                String::new()
            },
            format_duration(p.receive),
            format_duration(p.total()),
            run.server_view(r.id)
                .map_or_else(|| "–".to_string(), |sv| since(sv.arrived_at)),
        );
    }
    h.push_str("</tbody></table></details>\n");
}

/// The Conditions table's rows: (key for `data-key`, label, value as HTML). A new condition
/// (the link emulator's settings and self-check, say) is one more row here.
fn conditions(
    scenario: &Scenario,
    runs: &[RunRecord],
    env: &Environment,
    summaries: &[ProtocolSummary],
) -> Vec<(&'static str, &'static str, String)> {
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            esc(s)
        }
    };
    let c = &scenario.client;
    let sv = &scenario.server;
    let mut rows = vec![
        (
            "scenario",
            "Scenario",
            format!(
                "<strong>{}</strong>{}",
                esc(&scenario.name),
                if scenario.description.trim().is_empty() {
                    String::new()
                } else {
                    format!(" — {}", esc(scenario.description.trim()))
                }
            ),
        ),
        (
            "protocols",
            "Configurations run",
            summaries
                .iter()
                .map(|s| format!("<code>{}</code> × {}", esc(&s.label), s.repetitions))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "workload",
            "Workload",
            format!(
                "{} ({} of response bodies), all issued at the start, in file order",
                requests_word(scenario.resources.len()),
                format_size(scenario.page_bytes())
            ),
        ),
        ("client", "Client", {
            let mut v = format!(
                "at most {} connection{} per host",
                c.max_connections_per_host,
                if c.max_connections_per_host == 1 {
                    ""
                } else {
                    "s"
                }
            );
            if c.cookie > 0 {
                let _ = write!(v, "; a {}-byte cookie on every request", c.cookie);
            }
            v
        }),
        (
            "tls",
            "TLS",
            format!(
                "HTTP/1.x {}; h2 always over TLS, h2c never; version {}; session resumption {}",
                if c.tls { "over TLS" } else { "in cleartext" },
                match c.tls_version {
                    None => "negotiated",
                    Some(TlsVersion::Tls12) => "1.2 only",
                    Some(TlsVersion::Tls13) => "1.3 only",
                },
                if c.resumption { "on" } else { "off" }
            ),
        ),
    ];
    let negotiated = negotiated_tls(runs, summaries);
    if !negotiated.is_empty() {
        rows.push(("tls_negotiated", "TLS negotiated", negotiated));
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
    rows.push(("server", "Server", server));
    let pipelined = summaries
        .iter()
        .any(|s| s.protocol == httplab_core::Protocol::Http11Pipelined);
    if pipelined {
        rows.push((
            "pipelining",
            "Pipelining",
            format!(
                "{} connection{}, depth {}",
                c.pipeline_connections,
                if c.pipeline_connections == 1 { "" } else { "s" },
                c.pipeline_depth
                    .map_or_else(|| "unlimited".to_string(), |d| d.to_string())
            ),
        ));
    }
    let h2 = summaries.iter().any(|s| {
        matches!(
            s.protocol,
            httplab_core::Protocol::H2 | httplab_core::Protocol::H2c
        )
    });
    if h2 {
        rows.push((
            "http2",
            "HTTP/2",
            format!(
                "server: max concurrent streams {}, stream window {}, max frame size {}; client: \
                 stream window {}, connection window {}",
                sv.max_concurrent_streams,
                format_size(u64::from(sv.h2_stream_window)),
                format_size(u64::from(sv.max_frame_size)),
                format_size(u64::from(c.h2_stream_window)),
                format_size(u64::from(c.h2_connection_window))
            ),
        ));
    }
    rows.push((
        "network",
        "Network",
        esc(&network_sentence(scenario, runs, &env.notes)),
    ));
    if let Some(check) = link_check(runs) {
        rows.push(("link_check", "Link self-check", esc(&check.sentence())));
    }
    let backlog = accept_sentences(scenario, runs, summaries);
    if !backlog.is_empty() {
        rows.push((
            "accept_backlog",
            "Server accept backlog",
            backlog
                .iter()
                .map(|l| esc(l))
                .collect::<Vec<_>>()
                .join("<br>"),
        ));
    }
    let model = model_lines(scenario, runs, summaries);
    if !model.is_empty() {
        rows.push((
            "model",
            "Analytical model",
            model
                .iter()
                .map(|l| esc(l))
                .collect::<Vec<_>>()
                .join("<br>"),
        ));
    }
    rows.push((
        "congestion_control",
        "TCP congestion control (host default)",
        or_unknown(&env.congestion_control),
    ));
    rows.push(("kernel", "Kernel", or_unknown(&env.kernel)));
    rows.push(("host", "Host", or_unknown(&env.hostname)));
    rows.push((
        "httplab_version",
        "httplab version",
        or_unknown(&env.httplab_version),
    ));
    if let Some(first) = runs.iter().min_by_key(|r| r.epoch_unix_ms) {
        rows.push((
            "started",
            "First run started",
            rfc3339(first.epoch_unix_ms, first.started_at),
        ));
    }
    rows.push((
        "command_line",
        "Command line",
        if env.command_line.trim().is_empty() {
            "unknown".to_string()
        } else {
            format!("<code>{}</code>", esc(&env.command_line))
        },
    ));
    if !env.notes.is_empty() {
        rows.push((
            "notes",
            "Notes",
            env.notes
                .iter()
                .map(|n| esc(n))
                .collect::<Vec<_>>()
                .join("<br>"),
        ));
    }
    rows
}

/// What TLS the connections negotiated, per configuration: version, cipher, group and ALPN
/// (each distinct combination), with full and resumed handshakes per repetition.
fn negotiated_tls(runs: &[RunRecord], summaries: &[ProtocolSummary]) -> String {
    let mut lines = Vec::new();
    for s in summaries {
        let of: Vec<&RunRecord> = crate::summary::runs_of(runs, &s.label);
        let mut kinds: Vec<String> = Vec::new();
        let (mut full, mut resumed) = (0usize, 0usize);
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
                _ => full += 1,
            }
        }
        if kinds.is_empty() {
            continue;
        }
        let n = of.len().max(1) as f64;
        lines.push(format!(
            "<code>{}</code>: {}; {} full and {} resumed handshakes per repetition",
            esc(&s.label),
            esc(&kinds.join(" | ")),
            count(full as f64 / n),
            count(resumed as f64 / n)
        ));
    }
    lines.join("<br>")
}

fn how_to_read(h: &mut String) {
    h.push_str("<section id=\"how-to-read\">\n<h2>How to read this</h2>\n<dl class=\"phases\">\n");
    let items: [(&str, &str, &str); 9] = [
        ("", "page load time", "the workload's first request issued → the last response byte received."),
        ("blocked", "blocked", "the request was issued → a connection (or HTTP/2 stream slot) was free for it."),
        ("connect", "connect", "the TCP handshake on a new connection; none on a reused one."),
        ("ssl", "ssl", "the TLS handshake on a new connection; none on reuse or without TLS (HAR files count it inside connect, as HAR requires)."),
        ("send", "send", "the first request byte written → the last one written."),
        ("wait", "wait (TTFB)", "the last request byte written → the first response byte read: the round trip plus the server's time."),
        ("hol", "head-of-line", "the part of wait when the response was ready at the server but queued behind earlier responses on the same connection (pipelining)."),
        ("receive", "receive", "the first response byte → the last one; grows with size and the congestion window."),
        ("srv", "at the server", "when the lab server had read the request → when its response was ready (queue and think time), on the same clock as the client."),
    ];
    for (class, term, what) in items {
        let swatch = if class.is_empty() {
            String::new()
        } else {
            format!("<span class=\"sw {class}\"></span>")
        };
        let _ = writeln!(h, "<dt>{swatch}{term}</dt><dd>{what}</dd>");
    }
    h.push_str(
        "</dl>\n<p>Significance: page load times of two protocols are compared with the \
         Mann–Whitney U test (two-sided, α = 0.05; exact for up to 10 repetitions each without \
         ties), and the ratio of their medians with a bootstrap 95% interval (2,000 resamples, \
         fixed seed, so the same results give the same report). With fewer than 3 repetitions, \
         or too few for any outcome to reach p &lt; 0.05, the difference is not tested.</p>\n\
         </section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};

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
        let html = html(&scenario(), &runs(), &env);
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
        assert_eq!(html, super::html(&scenario(), &runs(), &env));
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
        let html = html(&sc, &runs, &env);
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
        let html = html(&scenario(), &[], &Environment::default());
        assert!(html.contains("nothing to compare"), "{html}");
        assert!(!html.contains("class=\"wf-row\""));
    }
}
