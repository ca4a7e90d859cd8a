//! The hol-blocking scenario on real loopback sockets: one 500 ms response ahead of nine fast
//! ones, pipelined on one connection under both server models, and over http1.1's six
//! connections, where only what queues on the slow one's connection waits for it.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{PipeliningModel, Protocol, RequestRecord, RunRecord};
use httplab_harness::{Lab, LabOptions, RunConfig};
use httplab_testkit::{scenario, temp_dir};
use std::sync::Arc;
use std::time::Duration;

const SLOW: Duration = Duration::from_millis(500);
const FAST_THINK: Duration = Duration::from_millis(2);

async fn run(protocol: Protocol, model: PipeliningModel) -> RunRecord {
    let scenario = Arc::new(scenario("hol-blocking"));
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    let lab = Lab::start(scenario, options).await.expect("lab starts");
    let config = RunConfig {
        protocol,
        server_pipelining: Some(model),
        client_variant: None,
    };
    let run = lab.run_config(config, 0).await.expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.requests.len(), 10);
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert_eq!(run.requests[0].path, "/slow");
    run
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn fast(run: &RunRecord) -> &[RequestRecord] {
    &run.requests[1..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_server_fast_responses_wait_in_hol_behind_the_slow_one() {
    let run = run(Protocol::Http11Pipelined, PipeliningModel::Parallel).await;
    assert_eq!(run.connections.len(), 1, "one pipelined connection");
    let slow = &run.requests[0];
    for r in fast(&run) {
        assert!(
            r.ended_at() >= slow.ended_at(),
            "{} completed before /slow",
            r.path
        );
        let hol = r.phases.hol.expect("the server reported hol");
        let expected = SLOW - FAST_THINK;
        assert!(
            (ms(hol) - ms(expected)).abs() <= 10.0,
            "{}: hol {hol:?}, expected {expected:?} ± 10 ms",
            r.path
        );
        // The client's hol is the server's: ready → its turn, in the server's own log.
        let server = run.server_view(r.id).expect("server saw it");
        assert!((ms(server.hol().unwrap()) - ms(hol)).abs() < 0.01);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_server_fast_responses_also_wait_their_predecessors_think_time() {
    let run = run(Protocol::Http11Pipelined, PipeliningModel::Serial).await;
    assert_eq!(run.connections.len(), 1, "one pipelined connection");
    let slow = &run.requests[0];
    for (i, r) in fast(&run).iter().enumerate() {
        // Before it: /slow and i fast ones, each handled only after the previous was answered.
        let floor = slow.ended_at() + FAST_THINK * (i as u32 + 1);
        assert!(
            r.ended_at() >= floor - Duration::from_micros(500),
            "{} ended {:?} after /slow, expected at least {:?}",
            r.path,
            r.ended_at() - slow.ended_at(),
            FAST_THINK * (i as u32 + 1)
        );
        let server = run.server_view(r.id).expect("server saw it");
        assert_eq!(
            server.hol(),
            Some(Duration::ZERO),
            "serial: no hol, only queue"
        );
        assert!(
            server.queue() >= SLOW,
            "{}: queue {:?}",
            r.path,
            server.queue()
        );
        assert!(
            r.phases.wait >= SLOW,
            "{}: wait {:?}",
            r.path,
            r.phases.wait
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_only_requests_on_the_slow_connection_wait_for_it() {
    let run = run(Protocol::Http11, PipeliningModel::Parallel).await;
    assert_eq!(run.connections.len(), 6);
    let slow = &run.requests[0];
    let slow_conn = slow.connection;
    let mut behind = 0;
    for r in fast(&run) {
        if r.connection == slow_conn {
            behind += 1;
            assert!(
                r.ended_at() >= slow.ended_at(),
                "{} shares /slow's connection",
                r.path
            );
        } else {
            assert!(
                r.ended_at() + Duration::from_millis(400) < slow.ended_at(),
                "{} on connection {:?} waited for /slow: ended {:?}, /slow {:?}",
                r.path,
                r.connection,
                r.ended_at(),
                slow.ended_at()
            );
        }
    }
    // Nine fast requests and five other connections that free up in milliseconds: none queues
    // behind /slow.
    assert_eq!(behind, 0);
}
