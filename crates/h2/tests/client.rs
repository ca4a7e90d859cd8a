//! The HTTP/2 client against a real h2 server on 127.0.0.1: one connection, stream slots,
//! flow control, PING, and stream resets, each asserted as a measured fact.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod support;

use httplab_core::{Clock, CloseReason, RequestSpec};
use httplab_h2::H2Options;
use httplab_testkit::h2_peer::{serve, Behaviour};
use httplab_testkit::requests::{fetch_all, get};
use httplab_transport::{Meter, ProtocolClient};
use std::time::Duration;
use support::client;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

const MIB: usize = 1024 * 1024;

/// Waits (at most 100 ms) for the connection's PING round trip to be recorded.
async fn wait_for_ping(meter: &Meter) {
    for _ in 0..50 {
        if meter.ping_rtt().is_some() {
            return;
        }
        tokio::time::sleep(ms(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_requests_share_one_connection() {
    let server = serve(Behaviour::default()).await;
    let clock = Clock::start();
    let (client, connector) = client(&server, clock, H2Options::default());
    let specs = (0..50)
        .map(|i| get(i, &format!("/size/{}", 1000 + 37 * i)))
        .collect();
    let records = fetch_all(&client, specs).await;
    let started = clock.now();
    client.finish().await;
    let closing = clock.now() - started;

    assert_eq!(
        server.accepted(),
        1,
        "HTTP/2 runs the workload on one connection"
    );
    assert_eq!(connector.opened(), 1);
    for r in &records {
        assert_eq!(r.error, None, "request {}", r.id);
        assert_eq!(r.status, 200);
        assert_eq!(r.http_version, "HTTP/2");
        assert_eq!(r.response_body_bytes, 1000 + 37 * u64::from(r.id));
        assert_eq!(r.connection, Some(0));
        assert!(r.response_header_bytes > 0 && r.request_header_bytes > 0);
        assert!(r.request_headers.iter().any(|(k, _)| k == ":authority"));
        assert!(!r.request_headers.iter().any(|(k, _)| k == "host"));
    }
    let openers = records
        .iter()
        .filter(|r| r.phases.connect.is_some())
        .count();
    assert_eq!(openers, 1, "exactly one request pays the connect");
    let meter = connector.meter(0);
    assert_eq!(meter.close_reason(), Some(CloseReason::WorkloadDone));
    assert!(
        meter.closed_at().is_some(),
        "the socket is closed after finish"
    );
    assert!(closing < ms(1000), "finish took {closing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_over_the_stream_cap_wait_for_a_slot_in_blocked() {
    let server = serve(Behaviour {
        max_concurrent_streams: Some(4),
        delay: ms(100),
        ..Behaviour::default()
    })
    .await;
    let clock = Clock::start();
    let (client, connector) = client(&server, clock, H2Options::default());
    // Open the connection first and wait for the PING's answer: the server's SETTINGS (sent
    // ahead of it) are then known, and the client's slot count is exact (see the cold burst
    // below for what happens before).
    assert_eq!(client.fetch(get(100, "/size/1")).await.status, 200);
    wait_for_ping(&connector.meter(0)).await;
    let records = fetch_all(&client, (0..10).map(|i| get(i, "/size/500")).collect()).await;
    client.finish().await;

    assert!(records.iter().all(|r| r.status == 200 && r.error.is_none()));
    assert_eq!(server.accepted(), 1);
    let mut blocked: Vec<Duration> = records.iter().map(|r| r.phases.blocked).collect();
    blocked.sort();
    let retries: u32 = records.iter().map(|r| r.retries).sum();
    eprintln!("blocked: {blocked:?}; refused and retried: {retries}");
    // Three waves of at most 4 streams: 4 go at once, 4 wait one response, 2 wait two.
    assert!(blocked[..4].iter().all(|b| *b < ms(50)), "{blocked:?}");
    assert_eq!(
        blocked.iter().filter(|b| **b >= ms(95)).count(),
        6,
        "{blocked:?}"
    );
    assert!(blocked[8..].iter().all(|b| *b >= ms(190)), "{blocked:?}");
    // The slot wait is in `blocked`, not in server time.
    assert!(
        records.iter().all(|r| r.phases.wait < ms(150)),
        "{records:#?}"
    );
    assert_eq!(server.max_open_streams(), 4);
    assert_eq!(retries, 0, "no stream is refused once the cap is known");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_burst_over_the_stream_cap_still_completes() {
    // Before the server's SETTINGS arrive the client assumes 100 streams, as browsers do; the
    // server refuses what is over its cap (REFUSED_STREAM) and the client sends it again.
    let server = serve(Behaviour {
        max_concurrent_streams: Some(4),
        delay: ms(100),
        ..Behaviour::default()
    })
    .await;
    let clock = Clock::start();
    let (client, _) = client(&server, clock, H2Options::default());
    let records = fetch_all(&client, (0..10).map(|i| get(i, "/size/500")).collect()).await;
    let elapsed = clock.now();
    client.finish().await;

    assert!(records.iter().all(|r| r.status == 200 && r.error.is_none()));
    assert_eq!(server.accepted(), 1);
    assert_eq!(server.max_open_streams(), 4);
    // Three waves of 100 ms, whichever way the extra streams waited.
    assert!(elapsed >= ms(295), "{elapsed:?}");
    let retries: u32 = records.iter().map(|r| r.retries).sum();
    assert!(retries <= 6, "{retries}");
}

async fn one_mebibyte(h2: H2Options) -> (Duration, u64) {
    let server = serve(Behaviour::default()).await;
    let clock = Clock::start();
    let (client, _) = client(&server, clock, h2);
    let record = client.fetch(get(1, &format!("/size/{MIB}"))).await;
    client.finish().await;
    assert_eq!(record.error, None);
    assert_eq!(record.status, 200);
    (record.phases.receive, record.response_body_bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mebibyte_response_is_not_stalled_by_flow_control() {
    let (receive, bytes) = one_mebibyte(H2Options::default()).await;
    eprintln!("1 MiB, 6 MiB stream window: receive {receive:?}");
    assert_eq!(bytes, MIB as u64);
    assert!(
        receive < ms(500),
        "1 MiB in a 6 MiB window took {receive:?}"
    );

    // With the 65,535-byte default windows the body only arrives if the client hands window
    // back as it reads (release_capacity), about 16 times over.
    let (receive, bytes) = one_mebibyte(H2Options {
        stream_window: 65_535,
        connection_window: 65_535,
        ..H2Options::default()
    })
    .await;
    eprintln!("1 MiB, 64 KiB windows: receive {receive:?}");
    assert_eq!(bytes, MIB as u64);
    assert!(
        receive < ms(2000),
        "1 MiB in 64 KiB windows took {receive:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ping_rtt_is_recorded_on_the_meter() {
    let server = serve(Behaviour::default()).await;
    let clock = Clock::start();
    let (client, connector) = client(&server, clock, H2Options::default());
    let record = client.fetch(get(1, "/size/10")).await;
    assert_eq!(record.status, 200);
    // The PING runs beside the first request; give it its (loopback) round trip.
    let meter = connector.meter(0);
    wait_for_ping(&meter).await;
    client.finish().await;
    let rtt = meter.ping_rtt().expect("a PING round trip");
    eprintln!("PING round trip on loopback: {rtt:?}");
    assert!(rtt > Duration::ZERO && rtt < ms(50), "{rtt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_stream_fails_only_its_own_request() {
    let server = serve(Behaviour {
        reset_path: Some("/reset".into()),
        delay: ms(20),
        ..Behaviour::default()
    })
    .await;
    let clock = Clock::start();
    let (client, connector) = client(&server, clock, H2Options::default());
    let specs = (0..8)
        .map(|i| get(i, if i == 3 { "/reset" } else { "/size/2000" }))
        .collect();
    let records = fetch_all(&client, specs).await;
    client.finish().await;

    for r in &records {
        if r.id == 3 {
            let error = r.error.as_deref().unwrap_or_default();
            assert!(error.contains("internal error"), "{error}");
            assert_eq!(r.status, 0);
        } else {
            assert_eq!(
                (r.status, r.error.as_deref()),
                (200, None),
                "request {}",
                r.id
            );
            assert_eq!(r.response_body_bytes, 2000);
        }
    }
    assert_eq!(
        server.accepted(),
        1,
        "a stream reset leaves the connection up"
    );
    assert_eq!(
        connector.meter(0).close_reason(),
        Some(CloseReason::WorkloadDone)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_larger_than_the_server_window_arrives_whole() {
    let server = serve(Behaviour::default()).await;
    let clock = Clock::start();
    let (client, _) = client(&server, clock, H2Options::default());
    let spec = RequestSpec {
        id: 1,
        method: "POST".into(),
        path: "/size/10".into(),
        body_bytes: 300_000,
        headers: Vec::new(),
        origin: 0,
        authority: None,
        head_bytes: None,
        anonymous: false,
    };
    let record = client.fetch(spec).await;
    client.finish().await;
    assert_eq!(record.error, None);
    let echoed = record
        .response_headers
        .iter()
        .find(|(k, _)| k == "x-received")
        .map(|(_, v)| v.as_str());
    // The server's window is h2's 65,535-byte default: the upload needed WINDOW_UPDATEs.
    assert_eq!(echoed, Some("300000"));
    assert_eq!(record.request_body_bytes, 300_000);
    assert!(record.request_header_bytes > 0);
}
