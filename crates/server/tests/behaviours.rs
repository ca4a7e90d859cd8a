//! The scenario's server behaviours on real 127.0.0.1 sockets, on every server path (hyper's
//! HTTP/1.x, the own pipelining loop, hyper's HTTP/2): a handler that never responds and the
//! request timeout that ends it, `max_connections` and the listen backlog, `keep_alive_timeout`,
//! `max_requests_per_connection`, `send_timeout` for a client that takes no bytes, and
//! reproducible think-time draws.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use bytes::Bytes;
use common::start_with;
use httplab_core::think::draw_key;
use httplab_core::{PipeliningModel, Scenario};
use httplab_server::LabServer;
use httplab_testkit::http1_raw::{get, read_response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn scenario(toml: &str) -> Arc<Scenario> {
    Arc::new(httplab_testkit::inline_scenario(toml))
}

const NEVER: &str = r#"
name = "never"
[server]
request_timeout = "300ms"
[[resource]]
path = "/upload"
method = "POST"
respond = "never"
[[resource]]
path = "/ok"
size = "10b"
"#;

const TIMEOUT: Duration = Duration::from_millis(300);

fn post(id: u32, body: usize) -> Vec<u8> {
    let mut bytes = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nx-httplab-request: {id}\r\ncontent-length: {body}\r\n\r\n"
    )
    .into_bytes();
    bytes.resize(bytes.len() + body, b'u');
    bytes
}

/// Reads until the server closes; returns what it sent and how long that took.
async fn read_until_closed(tcp: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("the server did not close within 5 s"),
        }
    }
}

async fn never_over_http1(model: Option<PipeliningModel>) {
    let server = start_with(scenario(NEVER), None).await;
    server.set_pipelining(model);
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(&post(3, 100_000)).await.unwrap();
    let (got, after) = read_until_closed(&mut tcp).await;
    assert!(got.is_empty(), "{model:?}: no response at all, got {got:?}");
    assert!(
        after >= TIMEOUT - Duration::from_millis(5) && after < TIMEOUT * 3,
        "{model:?}: closed after {after:?}"
    );
    let log = server.log().take();
    assert_eq!(log.len(), 1, "{model:?}: {log:#?}");
    let record = &log[0];
    assert_eq!(record.request_id, Some(3));
    assert_eq!((record.status, record.request_body_bytes), (0, 100_000));
    assert_eq!(record.response_sent_at, None);
    assert!(record.response_ready_at - record.arrived_at >= TIMEOUT);
    server.shutdown().await;
}

#[tokio::test]
async fn never_responding_handler_is_closed_by_the_timeout_over_hyper_http1() {
    never_over_http1(None).await;
}

#[tokio::test]
async fn never_responding_handler_is_closed_by_the_timeout_in_the_pipelining_loop() {
    never_over_http1(Some(PipeliningModel::Serial)).await;
    never_over_http1(Some(PipeliningModel::Parallel)).await;
}

#[tokio::test]
async fn pipelined_requests_behind_a_timed_out_one_are_abandoned_and_logged() {
    let server = start_with(scenario(NEVER), None).await;
    server.set_pipelining(Some(PipeliningModel::Serial));
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut bytes = post(1, 10);
    bytes.extend_from_slice(get("/ok", 2).as_bytes());
    tcp.write_all(&bytes).await.unwrap();
    let (got, _) = read_until_closed(&mut tcp).await;
    assert!(got.is_empty());
    let mut log = server.log().take();
    log.sort_by_key(|r| r.request_id);
    let seen: Vec<(Option<u32>, u16)> = log.iter().map(|r| (r.request_id, r.status)).collect();
    assert_eq!(seen, [(Some(1), 0), (Some(2), 0)], "{log:#?}");
    server.shutdown().await;
}

#[tokio::test]
async fn never_responding_stream_is_reset_and_the_h2c_connection_lives_on() {
    let server = start_with(scenario(NEVER), None).await;
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let started = Instant::now();
    let upload = http::Request::post("http://localhost/upload")
        .header("x-httplab-request", "1")
        .body(())
        .unwrap();
    let mut client = client.ready().await.unwrap();
    let (response, mut stream) = client.send_request(upload, false).unwrap();
    stream
        .send_data(Bytes::from_static(&[b'u'; 1000]), true)
        .unwrap();
    let err = response.await.expect_err("never answered");
    let after = started.elapsed();
    assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR), "{err}");
    assert!(err.is_remote() && err.is_reset(), "{err}");
    assert!(after >= TIMEOUT - Duration::from_millis(5), "{after:?}");
    // The same connection still answers.
    let mut client = client.ready().await.unwrap();
    let ok = http::Request::get("http://localhost/ok").body(()).unwrap();
    let (response, _) = client.send_request(ok, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    let log = server.log().take();
    let upload = log.iter().find(|r| r.path == "/upload").unwrap();
    assert_eq!((upload.status, upload.request_body_bytes), (0, 1000));
    server.shutdown().await;
}

#[tokio::test]
async fn max_connections_leaves_the_third_waiting_in_the_backlog() {
    let server = start_with(
        scenario(
            "name = \"cap\"\n[server]\nmax_connections = 2\nkeep_alive_timeout = \"300ms\"\n\
             [[resource]]\npath = \"/a\"\nsize = \"10b\"\n",
        ),
        None,
    )
    .await;
    let addr = server.local_addr();
    let started = Instant::now();
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    // The kernel completes the third handshake; the server does not accept it yet.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    for (tcp, id) in [(&mut first, 1), (&mut second, 2)] {
        tcp.write_all(get("/a", id).as_bytes()).await.unwrap();
        assert_eq!(read_response(tcp, &mut buf, false).await.status, 200);
    }
    third.write_all(get("/a", 3).as_bytes()).await.unwrap();
    // Answered only once a keep-alive timeout (300 ms) has closed one of the first two.
    let answered = read_response(&mut third, &mut buf, false).await;
    let waited = started.elapsed();
    assert_eq!(answered.status, 200);
    assert!(waited >= Duration::from_millis(290), "{waited:?}");

    let connections = server.log().connections();
    assert_eq!(connections.len(), 3, "{connections:#?}");
    let (a, c) = (&connections[0], &connections[2]);
    assert!(
        c.accepted_at >= a.accepted_at + Duration::from_millis(290),
        "{connections:#?}"
    );
    // Its request had been waiting in the socket: it "arrived" as soon as it was accepted.
    let first_request = c.first_request_at.expect("request arrived");
    assert!(
        first_request - c.accepted_at < Duration::from_millis(50),
        "{c:?}"
    );
    assert!(connections[0].closed_at.is_some() || connections[1].closed_at.is_some());
    let log = server.log().take();
    let third = log.iter().find(|r| r.request_id == Some(3)).unwrap();
    assert!(third.arrived_at >= c.accepted_at);
    server.shutdown().await;
}

const STALL: &str = r#"
name = "stall"
[server]
send_timeout = "400ms"
[[resource]]
path = "/big"
size = "64mb"
"#;

/// `send_timeout`, measured on the server's own clock.
const SEND_TIMEOUT: Duration = Duration::from_millis(400);

/// Waits for the server's one connection, whose client takes no bytes, to be ended by
/// `send_timeout`; returns how long after its request arrived it closed.
async fn ended_by_the_stall(server: &LabServer, what: &str) -> Duration {
    // Bounded: the stall begins once the socket buffers are full, milliseconds after the
    // request on loopback, so the connection is gone well inside 10 s.
    for _ in 0..1000 {
        if server.accepted_connections() == 1 && server.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connections = server.log().connections();
    assert_eq!(connections.len(), 1, "{what}: {connections:#?}");
    let c = &connections[0];
    let (arrived, closed) = (c.first_request_at.expect("a request"), c.closed_at);
    closed.unwrap_or_else(|| panic!("{what}: still open after 10 s: {c:?}")) - arrived
}

/// The stall's bounds. Not before `send_timeout`: the response's last progress came after the
/// request arrived. At most 2 s later: filling loopback's socket buffers (a few MB of the
/// 64 MB response) takes milliseconds, and the server's watch wakes at the stalled response's
/// deadline, so the slack is only for a loaded machine's scheduling.
fn assert_ended_on_time(after: Duration, what: &str) {
    eprintln!("{what}: closed {after:?} after the request arrived");
    assert!(
        after >= SEND_TIMEOUT && after < SEND_TIMEOUT + Duration::from_secs(2),
        "{what}: closed {after:?} after the request arrived"
    );
}

async fn a_client_that_reads_nothing(model: Option<PipeliningModel>) {
    let what = format!("HTTP/1.1, {model:?}");
    let server = start_with(scenario(STALL), None).await;
    server.set_pipelining(model);
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(get("/big", 1).as_bytes()).await.unwrap();
    let after = ended_by_the_stall(&server, &what).await;
    assert_ended_on_time(after, &what);
    let log = server.log().take();
    assert_eq!(log.len(), 1, "{what}: {log:#?}");
    assert_eq!(
        log[0].response_sent_at, None,
        "{what}: the response never finished"
    );
    drop(tcp);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_takes_no_bytes_is_closed_by_send_timeout_over_http1() {
    a_client_that_reads_nothing(None).await;
    a_client_that_reads_nothing(Some(PipeliningModel::Serial)).await;
}

#[tokio::test]
async fn an_h2c_client_that_grants_no_window_is_closed_by_send_timeout() {
    let server = start_with(scenario(STALL), None).await;
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(connection);
    let request = http::Request::get("http://localhost/big")
        .header("x-httplab-request", "1")
        .body(())
        .unwrap();
    let mut client = client.ready().await.unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    // The head arrives; the body is never read, so the client's 65,535-byte window stays
    // spent and the server's send stops there.
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let after = ended_by_the_stall(&server, "h2c").await;
    assert_ended_on_time(after, "h2c");
    drop((response, client));
    driver.abort();
    server.shutdown().await;
}

async fn closes_when_idle(model: Option<PipeliningModel>) {
    let server = start_with(
        scenario(
            "name = \"idle\"\n[server]\nkeep_alive_timeout = \"200ms\"\n[[resource]]\npath = \"/a\"\nsize = \"10b\"\n",
        ),
        None,
    )
    .await;
    server.set_pipelining(model);
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    tcp.write_all(get("/a", 1).as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut tcp, &mut buf, false).await.status, 200);
    // Busy again within the timeout: the timer restarts after this response.
    tokio::time::sleep(Duration::from_millis(120)).await;
    tcp.write_all(get("/a", 2).as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut tcp, &mut buf, false).await.status, 200);
    let (rest, idle) = read_until_closed(&mut tcp).await;
    assert!(rest.is_empty(), "{model:?}");
    assert!(
        idle >= Duration::from_millis(190) && idle < Duration::from_millis(600),
        "{model:?}: closed after {idle:?} idle"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn keep_alive_timeout_closes_an_idle_connection() {
    closes_when_idle(None).await;
    closes_when_idle(Some(PipeliningModel::Parallel)).await;
}

async fn closes_after_two(model: Option<PipeliningModel>) {
    let server = start_with(
        scenario(
            "name = \"two\"\n[server]\nmax_requests_per_connection = 2\n[[resource]]\npath = \"/a\"\nsize = \"10b\"\n",
        ),
        None,
    )
    .await;
    server.set_pipelining(model);
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    tcp.write_all(get("/a", 1).as_bytes()).await.unwrap();
    let first = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(first.header("connection"), None, "{model:?}");
    tcp.write_all(get("/a", 2).as_bytes()).await.unwrap();
    let second = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("connection"), Some("close"), "{model:?}");
    let (rest, _) = read_until_closed(&mut tcp).await;
    assert!(rest.is_empty() && buf.is_empty(), "{model:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn max_requests_per_connection_closes_after_the_last() {
    closes_after_two(None).await;
    closes_after_two(Some(PipeliningModel::Serial)).await;
}

/// `app;dur=` of a response, in milliseconds.
async fn think_of(server: &LabServer, id: u32) -> f64 {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    tcp.write_all(get("/a", id).as_bytes()).await.unwrap();
    read_response(&mut tcp, &mut buf, false)
        .await
        .timing("app")
        .expect("app;dur")
}

#[tokio::test]
async fn think_times_are_the_scenarios_draws_for_each_request() {
    let toml = |seed: u64| {
        format!(
            "name = \"t\"\nseed = {seed}\n[[resource]]\npath = \"/a\"\nthink = \"uniform(5ms,60ms)\"\n"
        )
    };
    for seed in [1, 2] {
        let scenario = scenario(&toml(seed));
        let think = scenario.resources[0].think_distribution;
        let server = start_with(scenario, None).await;
        let mut expected = Vec::new();
        for id in 0..5 {
            // The draw is a pure function of seed, path and request id (core::think), so the
            // server must have slept exactly it (plus timer slack).
            let want = think.draw(seed, draw_key("/a", u64::from(id)));
            let got = think_of(&server, id).await;
            let want_ms = want.as_secs_f64() * 1e3;
            assert!(
                got >= want_ms - 0.1 && got <= want_ms + 20.0,
                "seed {seed}, request {id}: slept {got} ms, drew {want_ms} ms"
            );
            expected.push(want);
        }
        expected.dedup();
        assert_eq!(
            expected.len(),
            5,
            "each request draws its own: {expected:?}"
        );
        server.shutdown().await;
    }
    let think = httplab_core::Think::parse("uniform(5ms,60ms)").unwrap();
    assert_ne!(
        think.draw(1, draw_key("/a", 0)),
        think.draw(2, draw_key("/a", 0)),
        "another seed, another draw"
    );
}
