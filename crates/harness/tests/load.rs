//! `httplab load` on real loopback sockets: many browsers at once against the lab's server.
//! The closed model holds as many server connections as its users' browsers keep open (six
//! each over HTTP/1.1, one over h2), and the open model, measured from each page's intended start,
//! shows a server that cannot keep up as latency that grows with its queue.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{Protocol, Scenario};
use httplab_harness::{Arrival, Lab, LabOptions, LoadOptions, LoadResult};
use httplab_testkit::{inline_scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

async fn load(scenario: Scenario, options: LoadOptions) -> LoadResult {
    let lab = Lab::start(
        Arc::new(scenario),
        LabOptions {
            certs_dir: temp_dir("certs"),
            counting_log: true,
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab starts");
    let result = lab.load(&options, |_, _| {}).await.expect("load runs");
    lab.shutdown().await;
    result
}

/// A page of a document and twelve images, each image 20 ms of server think: a browser's six
/// connections all fill.
fn page() -> Scenario {
    inline_scenario(
        "name = \"load-page\"\n[client]\nmax_connections_per_host = 6\n\
         [[resource]]\npath = \"/\"\nsize = \"5kb\"\n\
         [[resource]]\npath = \"/img/{i}.png\"\ncount = 12\nsize = \"8kb\"\nthink = \"20ms\"\n",
    )
}

fn closed(protocol: Protocol, users: u32) -> LoadOptions {
    LoadOptions {
        protocol,
        arrival: Arrival::Closed { users },
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        // A user's browser keeps its connections open across the pause.
        think_between: Duration::from_millis(300),
        seed: 1,
        shard: None,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn closed_users_hold_six_connections_each_over_http11_and_one_over_h2() {
    let h1 = load(page(), closed(Protocol::Http11, 20)).await;
    let (peak, _) = h1
        .server_connections()
        .expect("the lab server counts its connections");
    eprintln!(
        "http1.1: {} pages, peak {peak} server connections; by second {:?}",
        h1.pages, h1.seconds
    );
    assert_eq!(h1.failed_pages, 0, "{:?}", h1.first_failure);
    assert!(h1.pages >= 20, "{}", h1.pages);
    // 20 users × 6, kept open from page to page as a returning user's browser keeps them.
    assert!((114..=126).contains(&peak), "peak {peak} against 120");
    assert_eq!(h1.connections_opened, 120, "six per user, opened once");
    assert_eq!(h1.requests, h1.pages * 13);
    assert!(h1.server_cpu_per_page_ms().is_some_and(|ms| ms > 0.0));

    let h2 = load(page(), closed(Protocol::H2, 20)).await;
    let (peak, _) = h2
        .server_connections()
        .expect("the lab server counts its connections");
    eprintln!("h2: {} pages, peak {peak} server connections", h2.pages);
    assert_eq!(h2.failed_pages, 0, "{:?}", h2.first_failure);
    assert!((19..=21).contains(&peak), "peak {peak} against 20");
    // Each user's browser opened its one connection on its first page and kept it.
    assert_eq!(h2.connections_opened, 20, "one connection per user");
}

#[tokio::test(flavor = "current_thread")]
async fn an_open_model_past_capacity_shows_latency_growing_with_the_queue() {
    // One connection served at a time, each page one request of 50 ms: about 20 pages a
    // second at most. Offered 40 a second for 3 s, the backlog grows by some 20 a second.
    let scenario = inline_scenario(
        "name = \"slow\"\n[server]\nmax_connections = 1\n\
         [[resource]]\npath = \"/\"\nsize = \"1kb\"\nthink = \"50ms\"\n",
    );
    let result = load(
        scenario,
        LoadOptions {
            protocol: Protocol::Http11,
            arrival: Arrival::Open {
                rate: 40.0,
                poisson: false,
            },
            duration: Duration::from_secs(3),
            warmup: Duration::ZERO,
            think_between: Duration::ZERO,
            seed: 1,
            shard: None,
        },
    )
    .await;
    assert_eq!(result.failed_pages, 0, "{:?}", result.first_failure);
    assert_eq!(result.pages, 120, "every arrival is a page");
    let p50 = result.page_latency.value_at_quantile(0.5);
    let p99 = result.page_latency.value_at_quantile(0.99);
    eprintln!("open model past capacity: p50 {p50} us, p99 {p99} us");
    // Measured from the intended start, the last pages waited behind some 60 others, about
    // 3 s; a closed loop (or a latency taken from the actual start) would show 50 ms.
    assert!(p99 > 2_000_000, "p99 {p99} us");
    assert!(p50 > 500_000, "p50 {p50} us");
    let seconds: Vec<u64> = result.measured_seconds().map(|s| s.p99_us).collect();
    eprintln!("p99 by second: {seconds:?}");
    assert!(
        seconds.last() > seconds.first(),
        "later seconds wait longer: {seconds:?}"
    );
}
