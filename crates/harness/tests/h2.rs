//! HTTP/2 through the lab on real loopback sockets: one connection and one TLS handshake for
//! any number of requests, stream slots as the `blocked` phase, large responses past the
//! default window, the frame tap, and TLS session resumption.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{HandshakeKind, Protocol, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{inline_scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

async fn run(scenario: Scenario, protocol: Protocol) -> RunRecord {
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    let lab = Lab::start(Arc::new(scenario), options)
        .await
        .expect("lab starts");
    let run = lab.run(protocol, 0).await.expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_carries_every_request_on_one_connection_and_one_tls_handshake() {
    let scenario = inline_scenario(
        "name = \"many\"\n[[resource]]\npath = \"/r/{i}\"\ncount = 120\nsize = \"3kb\"\n",
    );
    let run = run(scenario, Protocol::H2).await;
    assert_eq!(run.requests.len(), 120);
    assert_eq!(run.connections.len(), 1, "connections opened");
    assert_eq!(run.tls_handshakes(), 1);
    let conn = &run.connections[0];
    assert_eq!(
        conn.tls.as_ref().and_then(|t| t.alpn.as_deref()),
        Some("h2")
    );
    assert_eq!(conn.requests_served, 120);
    assert!(run
        .requests
        .iter()
        .all(|r| r.http_version == "HTTP/2" && r.response_body_bytes == 3_000));
    assert_eq!(
        run.requests
            .iter()
            .filter(|r| r.opened_connection())
            .count(),
        1
    );
    // The frame tap saw every stream: 120 HEADERS out, 120 responses' HEADERS and DATA in.
    let frames = conn.h2_frames.expect("frames counted");
    assert_eq!(frames.sent.headers, 120);
    assert_eq!(frames.received.headers, 120);
    assert_eq!(frames.received.data_bytes, 120 * 3_000);
    assert!(frames.sent.settings >= 1 && frames.received.settings >= 1);
    // The PING sent after the handshake came back.
    let rtt = conn.ping_rtt.expect("ping round trip recorded");
    assert!(rtt < Duration::from_millis(100), "{rtt:?}");
    // The server saw all of them on one connection.
    assert_eq!(run.server.len(), 120);
    assert!(run
        .server
        .iter()
        .all(|s| s.connection == run.server[0].connection));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_too() {
    let scenario = inline_scenario(
        "name = \"c\"\n[[resource]]\npath = \"/r/{i}\"\ncount = 20\nsize = \"1kb\"\n",
    );
    let run = run(scenario, Protocol::H2c).await;
    assert_eq!(run.connections.len(), 1);
    assert_eq!(run.tls_handshakes(), 0);
    assert!(!run.tls);
    assert_eq!(
        run.connections[0].h2_frames.expect("frames").sent.headers,
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_max_concurrent_streams_wait_for_a_stream_slot() {
    let scenario = inline_scenario(
        "name = \"slots\"\n[server]\nmax_concurrent_streams = 4\nthink = \"100ms\"\n\
         [[resource]]\npath = \"/s/{i}\"\ncount = 10\nsize = \"1kb\"\n",
    );
    let run = run(scenario, Protocol::H2).await;
    assert_eq!(run.connections.len(), 1);
    // The server never ran more than 4 handlers at once.
    let overlap = run
        .server
        .iter()
        .map(|a| {
            run.server
                .iter()
                .filter(|b| b.started_at <= a.started_at && a.started_at < b.response_ready_at)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(overlap, 4, "{:#?}", run.server);
    // Three rounds of 100 ms: 4, 4 and 2 streams.
    assert!(
        run.page_time >= Duration::from_millis(300),
        "{:?}",
        run.page_time
    );
    // The 6 requests beyond the cap each waited at least one round for a stream slot, and that
    // wait is their `blocked`: whether the client's slot queue held them (SETTINGS already
    // known), h2 held their HEADERS back (the frame tap times them on the wire), or the server
    // refused them and they went again.
    let phases: Vec<_> = run
        .requests
        .iter()
        .map(|r| (r.phases.blocked, r.phases.wait, r.retries))
        .collect();
    let blocked = run
        .requests
        .iter()
        .filter(|r| r.phases.blocked >= Duration::from_millis(95))
        .count();
    assert_eq!(blocked, 6, "{phases:#?}");
    // None of them counted that wait as server time.
    assert!(
        run.requests
            .iter()
            .all(|r| r.phases.wait < Duration::from_millis(150)),
        "{phases:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_arrives_without_stalling_on_the_window() {
    let scenario =
        inline_scenario("name = \"big\"\n[[resource]]\npath = \"/big\"\nsize = \"1mb\"\n");
    let run = run(scenario, Protocol::H2).await;
    let r = &run.requests[0];
    assert_eq!(r.response_body_bytes, 1_000_000);
    // A stall on a 65,535-byte window would wait for WINDOW_UPDATEs round after round; on
    // loopback the whole megabyte takes a few milliseconds.
    assert!(
        r.phases.receive < Duration::from_millis(250),
        "{:?}",
        r.phases
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resumption_later_connections_resume_the_first_session() {
    for version in ["1.3", "1.2"] {
        let scenario = inline_scenario(&format!(
            "name = \"resume\"\n[client]\ntls = true\nresumption = true\ntls_version = \"{version}\"\n\
             max_connections_per_host = 1\n[[resource]]\npath = \"/r/{{i}}\"\ncount = 4\nsize = \"1kb\"\n"
        ));
        // http1.0 with one connection at a time: each connection starts after the previous
        // one finished, so its session ticket is there to resume.
        let run = run(scenario, Protocol::Http10).await;
        let kinds: Vec<HandshakeKind> = run
            .connections
            .iter()
            .map(|c| c.tls.as_ref().expect("tls").handshake_kind)
            .collect();
        assert_eq!(kinds[0], HandshakeKind::Full, "TLS {version}: {kinds:?}");
        assert!(
            kinds[1..].iter().all(|k| *k == HandshakeKind::Resumed),
            "TLS {version}: {kinds:?}"
        );
        let wanted = format!("TLSv{version}");
        assert!(run
            .connections
            .iter()
            .all(|c| c.tls.as_ref().unwrap().version == wanted));
    }
}
