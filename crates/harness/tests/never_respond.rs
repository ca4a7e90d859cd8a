//! The never-respond scenario on real loopback sockets: a Safari-like client (6 connections)
//! POSTs 9 uploads to a handler that never answers, and the server gives up on each after
//! 500 ms. Over http1.1 six uploads reach the server at once and the other three only when a
//! timeout has closed a connection, which shows in their `blocked`; over h2 all nine reach the
//! server at once. No request is answered, and the run still ends.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{CloseReason, Protocol, RunRecord};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(500);
/// "At once": within this of the run's start.
const AT_ONCE: Duration = Duration::from_millis(50);

async fn run(protocol: Protocol) -> RunRecord {
    let scenario = Arc::new(scenario("never-respond"));
    assert_eq!(scenario.client.max_connections_per_host, 6, "safari");
    assert_eq!(scenario.resources.len(), 9);
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    let lab = Lab::start(scenario, options).await.expect("lab starts");
    let run = tokio::time::timeout(Duration::from_secs(20), lab.run(protocol, 0))
        .await
        .expect("the run ends although no request is answered")
        .expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.requests.len(), 9);
    for r in &run.requests {
        assert!(
            r.error.is_some() && r.status == 0,
            "{}: answered? status {} error {:?}",
            r.path,
            r.status,
            r.error
        );
    }
    assert_eq!(run.server.len(), 9, "the server logged every arrival");
    for s in &run.server {
        assert_eq!(s.status, 0, "{}: nothing was answered", s.path);
        assert_eq!(
            s.request_body_bytes, 64_000,
            "{}: the upload was read",
            s.path
        );
        assert_eq!(s.response_sent_at, None);
        // Given up when its timeout ran out, not before.
        let held = s.response_ready_at - s.arrived_at;
        assert!(held >= TIMEOUT, "{}: abandoned after {held:?}", s.path);
    }
    run
}

/// Server arrival times relative to the run's start, earliest first.
fn arrivals(run: &RunRecord) -> Vec<Duration> {
    let mut at: Vec<Duration> = run
        .server
        .iter()
        .map(|s| s.arrived_at.saturating_sub(run.started_at))
        .collect();
    at.sort();
    eprintln!(
        "{}: arrivals after start (ms): {:?}",
        run.label(),
        at.iter()
            .map(|d| (d.as_secs_f64() * 1e4).round() / 10.0)
            .collect::<Vec<_>>()
    );
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_six_reach_the_server_at_once_and_three_only_after_a_timeout() {
    let run = run(Protocol::Http11).await;
    let at = arrivals(&run);
    let at_once = at.iter().filter(|a| **a <= AT_ONCE).count();
    assert_eq!(at_once, 6, "exactly six arrive within {AT_ONCE:?}: {at:?}");
    for late in &at[6..] {
        assert!(
            *late >= TIMEOUT,
            "the 7th-9th arrive after a timeout: {at:?}"
        );
    }

    // Which requests waited: the three whose server arrival is late; their `blocked` is the
    // wait for a connection that only a timeout freed.
    let mut blocked: Vec<(Duration, Duration)> = run
        .requests
        .iter()
        .map(|r| {
            let server = run.server_view(r.id).expect("server saw it");
            (server.arrived_at - run.started_at, r.phases.blocked)
        })
        .collect();
    blocked.sort();
    eprintln!("http1.1: (arrival, blocked) {blocked:?}");
    for (arrival, blocked) in &blocked[..6] {
        assert!(
            *blocked < AT_ONCE,
            "arrived at {arrival:?} yet blocked {blocked:?}"
        );
    }
    for (arrival, blocked) in &blocked[6..] {
        assert!(
            *blocked >= TIMEOUT - Duration::from_millis(5),
            "arrived at {arrival:?}, blocked only {blocked:?}"
        );
    }

    // Nine connections: the six first ones closed by the server's timeouts, three more.
    assert_eq!(run.connections.len(), 9);
    for c in &run.connections {
        assert!(
            !matches!(
                c.close_reason,
                CloseReason::Open | CloseReason::AfterResponse
            ),
            "connection {}: {:?}",
            c.id,
            c.close_reason
        );
        assert!(c.closed_at.is_some(), "connection {}", c.id);
        assert_eq!(c.requests_served, 0, "connection {}", c.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_all_nine_reach_the_server_at_once() {
    let run = run(Protocol::H2).await;
    let at = arrivals(&run);
    assert!(
        at.iter().all(|a| *a <= AT_ONCE),
        "all nine within {AT_ONCE:?}: {at:?}"
    );
    assert_eq!(run.connections.len(), 1, "one connection, nine streams");
    // The server reset each stream (RST_STREAM) and kept the connection: the client closed it.
    assert_eq!(run.connections[0].close_reason, CloseReason::WorkloadDone);
    for r in &run.requests {
        assert!(r.phases.blocked < AT_ONCE, "{}: {:?}", r.path, r.phases);
        let error = r.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("stream error received"),
            "{}: the stream is reset, not the connection: {error}",
            r.path
        );
    }
}
