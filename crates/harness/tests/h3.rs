//! HTTP/3 through the lab on real UDP sockets over loopback: one QUIC connection and one
//! handshake (the `ssl` phase, no `connect`) for any number of requests, QUIC's own account of
//! the connection on both ends, the stream limit as the `blocked` phase, a request that is
//! never answered reset alone, and 0-RTT on a connection that resumes an earlier one's session.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{CloseReason, HandshakeKind, Protocol, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{inline_scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

/// A lab for `scenario` on loopback, with certificates of its own.
async fn lab(scenario: Scenario) -> Lab {
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    Lab::start(Arc::new(scenario), options)
        .await
        .expect("lab starts")
}

async fn run(scenario: Scenario) -> RunRecord {
    let lab = lab(scenario).await;
    let run = lab.run(Protocol::H3, 0).await.expect("run completes");
    lab.shutdown().await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h3_carries_every_request_on_one_quic_connection_and_one_handshake() {
    let scenario = inline_scenario(
        "name = \"many\"\nprotocols = [\"h3\"]\n[[resource]]\npath = \"/r/{i}\"\ncount = 120\n\
         size = \"3kb\"\n",
    );
    let run = run(scenario).await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert_eq!(run.requests.len(), 120);
    assert_eq!(run.connections.len(), 1, "connections opened");
    assert_eq!(run.tls_handshakes(), 1);
    let conn = &run.connections[0];
    let tls = conn.tls.as_ref().expect("QUIC's handshake is TLS 1.3");
    assert_eq!(tls.alpn.as_deref(), Some("h3"));
    assert_eq!(tls.handshake_kind, HandshakeKind::Full);
    assert_eq!(conn.tcp_connect, Duration::ZERO);
    assert_eq!(conn.requests_served, 120);
    assert_eq!(conn.close_reason, CloseReason::WorkloadDone);
    assert!(conn.closed_at.is_some());
    assert!(run
        .requests
        .iter()
        .all(|r| r.http_version == "HTTP/3" && r.response_body_bytes == 3_000));
    // One request paid the handshake, as `ssl` alone: QUIC has no TCP connect.
    let openers: Vec<_> = run
        .requests
        .iter()
        .filter(|r| r.opened_connection())
        .collect();
    assert_eq!(openers.len(), 1);
    assert_eq!(openers[0].phases.connect, None);
    assert!(openers[0].phases.ssl.is_some());
    // QUIC's own account: the bodies crossed in UDP datagrams, none lost on loopback, and the
    // congestion controller is the scenario's (cubic by default).
    let quic = conn.quic.as_ref().expect("QUIC reading");
    assert_eq!(quic.version, "0x00000001");
    assert_eq!(quic.congestion_control, "cubic");
    assert!(quic.bytes_received > 120 * 3_000, "{quic:?}");
    assert!(
        quic.datagrams_received >= quic.bytes_received / 1500,
        "{quic:?}"
    );
    assert_eq!(quic.lost_packets, 0, "{quic:?}");
    assert!(quic.rtt < Duration::from_millis(50), "{quic:?}");
    // The server saw all of them on one connection, and read its side too.
    assert_eq!(run.server.len(), 120);
    assert!(run
        .server
        .iter()
        .all(|s| s.connection == run.server[0].connection));
    assert_eq!(run.server_connections.len(), 1);
    let server = run.server_connections[0]
        .quic
        .as_ref()
        .expect("server's QUIC reading");
    assert!(
        server.bytes_sent >= quic.bytes_received,
        "{server:?} {quic:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_stream_limit_wait_for_a_stream() {
    let scenario = inline_scenario(
        "name = \"slots\"\nprotocols = [\"h3\"]\n[server]\nmax_concurrent_streams = 4\n\
         think = \"100ms\"\n[[resource]]\npath = \"/s/{i}\"\ncount = 10\nsize = \"1kb\"\n",
    );
    let run = run(scenario).await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert_eq!(run.connections.len(), 1);
    // The server never ran more than 4 handlers at once: QUIC's MAX_STREAMS held the rest.
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
    // Three rounds of 100 ms: 4, 4 and 2 streams, and the later ones' wait is `blocked`.
    assert!(
        run.page_time >= Duration::from_millis(300),
        "{:?}",
        run.page_time
    );
    let blocked = run
        .requests
        .iter()
        .filter(|r| r.phases.blocked >= Duration::from_millis(90))
        .count();
    assert!(blocked >= 6, "{:#?}", run.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_never_answered_is_reset_alone_and_the_others_are_served() {
    let scenario = inline_scenario(
        "name = \"never\"\nprotocols = [\"h3\"]\n[server]\nrequest_timeout = \"300ms\"\n\
         [[resource]]\npath = \"/hang\"\nrespond = \"never\"\n\
         [[resource]]\npath = \"/ok/{i}\"\ncount = 5\nsize = \"2kb\"\n",
    );
    let run = run(scenario).await;
    assert_eq!(run.connections.len(), 1);
    let hang = &run.requests[0];
    let error = hang.error.as_deref().expect("the hanging request fails");
    // It failed when the server's timeout reset its stream, not before.
    assert!(
        hang.ended_at() - hang.issued_at >= Duration::from_millis(290),
        "{hang:#?}"
    );
    assert!(!error.is_empty());
    assert!(run.requests[1..]
        .iter()
        .all(|r| r.error.is_none() && r.status == 200));
    assert_eq!(run.server.iter().filter(|s| s.status == 0).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resumption_a_new_connection_sends_its_request_in_the_first_flight() {
    // The server's idle timeout (QUIC's) ends the first connection; the second request, a
    // second later, opens another, which resumes the first's session with 0-RTT.
    let scenario = inline_scenario(
        "name = \"zero\"\nprotocols = [\"h3\"]\n[client]\nresumption = true\n\
         [server]\nh2_idle_timeout = \"200ms\"\n\
         [[resource]]\npath = \"/first\"\nsize = \"1kb\"\n\
         [[resource]]\npath = \"/later\"\nsize = \"1kb\"\ndelay = \"1s\"\n",
    );
    let run = run(scenario).await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert_eq!(run.connections.len(), 2, "{:#?}", run.connections);
    let kinds: Vec<_> = run
        .connections
        .iter()
        .map(|c| c.tls.as_ref().expect("tls").handshake_kind)
        .collect();
    assert_eq!(kinds, [HandshakeKind::Full, HandshakeKind::ZeroRtt]);
    assert_eq!(
        run.connections[0].close_reason,
        CloseReason::Error("QUIC idle timeout".into())
    );
    // The later request opened the second connection and left before its handshake was done:
    // its `ssl` ends when the connection was handed over, the connection's handshake when the
    // server's answer completed it. (What that saves, a round trip, is timed on the link:
    // h3_link.rs.)
    let later = &run.requests[1];
    assert_eq!(later.connection, Some(1));
    assert!(later.opened_connection());
    let handshake = run.connections[1].tls.as_ref().expect("tls").handshake;
    assert!(
        later.phases.ssl.unwrap() <= handshake,
        "{:?}, handshake {handshake:?}",
        later.phases
    );
}

/// A datagram that is QUIC's long header for `version` (Initial type), `dcid` and a body of
/// `len` bytes of noise: undecryptable, as a flood's forged Initials are.
fn long_header(version: u32, dcid: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let mut d = vec![0xc0];
    d.extend_from_slice(&version.to_be_bytes());
    d.push(dcid.len() as u8);
    d.extend_from_slice(dcid);
    d.push(8);
    d.extend_from_slice(&seed.to_be_bytes());
    d.push(0); // no token
    noise(&mut d, len, seed);
    d
}

/// Appends `len` bytes of a seeded xorshift.
fn noise(d: &mut Vec<u8>, len: usize, seed: u64) {
    let mut x = seed | 1;
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d.push(x as u8);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_unknown_versions_and_forged_initials_leave_the_server_serving() {
    let scenario = inline_scenario(
        "name = \"flood\"\nprotocols = [\"h3\"]\n[[resource]]\npath = \"/r/{i}\"\ncount = 5\n\
         size = \"2kb\"\n",
    );
    let lab = lab(scenario).await;
    let server = lab.server_addr(Protocol::H3);
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    // 2,000 datagrams of noise (short headers to no connection, and anything else), 500 long
    // headers of versions nobody speaks, 1,000 Initials of version 1 that do not decrypt.
    let mut sent = 0;
    for i in 0..2_000u64 {
        let mut d = Vec::new();
        noise(&mut d, 20 + (i as usize * 37) % 1_300, i + 1);
        sent += usize::from(peer.send_to(&d, server).is_ok());
    }
    for i in 0..500u64 {
        let d = long_header(0x1a2a_3a4a + i as u32, &i.to_be_bytes(), 1_200, i + 7);
        sent += usize::from(peer.send_to(&d, server).is_ok());
    }
    for i in 0..1_000u64 {
        let d = long_header(1, &(i * 7919).to_be_bytes(), 1_200, i + 11);
        sent += usize::from(peer.send_to(&d, server).is_ok());
    }
    assert_eq!(sent, 3_500);
    // After the flood, an unknown version is still answered with a Version Negotiation packet
    // (version 0): the server read through the flood and kept its head. A probe goes every
    // 100 ms, the answers read in between (stateless resets for the noise may come first),
    // for at most 5 s: the server shares two cores with the other tests of this file.
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (mut answers, mut negotiated) = (0, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !negotiated && std::time::Instant::now() < deadline {
        let probe = long_header(0x0a0a_0a0a, b"probe-01", 1_200, 99);
        peer.send_to(&probe, server).expect("a probe");
        while let Ok((n, _)) = peer.recv_from(&mut buf) {
            answers += 1;
            if n > 7 && buf[0] & 0x80 != 0 && buf[1..5] == [0, 0, 0, 0] {
                negotiated = true;
                break;
            }
        }
    }
    assert!(
        negotiated,
        "no version negotiation among {answers} answers in 5 s"
    );
    // And it still serves a real client, with no connection of the flood's in its records.
    let run = lab.run(Protocol::H3, 0).await.expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert_eq!(run.requests.len(), 5);
    assert_eq!(
        run.server_connections.len(),
        1,
        "{:#?}",
        run.server_connections
    );
}
