//! HTTP/2 on the lab server over real 127.0.0.1 sockets: the `h2` crate as the client, over TLS
//! (ALPN `h2`) and in cleartext (h2c, prior knowledge), plus the server's SETTINGS read as raw
//! frame bytes.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use bytes::Bytes;
use common::start_with;
use httplab_core::Scenario;
use httplab_server::{LabServer, MIN_CONNECTION_WINDOW};
use httplab_testkit::http1_raw::read_response;
use httplab_testkit::{expected_filler, TempDir};
use httplab_tls::{CertStore, ALPN_H2, ALPN_HTTP10, ALPN_HTTP11};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const SCENARIO: &str = r#"
name = "h2-test"
[server]
max_concurrent_streams = 7
h2_stream_window = "2mib"
max_frame_size = "32768b"
[[resource]]
path = "/index.html"
size = "20kb"
[[resource]]
path = "/img/{i}.png"
count = 19
size = "3kb"
think = "5ms"
[[resource]]
path = "/big.bin"
size = "1mb"
"#;

fn scenario(toml: &str) -> Arc<Scenario> {
    Arc::new(httplab_testkit::inline_scenario(toml))
}

/// A body read to its end, releasing flow-control capacity as it goes (else a body larger
/// than the 65,535-byte default window stalls).
struct Got {
    status: u16,
    server_timing: Option<String>,
    content_length: Option<u64>,
    body: Vec<u8>,
}

async fn get(client: &h2::client::SendRequest<Bytes>, path: &str, id: u32) -> Got {
    let request = http::Request::get(format!("https://localhost{path}"))
        .header("x-httplab-request", id.to_string())
        .body(())
        .unwrap();
    let mut client = client.clone().ready().await.unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    let (head, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        bytes.extend_from_slice(&chunk);
    }
    Got {
        status: head.status.as_u16(),
        server_timing: head
            .headers
            .get("server-timing")
            .map(|v| v.to_str().unwrap().to_string()),
        content_length: head
            .headers
            .get("content-length")
            .map(|v| v.to_str().unwrap().parse().unwrap()),
        body: bytes,
    }
}

/// An h2 client on `io`, its connection driven by a task.
async fn h2_client<S>(io: S) -> h2::client::SendRequest<Bytes>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn tls_stream(
    server: &LabServer,
    store: &CertStore,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let config = store.client_config(alpn, false, None).unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// 20 requests on one connection, the first alone and 19 at once: all answered, right sizes,
/// `Server-Timing`, logged with their ids on one server connection; the client saw the
/// scenario's stream limit.
///
/// The first goes alone so that the client has the server's SETTINGS before the burst: a
/// client that opens more streams than SETTINGS_MAX_CONCURRENT_STREAMS before it has seen them
/// gets the excess refused (RST_STREAM REFUSED_STREAM, RFC 9113 §5.1.2), as hyper does here.
async fn twenty_requests(server: &LabServer, client: h2::client::SendRequest<Bytes>) {
    let first = get(&client, "/index.html", 1).await;
    assert_eq!(first.status, 200);
    assert_eq!(client.current_max_send_streams(), 7);
    let mut tasks = vec![tokio::spawn(async move { (first, 20_000) })];
    for id in 2..=20u32 {
        let client = client.clone();
        let (path, size) = (format!("/img/{}.png", id - 1), 3_000);
        tasks.push(tokio::spawn(async move {
            (get(&client, &path, id).await, size)
        }));
    }
    for task in tasks {
        let (got, size) = task.await.unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.content_length, Some(size as u64));
        assert_eq!(got.body, expected_filler(size));
        let timing = got.server_timing.expect("server-timing header");
        assert!(timing.starts_with("app;dur="), "{timing}");
    }
    assert_eq!(client.current_max_send_streams(), 7);

    let log = server.log().take();
    assert_eq!(log.len(), 20);
    let mut ids: Vec<u32> = log.iter().map(|r| r.request_id.unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
    assert!(log.iter().all(|r| r.connection == log[0].connection));
    for record in &log {
        assert!(record.arrived_at <= record.started_at);
        assert!(record.started_at <= record.response_ready_at);
        let sent = record.response_sent_at.expect("sent");
        assert!(record.response_ready_at <= sent);
        if record.path.starts_with("/img/") {
            assert!(record.response_ready_at - record.started_at >= Duration::from_millis(5));
        }
    }
}

#[tokio::test]
async fn h2_over_tls_and_http11_on_the_same_port() {
    let certs = TempDir::new("h2-tls");
    let store = CertStore::open_or_create(&certs.0).unwrap();
    let config = store
        .server_config(&[ALPN_H2, ALPN_HTTP11, ALPN_HTTP10])
        .unwrap();
    let server = start_with(scenario(SCENARIO), Some(config)).await;

    let tls = tls_stream(&server, &store, &[ALPN_H2, ALPN_HTTP11]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ALPN_H2));
    twenty_requests(&server, h2_client(tls).await).await;

    // ALPN http/1.1, and no ALPN at all: HTTP/1.1 on the same port.
    for alpn in [&[ALPN_HTTP11][..], &[]] {
        let mut tls = tls_stream(&server, &store, alpn).await;
        tls.write_all(
            b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nx-httplab-request: 99\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        let response = read_response(&mut tls, &mut buf, false).await;
        assert!(
            response.status_line.starts_with("HTTP/1.1 200"),
            "{}",
            response.status_line
        );
        assert_eq!(response.body.len(), 20_000);
    }
    let log = server.log().take();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.request_id == Some(99)));

    // Shutdown with an idle h2 connection open: GOAWAY, and done well within the grace.
    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn h2c_prior_knowledge_and_http11_on_the_same_port() {
    let server = start_with(scenario(SCENARIO), None).await;
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    twenty_requests(&server, h2_client(tcp).await).await;

    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /img/3.png HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let response = read_response(&mut tcp, &mut buf, false).await;
    assert!(response.status_line.starts_with("HTTP/1.1 200"));
    assert_eq!(response.body, expected_filler(3_000));
    server.shutdown().await;
}

/// The server's first frames, as bytes: SETTINGS with the scenario's numbers, then a
/// WINDOW_UPDATE on stream 0 opening the connection window.
#[tokio::test]
async fn settings_frame_carries_the_scenario() {
    let server = start_with(scenario(SCENARIO), None).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    // Preface and an empty SETTINGS frame.
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut settings = std::collections::HashMap::new();
    let mut connection_increment = None;
    tokio::time::timeout(Duration::from_secs(5), async {
        while connection_increment.is_none() {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head).await.unwrap();
            let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let (kind, flags) = (head[3], head[4]);
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; length];
            tcp.read_exact(&mut payload).await.unwrap();
            match kind {
                // SETTINGS (not the ACK of ours)
                0x4 if flags & 0x1 == 0 => {
                    assert_eq!((stream, length % 6), (0, 0));
                    for p in payload.chunks(6) {
                        let id = u16::from_be_bytes([p[0], p[1]]);
                        let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
                        settings.insert(id, value);
                    }
                }
                // WINDOW_UPDATE on the connection
                0x8 if stream == 0 => {
                    connection_increment = Some(
                        u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                            & 0x7fff_ffff,
                    );
                }
                _ => {}
            }
        }
    })
    .await
    .expect("SETTINGS and WINDOW_UPDATE within 5 s");
    assert_eq!(settings.get(&0x3), Some(&7), "MAX_CONCURRENT_STREAMS");
    assert_eq!(
        settings.get(&0x4),
        Some(&(2 * 1024 * 1024)),
        "INITIAL_WINDOW_SIZE"
    );
    assert_eq!(settings.get(&0x5), Some(&32_768), "MAX_FRAME_SIZE");
    assert_eq!(connection_increment, Some(MIN_CONNECTION_WINDOW - 65_535));
    drop(tcp);
    server.shutdown().await;
}

/// With 4 streams allowed and 100 ms of think time each, 8 requests take two rounds.
#[tokio::test]
async fn max_concurrent_streams_limits_parallel_work() {
    let server = start_with(
        scenario(
            "name = \"streams\"\n[server]\nmax_concurrent_streams = 4\nthink = \"100ms\"\n\
             [[resource]]\npath = \"/r/{i}\"\ncount = 8\nsize = \"1kb\"\n",
        ),
        None,
    )
    .await;
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let client = h2_client(tcp).await;
    // One request first, so the client has the server's SETTINGS before the burst.
    assert_eq!(get(&client, "/r/1", 0).await.status, 200);
    assert_eq!(client.current_max_send_streams(), 4);
    server.log().take();

    let started = Instant::now();
    let tasks: Vec<_> = (1..=8u32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { get(&client, &format!("/r/{i}"), i).await })
        })
        .collect();
    for task in tasks {
        let got = task.await.unwrap();
        assert_eq!((got.status, got.body.len()), (200, 1_000));
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");

    // The server never had more than 4 handlers running at once. Running at once is counted
    // at each handler's start (the most there can be is at some start): those that started by
    // then and were not done yet. Counting pairwise overlaps instead would also count a
    // handler of the first round that ended after a second-round one started but before
    // another did, which is not concurrency.
    let log = server.log().take();
    assert_eq!(log.len(), 8);
    for record in &log {
        let at = record.started_at;
        let overlapping = log
            .iter()
            .filter(|o| o.started_at <= at && at < o.response_ready_at)
            .count();
        assert!(overlapping <= 4, "{overlapping} handlers overlap");
    }
    server.shutdown().await;
}

/// A 1 MB response through the default 65,535-byte windows: the client releasing capacity
/// keeps it flowing to the last byte.
#[tokio::test]
async fn one_megabyte_response_arrives() {
    let server = start_with(scenario(SCENARIO), None).await;
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let client = h2_client(tcp).await;
    let got = tokio::time::timeout(Duration::from_secs(10), get(&client, "/big.bin", 7))
        .await
        .expect("1 MB within 10 s");
    assert_eq!(got.status, 200);
    assert_eq!(got.content_length, Some(1_000_000));
    assert_eq!(got.body, expected_filler(1_000_000));
    let log = server.log().take();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].response_body_bytes, 1_000_000);
    assert!(log[0].response_sent_at.is_some());
    server.shutdown().await;
}
