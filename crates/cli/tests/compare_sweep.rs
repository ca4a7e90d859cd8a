//! `httplab compare` and `httplab sweep` as a user runs them, on real runs of a small scenario
//! (four requests, http1.1 and h2, on loopback unless a test needs the link): a server made
//! slower under B is reported slower for every protocol with p < 0.05 and a ratio interval
//! above 1, a folder compared with itself shows no significant difference, a sweep's medians
//! rise with the server's think time (and, behind the link, with the RTT) for every protocol
//! and its chart has one line per protocol, and mistakes exit 2 naming what was wrong before
//! anything runs.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::httplab;
use httplab_testkit::{require_link, temp_dir, Chromium};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const SCENARIO: &str = r#"
name = "small"
protocols = ["http1.1", "h2"]
repeat = 5
[client]
max_connections_per_host = 2
tls = true
[server]
think = "1ms"
[[resource]]
path = "/index.html"
size = "4kb"
[[resource]]
path = "/img/{i}.png"
count = 3
size = "4kb"
"#;

const LABELS: [&str; 2] = ["http1.1", "h2"];

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh folder holding small.toml.
fn work(label: &str) -> PathBuf {
    let dir = temp_dir(label);
    std::fs::write(dir.join("small.toml"), SCENARIO).expect("write the scenario");
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn self_contained(html: &str, file: &str) {
    for scheme in ["http://", "https://"] {
        assert!(!html.contains(scheme), "{file} references {scheme}");
    }
    assert!(!html.contains("<script"), "{file} needs no scripts");
}

/// The verdict line of `label` in compare.md: "- **h2**: …".
fn verdict_line<'a>(md: &'a str, label: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(&format!("- **{label}**: ")))
        .unwrap_or_else(|| panic!("no verdict for {label} in:\n{md}"))
}

/// From "… (95% CI 1.6–2.0×, p = 0.008) …": (1.6, 2.0, 0.008).
fn interval_and_p(line: &str) -> (f64, f64, f64) {
    let ci = line
        .split("95% CI ")
        .nth(1)
        .and_then(|r| r.split('×').next())
        .and_then(|r| r.split_once('–'))
        .unwrap_or_else(|| panic!("no interval in {line}"));
    let p = line
        .split("p = ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no p-value in {line}"));
    let num = |s: &str| -> f64 { s.trim().parse().unwrap_or_else(|_| panic!("{s} in {line}")) };
    (num(ci.0), num(ci.1), num(p))
}

#[test]
fn compare_finds_a_slower_server_and_no_difference_against_itself() {
    let dir = work("compare");
    for (out, think) in [("A", "1ms"), ("B", "20ms")] {
        ok(
            httplab(
                &[
                    "run",
                    "small.toml",
                    "--quiet",
                    "--no-link",
                    "--set",
                    &format!("server.think={think}"),
                    "--out",
                    out,
                ],
                &dir,
            ),
            out,
        );
    }
    let out = ok(httplab(&["compare", "A", "B"], &dir), "compare A B");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The default output folder: inside B, named after A.
    let folder = dir.join("B/compare-vs-A");
    let md = read(&folder.join("compare.md"));
    for label in LABELS {
        let line = verdict_line(&md, label);
        assert!(line.contains("× slower under B (95% CI "), "{line}");
        let (low, high, p) = interval_and_p(line);
        assert!(
            1.0 < low && low <= high,
            "{label}: the ratio's interval {low}–{high} excludes 1"
        );
        assert!(p < 0.05, "{label}: p = {p}");
        assert!(stdout.contains(&format!("{label}: ")), "{stdout}");
    }
    let html = read(&folder.join("compare.html"));
    self_contained(&html, "compare.html");
    for label in LABELS {
        assert!(
            html.contains(&format!(
                "<section class=\"compare-label\" data-label=\"{label}\">"
            )),
            "no distribution for {label}"
        );
    }

    ok(
        httplab(&["compare", "A", "A", "--out", "AA"], &dir),
        "compare A A",
    );
    let md = read(&dir.join("AA/compare.md"));
    for label in LABELS {
        let line = verdict_line(&md, label);
        assert!(
            line.starts_with(&format!("- **{label}**: no significant difference (p = 1)")),
            "{line}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each label's median page times in sweep.json, in the order of its points.
fn medians(sweep: &Value, label: &str) -> Vec<f64> {
    sweep["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            p["results"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["label"] == label))
                .and_then(|r| r["page_time_median_ms"].as_f64())
                .unwrap_or_else(|| panic!("no median for {label} in {p}"))
        })
        .collect()
}

fn assert_rising(sweep: &Value, values: &[&str]) {
    let given: Vec<&str> = sweep["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert_eq!(given, values);
    assert_eq!(sweep["labels"], serde_json::json!(LABELS));
    for label in LABELS {
        let m = medians(sweep, label);
        assert!(
            m.windows(2).all(|w| w[0] < w[1]),
            "{label}: medians {m:?} do not rise with {}",
            sweep["key"]
        );
    }
}

#[test]
fn sweep_over_think_time_rises_for_every_protocol_and_draws_a_line_each() {
    let dir = work("sweep-think");
    let values = ["1ms", "20ms", "40ms"];
    ok(
        httplab(
            &[
                "sweep",
                "small.toml",
                "--vary",
                &format!("server.think={}", values.join(",")),
                "--repeat",
                "3",
                "--no-link",
                "--quiet",
            ],
            &dir,
        ),
        "sweep",
    );
    // The default folder, one report folder per value.
    let out = dir.join("reports/small-sweep-server.think");
    let sweep: Value = serde_json::from_str(&read(&out.join("sweep.json"))).expect("JSON");
    assert_eq!(sweep["schema"], "httplab-sweep/1");
    assert_eq!(sweep["axis"]["kind"], "duration");
    assert_rising(&sweep, &values);
    // Think times 19 and 20 ms apart: each step adds at least one think-time step to every
    // page (h2 waits for one response round, http1.1 on 2 connections for two), less noise.
    for label in LABELS {
        let m = medians(&sweep, label);
        assert!(m[1] - m[0] >= 15.0 && m[2] - m[1] >= 15.0, "{label}: {m:?}");
    }
    for v in values {
        let point = out.join(format!("server.think={v}"));
        for file in ["results.json", "report.md", "report.html", "requests.csv"] {
            assert!(point.join(file).is_file(), "{}: no {file}", point.display());
        }
        let results: Value =
            serde_json::from_str(&read(&point.join("results.json"))).expect("results.json");
        assert_eq!(results["runs"].as_array().map(Vec::len), Some(2 * 3));
    }
    let md = read(&out.join("sweep.md"));
    assert!(
        md.contains("| server.think | `http1.1` | `h2` | winner |"),
        "{md}"
    );

    let path = out.join("sweep.html");
    let html = read(&path);
    self_contained(&html, "sweep.html");
    assert_eq!(html.matches("class=\"sweep-line\"").count(), LABELS.len());
    for label in LABELS {
        assert!(
            html.contains(&format!(
                "<path class=\"sweep-line\" data-label=\"{label}\""
            )),
            "no line for {label}"
        );
    }

    let Some(chromium) = Chromium::find("sweep_over_think_time_rises_for_every_protocol") else {
        return;
    };
    let dom = chromium.dump_dom(&path);
    assert!(
        dom.console_messages().is_empty(),
        "console messages: {:#?}",
        dom.console_messages()
    );
    assert_eq!(
        dom.stdout.matches("class=\"sweep-line\"").count(),
        LABELS.len(),
        "the DOM has one line per protocol"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_over_rtt_behind_the_link_rises_for_every_protocol() {
    if !require_link("sweep_over_rtt_behind_the_link_rises_for_every_protocol") {
        return;
    }
    let dir = work("sweep-rtt");
    let values = ["2ms", "30ms"];
    ok(
        httplab(
            &[
                "sweep",
                "small.toml",
                "--vary",
                &format!("network.rtt={}", values.join(",")),
                "--repeat",
                "3",
                "--quiet",
                "--out",
                "out",
            ],
            &dir,
        ),
        "sweep",
    );
    let sweep: Value = serde_json::from_str(&read(&dir.join("out/sweep.json"))).expect("JSON");
    assert_rising(&sweep, &values);
    // A TLS page pays at least the TCP and TLS handshakes and a request: 3 RTTs of 28 ms more.
    for label in LABELS {
        let m = medians(&sweep, label);
        assert!(m[1] - m[0] >= 3.0 * 28.0, "{label}: {m:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_folders_and_bad_values_exit_2_naming_the_mistake_before_anything_runs() {
    let dir = work("compare-sweep-errors");
    std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    let cases: [(&[&str], &str); 6] = [
        (&["compare", "missing", "empty"], "missing: no such folder"),
        (&["compare", "empty", "empty"], "results.json: not found"),
        (
            &["sweep", "small.toml", "--vary", "server.think"],
            "--vary `server.think`: write KEY=V1,V2",
        ),
        (
            &["sweep", "small.toml", "--vary", "server.think=1ms,fast"],
            "small.toml: --vary server.think=fast: ",
        ),
        (
            &["sweep", "small.toml", "--vary", "server.thinking=1ms,2ms"],
            "small.toml: --vary server.thinking=1ms: unknown field `thinking`",
        ),
        (
            &["sweep", "small.toml", "--vary", "network.rtt=5ms,,10ms"],
            "value 2 is empty",
        ),
    ];
    for (args, words) in cases {
        let out = httplab(args, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    std::fs::write(dir.join("empty/results.json"), "{\"schema\": \"other/2\"}").expect("write");
    let out = httplab(&["compare", "empty", "empty"], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "empty/results.json: not a results.json written by httplab (schema `other/2`"
        ),
        "{stderr}"
    );
    assert!(
        !dir.join("reports").exists(),
        "a refused sweep ran nothing and wrote nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
