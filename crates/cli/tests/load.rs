//! `httplab load` as a user runs it: a closed-model load of the quickstart page over http1.1
//! and h2 on loopback, written to load.json, load.md and load.html with the server's bill; and
//! the loads it refuses before starting.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::httplab;
use httplab_testkit::binary::stderr;
use httplab_testkit::{scenario_path, temp_dir};
use serde_json::Value;

#[test]
fn a_closed_load_shows_six_connections_per_http11_browser_and_one_per_h2_browser() {
    let dir = temp_dir("load-closed");
    let quickstart = scenario_path("quickstart");
    let out = httplab(
        &[
            "load",
            quickstart.to_str().unwrap(),
            "--users",
            "10",
            "--duration",
            "2s",
            "--think-between",
            "100ms",
            "--protocols",
            "http1.1,h2",
            "--no-link",
            "--quiet",
            "--out",
            "out",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/load.json")).unwrap()).unwrap();
    assert_eq!(doc["schema"], "httplab-load/1");
    let protocols = doc["protocols"].as_array().unwrap();
    let peak = |i: usize| protocols[i]["server"]["peak_connections"].as_u64().unwrap();
    // Ten browsers: six connections each over HTTP/1.1 (the quickstart's 13 requests fill a
    // pool), one each over h2, kept open from one page load to the next.
    assert!((57..=63).contains(&peak(0)), "http1.1 peak {}", peak(0));
    assert_eq!(peak(1), 10, "h2 peak");
    for p in protocols {
        assert_eq!(p["failed_pages"], 0, "{p}");
        assert!(p["pages"].as_u64().unwrap() >= 10, "{p}");
        assert_eq!(
            p["requests"].as_u64().unwrap(),
            p["pages"].as_u64().unwrap() * 13
        );
        assert!(
            p["server"]["cpu_ms_per_page"].as_f64().unwrap() > 0.0,
            "{p}"
        );
        let latency = &p["page_latency"];
        assert!(
            latency["p50_ms"].as_f64() <= latency["p99_ms"].as_f64(),
            "{latency}"
        );
        assert!(!p["seconds"].as_array().unwrap().is_empty());
    }
    let md = std::fs::read_to_string(dir.join("out/load.md")).unwrap();
    assert!(
        md.contains("**h2** held 10 server connections at peak"),
        "{md}"
    );
    // The page, drawn from load.json: both protocols, and the h2 peak by its bar.
    let html = std::fs::read_to_string(dir.join("out/load.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<svg") && html.contains("</svg>"), "{html}");
    assert!(
        html.contains("</span>h2</th>") && html.contains(">10</text>"),
        "{html}"
    );
}

#[test]
fn loads_the_machine_cannot_hold_or_that_are_not_said_are_refused_before_starting() {
    let dir = temp_dir("load-refused");
    let quickstart = scenario_path("quickstart");
    let q = quickstart.to_str().unwrap();
    let refused = |args: &[&str], words: &str| {
        let out = httplab(&[&["load", q][..], args].concat(), &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{args:?}: {}", stderr(&out));
    };
    refused(&["--users", "10000000", "--no-link"], "ulimit -n");
    refused(&["--no-link"], "give --users N");
    refused(&["--rate", "0", "--no-link"], "--rate 0");
    refused(&["--users", "0", "--no-link"], "at least 1");
    refused(&["--users", "2", "--duration", "0s"], "more than zero");
    refused(&["--users", "2", "--repeat", "3"], "--repeat is for `run`");
    assert!(!dir.join("reports").exists(), "nothing written");
}
