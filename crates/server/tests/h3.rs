//! The lab server's HTTP/3 when the client's first flight is late in part: a ClientHello too big
//! for one Initial datagram (Chromium's with its post-quantum key share is ~1.9 KB) whose second
//! datagram is held back on a real UDP relay. The server knows nothing of the client's
//! transport parameters until that datagram, so it cannot open its control stream; it must
//! still open it once they arrive, and answer.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use bytes::Buf;
use common::start;
use httplab_testkit::{expected_filler, TempDir};
use httplab_tls::{CertStore, ALPN_H3};
use quinn::crypto::rustls::QuicClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How long the relay holds the client's second datagram back: long enough that the server
/// has taken the connection from the first alone (it answers that one at once, on loopback
/// within a millisecond), short beside the test's bound.
const HOLD: Duration = Duration::from_millis(150);

/// Bound on the whole exchange. It takes HOLD and a few round trips on loopback; a server
/// that never opens its control stream never answers (the connection stays up, kept alive by
/// the client's pings), so any bound well above HOLD tells the two apart.
const BOUND: Duration = Duration::from_secs(10);

/// What the relay saw.
#[derive(Debug, Default)]
struct Seen {
    /// Sizes of the client's datagrams, in order.
    client: Vec<usize>,
    /// Whether the server sent anything while the second datagram was held.
    server_spoke_while_held: bool,
}

/// A UDP relay between one client and `server` that delays the client's second datagram (and
/// any behind it, keeping their order) by `HOLD`. Returns its client-facing address.
async fn relay(server: SocketAddr, seen: Arc<std::sync::Mutex<Seen>>) -> SocketAddr {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(server).await.unwrap();
    let addr = front.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let (client_tx, client_rx) = tokio::sync::watch::channel(None::<SocketAddr>);
    let held_until = Arc::new(std::sync::Mutex::new(None::<Instant>));
    // Client to server: datagrams in order, each sent at its time. The tasks end with the
    // test's runtime.
    let to_server = back.clone();
    tokio::spawn(async move {
        while let Some((at, datagram)) = rx.recv().await {
            tokio::time::sleep_until(at.into()).await;
            let _ = to_server.send(&datagram).await;
        }
    });
    let (recv_front, seen_front, held_front) = (front.clone(), seen.clone(), held_until.clone());
    tokio::spawn(async move {
        let mut buf = vec![0; 65_536];
        let mut last = Instant::now();
        while let Ok((n, from)) = recv_front.recv_from(&mut buf).await {
            let _ = client_tx.send(Some(from));
            let count = {
                let mut seen = seen_front.lock().unwrap();
                seen.client.push(n);
                seen.client.len()
            };
            let mut at = Instant::now().max(last);
            if count == 2 {
                at += HOLD;
                *held_front.lock().unwrap() = Some(at);
            }
            last = at;
            let _ = tx.send((at, buf[..n].to_vec()));
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0; 65_536];
        while let Ok(n) = back.recv(&mut buf).await {
            if held_until
                .lock()
                .unwrap()
                .is_some_and(|until| Instant::now() < until)
            {
                seen.lock().unwrap().server_spoke_while_held = true;
            }
            let client = *client_rx.borrow();
            if let Some(client) = client {
                let _ = front.send_to(&buf[..n], client).await;
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h3_answers_a_client_hello_whose_second_datagram_is_late() {
    let certs = TempDir::new("h3-late-hello");
    let store = CertStore::open_or_create(&certs.0).unwrap();
    let mut server = start(Some(store.server_config(&[ALPN_H3]).unwrap())).await;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let quic_addr = udp.local_addr().unwrap();
    server.serve_quic(vec![udp]).unwrap();

    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let relay_addr = relay(quic_addr, seen.clone()).await;

    // ALPN names the server does not speak, 5 × 250 bytes, make the ClientHello ~1.6 KB: two
    // Initial datagrams, as Chromium's is.
    let filler: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'a' + i; 250]).collect();
    let mut alpn: Vec<&[u8]> = vec![ALPN_H3];
    alpn.extend(filler.iter().map(Vec::as_slice));
    let tls = store.client_config(&alpn, false, None).unwrap();
    let crypto = QuicClientConfig::try_from(tls).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));

    let started = Instant::now();
    let exchange = async {
        let connection = endpoint.connect(relay_addr, "localhost")?.await?;
        let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(connection))
            .await
            .map_err(|e| format!("h3 client: {e}"))?;
        tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
        let request = http::Request::get("https://localhost/style.css").body(())?;
        let mut stream = send.send_request(request).await?;
        stream.finish().await?;
        let response = stream.recv_response().await?;
        let mut body = Vec::new();
        while let Some(mut chunk) = stream.recv_data().await? {
            while chunk.has_remaining() {
                let part = chunk.chunk();
                body.extend_from_slice(part);
                let n = part.len();
                chunk.advance(n);
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((response.status(), body))
    };
    let result = tokio::time::timeout(BOUND, exchange).await;
    let took = started.elapsed();
    let seen = std::mem::take(&mut *seen.lock().unwrap());

    // The first flight was two full-size Initial datagrams, and the server took the
    // connection from the first alone: it answered while the second was held.
    assert!(
        seen.client.len() >= 2 && seen.client[..2].iter().all(|&n| n >= 1200),
        "the client's datagrams: {:?}",
        seen.client
    );
    assert!(
        seen.server_spoke_while_held,
        "the server sent nothing during the {HOLD:?} hold: {seen:?}"
    );
    let (status, body) = result
        .unwrap_or_else(|_| {
            panic!("no response within {BOUND:?} of a ClientHello held {HOLD:?} in part")
        })
        .unwrap_or_else(|e| panic!("the exchange failed: {e}"));
    assert_eq!(status, 200);
    assert_eq!(body, expected_filler(100));
    assert!(took >= HOLD, "{took:?}: the hold did not happen");
    endpoint.close(0u32.into(), b"");
    server.shutdown().await;
}
