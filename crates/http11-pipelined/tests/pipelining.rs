//! The pipelining client against scripted raw-bytes servers on real sockets: what the server
//! observed (heads arriving before responses, connections accepted, requests unanswered at
//! once) and what the client measured (waits, `hol`, retries, close reasons).
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod support;

use futures_util::future::join_all;
use httplab_core::{Clock, CloseReason, RequestRecord, RequestSpec};
use httplab_testkit::http1_peer::{serve, Event};
use httplab_testkit::requests::{numbered_get, numbered_post};
use httplab_transport::ProtocolClient;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::client;

const MS: Duration = Duration::from_millis(1);

/// Issues every request at once, as the workload does, then finishes the client.
async fn run(client: &dyn ProtocolClient, specs: Vec<RequestSpec>) -> Vec<RequestRecord> {
    let records = join_all(specs.into_iter().map(|s| client.fetch(s))).await;
    client.finish().await;
    records
}

fn echoed_id(r: &RequestRecord) -> Option<u32> {
    r.response_headers
        .iter()
        .find(|(n, _)| n == "x-echo-request")
        .and_then(|(_, v)| v.parse().ok())
}

fn assert_ok(records: &[RequestRecord]) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.error, None, "request {i}");
        assert_eq!((r.id, r.status), (i as u32, 200), "request {i}");
        assert_eq!(echoed_id(r), Some(r.id), "response matched to request {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_requests_are_pipelined_on_one_connection() {
    let heads_before_first_response = Arc::new(AtomicUsize::new(0));
    let seen = heads_before_first_response.clone();
    let server = serve(move |mut peer| {
        let seen = seen.clone();
        async move {
            // Wait for all ten heads before answering: a client that waited for responses
            // would never send the second one.
            let mut requests = Vec::new();
            while requests.len() < 10 {
                match peer.next().await {
                    Some(r) => requests.push(r),
                    None => break,
                }
            }
            seen.store(requests.len(), Ordering::SeqCst);
            for r in &requests {
                peer.respond(r, "").await;
            }
            while peer.next().await.is_some() {}
        }
    })
    .await;
    let clock = Clock::start();
    let (client, connector) = client(&server, clock, 1, None);
    let records = run(&client, (0..10).map(numbered_get).collect()).await;

    assert_ok(&records);
    assert_eq!(heads_before_first_response.load(Ordering::SeqCst), 10);
    assert_eq!(server.accepted(), 1);
    assert_eq!(server.max_unanswered(), 10);
    assert!(records
        .iter()
        .all(|r| r.connection == Some(0) && r.retries == 0));
    // Only the first request paid for the connection.
    assert!(records[0].phases.connect.is_some());
    assert!(records[1..].iter().all(|r| r.phases.connect.is_none()));
    // Responses came back in order, each after the previous.
    for pair in records.windows(2) {
        assert!(pair[0].ended_at() <= pair[1].ended_at());
    }
    let r = &records[3];
    assert_eq!(r.response_body_bytes, "response to 3".len() as u64);
    assert!(r.request_header_bytes > 50 && r.response_header_bytes > 50);
    // finish() closed the idle connection.
    let meter = connector.meter(0);
    assert_eq!(meter.close_reason(), Some(CloseReason::WorkloadDone));
    assert!(meter.closed_at().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_first_response_holds_every_response_behind_it() {
    let server = serve(|mut peer| async move {
        let mut requests = Vec::new();
        while requests.len() < 5 {
            requests.push(peer.next().await.unwrap());
        }
        tokio::time::sleep(100 * MS).await;
        for (i, r) in requests.iter().enumerate() {
            let timing = match i {
                0 => "server-timing: app;dur=100\r\n",
                1 => "server-timing: app;dur=0.1, hol;dur=95.5\r\n",
                _ => "",
            };
            peer.respond(r, timing).await;
        }
        while peer.next().await.is_some() {}
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, None);
    let records = run(&client, (0..5).map(numbered_get).collect()).await;

    assert_ok(&records);
    for r in &records[1..] {
        assert!(
            r.phases.wait >= 100 * MS,
            "request {}: wait {:?}",
            r.id,
            r.phases.wait
        );
    }
    // The hol phase has one source, the server's log, which the harness joins to the records
    // (harness/tests/hol_blocking.rs); the client does not read it from `Server-Timing`.
    assert!(
        records.iter().all(|r| r.phases.hol.is_none()),
        "{records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_requests_are_retried_on_a_new_connection() {
    let server = serve(|mut peer| async move {
        if peer.conn == 0 {
            // Read all six, answer three, close.
            let mut requests = Vec::new();
            while requests.len() < 6 {
                requests.push(peer.next().await.unwrap());
            }
            for r in &requests[..3] {
                peer.respond(r, "").await;
            }
            return;
        }
        while let Some(r) = peer.next().await {
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, connector) = client(&server, Clock::start(), 1, None);
    let records = run(&client, (0..6).map(numbered_get).collect()).await;

    assert_ok(&records);
    assert_eq!(server.accepted(), 2);
    let retries: Vec<u32> = records.iter().map(|r| r.retries).collect();
    assert_eq!(retries, [0, 0, 0, 1, 1, 1]);
    let connections: Vec<Option<u32>> = records.iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 0, 0, 1, 1, 1].map(Some));
    // The first request on the new connection pays for it.
    assert!(records[3].phases.connect.is_some());
    assert!(records[4].phases.connect.is_none());
    assert_eq!(
        connector.meter(0).close_reason(),
        Some(CloseReason::ServerClosed)
    );
    assert_eq!(
        connector.meter(1).close_reason(),
        Some(CloseReason::WorkloadDone)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_pipelined() {
    let server = serve(|mut peer| async move {
        while let Some(r) = peer.next().await {
            assert_eq!(r.body_bytes, if r.method == "POST" { 1_000 } else { 0 });
            tokio::time::sleep(30 * MS).await;
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, None);
    let specs = vec![
        numbered_get(0),
        numbered_get(1),
        numbered_get(2),
        numbered_post(3, 1_000),
        numbered_get(4),
        numbered_get(5),
    ];
    let records = run(&client, specs).await;

    assert_ok(&records);
    assert_eq!(records[3].request_body_bytes, 1_000);
    let at = |e: Event| server.position(&e);
    let (arrived, sending) = (
        |id| Event::Arrived { conn: 0, id },
        |id| Event::Sending { conn: 0, id },
    );
    // The GETs before it were pipelined...
    assert!(at(arrived(2)) < at(sending(0)));
    // ...but the POST went out only once every earlier response had, and nothing behind it
    // before its own response.
    assert!(at(arrived(3)) > at(sending(2)), "{:?}", server.events());
    assert!(at(arrived(4)) > at(sending(3)), "{:?}", server.events());
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_response_fails_the_requests_with_its_position() {
    let server = serve(|mut peer| async move {
        for _ in 0..3 {
            peer.next().await.unwrap();
        }
        peer.send_raw(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")
            .await;
        while peer.next().await.is_some() {}
    })
    .await;
    let (client, connector) = client(&server, Clock::start(), 1, None);
    let records = run(&client, (0..3).map(numbered_get).collect()).await;

    for r in &records {
        let error = r.error.as_deref().unwrap_or_default();
        assert!(error.contains("at byte 33 of the connection"), "{error}");
        assert_eq!(r.status, 0);
    }
    assert!(records[0]
        .error
        .as_deref()
        .unwrap()
        .contains("invalid content-length \"abc\""));
    assert_eq!(server.accepted(), 1, "failed requests are not sent again");
    match connector.meter(0).close_reason() {
        Some(CloseReason::Error(e)) => assert!(e.contains("byte 33"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_limits_the_requests_in_flight() {
    let server = serve(|mut peer| async move {
        while let Some(r) = peer.next().await {
            tokio::time::sleep(20 * MS).await;
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, Some(2));
    let records = run(&client, (0..10).map(numbered_get).collect()).await;

    assert_ok(&records);
    assert_eq!(server.max_unanswered(), 2, "{:?}", server.events());
    // The third request waited for the first response before it could be written.
    assert!(
        records[2].phases.blocked >= 20 * MS,
        "{:?}",
        records[2].phases
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_moves_the_rest_to_a_new_connection() {
    let server = serve(|mut peer| async move {
        if peer.conn == 0 {
            let first = peer.next().await.unwrap();
            peer.next().await.unwrap();
            peer.respond(&first, "connection: close\r\n").await;
            return;
        }
        while let Some(r) = peer.next().await {
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, connector) = client(&server, Clock::start(), 1, Some(2));
    let records = run(&client, (0..4).map(numbered_get).collect()).await;

    assert_ok(&records);
    assert_eq!(server.accepted(), 2);
    // Request 1 had been written on the closed connection (a retry); 2 and 3 had not.
    let retries: Vec<u32> = records.iter().map(|r| r.retries).collect();
    assert_eq!(retries, [0, 1, 0, 0]);
    assert_eq!(records[1].connection, Some(1));
    assert_eq!(
        connector.meter(0).close_reason(),
        Some(CloseReason::AfterResponse)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_post_is_not_retried() {
    let server = serve(|mut peer| async move {
        if peer.conn == 0 {
            peer.next().await.unwrap();
            return; // close without answering
        }
        while let Some(r) = peer.next().await {
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, None);
    let records = run(&client, vec![numbered_post(0, 10), numbered_get(1)]).await;

    let error = records[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("POST is not idempotent"), "{error}");
    assert_eq!((records[0].retries, records[0].status), (0, 0));
    // The GET was held back behind the POST, so it never went out on the first connection.
    assert_eq!(records[1].error, None);
    assert_eq!((records[1].retries, records[1].connection), (0, Some(1)));
    assert_eq!(server.events()[0], Event::Arrived { conn: 0, id: 0 });
    assert!(!server.events().contains(&Event::Arrived { conn: 0, id: 1 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gives_up_after_three_reconnects() {
    let server = serve(|mut peer| async move {
        peer.next().await;
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, None);
    let records = run(&client, vec![numbered_get(0)]).await;

    assert_eq!(server.accepted(), 4);
    assert_eq!(records[0].retries, 3);
    let error = records[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("gave up after 3 reconnects"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_spread_round_robin_over_connections() {
    let server = serve(|mut peer| async move {
        while let Some(r) = peer.next().await {
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 3, None);
    let records = run(&client, (0..7).map(numbered_get).collect()).await;

    assert_ok(&records);
    assert_eq!(server.accepted(), 3);
    // Round-robin in order of arrival: requests 0, 3, 6 share a connection, and so on.
    let by_worker = |i: usize| records[i].connection;
    assert_eq!((by_worker(0), by_worker(3)), (by_worker(6), by_worker(0)));
    assert_eq!(by_worker(1), by_worker(4));
    assert_ne!(by_worker(0), by_worker(1));
    assert_ne!(by_worker(1), by_worker(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_chunked_and_head_responses_are_delimited() {
    const HEAD_0: &str = "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nx-echo-request: 0\r\n\r\n";
    let server = serve(|mut peer| async move {
        for _ in 0..3 {
            peer.next().await.unwrap();
        }
        let mut stream = HEAD_0.as_bytes().to_vec();
        stream.resize(HEAD_0.len() + 1_000_000, b'x');
        stream.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-echo-request: 1\r\n\r\n",
        );
        for _ in 0..3 {
            stream.extend_from_slice(b"2710;ext=1\r\n");
            stream.resize(stream.len() + 10_000, b'y');
            stream.extend_from_slice(b"\r\n");
        }
        stream.extend_from_slice(b"0\r\n\r\n");
        // The answer to HEAD announces a length but carries no body.
        stream.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\nx-echo-request: 2\r\n\r\n",
        );
        peer.send_raw(&stream).await;
        while peer.next().await.is_some() {}
    })
    .await;
    let (client, _) = client(&server, Clock::start(), 1, None);
    let head = RequestSpec {
        method: "HEAD".into(),
        ..numbered_get(2)
    };
    let records = run(&client, vec![numbered_get(0), numbered_get(1), head]).await;

    assert_ok(&records);
    let bodies: Vec<u64> = records.iter().map(|r| r.response_body_bytes).collect();
    assert_eq!(bodies, [1_000_000, 30_000, 0]);
    assert_eq!(records[0].response_header_bytes, HEAD_0.len() as u64);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_worker_stops_comes_back_failed_and_named() {
    // The server reads the request and never answers; the slot's worker is stopped (aborted)
    // while the request waits. The fetch keeps no copy of its request: the job the stopped
    // worker dropped settles itself, so the record still names the request.
    let (seen, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let server = serve(move |mut peer| {
        let seen = seen.clone();
        async move {
            if let Some(request) = peer.next().await {
                let _ = seen.send(request.id);
            }
            while peer.next().await.is_some() {}
        }
    })
    .await;
    let clock = Clock::start();
    let opts = httplab_transport::ClientOptions {
        connector: httplab_testkit::PlainConnector::new(server.addr, clock),
        clock,
        max_connections_per_host: 6,
    };
    let (slot, worker) = httplab_http11_pipelined::Slot::start(&opts);
    let spec = numbered_get(4);
    let url = format!("http://{}{}", server.addr, spec.path);
    let timing = httplab_transport::RequestTiming::new(spec, url, clock.now());
    let fetch = tokio::spawn(async move { slot.fetch(timing, clock).await });
    let target = tokio::time::timeout(Duration::from_secs(5), arrived.recv()).await;
    assert_eq!(
        target.ok().flatten(),
        Some(4),
        "the server read the request"
    );
    worker.abort();
    let record = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .expect("a record within 5 s of the worker stopping")
        .expect("the fetch task");
    assert_eq!(
        record.error.as_deref(),
        Some("the connection worker stopped")
    );
    assert_eq!(
        (record.id, record.method.as_str(), record.path.as_str()),
        (4, "GET", "/r/4")
    );
    assert_eq!(record.status, 0);
}
