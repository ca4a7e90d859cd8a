//! The waterfall of one run, drawn like DevTools': one row per request in issue order, a bar
//! per row whose segments are the request's phases (blocked, connect, ssl, send, wait with its
//! head-of-line part, receive), each in its phase colour, on the report's shared time axis.
//! Under the wait segment a thin dark bar shows when the server held the request (arrival →
//! response ready), so "wait = round trip + server time" is visible. Hover text (SVG `<title>`)
//! gives every phase's value. Each row is a `<g class="wf-row" data-request-id="N">`, which the
//! browser test counts. It owns the rows' drawing only; the page places it and the axis scales it.

use super::axis::{TimeScale, PLOT_X, WIDTH};
use super::text::{esc, ms3, phase, shorten};
use httplab_core::units::{format_duration, format_size};
use httplab_core::{RequestRecord, RunRecord};
use std::fmt::Write as _;
use std::time::Duration;

/// Phases in the order they happen within a request: CSS class suffix, legend text.
pub(super) const PHASES: [(&str, &str); 7] = [
    ("blocked", "blocked"),
    ("connect", "connect (TCP)"),
    ("ssl", "ssl (TLS)"),
    ("send", "send"),
    ("wait", "wait (TTFB)"),
    ("hol", "head-of-line"),
    ("receive", "receive"),
];

const ROW_H: f64 = 20.0;
const BAR_H: f64 = 12.0;
const TOP: f64 = 24.0;

/// The request's phases as (class, start offset from the page-load start, duration), in order,
/// leaving out phases that did not happen or took no time. `hol` is the tail of `wait`.
pub(super) fn segments(
    run: &RunRecord,
    r: &RequestRecord,
) -> Vec<(&'static str, Duration, Duration)> {
    let p = &r.phases;
    let hol = p.hol.unwrap_or_default().min(p.wait);
    let parts = [
        ("blocked", p.blocked),
        ("connect", p.connect.unwrap_or_default()),
        ("ssl", p.ssl.unwrap_or_default()),
        ("send", p.send),
        ("wait", p.wait - hol),
        ("hol", hol),
        ("receive", p.receive),
    ];
    let mut at = r.issued_at.saturating_sub(run.started_at);
    let mut out = Vec::new();
    for (class, d) in parts {
        if !d.is_zero() {
            out.push((class, at, d));
        }
        at += d;
    }
    out
}

/// Requests in issue order.
pub(super) fn in_issue_order(run: &RunRecord) -> Vec<&RequestRecord> {
    let mut requests: Vec<&RequestRecord> = run.requests.iter().collect();
    requests.sort_by_key(|r| (r.issued_at, r.id));
    requests
}

/// The waterfall's `<svg>`.
pub(super) fn waterfall(run: &RunRecord, scale: &TimeScale) -> String {
    let requests = in_issue_order(run);
    let height = TOP + ROW_H * requests.len() as f64 + 8.0;
    let mut out = format!(
        "<svg class=\"chart waterfall-chart\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"waterfall of {}, repetition {}\">",
        esc(&run.label()),
        run.repetition
    );
    out.push_str(&scale.grid(TOP, height - 8.0, false));
    // The page-load line (the run's last response byte) under the rows, whose stripes are
    // translucent, so bars and labels stay on top of it.
    let x = scale.x(run.page_time);
    let _ = write!(
        out,
        "<g class=\"load\"><title>page loaded at {}</title><line x1=\"{x:.1}\" y1=\"{TOP:.1}\" \
         x2=\"{x:.1}\" y2=\"{:.1}\"/></g>",
        ms3(run.page_time),
        height - 8.0
    );
    for (i, r) in requests.iter().enumerate() {
        row(&mut out, run, r, TOP + ROW_H * i as f64, scale, i % 2 == 1);
    }
    out.push_str("</svg>");
    out
}

fn row(out: &mut String, run: &RunRecord, r: &RequestRecord, y: f64, scale: &TimeScale, odd: bool) {
    let _ = write!(
        out,
        "<g class=\"wf-row\" data-request-id=\"{}\"><title>{}</title>\
         <rect class=\"hit{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{ROW_H}\"/>",
        r.id,
        esc(&row_title(run, r)),
        if odd { " odd" } else { "" },
    );
    let text_y = y + ROW_H / 2.0 + 4.0;
    let _ = write!(
        out,
        "<text class=\"wf-id\" x=\"30\" y=\"{text_y:.1}\">{}</text>\
         <text class=\"wf-path\" x=\"38\" y=\"{text_y:.1}\">{}</text>",
        r.id,
        esc(&shorten(&r.path, 28))
    );
    if let Some(c) = r.connection {
        let _ = write!(
            out,
            "<text class=\"wf-conn\" x=\"{:.1}\" y=\"{text_y:.1}\">c{c}</text>",
            PLOT_X - 8.0
        );
    }
    let bar_y = y + (ROW_H - BAR_H) / 2.0;
    for (class, at, d) in segments(run, r) {
        let label = PHASES
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(class, |(_, l)| l);
        let _ = write!(
            out,
            "<rect class=\"ph-{class}\" x=\"{:.1}\" y=\"{bar_y:.1}\" width=\"{:.2}\" \
             height=\"{BAR_H}\"><title>{label} {} (request {} {})</title></rect>",
            scale.x(at),
            scale.w(at, d).max(0.0),
            ms3(d),
            r.id,
            esc(&r.path)
        );
    }
    if let Some(s) = run.server_view(r.id) {
        let from = s.arrived_at.saturating_sub(run.started_at);
        let busy = s.response_ready_at.saturating_sub(s.arrived_at);
        if !busy.is_zero() {
            let _ = write!(
                out,
                "<rect class=\"srv\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"3\"><title>\
                 server held it {} (arrived {}, response ready {})</title></rect>",
                scale.x(from),
                bar_y + BAR_H - 3.0,
                scale.w(from, busy),
                ms3(busy),
                ms3(from),
                ms3(s.response_ready_at.saturating_sub(run.started_at))
            );
        }
    }
    let end = scale.x(r.ended_at().saturating_sub(run.started_at));
    let (class, note) = match &r.error {
        Some(e) => ("wf-total failed", format!("failed: {}", shorten(e, 40))),
        None => ("wf-total", format_duration(r.phases.total())),
    };
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{:.1}\" y=\"{text_y:.1}\">{}</text></g>",
        end + 4.0,
        esc(&note)
    );
}

/// The hover text of a whole row: every phase and the server's view.
fn row_title(run: &RunRecord, r: &RequestRecord) -> String {
    let p = &r.phases;
    let since = |at: Duration| ms3(at.saturating_sub(run.started_at));
    let mut t = format!("#{} {} {}", r.id, r.method, r.path);
    match &r.error {
        Some(e) => {
            let _ = write!(t, " → failed: {e}");
        }
        None => {
            let _ = write!(t, " → {}", r.status);
        }
    }
    if let Some(c) = r.connection {
        let how = if r.opened_connection() {
            "new"
        } else {
            "reused"
        };
        let _ = write!(t, " on connection {c} ({how})");
    }
    let _ = write!(
        t,
        "\nissued at {}, total {}\nblocked {}\nconnect {}\nssl {}\nsend {}\nwait {}",
        since(r.issued_at),
        ms3(p.total()),
        ms3(p.blocked),
        phase(p.connect),
        phase(p.ssl),
        ms3(p.send),
        ms3(p.wait),
    );
    if let Some(h) = p.hol {
        let _ = write!(t, " (head-of-line {})", ms3(h));
    }
    let _ = write!(t, "\nreceive {}", ms3(p.receive));
    if let Some(s) = run.server_view(r.id) {
        let _ = write!(
            t,
            "\nserver: arrived {}, started {}, response ready {}",
            since(s.arrived_at),
            since(s.started_at),
            since(s.response_ready_at)
        );
        if let Some(sent) = s.response_sent_at {
            let _ = write!(t, ", sent {}", since(sent));
        }
    }
    let _ = write!(
        t,
        "\nheaders {} up, {} down; body {} up, {} down",
        format_size(r.request_header_bytes),
        format_size(r.response_header_bytes),
        format_size(r.request_body_bytes),
        format_size(r.response_body_bytes)
    );
    if r.retries > 0 {
        let _ = write!(t, "\nsent again {} time(s)", r.retries);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;

    #[test]
    fn segments_follow_the_phases_and_hol_ends_the_wait() {
        let run = RunBuilder::http11(0, 23)
            .hol(3, Duration::from_micros(700))
            .build();
        let us = Duration::from_micros;
        // Request 0 opened connection 0: blocked 3 us, connect 1.5 ms, ssl 2.25 ms, ...
        assert_eq!(
            segments(&run, &run.requests[0]),
            [
                ("blocked", us(0), us(3)),
                ("connect", us(3), us(1_500)),
                ("ssl", us(1_503), us(2_250)),
                ("send", us(3_753), us(12)),
                ("wait", us(3_765), us(2_000)),
                ("receive", us(5_765), us(800)),
            ]
        );
        // Request 3 reused connection 1 and waited 700 us of its 2 ms behind another response.
        assert_eq!(
            segments(&run, &run.requests[3]),
            [
                ("blocked", us(0), us(4_103)),
                ("send", us(4_103), us(12)),
                ("wait", us(4_115), us(1_300)),
                ("hol", us(5_415), us(700)),
                ("receive", us(6_115), us(839)),
            ]
        );
    }

    #[test]
    fn one_row_per_request_with_hover_text_and_escaped_paths() {
        let mut run = RunBuilder::http10(0, 44).fail(2, "reset <by peer>").build();
        run.requests[1].path = "/<script>alert(1)</script>".into();
        let svg = waterfall(&run, &TimeScale::covering(run.page_time));
        assert_eq!(svg.matches("<g class=\"wf-row\"").count(), 4);
        assert!(svg.contains("data-request-id=\"3\""), "{svg}");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("/&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{svg}"
        );
        assert!(svg.contains("failed: reset &lt;by peer&gt;"), "{svg}");
        // Hover text of request 0's row and of its ssl segment.
        assert!(
            svg.contains(
                "<title>#0 GET /index.html → 200 on connection 0 (new)\nissued at 0.000 ms, \
                 total 6.565 ms\nblocked 0.003 ms\nconnect 1.500 ms\nssl 2.250 ms\nsend 0.012 \
                 ms\nwait 2.000 ms\nreceive 0.800 ms\nserver: arrived 4.265 ms, started 4.265 \
                 ms, response ready 5.265 ms, sent 5.465 ms\nheaders 64 B up, 96 B down; body \
                 0 B up, 2.0 kB down</title>"
            ),
            "{svg}"
        );
        assert!(
            svg.contains("<title>ssl (TLS) 2.250 ms (request 0 /index.html)</title>"),
            "{svg}"
        );
        assert!(svg.contains("<title>server held it 1.000 ms"), "{svg}");
    }
}
