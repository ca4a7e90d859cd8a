//! Loopback benchmarks, one lab per scenario:
//! - `round_trip/<protocol>/<tls|plain>`: a page of one small resource, so the time is one request
//!   round trip including the connection it opens (every run starts with no open connection);
//! - `quickstart/<protocol>`: the quickstart page (13 requests, TLS) per protocol;
//! - `pipelining/<N>/<one-by-one|pipelined>`: N small requests on ONE persistent connection,
//!   sent one at a time (`http1.1` capped at 1 connection) or all pipelined, for N = 10 and 100;
//! - `h2_single/<h2|h2c>`: a one-request page over HTTP/2 with and without TLS;
//! - `multiplexed/<N>/<h2|http1.1>`: N small requests (TLS) as streams on one HTTP/2
//!   connection against HTTP/1.1 over 6 connections, N = 10 and 100;
//! - `tls_handshake/<1.2|1.3>/<full|resumed>`: four HTTP/1.0 requests one after another, each on
//!   a new TLS connection, with every handshake full or the last three resumed.
//!
//! Criterion prints the time of each and the change since the last run; `quickstart/http1.0` over
//! `quickstart/http1.1` is the price of a connection per request on loopback.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use httplab_core::{Protocol, Scenario};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{inline_scenario, scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

const PROTOCOLS: [Protocol; 2] = [Protocol::Http10, Protocol::Http11];

/// Starts a lab on `scenario`, benches one run of each `(id, protocol)` in `group`, and stops
/// the lab: every run opens its connections afresh, so each sample is a cold page load.
fn bench_runs(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    scenario: Scenario,
    runs: &[(String, Protocol)],
) {
    let options = LabOptions {
        certs_dir: temp_dir("bench-certs"),
        ..LabOptions::default()
    };
    let lab = rt
        .block_on(Lab::start(Arc::new(scenario), options))
        .expect("lab starts");
    for (id, protocol) in runs {
        group.bench_function(id.as_str(), |b| {
            b.to_async(rt)
                .iter(|| async { lab.run(*protocol, 0).await.expect("run") })
        });
    }
    rt.block_on(lab.shutdown());
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ids = |protocols: &[Protocol], suffix: &str| -> Vec<(String, Protocol)> {
        protocols
            .iter()
            .map(|&p| (format!("{p}{suffix}"), p))
            .collect()
    };

    let mut group = c.benchmark_group("round_trip");
    group.measurement_time(Duration::from_secs(5));
    for tls in [false, true] {
        let scenario = inline_scenario(&format!(
            "name = \"round-trip\"\n[client]\ntls = {tls}\n[[resource]]\npath = \"/r\"\nsize = \"1kb\"\n"
        ));
        let suffix = if tls { "/tls" } else { "/plain" };
        bench_runs(&mut group, &rt, scenario, &ids(&PROTOCOLS, suffix));
    }
    group.finish();

    let mut group = c.benchmark_group("quickstart");
    group
        .measurement_time(Duration::from_secs(8))
        .sample_size(30);
    bench_runs(
        &mut group,
        &rt,
        scenario("quickstart"),
        &ids(&PROTOCOLS, ""),
    );
    group.finish();

    let mut group = c.benchmark_group("h2_single");
    group.measurement_time(Duration::from_secs(5));
    let single =
        inline_scenario("name = \"h2-single\"\n[[resource]]\npath = \"/r\"\nsize = \"1kb\"\n");
    bench_runs(
        &mut group,
        &rt,
        single,
        &ids(&[Protocol::H2, Protocol::H2c], ""),
    );
    group.finish();

    let mut group = c.benchmark_group("multiplexed");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for n in [10, 100] {
        let scenario = inline_scenario(&format!(
            "name = \"multiplexed\"\n[client]\ntls = true\n[[resource]]\npath = \"/r/{{i}}\"\ncount = {n}\nsize = \"1kb\"\n"
        ));
        let runs = [Protocol::H2, Protocol::Http11].map(|p| (format!("{n}/{p}"), p));
        bench_runs(&mut group, &rt, scenario, &runs);
    }
    group.finish();

    let mut group = c.benchmark_group("tls_handshake");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for version in ["1.2", "1.3"] {
        for resumption in [false, true] {
            let scenario = inline_scenario(&format!(
                "name = \"tls\"\n[client]\ntls = true\ntls_version = \"{version}\"\nresumption = {resumption}\n\
                 max_connections_per_host = 1\n[[resource]]\npath = \"/r/{{i}}\"\ncount = 4\nsize = \"1kb\"\n"
            ));
            let kind = if resumption { "resumed" } else { "full" };
            bench_runs(
                &mut group,
                &rt,
                scenario,
                &[(format!("{version}/{kind}"), Protocol::Http10)],
            );
        }
    }
    group.finish();

    let mut group = c.benchmark_group("pipelining");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for n in [10, 100] {
        let scenario = inline_scenario(&format!(
            "name = \"pipelining\"\n[client]\nmax_connections_per_host = 1\npipeline_connections = 1\n\
             [server]\npipelining = \"parallel\"\n[[resource]]\npath = \"/r/{{i}}\"\ncount = {n}\nsize = \"1kb\"\n"
        ));
        let runs = [
            (format!("{n}/one-by-one"), Protocol::Http11),
            (format!("{n}/pipelined"), Protocol::Http11Pipelined),
        ];
        bench_runs(&mut group, &rt, scenario, &runs);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
