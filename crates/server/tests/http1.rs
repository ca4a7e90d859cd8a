//! HTTP/1.0 and HTTP/1.1 over cleartext, spoken as raw bytes on real 127.0.0.1 sockets.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::start;
use httplab_testkit::expected_filler;
use httplab_testkit::http1_raw::{get, read_response};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn http11_keep_alive_serves_two_requests_on_one_connection() {
    let server = start(None).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();

    tcp.write_all(get("/index.html", 7).as_bytes())
        .await
        .unwrap();
    let first = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(first.status_line, "HTTP/1.1 200 OK");
    assert_eq!(first.body, expected_filler(20_000));
    assert_eq!(
        first.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert!(first
        .header("server-timing")
        .unwrap()
        .starts_with("app;dur="));

    tcp.write_all(get("/style.css", 8).as_bytes())
        .await
        .unwrap();
    let second = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.len(), 100);
    assert_eq!(second.header("content-type"), Some("text/css"));

    // A second TCP connection gets the next connection number.
    let mut other = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut other_buf = Vec::new();
    other
        .write_all(get("/big.png", 9).as_bytes())
        .await
        .unwrap();
    let big = read_response(&mut other, &mut other_buf, false).await;
    assert_eq!(big.body.len(), 1_000_000);

    let log = server.log().take();
    assert_eq!(log.len(), 3, "{log:#?}");
    let ids: Vec<_> = log.iter().map(|r| r.request_id).collect();
    assert_eq!(ids, [Some(7), Some(8), Some(9)]);
    assert_eq!(log[0].connection, log[1].connection);
    assert_ne!(log[2].connection, log[0].connection);
    assert_eq!(log[0].peer_addr, tcp.local_addr().unwrap().to_string());
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("GET", "/index.html")
    );
    assert_eq!(
        log.iter()
            .map(|r| r.response_body_bytes)
            .collect::<Vec<_>>(),
        [20_000, 100, 1_000_000]
    );
    assert!(log
        .iter()
        .all(|r| r.status == 200 && r.response_sent_at.is_some()));
    assert!(server.log().snapshot().is_empty(), "take drains the log");
    server.shutdown().await;
}

#[tokio::test]
async fn http10_gets_its_body_and_the_server_closes() {
    let server = start(None).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    // read_to_end returns only once the server has closed the connection (read returned 0).
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut all))
        .await
        .expect("the server closes an HTTP/1.0 connection after the response")
        .unwrap();
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.0 200 ok"), "{head}");
    assert!(head.contains("content-length: 20000"), "{head}");
    assert_eq!(all[head_end + 4..], expected_filler(20_000)[..]);
    let log = server.log().snapshot();
    assert_eq!(log.len(), 1);
    assert!(log[0].response_sent_at.is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn think_time_delays_the_response_and_is_reported() {
    let server = start(None).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let written = Instant::now();
    tcp.write_all(get("/slow.json", 1).as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 1];
    tcp.read_exact(&mut first).await.unwrap();
    let ttfb = written.elapsed();
    assert!(ttfb >= Duration::from_millis(50), "ttfb {ttfb:?}");

    let mut buf = first.to_vec();
    let response = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    let timing = response.header("server-timing").unwrap();
    let dur: f64 = timing.strip_prefix("app;dur=").unwrap().parse().unwrap();
    assert!((50.0..60.0).contains(&dur), "{timing}");

    let log = server.log().take();
    let r = &log[0];
    let sent = r.response_sent_at.unwrap();
    assert!(
        r.arrived_at <= r.response_ready_at && r.response_ready_at <= sent,
        "{r:?}"
    );
    assert!(
        r.response_ready_at - r.arrived_at >= Duration::from_millis(50),
        "{r:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_bad_methods_head_and_statuses() {
    let server = start(None).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();

    tcp.write_all(get("/nope", 1).as_bytes()).await.unwrap();
    let missing = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, b"not found\n");

    // A POST with a body: 405, the body is read and discarded, the connection stays usable.
    tcp.write_all(
        b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await
    .unwrap();
    let post = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // HEAD: the GET's content-length, no body (the next response parses cleanly).
    tcp.write_all(b"HEAD /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let head = read_response(&mut tcp, &mut buf, true).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("20000"));

    tcp.write_all(get("/gone.html", 4).as_bytes())
        .await
        .unwrap();
    let gone = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!(gone.status, 410);
    assert_eq!(gone.body.len(), 7);

    tcp.write_all(get("/empty", 5).as_bytes()).await.unwrap();
    let empty = read_response(&mut tcp, &mut buf, false).await;
    assert_eq!((empty.status, empty.body.len()), (200, 0));
    assert!(buf.is_empty(), "no stray bytes: {buf:?}");

    let log = server.log().take();
    let statuses: Vec<_> = log.iter().map(|r| (r.method.as_str(), r.status)).collect();
    assert_eq!(
        statuses,
        [
            ("GET", 404),
            ("POST", 405),
            ("HEAD", 200),
            ("GET", 410),
            ("GET", 200)
        ]
    );
    assert_eq!(log[2].response_body_bytes, 0);
    assert!(log.iter().all(|r| r.response_sent_at.is_some()), "{log:#?}");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_accepting() {
    let server = start(None).await;
    let addr = server.local_addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    tcp.write_all(get("/style.css", 1).as_bytes())
        .await
        .unwrap();
    read_response(&mut tcp, &mut buf, false).await;

    let started = Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(1), tcp.read_to_end(&mut rest))
        .await
        .expect("idle connection closed by shutdown")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

/// A connection the client still holds when the run's records are taken carries a reading
/// at the run's end (its FIN may be lost at a lossy link, its retransmission pending), and one
/// the client closed carries its reading at close instead.
#[tokio::test]
async fn a_connection_still_open_when_taken_is_read_at_the_end_and_a_closed_one_at_close() {
    let server = start(None).await;
    let mut open = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut closed = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = Vec::new();
    for tcp in [&mut open, &mut closed] {
        tcp.write_all(get("/index.html", 1).as_bytes())
            .await
            .unwrap();
        buf.clear();
        assert_eq!(read_response(tcp, &mut buf, false).await.status, 200);
    }
    drop(closed);
    // The server sees the FIN within a few milliseconds on loopback; bounded at 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .log()
        .connections()
        .iter()
        .all(|c| c.closed_at.is_none())
    {
        assert!(Instant::now() < deadline, "the server never saw the close");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let records = server.log().take_connections();
    assert_eq!(records.len(), 2);
    let (still_open, ended): (Vec<_>, Vec<_>) = records.iter().partition(|c| c.closed_at.is_none());
    let (still_open, ended) = (&still_open[0].tcp_info, &ended[0].tcp_info);
    let at_end = still_open
        .at_end
        .as_ref()
        .expect("a reading at the run's end");
    assert!(still_open.at_close.is_none());
    assert_eq!(at_end.state.as_deref(), Some("established"));
    // The 20 kB response and its head have left the socket.
    assert!(at_end.bytes_sent.unwrap() > 20_000, "{at_end:?}");
    assert!(
        ended.at_close.is_some() && ended.at_end.is_none(),
        "{ended:?}"
    );
    // Taken again, the open one is still there and read again.
    assert_eq!(server.log().take_connections().len(), 1);
    drop(open);
}
