//! The scenario library's files on real sockets, each asserting the fact its comment block
//! says to look for: connection caps per browser profile, page dependencies released only when
//! their parent has arrived, TLS versions and resumption per client variant, one HTTP/2
//! connection for 64 objects, large bodies intact, 4 KB of cookie per HTTP/1.1 request.
//! Scaled down with overrides (`repeat = 1`, a short RTT) to keep the suite fast.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{HandshakeKind, Override, Protocol, RequestRecord, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{scenario_path, temp_dir};
use std::sync::Arc;
use std::time::Duration;

/// A library file with `--set`-style overrides, e.g. `load("lossy", &["network.rtt=5ms"])`.
fn load(name: &str, sets: &[&str]) -> Scenario {
    let path = scenario_path(name);
    let source = std::fs::read_to_string(&path).unwrap();
    let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
    Scenario::parse_with_overrides(&source, &path.display().to_string(), &overrides)
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn run(scenario: Scenario, protocol: Protocol) -> RunRecord {
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    let lab = Lab::start(Arc::new(scenario), options)
        .await
        .expect("lab starts");
    let run = tokio::time::timeout(Duration::from_secs(60), lab.run(protocol, 0))
        .await
        .expect("run ends")
        .expect("run completes");
    lab.shutdown().await;
    run
}

fn ok(run: &RunRecord) {
    assert_eq!(
        run.failed_requests(),
        0,
        "{}: {:#?}",
        run.label(),
        run.requests
    );
}

fn by_path<'a>(run: &'a RunRecord, path: &str) -> &'a RequestRecord {
    run.requests
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_limits_each_profile_opens_its_cap_and_queues_behind_it() {
    let scenario = load("browser-limits", &["repeat=1", "network.rtt=5ms"]);
    let mut page_times = Vec::new();
    for (label, variant) in scenario.variant_scenarios() {
        let label = label.expect("three variants");
        let cap = variant.client.max_connections_per_host;
        let run = run(variant, Protocol::Http11).await;
        ok(&run);
        assert_eq!(run.connections.len() as u32, cap, "{label}");
        // 24 images of 20 ms think over `cap` connections: at least ⌈24/cap⌉ rounds.
        let rounds = 24u32.div_ceil(cap);
        assert!(
            run.page_time >= Duration::from_millis(20) * rounds,
            "{label}: {:?} for {rounds} rounds",
            run.page_time
        );
        let max_blocked = run.requests.iter().map(|r| r.phases.blocked).max().unwrap();
        eprintln!(
            "{label}: {cap} connections, page {:?}, max blocked {max_blocked:?}",
            run.page_time
        );
        page_times.push((label, cap, run.page_time, max_blocked));
    }
    let labels: Vec<(&str, u32)> = page_times.iter().map(|p| (p.0.as_str(), p.1)).collect();
    assert_eq!(labels, [("ie7", 2), ("chrome", 6), ("ie11", 13)]);
    assert!(
        page_times[0].2 > page_times[1].2 && page_times[1].2 > page_times[2].2,
        "fewer connections, slower page: {page_times:?}"
    );
    // Under IE 7 the last images wait ~11 rounds of 20 ms for a connection.
    assert!(
        page_times[0].3 >= Duration::from_millis(200),
        "{page_times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_are_issued_when_their_parent_has_arrived() {
    let scenario = load("dependencies", &["repeat=1", "network.rtt=5ms"]);
    let parents: Vec<Option<usize>> = scenario.dependencies();
    for protocol in [Protocol::Http11, Protocol::H2] {
        let run = run(scenario.clone(), protocol).await;
        ok(&run);
        let index = by_path(&run, "/index.html");
        let css = by_path(&run, "/style.css");
        for (r, parent) in run.requests.iter().zip(&parents) {
            let Some(p) = parent else {
                continue;
            };
            let parent = &run.requests[*p];
            assert!(
                r.issued_at >= parent.ended_at(),
                "{protocol}: {} issued at {:?}, before {} ended at {:?}",
                r.path,
                r.issued_at,
                parent.path,
                parent.ended_at()
            );
            // Released, then issued at once: the wait for the parent is not `blocked`.
            assert!(
                r.issued_at - parent.ended_at() < Duration::from_millis(20),
                "{protocol}: {} released late",
                r.path
            );
            let server = run.server_view(r.id).expect("server saw it");
            assert!(server.arrived_at >= parent.ended_at(), "{}", r.path);
        }
        // Three levels: the fonts come after the CSS, which came after the HTML.
        let font = by_path(&run, "/fonts/1.woff2");
        assert!(font.issued_at >= css.ended_at() && css.issued_at >= index.ended_at());
        // HTML think 20 ms, CSS 5 ms, font 5 ms, one after the other.
        assert!(
            run.page_time >= Duration::from_millis(30),
            "{protocol}: {:?}",
            run.page_time
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_versions_each_variant_negotiates_its_version_and_resumes_when_asked() {
    let scenario = load("tls-versions", &["repeat=1", "network.rtt=5ms"]);
    let labels: Vec<String> = scenario.variants.iter().map(|v| v.label.clone()).collect();
    assert_eq!(
        labels,
        [
            "tls1.2-full",
            "tls1.2-resumed",
            "tls1.3-full",
            "tls1.3-resumed"
        ]
    );
    for (label, variant) in scenario.variant_scenarios() {
        let label = label.unwrap_or_default();
        let version = if label.starts_with("tls1.2") {
            "TLSv1.2"
        } else {
            "TLSv1.3"
        };
        let resumed = label.ends_with("resumed");
        let run = run(variant, Protocol::Http10).await;
        ok(&run);
        assert_eq!(
            run.connections.len(),
            13,
            "{label}: one connection per request"
        );
        let kinds: Vec<HandshakeKind> = run
            .connections
            .iter()
            .map(|c| {
                let tls = c.tls.as_ref().expect("TLS");
                assert_eq!(tls.version, version, "{label}");
                tls.handshake_kind
            })
            .collect();
        let resumed_count = kinds
            .iter()
            .filter(|k| **k == HandshakeKind::Resumed)
            .count();
        if resumed {
            // The first connection's session is resumed by (nearly) every later one; the
            // first few may start before its ticket has arrived.
            assert_eq!(kinds[0], HandshakeKind::Full, "{label}");
            assert!(resumed_count >= 6, "{label}: {kinds:?}");
        } else {
            assert_eq!(resumed_count, 0, "{label}: {kinds:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_objects_take_one_h2_connection_and_six_http11_ones() {
    let scenario = load("many-small-objects", &["repeat=1", "network.rtt=5ms"]);
    for (protocol, connections) in [(Protocol::H2, 1), (Protocol::Http11, 6)] {
        let run = run(scenario.clone(), protocol).await;
        ok(&run);
        assert_eq!(run.requests.len(), 64);
        assert_eq!(run.connections.len(), connections, "{protocol}");
        assert!(run.requests.iter().all(|r| r.response_body_bytes == 10_000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_arrive_whole_over_both_protocols() {
    let scenario = load(
        "large-objects",
        &["repeat=1", "network.rtt=5ms", "network.bandwidth=1gbit"],
    );
    for (protocol, connections) in [(Protocol::H2, 1), (Protocol::Http11, 6)] {
        let run = run(scenario.clone(), protocol).await;
        ok(&run);
        assert_eq!(run.connections.len(), connections, "{protocol}");
        assert!(run
            .requests
            .iter()
            .all(|r| r.response_body_bytes == 1_000_000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_heavy_http11_carries_the_4kb_cookie_on_every_request() {
    let scenario = load("header-heavy", &["repeat=1", "network.rtt=5ms"]);
    let http11 = run(scenario.clone(), Protocol::Http11).await;
    ok(&http11);
    assert_eq!(http11.requests.len(), 40);
    for r in &http11.requests {
        assert!(
            (4_000..4_400).contains(&r.request_header_bytes),
            "{}: {} header bytes",
            r.path,
            r.request_header_bytes
        );
    }
    let h2 = run(scenario, Protocol::H2).await;
    ok(&h2);
    let text: u64 = http11.requests.iter().map(|r| r.request_header_bytes).sum();
    let hpack: u64 = h2
        .connections
        .iter()
        .filter_map(|c| c.h2_frames)
        .map(|f| f.sent.header_block_bytes)
        .sum();
    assert!(
        hpack > 0 && hpack < text,
        "HPACK header blocks {hpack} B against {text} B of text"
    );
}
