//! `request_headers` and `response_headers`: a replayed page's heads are the sizes its HAR
//! recorded. Measured on the wire (the client's byte meter above TLS, less the bodies): over
//! HTTP/1.x each head is exactly the size asked, with hyper's client and server and with the
//! pipelining client and server; over h2 the same padded fields go out, HPACK-coded.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{PipeliningModel, Protocol, RunRecord, Scenario};
use httplab_harness::{Lab, LabOptions, RunConfig};
use httplab_testkit::{inline_scenario, temp_dir};
use std::sync::Arc;

fn page() -> Scenario {
    inline_scenario(
        "name = \"heads\"\n[server]\npipelining = \"serial\"\n\
         [[resource]]\npath = \"/page.html\"\nsize = \"3kb\"\n\
         request_headers = \"612b\"\nresponse_headers = \"1234b\"\n\
         [[resource]]\npath = \"/api/cart\"\nmethod = \"POST\"\nbody = \"2kb\"\nsize = \"100b\"\n\
         request_headers = \"2000b\"\nresponse_headers = \"450b\"\n\
         [[resource]]\npath = \"/plain.css\"\nsize = \"1kb\"\n",
    )
}

async fn runs(protocols: &[(Protocol, Option<PipeliningModel>)]) -> Vec<RunRecord> {
    let lab = Lab::start(
        Arc::new(page()),
        LabOptions {
            certs_dir: temp_dir("certs"),
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab starts");
    let mut out = Vec::new();
    for &(protocol, server_pipelining) in protocols {
        let config = RunConfig {
            protocol,
            server_pipelining,
            client_variant: None,
        };
        let run = lab.run_config(config, 0).await.expect("run completes");
        assert_eq!(run.failed_requests(), 0, "{:#?}", run.requests);
        out.push(run);
    }
    lab.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_heads_are_exactly_the_sizes_asked_both_ways() {
    let runs = runs(&[
        (Protocol::Http10, None),
        (Protocol::Http11, None),
        (Protocol::Http11Pipelined, Some(PipeliningModel::Serial)),
    ])
    .await;
    for run in &runs {
        let by_path = |path: &str| {
            let r = run.requests.iter().find(|r| r.path == path).expect(path);
            (r.request_header_bytes, r.response_header_bytes)
        };
        assert_eq!(by_path("/page.html"), (612, 1234), "{}", run.protocol);
        assert_eq!(by_path("/api/cart"), (2000, 450), "{}", run.protocol);
        // Unpadded: whatever the client and server write on their own, far below.
        let (req, resp) = by_path("/plain.css");
        assert!(req < 300 && resp < 300, "{}: {req} {resp}", run.protocol);
        // The server read the upload whole behind its padded head.
        let cart = run
            .server
            .iter()
            .find(|s| s.path == "/api/cart")
            .expect("cart");
        assert_eq!(cart.request_body_bytes, 2000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_sends_the_same_padded_fields_hpack_coded() {
    let runs = runs(&[(Protocol::H2, None)]).await;
    let page = runs[0]
        .requests
        .iter()
        .find(|r| r.path == "/page.html")
        .expect("page");
    let padded = |headers: &[(String, String)]| {
        headers
            .iter()
            .find(|(n, _)| n == "x-httplab-pad")
            .map(|(_, v)| v.len())
    };
    // The same field lengths as HTTP/1.1 text would carry, less what h2 leaves out: so a
    // padding of several hundred bytes both ways, compressed by HPACK's Huffman code (a run
    // of 'p' codes in 6 bits each) but never dropped.
    let request_pad = padded(&page.request_headers).expect("request padded");
    let response_pad = padded(&page.response_headers).expect("response padded");
    assert!(
        request_pad > 400 && response_pad > 900,
        "{request_pad} {response_pad}"
    );
    assert!(page.request_header_bytes < 612 && page.response_header_bytes < 1234);
}
