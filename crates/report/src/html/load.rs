//! `load.html`: the page `httplab load` (and `httplab merge`) writes beside load.json and load.md, drawn from the
//! load.json document alone (so a merge of shards can draw it again): what ran, the verdict
//! and any early end, a summary table per protocol, bar charts of the server's bill per
//! protocol, the load over time, and the server's bill against the users in flight.
//!
//! It computes no findings: every number is the document's, at most divided (new connections
//! per page) or rescaled for an axis. It is self-contained (inline CSS and SVG, no script, no
//! external address) and escapes every string it writes. The charts' drawing is `chart`'s.

mod chart;

use super::text::{esc, markdown_paragraphs};
use chart::{bar_chart, line_chart, Bar, LineChart, Series};
use httplab_core::units::format_size;
use serde_json::Value;
use std::fmt::Write as _;

/// The page's stylesheet: readable on a phone (charts scale to the column, the table
/// scrolls) and printed (no backgrounds needed, charts kept whole).
const CSS: &str = include_str!("load/style.css");

/// `v` with `decimals` decimals and a comma between thousands (`6,000`, `1,234.5`); "n/a"
/// for a value that is not a number.
fn thousands(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let text = format!("{:.decimals$}", v.abs());
    let (whole, fraction) = text.split_at(text.find('.').unwrap_or(text.len()));
    let mut out = String::new();
    if v < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(fraction);
    out
}

/// A number with the decimals its size deserves: `0.42`, `13.5`, `6,000`.
fn number(v: f64) -> String {
    let decimals = match v.abs() {
        a if a >= 100.0 || a == 0.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    thousands(v, decimals)
}

/// A finite number at `pointer` (`/server/peak_connections`), if there is one.
fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// One protocol's entry in `protocols`, with the colour it has in every chart: its id's
/// place among the distinct ids.
struct Run<'a> {
    id: String,
    colour: usize,
    doc: &'a Value,
}

impl Run<'_> {
    fn num(&self, pointer: &str) -> Option<f64> {
        num(self.doc, pointer)
    }

    fn seconds(&self) -> &[Value] {
        self.doc["seconds"].as_array().map_or(&[], Vec::as_slice)
    }

    /// New connections the server accepted per page answered: the handshake cost.
    fn new_connections_per_page(&self) -> Option<f64> {
        let pages = self.num("/pages_per_s").filter(|p| *p > 0.0)?;
        Some(self.num("/server/new_connections_per_s")? / pages)
    }

    /// The arrival in words.
    fn arrival(&self) -> String {
        let a = &self.doc["arrival"];
        match a["model"].as_str() {
            Some("closed") => format!(
                "closed model: {} users, each loading the page again when its last load ends",
                num(a, "/users").map_or_else(|| "?".into(), number)
            ),
            Some("open") => format!(
                "open model: {} page loads a second, {}",
                num(a, "/rate_per_s").map_or_else(|| "?".into(), number),
                match a["schedule"].as_str() {
                    Some("poisson") => "Poisson arrivals",
                    Some("constant") => "evenly spaced (constant)",
                    _ => "schedule not recorded",
                }
            ),
            _ => "arrival not recorded".to_string(),
        }
    }
}

fn runs(doc: &Value) -> Vec<Run<'_>> {
    let mut ids: Vec<String> = Vec::new();
    doc["protocols"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|p| {
            let id = p["protocol"]
                .as_str()
                .unwrap_or("unknown protocol")
                .to_string();
            let colour = ids.iter().position(|i| *i == id).unwrap_or_else(|| {
                ids.push(id.clone());
                ids.len() - 1
            });
            Run { id, colour, doc: p }
        })
        .collect()
}

/// The page for a load.json document.
pub fn load_html(doc: &Value) -> String {
    let name = doc
        .pointer("/scenario/name")
        .and_then(Value::as_str)
        .unwrap_or("unnamed scenario");
    let runs = runs(doc);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>httplab load: {0}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header>\n<h1>httplab load: {0}</h1>\n",
        esc(name)
    );
    header_facts(&mut html, doc, &runs);
    html.push_str("</header>\n");
    if let Some(failure) = doc["failure"].as_str().filter(|f| !f.trim().is_empty()) {
        let _ = writeln!(
            html,
            "<div class=\"failure\" role=\"alert\">The run ended early: {}</div>",
            esc(failure)
        );
    }
    if let Some(verdict) = doc["verdict"].as_str().filter(|v| !v.trim().is_empty()) {
        html.push_str("<section id=\"verdict\">\n");
        html.push_str(&markdown_paragraphs(verdict));
        html.push_str("</section>\n");
    }
    if runs.is_empty() {
        html.push_str(
            "<p class=\"empty\">This load.json holds no protocols: there is nothing to show.</p>\n",
        );
    } else {
        summary_table(&mut html, &runs);
        at_a_glance(&mut html, &runs);
        over_time(&mut html, &runs);
        against_users(&mut html, &runs);
    }
    let _ = write!(
        html,
        "<footer>\n<p class=\"note\">Drawn from load.json ({}) written by httplab {}. Latency \
         runs from each page's intended start (no coordinated omission).</p>\n</footer>\n\
         </body>\n</html>\n",
        esc(doc["schema"].as_str().unwrap_or("no schema")),
        esc(doc["httplab_version"].as_str().unwrap_or("?"))
    );
    html
}

/// What ran: the arrival, the duration and warm-up, the network, the page. A value the
/// protocols disagree on (shards merged from different runs) is given per protocol.
fn header_facts(html: &mut String, doc: &Value, runs: &[Run<'_>]) {
    let per_protocol = |fact: &dyn Fn(&Run<'_>) -> String| -> Option<String> {
        let first = fact(runs.first()?);
        if runs.iter().all(|r| fact(r) == first) {
            Some(first)
        } else {
            Some(
                runs.iter()
                    .map(|r| format!("{}: {}", r.id, fact(r)))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
    };
    html.push_str("<ul class=\"facts\">\n");
    if let Some(arrival) = per_protocol(&|r| r.arrival()) {
        let _ = writeln!(html, "<li>Arrival: {}.</li>", esc(&arrival));
    }
    let secs = |v: Option<f64>| {
        v.map_or_else(
            || "?".into(),
            |s| match s.fract() {
                0.0 => format!("{} s", thousands(s, 0)),
                _ => format!("{} s", number(s)),
            },
        )
    };
    if let Some(time) = per_protocol(&|r| {
        format!(
            "{} measured after {} of warm-up",
            secs(r.num("/duration_s")),
            secs(r.num("/warmup_s"))
        )
    }) {
        let _ = writeln!(html, "<li>Each protocol in turn: {}.</li>", esc(&time));
    }
    let _ = writeln!(
        html,
        "<li>Network: {}.</li>",
        esc(doc["network"].as_str().unwrap_or("not recorded"))
    );
    if let Some(requests) = num(doc, "/scenario/requests_per_page") {
        let _ = writeln!(
            html,
            "<li>The page: {} requests.</li>",
            thousands(requests, 0)
        );
    }
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    if !ids.is_empty() {
        let _ = writeln!(html, "<li>Protocols: {}.</li>", esc(&ids.join(", ")));
    }
    html.push_str("</ul>\n");
}

/// A table cell's text for an optional value.
fn or_na(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "n/a".to_string(), f)
}

fn ms(v: f64) -> String {
    format!("{} ms", number(v))
}

fn bytes(v: f64) -> String {
    format_size(v.max(0.0).round() as u64)
}

/// Section 3: a column per protocol, a row per measure.
fn summary_table(html: &mut String, runs: &[Run<'_>]) {
    type Cell = Box<dyn Fn(&Run<'_>) -> String>;
    let value = |pointer: &'static str, f: fn(f64) -> String| -> Cell {
        Box::new(move |r: &Run<'_>| or_na(r.num(pointer), f))
    };
    let of = |part: &'static str, whole: &'static str| -> Cell {
        Box::new(move |r: &Run<'_>| match (r.num(part), r.num(whole)) {
            (Some(p), Some(w)) => format!("{} of {}", thousands(p, 0), thousands(w, 0)),
            (p, _) => or_na(p, |p| thousands(p, 0)),
        })
    };
    let count = |v: f64| thousands(v, 0);
    let rows: Vec<(&str, Cell)> = vec![
        ("pages/s", value("/pages_per_s", number)),
        ("page p50", value("/page_latency/p50_ms", ms)),
        ("page p90", value("/page_latency/p90_ms", ms)),
        ("page p99", value("/page_latency/p99_ms", ms)),
        ("page p99.9", value("/page_latency/p99_9_ms", ms)),
        ("page max", value("/page_latency/max_ms", ms)),
        ("request p99", value("/request_latency/p99_ms", ms)),
        ("failed pages", of("/failed_pages", "/pages")),
        ("failed requests", of("/failed_requests", "/requests")),
        (
            "server connections at peak",
            value("/server/peak_connections", count),
        ),
        (
            "server connections, mean",
            value("/server/mean_connections", number),
        ),
        (
            "new connections/s",
            value("/server/new_connections_per_s", number),
        ),
        (
            "new connections per page",
            Box::new(|r: &Run<'_>| or_na(r.new_connections_per_page(), number)),
        ),
        (
            "TLS handshakes/s",
            value("/server/tls_handshakes_per_s", number),
        ),
        ("server CPU per page", value("/server/cpu_ms_per_page", ms)),
        (
            "server memory at peak",
            value("/server/peak_memory_bytes", bytes),
        ),
        (
            "server memory per connection",
            value("/server/memory_per_connection_bytes", bytes),
        ),
        (
            "socket memory at peak",
            value("/server/socket_memory_bytes_peak", bytes),
        ),
        (
            "socket memory per connection",
            value("/server/socket_memory_per_connection_bytes", bytes),
        ),
        ("file descriptors at peak", value("/server/peak_fds", count)),
        ("bytes per page", value("/bytes_per_page", bytes)),
        (
            "client connections per page",
            value("/client_connections_per_page", number),
        ),
    ];
    html.push_str(
        "<h2>Summary</h2>\n<div class=\"scroll\"><table class=\"summary\">\n<thead><tr><th>per \
         protocol</th>",
    );
    for r in runs {
        let _ = write!(
            html,
            "<th><span class=\"sw c{}\"></span>{}</th>",
            r.colour % 6,
            esc(&r.id)
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (label, cell) in &rows {
        let _ = write!(html, "<tr><th>{label}</th>");
        for r in runs {
            let _ = write!(html, "<td>{}</td>", esc(&cell(r)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table></div>\n");
    for r in runs {
        if let Some(first) = r.doc["first_failure"].as_str() {
            let _ = writeln!(
                html,
                "<p class=\"note\">{}'s first failed page: {}</p>",
                esc(&r.id),
                esc(first)
            );
        }
    }
}

/// A `<figure>` around a chart.
fn figure(caption: &str, note: &str, svg: &str) -> String {
    format!(
        "<figure><figcaption>{}{}</figcaption>\n{svg}\n</figure>\n",
        esc(caption),
        if note.is_empty() {
            String::new()
        } else {
            format!(" <small>{}</small>", esc(note))
        }
    )
}

/// Section 4: the server's bill per protocol as bars.
fn at_a_glance(html: &mut String, runs: &[Run<'_>]) {
    let bars = |value: &dyn Fn(&Run<'_>) -> Option<f64>, text: fn(f64) -> String| {
        runs.iter()
            .map(|r| {
                let v = value(r);
                Bar {
                    label: r.id.clone(),
                    colour: r.colour,
                    value: v,
                    text: or_na(v, text),
                }
            })
            .collect::<Vec<_>>()
    };
    html.push_str(
        "<h2>The seed lesson at a glance</h2>\n<p>What each protocol cost the server for the \
         same users: connections held (each a socket, buffers and a file descriptor), CPU per \
         page, and new connections per page (each a TCP and, over TLS, a TLS handshake).</p>\n\
         <div class=\"charts\">\n",
    );
    let charts: [(&str, &str, Vec<Bar>); 4] = [
        (
            "Server connections at peak",
            "",
            bars(&|r| r.num("/server/peak_connections"), |v| thousands(v, 0)),
        ),
        (
            "Server CPU per page",
            "ms",
            bars(&|r| r.num("/server/cpu_ms_per_page"), ms),
        ),
        (
            "New connections per page",
            "the handshake cost",
            bars(&|r| r.new_connections_per_page(), number),
        ),
        (
            "Server memory per connection",
            "",
            bars(&|r| r.num("/server/memory_per_connection_bytes"), bytes),
        ),
    ];
    for (caption, note, bars) in charts {
        if bars.iter().all(|b| b.value.is_none()) && caption.contains("memory") {
            continue; // not measured by this version
        }
        html.push_str(&figure(caption, note, &bar_chart(caption, &bars)));
    }
    html.push_str("</div>\n");
}

/// One series per protocol of `(x, y)` from its seconds.
fn per_second(
    runs: &[Run<'_>],
    point: impl Fn(&Run<'_>, &Value) -> Option<(f64, f64)>,
    dashed: bool,
) -> Vec<Series> {
    runs.iter()
        .map(|r| Series {
            label: r.id.clone(),
            colour: r.colour,
            dashed,
            points: r.seconds().iter().filter_map(|s| point(r, s)).collect(),
        })
        .collect()
}

/// Section 5: throughput and latency second by second, the warm-up shaded.
fn over_time(html: &mut String, runs: &[Run<'_>]) {
    let warmup = runs
        .iter()
        .flat_map(|r| r.seconds())
        .any(|s| num(s, "/at_s").is_some_and(|at| at < 0.0));
    let chart =
        |title: &'static str, y_title: &'static str, note: Option<&'static str>| LineChart {
            title,
            x_title: "seconds since the measured load began (warm-up below 0)",
            y_title,
            x_from_zero: false,
            shade_before: warmup.then_some(0.0),
            dots: false,
            note,
        };
    html.push_str("<h2>Over time</h2>\n<div class=\"charts\">\n");
    let pages = per_second(
        runs,
        |_, s| Some((num(s, "/at_s")?, num(s, "/pages")?)),
        false,
    );
    html.push_str(&figure(
        "Throughput",
        "pages answered each second",
        &line_chart(&chart("throughput", "pages per second", None), &pages),
    ));
    // A second in which no page ended has no latency to show (its percentiles read 0).
    let latency = |field: &'static str| {
        move |_: &Run<'_>, s: &Value| {
            if num(s, "/pages") == Some(0.0) {
                return None;
            }
            Some((num(s, "/at_s")?, num(s, field)?))
        }
    };
    let mut series = per_second(runs, latency("/p99_ms"), false);
    series.extend(per_second(runs, latency("/p50_ms"), true));
    html.push_str(&figure(
        "Page load time",
        "p99 and p50 of the pages that ended each second",
        &line_chart(
            &chart(
                "page load time p50 and p99",
                "page load time, ms",
                Some("solid p99, dashed p50"),
            ),
            &series,
        ),
    ));
    html.push_str("</div>\n");
}

/// The unit a set of byte counts reads best in, and its size.
fn byte_unit(max: f64) -> (&'static str, f64) {
    match max {
        m if m >= 1e9 => ("GB", 1e9),
        m if m >= 1e6 => ("MB", 1e6),
        m if m >= 1e3 => ("kB", 1e3),
        _ => ("bytes", 1.0),
    }
}

/// Section 6: the server's bill each second against the users in flight that second.
fn against_users(html: &mut String, runs: &[Run<'_>]) {
    html.push_str("<h2>The server's bill against users</h2>\n");
    let recorded = runs
        .iter()
        .flat_map(|r| r.seconds())
        .any(|s| num(s, "/users").is_some());
    let users = |r: &Run<'_>, s: &Value| {
        num(s, "/users").or_else(|| {
            (r.doc.pointer("/arrival/model") == Some(&Value::from("closed")))
                .then(|| r.num("/arrival/users"))
                .flatten()
        })
    };
    if !recorded {
        if runs.iter().all(|r| r.num("/arrival/users").is_none()) {
            html.push_str(
                "<p class=\"note\">This load.json records no users per second, and an open \
                 model has no fixed count of users to stand in for it: nothing to draw.</p>\n",
            );
            return;
        }
        html.push_str(
            "<p class=\"note\">This load.json records no users per second: each second is \
             placed at its protocol's count of users.</p>\n",
        );
    }
    html.push_str(
        "<p>Each dot is one second of the load (warm-up included): the users with a page in \
         flight, and what the server held or spent in that second.</p>\n<div class=\"charts\">\n",
    );
    let metrics: [(&str, &str, &str, bool); 5] = [
        (
            "/open_connections",
            "Open connections",
            "server connections open",
            false,
        ),
        (
            "/server_cpu_ms",
            "Server CPU",
            "server CPU, ms per second (1,000 = a core)",
            false,
        ),
        (
            "/server_memory_bytes",
            "Server memory",
            "server memory",
            true,
        ),
        (
            "/socket_memory_bytes",
            "Socket memory",
            "socket buffer memory",
            true,
        ),
        ("/fds", "File descriptors", "open file descriptors", false),
    ];
    for (field, caption, y_title, in_bytes) in metrics {
        let mut series = per_second(runs, |r, s| Some((users(r, s)?, num(s, field)?)), false);
        if series.iter().all(|s| s.points.is_empty()) {
            continue;
        }
        let mut y_title = y_title.to_string();
        if in_bytes {
            let max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0, f64::max);
            let (unit, size) = byte_unit(max);
            for s in &mut series {
                for p in &mut s.points {
                    p.1 /= size;
                }
            }
            y_title = format!("{y_title}, {unit}");
        }
        let svg = line_chart(
            &LineChart {
                title: caption,
                x_title: "users with a page in flight",
                y_title: &y_title,
                x_from_zero: true,
                shade_before: None,
                dots: true,
                note: None,
            },
            &series,
        );
        html.push_str(&figure(caption, "against users", &svg));
    }
    html.push_str("</div>\n");
}

#[cfg(test)]
mod tests;
