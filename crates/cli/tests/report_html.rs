//! `report.html` as a browser sees it: the quickstart's report opened from `file://` in headless
//! Chromium renders without console messages, holds one waterfall row per request for each
//! protocol and one connection lane per connection, and paints a screenshot that is not blank.
//! The file itself is self-contained (no `http://` or `https://` anywhere) and under 2 MB.
//! `requests.csv` beside it holds one row per request per repetition.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_testkit::{scenario_path, temp_dir, Chromium};
use std::path::{Path, PathBuf};
use std::process::Command;

const REPEAT: u32 = 3;
const REQUESTS: usize = 13;
/// The quickstart's protocols: http1.0, http1.1, h2.
const PROTOCOLS: usize = 4;

/// `httplab run scenarios/quickstart.toml --repeat REPEAT --quiet` into a fresh folder.
fn run_quickstart() -> PathBuf {
    let work = temp_dir("report-html");
    let out_dir = work.join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_httplab"))
        .arg("run")
        .arg(scenario_path("quickstart"))
        .arg("--out")
        .arg(&out_dir)
        .args(["--repeat", &REPEAT.to_string(), "--quiet"])
        .current_dir(&work)
        .output()
        .expect("httplab runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_dir
}

/// The text of the first `<section …>` whose opening tag is exactly `open`, to its end.
fn section<'a>(html: &'a str, open: &str) -> &'a str {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

fn check_file(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("report.html written");
    assert!(
        bytes.len() < 2_000_000,
        "report.html is {} bytes, over 2 MB",
        bytes.len()
    );
    let html = String::from_utf8(bytes).expect("UTF-8");
    for scheme in ["http://", "https://"] {
        assert!(
            !html.contains(scheme),
            "report.html references {scheme}: {}",
            &html[html.find(scheme).unwrap_or(0)..][..80.min(html.len())]
        );
    }
    assert!(!html.contains("<script"), "report.html needs no scripts");
    html
}

#[test]
fn quickstart_report_renders_in_headless_chromium() {
    let out_dir = run_quickstart();
    let report = out_dir.join("report.html");
    let html = check_file(&report);
    eprintln!("report.html: {} bytes", html.len());

    let csv = std::fs::read_to_string(out_dir.join("requests.csv")).expect("requests.csv");
    let rows = csv.split("\r\n").filter(|l| !l.is_empty()).count();
    assert_eq!(
        rows,
        1 + PROTOCOLS * REPEAT as usize * REQUESTS,
        "header + 4 protocols × 3 repetitions × 13 rows"
    );

    let Some(chromium) = Chromium::find("quickstart_report_renders_in_headless_chromium") else {
        return;
    };

    let dom = chromium.dump_dom(&report);
    assert!(
        dom.console_messages().is_empty(),
        "console messages: {:#?}",
        dom.console_messages()
    );
    let dom = dom.stdout;
    assert!(dom.contains("<svg"), "the DOM has no SVG:\n{dom}");
    // h3's one QUIC connection is one lane with every stream on it, as h2's.
    for (label, connections) in [("http1.0", 13), ("http1.1", 6), ("h2", 1), ("h3", 1)] {
        let waterfall = section(
            &dom,
            &format!("<section class=\"waterfall\" data-label=\"{label}\">"),
        );
        assert_eq!(
            waterfall.matches("class=\"wf-row\"").count(),
            REQUESTS,
            "{label}: one waterfall row per request"
        );
        for id in 0..REQUESTS {
            assert!(
                waterfall.contains(&format!("data-request-id=\"{id}\"")),
                "{label}: no row for request {id}"
            );
        }
        let lanes = section(
            &dom,
            &format!("<section class=\"lanes\" data-label=\"{label}\">"),
        );
        assert_eq!(
            lanes.matches("class=\"lane\"").count(),
            connections,
            "{label}: one lane per connection"
        );
        assert_eq!(
            lanes.matches("class=\"lane-req\"").count(),
            REQUESTS,
            "{label}: every request drawn in a lane"
        );
    }
    let distribution = section(&dom, "<section id=\"distribution\">");
    assert_eq!(
        distribution.matches("class=\"dot\"").count(),
        PROTOCOLS * REPEAT as usize,
        "a dot per repetition"
    );

    let png = out_dir.join("report.png");
    let shot = chromium.screenshot(&report, &png, 1280, 2000);
    assert_eq!((shot.width, shot.height), (1280, 2000));
    let colours = shot.distinct_colours();
    let ink = shot.ink_fraction();
    eprintln!("screenshot: {colours} colours, {:.1}% ink", ink * 100.0);
    // Text, tables and coloured chart segments: far from one colour, and not mostly empty.
    assert!(colours > 50, "screenshot has only {colours} colours");
    assert!(ink > 0.05, "screenshot is {:.1}% ink", ink * 100.0);
}

/// The console check above is not vacuous: a page that logs an error and throws is caught.
#[test]
fn the_console_check_sees_a_page_that_logs_and_throws() {
    let Some(chromium) = Chromium::find("the_console_check_sees_a_page_that_logs_and_throws")
    else {
        return;
    };
    let page = temp_dir("console-check").join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><title>bad</title><script>console.error('boom'); nosuchfunction();\
         </script>",
    )
    .expect("write the page");
    let rendered = chromium.dump_dom(&page);
    let messages = rendered.console_messages();
    assert_eq!(messages.len(), 2, "{messages:#?}\n{}", rendered.stderr);
    assert!(messages[0].contains("boom"), "{messages:#?}");
    assert!(messages[1].contains("nosuchfunction"), "{messages:#?}");
}
