//! The h2 crate alone, loading the parity bench's page: each of USERS connections (h2c) loads
//! a page of ten 100-byte resources at a time (all ten requests sent, then all ten responses
//! read, then the next page), as a closed-model `httplab load` user does, for SECONDS after
//! WARMUP seconds. Each request's head is the lab's own (`multiplexed_head`, built once per
//! resource and copied, as the lab's client does), so the h2 crate encodes and decodes what it
//! does for the lab; there is no timing, record, meter or histogram. `benches/parity.py` runs it beside
//! `httplab load` and h2load on its h2c row: what the h2 crate alone reaches against h2load, and
//! so how much of the lab client's gap is the crate's and how much the lab's own.
//!
//! Usage: `bare_h2 HOST:PORT USERS SECONDS WARMUP`. Prints `requests N seconds S req/s R total
//! T`: the responses completed in the measured window, its rate, and every response of the run
//! (for CPU time per request). Every loop ends at the window's end.

// The package's other dependencies are the client library's, not this program's.
#![allow(unused_crate_dependencies)]

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::client::SendRequest;
use http::uri::Scheme;
use http::{HeaderMap, Method, Request, Uri};
use httplab_core::RequestSpec;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The allocator `httplab` runs on, so allocation costs the same.
#[global_allocator]
static ALLOCATOR: httplab_socket::heap::CountingAllocator = httplab_socket::heap::CountingAllocator;

/// Resources on the page (the parity bench's `/r1` … `/r10`).
const PAGE: usize = 10;

/// A request's method, URI and fields, as the lab's client builds them.
type Head = (Method, Uri, HeaderMap);

/// The measured window, and the responses completed in it and in all.
struct Window {
    start: Instant,
    end: Instant,
    counted: Cell<u64>,
    total: Cell<u64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bare_h2 HOST:PORT USERS SECONDS WARMUP";
    let [addr, users, seconds, warmup] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let number = |s: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("{usage}: {s:?} is not a whole number");
            std::process::exit(2);
        })
    };
    let (users, seconds, warmup) = (number(users), number(seconds), number(warmup));
    if users == 0 || seconds == 0 {
        eprintln!("{usage}: USERS and SECONDS must be at least 1");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("bare_h2: cannot start the runtime: {e}");
            std::process::exit(1);
        });
    let local = tokio::task::LocalSet::new();
    let (counted, total) = local.block_on(&runtime, async move {
        let start = Instant::now() + Duration::from_secs(warmup);
        let window = Rc::new(Window {
            start,
            end: start + Duration::from_secs(seconds),
            counted: Cell::new(0),
            total: Cell::new(0),
        });
        let mut users_done = Vec::new();
        for _ in 0..users {
            let (addr, window) = (addr.clone(), window.clone());
            users_done.push(tokio::task::spawn_local(async move {
                if let Err(e) = user(&addr, &window).await {
                    eprintln!("bare_h2: a user against {addr} failed: {e}");
                    std::process::exit(1);
                }
            }));
        }
        for done in users_done {
            let _ = done.await;
        }
        (window.counted.get(), window.total.get())
    });
    println!(
        "requests {counted} seconds {seconds} req/s {:.0} total {total}",
        counted as f64 / seconds as f64
    );
}

/// One connection loading pages until the window ends.
async fn user(addr: &str, window: &Window) -> Result<(), Box<dyn std::error::Error>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = h2::client::handshake(tcp).await?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    let heads = (1..=PAGE as u32)
        .map(|id| {
            let spec = RequestSpec {
                id,
                method: "GET".into(),
                path: format!("/r{id}"),
                // As `httplab load --target` sends them: without the lab's request id.
                anonymous: true,
                ..RequestSpec::default()
            };
            httplab_transport::exchange::multiplexed_head(&spec, &Scheme::HTTP, None, addr)
        })
        .collect::<Result<Vec<Head>, String>>()?;
    while Instant::now() < window.end {
        let mut page: FuturesUnordered<_> = heads
            .iter()
            .map(|head| fetch(sender.clone(), head.clone()))
            .collect();
        while let Some(done) = page.next().await {
            done?;
            window.total.set(window.total.get() + 1);
            let now = Instant::now();
            if now >= window.start && now < window.end {
                window.counted.set(window.counted.get() + 1);
            }
        }
    }
    Ok(())
}

/// One request and its whole response.
async fn fetch(sender: SendRequest<Bytes>, (method, uri, headers): Head) -> Result<(), h2::Error> {
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let mut sender = sender.ready().await?;
    let (response, _) = sender.send_request(request, true)?;
    let mut body = response.await?.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
    }
    Ok(())
}
