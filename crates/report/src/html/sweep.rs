//! `sweep.html`: a sweep as one self-contained page (inline CSS and SVG, no scripts, nothing
//! fetched): the line chart of median page load time per configuration against the varied
//! value with its confidence bands, the table of medians with the winner at each value, links
//! to each value's own report, and the conditions of each point. It owns the page's layout;
//! the numbers and words come from `sweep`, the chart from `line_chart`.

use super::line_chart::{self, Line, LinePoint, XAxis};
use super::text::{esc, markdown_paragraphs};
use super::STYLE;
use crate::network::{link_check, network_sentence};
use crate::sweep::{
    environment_sentence, intro, median_cell, point_folder, point_verdict, SweepAnalysis,
};
use std::fmt::Write as _;

/// The page's own additions to the report stylesheet (the chart brings its own).
const CSS: &str = "table.sweep td:last-child, table.sweep th:last-child { text-align: left; }\n";

/// `s` as a relative URL path: bytes outside the unreserved set and `=,()` percent-encoded.
pub(crate) fn href(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~=,()".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The whole sweep page.
pub(crate) fn sweep_html(o: &SweepAnalysis<'_>) -> String {
    let (key, points) = (o.key, o.given);
    let name = points.first().map_or("", |p| p.scenario.name.as_str());
    let version = points
        .first()
        .map_or("", |p| p.env.httplab_version.as_str());
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"httplab {}\">\n<title>httplab sweep: {} over {}</title>\n\
         <style>\n{STYLE}{}{CSS}</style>\n</head>\n<body>\n<header>\n<h1><span class=\"brand\">httplab \
         sweep:</span> {} over {}</h1>\n<p class=\"facts\">{}</p>\n",
        esc(version),
        esc(name),
        esc(key),
        line_chart::CSS,
        esc(name),
        esc(key),
        esc(&intro(o))
    );
    if let Some(sentence) = o.unfinished_sentence() {
        let _ = writeln!(
            h,
            "<p class=\"incomplete\"><strong>{}</strong></p>",
            esc(&sentence)
        );
    }
    for p in o.points.iter().map(|p| p.point) {
        if let Some(check) = link_check(&p.runs).filter(|c| !c.trustworthy()) {
            let _ = writeln!(
                h,
                "<p class=\"untrustworthy\" role=\"alert\"><strong>{}={}: {}</strong></p>",
                esc(key),
                esc(&p.value),
                esc(&check.sentence())
            );
        }
    }
    h.push_str(
        "<nav><a href=\"#chart\">Chart</a><a href=\"#medians\">Medians</a>\
         <a href=\"#points\">Each value</a></nav>\n</header>\n<main>\n",
    );

    let ticks: Vec<(f64, String)> = o
        .axis
        .from_zero
        .then(|| (0.0, "0".to_string()))
        .filter(|_| o.axis.positions.iter().all(|&x| x > 0.06))
        .into_iter()
        .chain(
            o.points
                .iter()
                .map(|p| (o.axis.positions[p.index], p.point.value.clone())),
        )
        .collect();
    let axis = XAxis {
        title: if o.axis.log {
            format!("{key} (log scale)")
        } else {
            key.to_string()
        },
        ticks,
    };
    let lines: Vec<Line> = o
        .labels
        .iter()
        .map(|label| Line {
            label: label.clone(),
            points: o
                .points
                .iter()
                .filter_map(|p| {
                    let s = p.summaries.iter().find(|s| &s.label == label)?;
                    Some(LinePoint {
                        x: o.axis.positions[p.index],
                        value: p.point.value.clone(),
                        median: s.page_time_median,
                        ci: s.page_time_median_ci,
                    })
                })
                .collect(),
        })
        .collect();
    h.push_str(
        "<section id=\"chart\">\n<h2>Page load time against the varied value</h2>\n\
         <p class=\"note\">One line per configuration through its median page load time (first \
         request issued → last response byte) at each value; the shaded band is the bootstrap \
         95% interval of each median (3 or more repetitions). Hover a point for its values.</p>\n",
    );
    h.push_str(&line_chart::legend(&lines));
    h.push_str(&line_chart::line_chart(&axis, &lines));
    h.push_str("\n</section>\n");

    h.push_str(
        "<section id=\"medians\">\n<h2>Medians and winners</h2>\n<table class=\"summary \
         sweep\">\n<thead><tr>",
    );
    let _ = write!(h, "<th>{}</th>", esc(key));
    for l in &o.labels {
        let _ = write!(h, "<th>{}</th>", esc(l));
    }
    h.push_str("<th>winner</th></tr></thead>\n<tbody>\n");
    for p in &o.points {
        let v = point_verdict(&p.summaries);
        let _ = write!(
            h,
            "<tr data-value=\"{}\"><td>{}</td>",
            esc(&p.point.value),
            esc(&p.point.value)
        );
        for l in &o.labels {
            let cell = p.summaries.iter().find(|s| &s.label == l);
            let best = cell.is_some_and(|s| v.winner.as_deref() == Some(s.label.as_str()));
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if best { " class=\"best\"" } else { "" },
                cell.map_or_else(|| "–".to_string(), |s| esc(&median_cell(s)))
            );
        }
        let _ = writeln!(h, "<td>{}</td></tr>", esc(&v.sentence));
    }
    h.push_str(
        "</tbody>\n</table>\n<p class=\"note\">Median page load time with its bootstrap 95% \
         interval in brackets. The winner is the fastest configuration when a two-sided \
         Mann–Whitney U test against the runner-up finds p &lt; 0.05 (\"not tested\" with too \
         few repetitions to test: run with --repeat 5 or more).</p>\n</section>\n",
    );

    h.push_str(
        "<section id=\"points\">\n<h2>Each value</h2>\n<table class=\"conditions\">\n<thead>\
         <tr><th>value</th><th>report</th><th>network</th><th>link self-check</th></tr></thead>\n\
         <tbody>\n",
    );
    for p in o.points.iter().map(|p| p.point) {
        let folder = href(&point_folder(key, &p.value));
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td><a href=\"{folder}/report.html\">report.html</a> · \
             <a href=\"{folder}/report.md\">report.md</a></td><td>{}</td><td>{}</td></tr>",
            esc(&p.value),
            esc(&network_sentence(&p.scenario, &p.runs, &p.env)),
            esc(&link_check(&p.runs)
                .map_or_else(|| "no emulated link".to_string(), |c| c.sentence()))
        );
    }
    h.push_str("</tbody>\n</table>\n");
    if let Some(env) = points.first().map(|p| &p.env) {
        h.push_str(&markdown_paragraphs(&environment_sentence(env)));
    }
    let _ = write!(
        h,
        "</section>\n</main>\n<footer>Written by httplab {}. Beside this file: \
         <a href=\"sweep.md\">sweep.md</a>, <a href=\"sweep.json\">sweep.json</a> (every \
         median and interval), and one report folder per value.</footer>\n</body>\n</html>\n",
        esc(version)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::sweep::SweepPoint;
    use crate::Environment;

    #[test]
    fn hrefs_encode_what_a_url_path_cannot_hold() {
        assert_eq!(href("network.rtt=20ms"), "network.rtt=20ms");
        assert_eq!(href("network.loss=2%"), "network.loss=2%25");
        assert_eq!(href("a b#c?\"<"), "a%20b%23c%3F%22%3C");
    }

    #[test]
    fn a_line_per_configuration_and_a_row_per_value() {
        let point = |value: &str, base: u64| SweepPoint {
            value: value.into(),
            scenario: scenario(),
            runs: (0..3)
                .map(|i| RunBuilder::http11(i, base + u64::from(i)).build())
                .chain((0..3).map(|i| RunBuilder::h2(i, base / 2 + u64::from(i)).build()))
                .collect(),
            env: Environment::default(),
        };
        let points = vec![point("1ms", 10), point("20ms", 40), point("40ms", 80)];
        let html = sweep_html(&SweepAnalysis::new("server.think", &points));
        assert_eq!(html.matches("class=\"sweep-line\"").count(), 2);
        assert!(html.contains("<path class=\"sweep-line\" data-label=\"http1.1\""));
        assert_eq!(html.matches("<tr data-value=").count(), 3);
        assert!(html.contains("<a href=\"server.think=20ms/report.html\">"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script"));
    }
}
