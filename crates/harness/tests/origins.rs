//! A page on several origins, through the lab on real sockets: each origin at its own server
//! address (127.0.0.1, 127.0.0.2… on loopback; 10.77.0.2, 10.77.0.3… behind the link), the
//! same path on two origins served as each origin's own, HTTP/1.1 pools capped per origin, and
//! HTTP/2 on one connection per address (coalescing) or per origin (`coalesce = false`).
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{Protocol, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions, LinkMode};
use httplab_testkit::{inline_scenario, require_link, temp_dir};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Three origins: `www.test` and its shard `shard.test` on one address, and `cdn.test` on its
/// own. Each serves `/` with its own size, and 12 objects of its own. `client`: more `[client]`
/// keys.
fn page_text(client: &str) -> String {
    format!(
        "name = \"o\"\n[client]\nmax_connections_per_host = 6\ntls = true\n{client}\n\
         [[origin]]\nname = \"www.test\"\n\
         [[origin]]\nname = \"shard.test\"\nsame_address_as = \"www.test\"\n\
         [[origin]]\nname = \"cdn.test\"\nmax_connections = 2\n\
         [[resource]]\npath = \"/\"\nsize = \"1000b\"\n\
         [[resource]]\norigin = \"shard.test\"\npath = \"/\"\nsize = \"2000b\"\n\
         [[resource]]\norigin = \"cdn.test\"\npath = \"/\"\nsize = \"3000b\"\n\
         [[resource]]\npath = \"/w/{{i}}\"\ncount = 12\nsize = \"20kb\"\nthink = \"20ms\"\n\
         [[resource]]\norigin = \"shard.test\"\npath = \"/s/{{i}}\"\ncount = 12\nsize = \"20kb\"\n\
         think = \"20ms\"\n\
         [[resource]]\norigin = \"cdn.test\"\npath = \"/c/{{i}}\"\ncount = 12\nsize = \"20kb\"\n\
         think = \"20ms\"\n"
    )
}

fn page(client: &str) -> Scenario {
    inline_scenario(&page_text(client))
}

async fn run(scenario: Scenario, protocol: Protocol, link: LinkMode) -> RunRecord {
    let lab = Lab::start(
        Arc::new(scenario),
        LabOptions {
            certs_dir: temp_dir("certs"),
            link,
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab starts");
    let run = lab.run(protocol, 0).await.expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    run
}

/// Connections per origin, and the server address each origin was reached at.
fn by_origin(run: &RunRecord) -> (BTreeMap<String, usize>, BTreeMap<String, BTreeSet<String>>) {
    let mut count = BTreeMap::new();
    let mut addrs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &run.connections {
        *count.entry(c.origin.clone()).or_default() += 1;
        let ip = c.remote_addr.rsplit_once(':').map_or("", |(ip, _)| ip);
        addrs.entry(c.origin.clone()).or_default().insert(ip.into());
    }
    (count, addrs)
}

/// Every response is the size its own origin serves at that path; and the URL names it.
fn each_origin_answered_its_own(run: &RunRecord) {
    for (host, size) in [("www.test", 1000), ("shard.test", 2000), ("cdn.test", 3000)] {
        let root: Vec<_> = run
            .requests
            .iter()
            .filter(|r| r.path == "/" && r.url.contains(&format!("//{host}:")))
            .collect();
        assert_eq!(root.len(), 1, "{host}: {:#?}", run.requests);
        assert_eq!(root[0].response_body_bytes, size, "{host}");
    }
    assert!(run
        .requests
        .iter()
        .filter(|r| r.path != "/")
        .all(|r| r.response_body_bytes == 20_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_keeps_a_capped_pool_per_origin_each_at_its_origin_s_address() {
    let run = run(page(""), Protocol::Http11, LinkMode::Off).await;
    each_origin_answered_its_own(&run);
    let (count, addrs) = by_origin(&run);
    // 13 requests each: 6 connections each to www and shard (their cap), 2 to cdn (its own).
    assert_eq!(
        count,
        BTreeMap::from([
            ("cdn.test".into(), 2),
            ("shard.test".into(), 6),
            ("www.test".into(), 6)
        ]),
        "{:#?}",
        run.connections
    );
    assert_eq!(addrs["www.test"], BTreeSet::from(["127.0.0.1".to_string()]));
    assert_eq!(addrs["shard.test"], addrs["www.test"]);
    assert_eq!(addrs["cdn.test"], BTreeSet::from(["127.0.0.2".to_string()]));
    // The server saw each request under its own Host.
    assert_eq!(run.server.len(), 39);
    assert_eq!(run.tls_handshakes(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_coalesces_origins_that_share_an_address_unless_told_not_to() {
    let run_on = run(page(""), Protocol::H2, LinkMode::Off).await;
    each_origin_answered_its_own(&run_on);
    let (count, _) = by_origin(&run_on);
    // www and shard share 127.0.0.1 and the certificate: one connection for both.
    assert_eq!(
        count,
        BTreeMap::from([("cdn.test".into(), 1), ("www.test".into(), 1)]),
        "{:#?}",
        run_on.connections
    );
    let www = run_on
        .connections
        .iter()
        .find(|c| c.origin == "www.test")
        .expect("www's connection");
    assert_eq!(www.requests_served, 26);

    let off = run(page("coalesce = false"), Protocol::H2, LinkMode::Off).await;
    each_origin_answered_its_own(&off);
    assert_eq!(
        by_origin(&off).0,
        BTreeMap::from([
            ("cdn.test".into(), 1),
            ("shard.test".into(), 1),
            ("www.test".into(), 1)
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_link_each_address_is_the_server_namespace_s_own() {
    if !require_link("behind_the_link_each_address_is_the_server_namespace_s_own") {
        return;
    }
    let scenario = inline_scenario(&format!("{}[network]\nrtt = \"10ms\"\n", page_text("")));
    let run = run(scenario, Protocol::Http11, LinkMode::Require).await;
    each_origin_answered_its_own(&run);
    let (count, addrs) = by_origin(&run);
    assert_eq!(count.values().sum::<usize>(), 14);
    assert_eq!(addrs["www.test"], BTreeSet::from(["10.77.0.2".to_string()]));
    assert_eq!(addrs["cdn.test"], BTreeSet::from(["10.77.0.3".to_string()]));
    // Every connection crossed the link: the wire trace saw each one.
    let wire = run.wire.as_ref().expect("the link's trace");
    assert_eq!(wire.connections.len(), 14, "{:#?}", wire.connections.len());
}
