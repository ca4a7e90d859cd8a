//! The keep-alive pool against scripted raw-bytes servers on real sockets: connections the
//! server accepted, what the client measured (`blocked`, retries, the connection each request
//! went on) and why each connection closed, in the cases a browser's pool must get right: the
//! cap, an idle connection the server closed, and a close as a request goes out.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use futures_util::future::join_all;
use httplab_core::{Clock, CloseReason, RequestRecord, RequestSpec};
use httplab_http11::Http11Client;
use httplab_testkit::http1_peer::{serve, Server};
use httplab_testkit::requests::numbered_get;
use httplab_testkit::PlainConnector;
use httplab_transport::{ClientOptions, ProtocolClient};
use std::sync::Arc;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn client(server: &Server, cap: u32) -> (Http11Client, Arc<PlainConnector>) {
    let clock = Clock::start();
    let connector = PlainConnector::new(server.addr, clock);
    let opts = ClientOptions {
        connector: connector.clone(),
        clock,
        max_connections_per_host: cap,
    };
    (Http11Client::new(opts), connector)
}

/// Issues every request at once, as the workload does.
async fn fetch_all(client: &Http11Client, specs: Vec<RequestSpec>) -> Vec<RequestRecord> {
    join_all(specs.into_iter().map(|s| client.fetch(s))).await
}

/// A peer whose first connection answers one request and closes, while idle or, with
/// `reading_another`, once the next request has arrived; later connections answer everything.
async fn answers_one_then_closes(reading_another: bool) -> Server {
    serve(move |mut peer| async move {
        if peer.conn == 0 {
            let first = peer.next().await.unwrap();
            peer.respond(&first, "").await;
            if reading_another {
                peer.next().await;
            }
            return;
        }
        while let Some(r) = peer.next().await {
            peer.respond(&r, "").await;
        }
    })
    .await
}

/// Why each of the connector's first `n` connections closed.
fn close_reasons(connector: &PlainConnector, n: usize) -> Vec<Option<CloseReason>> {
    (0..n).map(|c| connector.meter(c).close_reason()).collect()
}

fn connections(records: &[RequestRecord]) -> Vec<Option<u32>> {
    records.iter().map(|r| r.connection).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_cap_wait_for_a_connection_and_reuse_it() {
    // Each response leaves 30 ms after its request arrives.
    let server = serve(|mut peer| async move {
        while let Some(r) = peer.next().await {
            tokio::time::sleep(30 * MS).await;
            peer.respond(&r, "").await;
        }
    })
    .await;
    let (client, _) = client(&server, 2);
    let records = fetch_all(&client, (0..5).map(numbered_get).collect()).await;
    client.finish().await;

    assert_eq!(server.accepted(), 2, "never more than the cap");
    for r in &records {
        assert_eq!(
            (r.status, r.error.as_deref()),
            (200, None),
            "request {}",
            r.id
        );
    }
    // Two go at once; the others wait for a response each (30 ms or more) before theirs is sent.
    let blocked: Vec<Duration> = records.iter().map(|r| r.phases.blocked).collect();
    assert!(blocked[..2].iter().all(|b| *b < 30 * MS), "{blocked:?}");
    assert!(blocked[2..].iter().all(|b| *b >= 30 * MS), "{blocked:?}");
    assert!(
        blocked[4] >= 60 * MS,
        "the fifth waits for two responses: {blocked:?}"
    );
    let opened = records
        .iter()
        .filter(|r| r.phases.connect.is_some())
        .count();
    assert_eq!(
        opened, 2,
        "only the first request on each connection pays for it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_closed_as_the_request_goes_out_is_resent_once() {
    // The first connection answers one request, then reads the next and closes without a word,
    // as a server whose keep-alive timeout fires just then does.
    let server = answers_one_then_closes(true).await;
    let (client, connector) = client(&server, 6);
    let first = client.fetch(numbered_get(0)).await;
    let second = client.fetch(numbered_get(1)).await;
    client.finish().await;

    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{:?}",
        second.error
    );
    assert_eq!((first.connection, second.connection), (Some(0), Some(1)));
    assert_eq!((first.retries, second.retries), (0, 1));
    assert!(
        second.phases.connect.is_some(),
        "the re-send paid for a new connection"
    );
    assert_eq!(server.accepted(), 2);
    assert_eq!(
        close_reasons(&connector, 2),
        [
            Some(CloseReason::ServerClosed),
            Some(CloseReason::WorkloadDone)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_before_the_first_response_fails_the_request_without_a_resend() {
    // Every connection reads its request and closes: an empty response.
    let server = serve(|mut peer| async move {
        peer.next().await;
    })
    .await;
    let (client, connector) = client(&server, 6);
    let record = client.fetch(numbered_get(0)).await;
    client.finish().await;

    assert_eq!(server.accepted(), 1, "no second connection");
    assert_eq!((record.status, record.retries), (0, 0));
    let error = record.error.as_deref().unwrap_or_default();
    assert!(error.contains("first request on connection 0"), "{error}");
    assert!(
        record.phases.wait > Duration::ZERO,
        "sent, so waiting: {:?}",
        record.phases
    );
    assert_eq!(
        close_reasons(&connector, 1),
        [Some(CloseReason::ServerClosed)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_the_server_closed_is_replaced_without_a_retry() {
    // The first connection answers one request and closes while idle.
    let server = answers_one_then_closes(false).await;
    let (client, connector) = client(&server, 6);
    let first = client.fetch(numbered_get(0)).await;
    // Bounded wait for the client to see the close.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while connector.meter(0).close_reason().is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(MS).await;
    }
    assert_eq!(
        connector.meter(0).close_reason(),
        Some(CloseReason::ServerClosed),
        "the idle connection's close is seen while it is idle"
    );
    let second = client.fetch(numbered_get(1)).await;
    client.finish().await;

    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{:?}",
        second.error
    );
    assert_eq!(connections(&[first, second.clone()]), [Some(0), Some(1)]);
    assert_eq!(second.retries, 0, "nothing was lost");
    assert!(second.phases.connect.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_in_a_response_ends_its_connection_after_it() {
    let server = serve(|mut peer| async move {
        if let Some(r) = peer.next().await {
            peer.respond(&r, "connection: close\r\n").await;
        }
    })
    .await;
    let (client, connector) = client(&server, 1);
    let records = fetch_all(&client, (0..3).map(numbered_get).collect()).await;
    client.finish().await;

    assert_eq!(server.accepted(), 3);
    assert_eq!(connections(&records), [0, 1, 2].map(Some));
    assert!(records.iter().all(|r| r.status == 200 && r.retries == 0));
    assert_eq!(
        close_reasons(&connector, 3),
        vec![Some(CloseReason::AfterResponse); 3]
    );
}
