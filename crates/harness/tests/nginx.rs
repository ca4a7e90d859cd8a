//! Interoperability with a server no one here wrote: the pipelined client and the HTTP/2
//! client against nginx.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use futures_util::future::join_all;
use httplab_core::Clock;
use httplab_h2::{H2Options, Http2Client};
use httplab_harness::LabConnector;
use httplab_http11_pipelined::Http11PipelinedClient;
use httplab_testkit::requests::get;
use httplab_testkit::{temp_dir, Nginx};
use httplab_transport::{ClientOptions, ProtocolClient};
use std::sync::Arc;
use std::time::Duration;

const N: u32 = 20;

/// File i's size: all different, so a response matched to the wrong request shows.
fn size(i: u32) -> u64 {
    u64::from(i) * 731 + 17
}

#[tokio::test]
async fn pipelines_twenty_requests_to_nginx_over_one_connection() {
    let www = temp_dir("nginx-www");
    for i in 0..N {
        std::fs::write(www.join(format!("{i}.bin")), vec![b'x'; size(i) as usize]).unwrap();
    }
    let Some(nginx) = Nginx::start(
        "pipelines_twenty_requests_to_nginx_over_one_connection",
        &www,
        "",
    ) else {
        return;
    };
    let clock = Clock::start();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port));
    let connector = Arc::new(LabConnector::new(addr, "localhost", None, clock).unwrap());
    let client = Http11PipelinedClient::new(
        ClientOptions {
            connector: connector.clone(),
            clock,
            max_connections_per_host: 6,
        },
        1,
        None,
    );
    let specs = (0..N).map(|i| get(i, &format!("/{i}.bin")));
    let records = join_all(specs.map(|spec| client.fetch(spec))).await;
    client.finish().await;

    assert_eq!(
        connector.connection_records(&records).len(),
        1,
        "one connection"
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.error, None, "request {i}");
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(
            r.response_body_bytes,
            size(i as u32),
            "request {i}: body of another file?"
        );
        let server = r
            .response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("server"));
        assert!(
            server.is_some_and(|(_, v)| v.starts_with("nginx")),
            "{:?}",
            r.response_headers
        );
    }
    // Pipelined: requests went out while earlier responses were still outstanding.
    let overlapping = records
        .windows(2)
        .filter(|w| w[1].sent_at() < w[0].ended_at())
        .count();
    let times: Vec<(u32, Duration, Duration)> = records
        .iter()
        .map(|r| (r.id, r.sent_at(), r.ended_at()))
        .collect();
    assert!(
        overlapping > 0,
        "no request was written before the previous response arrived: {times:?}"
    );
    // In order: each response finished no earlier than the one before it.
    assert!(records
        .windows(2)
        .all(|w| w[1].ended_at() >= w[0].ended_at()));
    // nginx writes a request's log line after its response has left, so the last line may
    // trail the last response: wait for it, at most a second.
    let mut log = String::new();
    for _ in 0..50 {
        log = std::fs::read_to_string(nginx.dir.join("access.log")).unwrap_or_default();
        if log.lines().count() >= N as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(log.lines().count(), N as usize, "nginx's access log: {log}");
}

#[tokio::test]
async fn h2_client_fetches_from_nginx_over_tls_with_alpn_h2() {
    let test = "h2_client_fetches_from_nginx_over_tls_with_alpn_h2";
    let www = temp_dir("nginx-h2-www");
    for i in 0..N {
        std::fs::write(www.join(format!("{i}.bin")), vec![b'x'; size(i) as usize]).unwrap();
    }
    // nginx serves the lab's own certificate, so the client verifies it against the lab CA.
    let certs = httplab_tls::CertStore::open_or_create(temp_dir("nginx-h2-certs")).unwrap();
    let (cert, key) = (
        certs.dir().join("localhost.pem"),
        certs.dir().join("localhost.key"),
    );
    let Some(nginx) = Nginx::start_tls(test, &www, &cert, &key) else {
        return;
    };
    let clock = Clock::start();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port));
    let tls = certs
        .client_config(&[httplab_tls::ALPN_H2], false, None)
        .unwrap();
    let connector = Arc::new(LabConnector::new(addr, "localhost", Some(tls), clock).unwrap());
    let client = Http2Client::new(
        ClientOptions {
            connector: connector.clone(),
            clock,
            max_connections_per_host: 6,
        },
        H2Options::default(),
    );
    let specs = (0..N).map(|i| get(i, &format!("/{i}.bin")));
    let records = join_all(specs.map(|spec| client.fetch(spec))).await;
    client.finish().await;

    let connections = connector.connection_records(&records);
    assert_eq!(connections.len(), 1, "one connection");
    let conn = &connections[0];
    assert_eq!(
        conn.tls.as_ref().and_then(|t| t.alpn.as_deref()),
        Some("h2")
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.error, None, "request {i}");
        assert_eq!((r.status, &*r.http_version), (200, "HTTP/2"), "request {i}");
        assert_eq!(r.response_body_bytes, size(i as u32), "request {i}");
        let server = r.response_headers.iter().find(|(k, _)| k == "server");
        assert!(
            server.is_some_and(|(_, v)| v.starts_with("nginx")),
            "{:?}",
            r.response_headers
        );
    }
    let frames = conn.h2_frames.expect("frames counted");
    assert_eq!(
        (frames.sent.headers, frames.received.headers),
        (u64::from(N), u64::from(N))
    );
    let body: u64 = (0..N).map(size).sum();
    assert_eq!(frames.received.data_bytes, body);
    assert!(conn.ping_rtt.is_some(), "nginx answered the PING");
}
