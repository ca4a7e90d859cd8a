//! Imported pages replayed over the emulated link: the lab's own HAR of a run replays within 5%
//! of the page time it recorded, with the same requests and bytes; and a real headless-Chromium
//! HAR (`crates/import/tests/data/chromium-nginx-h2.har`) replays over http1.1 and h2 on a 50 ms
//! link with every request answered.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::httplab;
use httplab_testkit::binary::stderr;
use httplab_testkit::{repo_root, require_link, temp_dir};
use serde_json::Value;
use std::path::Path;

/// A page with a critical path (document → stylesheet → background image, document → script →
/// an API call) and server think times, on a 50 ms link.
const PAGE: &str = r#"name = "recorded"
protocols = ["h2"]
repeat = 3
[client]
tls = true
[network]
rtt = "50ms"
[[resource]]
path = "/index.html"
size = "14kb"
think = "20ms"
[[resource]]
path = "/css/site.css"
size = "6kb"
think = "5ms"
after = "/index.html"
[[resource]]
path = "/img/bg.png"
size = "20kb"
after = "/css/site.css"
delay = "10ms"
[[resource]]
path = "/js/app.js"
size = "30kb"
think = "8ms"
after = "/index.html"
[[resource]]
path = "/api/cart"
size = "2kb"
think = "30ms"
after = "/js/app.js"
delay = "15ms"
[[resource]]
path = "/img/{i}.jpg"
count = 4
size = "9kb"
after = "/index.html"
"#;

fn results(dir: &Path) -> Value {
    let path = dir.join("results.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Each run's (page time in ms, requests, response body bytes).
fn runs(results: &Value) -> Vec<(f64, usize, u64)> {
    results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            let requests = run["requests"].as_array().unwrap();
            for r in requests {
                assert_eq!(r["error"], Value::Null, "{r}");
            }
            let bytes = requests
                .iter()
                .map(|r| r["response_body_bytes"].as_u64().unwrap())
                .sum();
            (run["page_time_ms"].as_f64().unwrap(), requests.len(), bytes)
        })
        .collect()
}

fn least(runs: &[(f64, usize, u64)]) -> f64 {
    runs.iter().map(|r| r.0).fold(f64::INFINITY, f64::min)
}

#[test]
fn the_labs_har_replays_within_5_percent_of_the_page_time_it_recorded() {
    let test = "the_labs_har_replays_within_5_percent_of_the_page_time_it_recorded";
    if !require_link(test) {
        return;
    }
    let dir = temp_dir("replay-roundtrip");
    std::fs::write(dir.join("page.toml"), PAGE).unwrap();
    let run = httplab(&["run", "page.toml", "--out", "recorded", "--quiet"], &dir);
    assert!(run.status.success(), "{}", stderr(&run));
    let imported = httplab(&["import", "recorded/h2.har", "--out", "replay.toml"], &dir);
    assert!(imported.status.success(), "{}", stderr(&imported));
    // The imported scenario proposes its [network] commented out; the replay sets the same.
    let replay = httplab(
        &[
            "run",
            "replay.toml",
            "--out",
            "replayed",
            "--quiet",
            "--protocols",
            "h2",
            "--repeat",
            "3",
            "--set",
            "network.rtt=50ms",
        ],
        &dir,
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    let recorded = runs(&results(&dir.join("recorded")));
    let replayed = runs(&results(&dir.join("replayed")));
    // The same requests and bytes in every run.
    let shape = |runs: &[(f64, usize, u64)]| runs.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>();
    assert_eq!(shape(&replayed), shape(&recorded));
    // The page time: the least of three runs each (the run that waited on nothing but the
    // page), within 5%. The page is about 6 round trips of 50 ms plus 55 ms of think and 25 ms
    // of delay on its critical path, some 390 ms, so 5% is about 20 ms: the import reads each
    // think time back to a HAR's microsecond and each delay from the gap the HAR shows.
    let (before, after) = (least(&recorded), least(&replayed));
    let off = (after - before).abs() / before;
    eprintln!(
        "recorded {before:.1} ms, replayed {after:.1} ms ({:+.1}%)",
        off * 100.0
    );
    assert!(off <= 0.05, "recorded {before} ms, replayed {after} ms");
}

#[test]
fn a_real_chromium_har_replays_over_http11_and_h2_on_a_50ms_link() {
    let test = "a_real_chromium_har_replays_over_http11_and_h2_on_a_50ms_link";
    if !require_link(test) {
        return;
    }
    let dir = temp_dir("replay-chromium");
    let har = repo_root().join("crates/import/tests/data/chromium-nginx-h2.har");
    std::fs::copy(&har, dir.join("page.har")).unwrap();
    let imported = httplab(&["import", "page.har"], &dir);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let replay = httplab(
        &[
            "run",
            "page.toml",
            "--out",
            "replayed",
            "--quiet",
            "--protocols",
            "http1.1,h2",
            "--repeat",
            "1",
            "--set",
            "network.rtt=50ms",
        ],
        &dir,
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    let results = results(&dir.join("replayed"));
    let runs = runs(&results);
    assert_eq!(runs.len(), 2, "http1.1 and h2");
    for (protocol, run) in ["http1.1", "h2"].iter().zip(&runs) {
        // Every entry the browser fetched, answered (an error would have failed `runs`).
        assert_eq!(run.1, 25, "{protocol}");
        // At 50 ms the page's chain of discoveries takes some round trips.
        assert!(run.0 > 100.0, "{protocol}: {} ms", run.0);
    }
}
