//! `compare.html`: two runs side by side as one self-contained page (inline CSS and SVG, no
//! scripts, nothing fetched): the change per configuration in words, the table of medians,
//! ratios and p-values, per configuration the distribution of both sides' page times on one
//! axis, and both sides' conditions. It owns the page's layout; the numbers and words come
//! from `compare`, the distribution chart from `distribution`.

use super::distribution::distribution;
use super::text::{esc, markdown_paragraphs};
use super::STYLE;
use crate::compare::{
    change_rows, change_sentence, conditions, Comparison, RunFolder, CHANGE_COLUMNS, CHANGE_NOTE,
};
use crate::summary::ProtocolSummary;
use std::fmt::Write as _;

/// The page's own additions to the report stylesheet.
const CSS: &str =
    "td p { margin: 0; }\n#verdict p { margin: 6px 0; }\ntable.conditions thead th { text-align: left; }\n";

/// `s` as table-cell HTML: the little Markdown `compare` writes (`code`, **bold**), escaped,
/// without the paragraph around it.
fn cell(s: &str) -> String {
    let p = markdown_paragraphs(s);
    p.trim_end()
        .strip_prefix("<p>")
        .and_then(|x| x.strip_suffix("</p>"))
        .map_or(p.clone(), str::to_string)
}

/// The whole comparison page.
pub(crate) fn compare_html(a: &RunFolder, b: &RunFolder, c: &Comparison, version: &str) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"httplab {}\">\n<title>httplab compare: {} → {}</title>\n\
         <style>\n{STYLE}{CSS}</style>\n</head>\n<body>\n<header>\n<h1><span class=\"brand\">\
         httplab compare:</span> {} → {}</h1>\n",
        esc(version),
        esc(&a.scenario_name),
        esc(&b.scenario_name),
        esc(&a.scenario_name),
        esc(&b.scenario_name)
    );
    for (side, f) in [("A", a), ("B", b)] {
        let _ = writeln!(
            h,
            "<p class=\"facts\" data-side=\"{side}\"><strong>{side}</strong> <code>{}</code>: \
             {} runs · Network: {}</p>",
            esc(&f.dir.display().to_string()),
            f.runs.len(),
            esc(&f.network_sentence())
        );
        if !f.complete {
            let _ = writeln!(
                h,
                "<p class=\"incomplete\"><strong>{side} is an incomplete run: it was \
                 interrupted, and holds only the {} runs that finished.</strong></p>",
                f.runs.len()
            );
        }
        if f.untrustworthy() {
            let _ = writeln!(
                h,
                "<p class=\"untrustworthy\" role=\"alert\"><strong>{side}: {}</strong></p>",
                esc(&f.link_sentence())
            );
        }
    }
    if a.scenario_name != b.scenario_name {
        let _ = writeln!(
            h,
            "<p class=\"note\">A and B ran different scenarios: the change includes the \
             difference between them.</p>"
        );
    }
    h.push_str(
        "<nav><a href=\"#verdict\">Verdict</a><a href=\"#changes\">Changes</a>\
         <a href=\"#distributions\">Distributions</a><a href=\"#conditions\">Conditions</a></nav>\n\
         </header>\n<main>\n<section id=\"verdict\">\n<h2>Verdict: B against A</h2>\n",
    );
    if c.matched.is_empty() {
        h.push_str("<p>No configuration ran on both sides, so there is nothing to compare.</p>\n");
    }
    for m in &c.matched {
        let _ = writeln!(
            h,
            "<div class=\"change\" data-label=\"{}\">{}</div>",
            esc(&m.label),
            markdown_paragraphs(&format!("{}.", change_sentence(m)))
        );
    }
    for (side, labels) in [("A", &c.only_a), ("B", &c.only_b)] {
        if !labels.is_empty() {
            let names: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
            h.push_str(&markdown_paragraphs(&format!(
                "Only in {side}: {} (nothing to compare with).",
                names.join(", ")
            )));
        }
    }
    h.push_str("</section>\n");

    if !c.matched.is_empty() {
        h.push_str(
            "<section id=\"changes\">\n<h2>Page load time per configuration</h2>\n<table \
             class=\"summary compare\">\n<thead><tr>",
        );
        for column in CHANGE_COLUMNS {
            let _ = write!(h, "<th>{}</th>", esc(column));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for (label, cells) in change_rows(c) {
            let _ = write!(
                h,
                "<tr data-label=\"{}\"><td><code>{}</code></td>",
                esc(label),
                esc(label)
            );
            for cell in &cells {
                let _ = write!(h, "<td>{}</td>", esc(cell));
            }
            h.push_str("</tr>\n");
        }
        let _ = writeln!(
            h,
            "</tbody>\n</table>\n<p class=\"note\">{}</p>\n</section>",
            esc(CHANGE_NOTE)
        );

        h.push_str(
            "<section id=\"distributions\">\n<h2>Page load time, every repetition</h2>\n\
             <p class=\"note\">Per configuration, one dot per repetition of A and of B on one \
             axis, the median as a black tick and its bootstrap 95% interval as a band. Hover \
             for values.</p>\n",
        );
        for m in &c.matched {
            let side = |s: &ProtocolSummary, name: &str| ProtocolSummary {
                label: name.to_string(),
                ..s.clone()
            };
            let _ = writeln!(
                h,
                "<section class=\"compare-label\" data-label=\"{}\">\n<h3>{}</h3>",
                esc(&m.label),
                esc(&m.label)
            );
            h.push_str(&distribution(&[side(&m.a, "A"), side(&m.b, "B")]));
            h.push_str("\n</section>\n");
        }
        h.push_str("</section>\n");
    }

    h.push_str(
        "<section id=\"conditions\">\n<h2>Conditions</h2>\n<table class=\"conditions\">\n\
         <thead><tr><th></th><th>A</th><th>B</th></tr></thead>\n<tbody>\n",
    );
    for (name, (ca, cb)) in conditions(a, b, c) {
        let _ = writeln!(
            h,
            "<tr data-key=\"{name}\"><th scope=\"row\">{name}</th><td>{}</td><td>{}</td></tr>",
            cell(&ca),
            cell(&cb)
        );
    }
    let _ = write!(
        h,
        "</tbody>\n</table>\n<p class=\"note\">Each side's full report (waterfalls, \
         connections, every request) is report.html in its folder.</p>\n</section>\n</main>\n\
         <footer>Written by httplab {}. Beside this file: <a href=\"compare.md\">compare.md</a>.\
         </footer>\n</body>\n</html>\n",
        esc(version)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::fixtures::RunBuilder;
    use crate::Environment;
    use std::path::PathBuf;

    #[test]
    fn a_distribution_per_shared_configuration_and_both_sides_conditions() {
        let folder = |dir: &str, base: u64| RunFolder {
            dir: PathBuf::from(dir),
            scenario_name: "four-objects".into(),
            scenario_description: "<i>x</i>".into(),
            network: None,
            env: Environment::default(),
            runs: (0..5)
                .map(|i| RunBuilder::http11(i, base + u64::from(i)).build())
                .chain((0..5).map(|i| RunBuilder::h2(i, 10 + u64::from(i)).build()))
                .collect(),
            complete: true,
        };
        let (a, mut b) = (folder("a", 20), folder("b", 40));
        b.runs.push(RunBuilder::http10(0, 50).build());
        let html = compare_html(&a, &b, &compare(&a.runs, &b.runs), "0.1.0");
        assert_eq!(html.matches("<section class=\"compare-label\"").count(), 2);
        assert_eq!(
            html.matches("<svg class=\"chart distribution-chart\"")
                .count(),
            2
        );
        assert!(html.contains(
            "<div class=\"change\" data-label=\"http1.1\"><p><strong>http1.1</strong>: 1.9× slower under B"
        ));
        assert!(html.contains("Only in B: <code>http1.0</code>"), "{html}");
        assert!(html
            .contains("<tr data-key=\"network\"><th scope=\"row\">network</th><td>plain loopback"));
        assert!(html.contains("&lt;i&gt;x&lt;/i&gt;") && !html.contains("<i>x"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
