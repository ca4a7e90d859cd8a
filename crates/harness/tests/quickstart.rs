//! The quickstart scenario on real loopback sockets, with TLS: the connection facts the issue
//! names, and agreement between the client's record and the server's arrival log.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{CloseReason, Protocol, RunRecord};
use httplab_harness::{Lab, LabOptions};
use httplab_testkit::{scenario, temp_dir};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

async fn run(protocol: Protocol) -> RunRecord {
    let scenario = Arc::new(scenario("quickstart"));
    let options = LabOptions {
        certs_dir: temp_dir("certs"),
        ..LabOptions::default()
    };
    let lab = Lab::start(scenario, options).await.expect("lab starts");
    let run = lab.run(protocol, 0).await.expect("run completes");
    lab.shutdown().await;
    assert_eq!(run.requests.len(), 13);
    assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
    assert!(run.requests.iter().all(|r| r.status == 200));
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_opens_a_connection_and_a_tls_handshake_per_request() {
    let run = run(Protocol::Http10).await;
    assert_eq!(run.connections.len(), 13, "connections opened");
    assert_eq!(run.tcp_handshakes(), 13);
    assert_eq!(run.tls_handshakes(), 13);
    for c in &run.connections {
        assert_eq!(c.requests_served, 1, "connection {}", c.id);
        assert_eq!(c.close_reason, CloseReason::AfterResponse);
        assert!(c.closed_at.is_some());
        let tls = c.tls.as_ref().expect("TLS connection");
        assert_eq!(tls.alpn.as_deref(), Some("http/1.0"));
    }
    for r in &run.requests {
        assert!(
            r.phases.connect.is_some() && r.phases.ssl.is_some(),
            "request {} paid a handshake",
            r.id
        );
        assert_eq!(r.http_version, "HTTP/1.0");
    }
    assert_server_agrees(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_caps_connections_at_six_and_queues_the_rest() {
    let run = run(Protocol::Http11).await;
    assert_eq!(run.connections.len(), 6, "connections opened");
    assert_eq!(run.tls_handshakes(), 6);
    let served: u32 = run.connections.iter().map(|c| c.requests_served).sum();
    assert_eq!(served, 13);
    for c in &run.connections {
        assert_eq!(
            c.close_reason,
            CloseReason::WorkloadDone,
            "connection {}",
            c.id
        );
        assert_eq!(
            c.tls.as_ref().and_then(|t| t.alpn.as_deref()),
            Some("http/1.1")
        );
    }
    let (first, rest) = run.requests.split_at(6);
    for r in first {
        assert!(
            r.phases.connect.is_some(),
            "request {} opened a connection",
            r.id
        );
    }
    for r in rest {
        assert!(
            r.phases.connect.is_none() && r.phases.ssl.is_none(),
            "request {} reused",
            r.id
        );
        // It waited for an earlier request to finish: at least that request's 2 ms think time.
        assert!(
            r.phases.blocked >= Duration::from_millis(2),
            "request {} blocked only {:?}",
            r.id,
            r.phases.blocked
        );
    }
    assert_server_agrees(&run);
}

/// Every client request reached the server once, between its first byte sent and its first
/// response byte, on the connection the client says it used.
fn assert_server_agrees(run: &RunRecord) {
    assert_eq!(run.server.len(), run.requests.len(), "server log size");
    let local: HashMap<u32, &str> = run
        .connections
        .iter()
        .map(|c| (c.id, c.local_addr.as_str()))
        .collect();
    for r in &run.requests {
        let s = run
            .server_view(r.id)
            .unwrap_or_else(|| panic!("server never saw request {}", r.id));
        assert_eq!(s.path, r.path);
        let first_response_byte = r.sent_at() + r.phases.send + r.phases.wait;
        assert!(
            r.sent_at() <= s.arrived_at && s.arrived_at <= first_response_byte,
            "request {}: sent {:?}, arrived {:?}, first byte {:?}",
            r.id,
            r.sent_at(),
            s.arrived_at,
            first_response_byte
        );
        let conn = r.connection.expect("a connection");
        assert_eq!(s.peer_addr, local[&conn], "request {} peer address", r.id);
        assert_eq!(s.response_body_bytes, r.response_body_bytes);
    }
}
