//! `SSLKEYLOGFILE`: a capture of the lab's HTTP/2-over-TLS traffic decrypts in tshark (the
//! engine of Wireshark) with the key log the client wrote, and with the one the server wrote.
//!
//! rustls reads `SSLKEYLOGFILE` when a config is built, so each side's config is built with the
//! variable set and the other side's without: whatever decrypts, that side's log decrypted it.
//! This file holds one test because the environment is the process's.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use futures_util::future::join_all;
use httplab_core::{Clock, Scenario};
use httplab_h2::{H2Options, Http2Client};
use httplab_harness::LabConnector;
use httplab_server::LabServer;
use httplab_testkit::{http2_paths, inline_scenario, temp_dir, Capture};
use httplab_tls::{CertStore, ALPN_H2};
use httplab_transport::{ClientOptions, ProtocolClient};
use std::path::Path;
use std::sync::Arc;

fn scenario() -> Arc<Scenario> {
    Arc::new(inline_scenario(
        "name = \"keylog\"\n[[resource]]\npath = \"/keylog/{i}\"\ncount = 3\nsize = \"2kb\"\n",
    ))
}

/// Builds a config with `SSLKEYLOGFILE` pointing at `keys`, or unset.
fn with_keylog<T>(keys: Option<&Path>, build: impl FnOnce() -> T) -> T {
    match keys {
        Some(keys) => std::env::set_var("SSLKEYLOGFILE", keys),
        None => std::env::remove_var("SSLKEYLOGFILE"),
    }
    let built = build();
    std::env::remove_var("SSLKEYLOGFILE");
    built
}

/// One h2 page load over TLS, captured; returns the paths tshark decodes with `keys`, with no
/// key log, and the paths the client fetched.
async fn captured_run(
    test: &str,
    client_keys: Option<&Path>,
    server_keys: Option<&Path>,
    read_with: &Path,
) -> Option<(Vec<String>, Vec<String>)> {
    let dir = temp_dir(test);
    let certs = CertStore::open_or_create(dir.join("certs")).unwrap();
    let server_tls = with_keylog(server_keys, || certs.server_config(&[ALPN_H2]).unwrap());
    let client_tls = with_keylog(client_keys, || {
        certs.client_config(&[ALPN_H2], false, None).unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clock = Clock::start();
    let scenario = scenario();
    let server = LabServer::start(listener, scenario.clone(), clock, Some(server_tls)).unwrap();

    let capture = Capture::start(test, addr.port(), &dir.join("h2.pcap"))?;
    let connector =
        Arc::new(LabConnector::new(addr, "localhost", Some(client_tls), clock).unwrap());
    let client = Http2Client::new(
        ClientOptions {
            connector,
            clock,
            max_connections_per_host: 6,
        },
        H2Options::default(),
    );
    let specs = scenario
        .requests()
        .into_iter()
        .map(|spec| client.fetch(spec));
    let records = join_all(specs).await;
    client.finish().await;
    server.shutdown().await;
    let pcap = capture.stop();
    for r in &records {
        assert_eq!((r.status, &r.error), (200, &None), "{r:?}");
    }
    let decrypted = http2_paths(&pcap, addr.port(), Some(read_with));
    let undecrypted = http2_paths(&pcap, addr.port(), None);
    assert!(
        undecrypted.is_empty(),
        "without the key log nothing decodes, got {undecrypted:?}"
    );
    Some((decrypted, records.iter().map(|r| r.path.clone()).collect()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_decrypt_with_the_client_s_or_the_server_s_key_log() {
    let dir = temp_dir("keylog");
    let client_keys = dir.join("client.keys");
    let Some((paths, fetched)) =
        captured_run("keylog-client", Some(&client_keys), None, &client_keys).await
    else {
        return;
    };
    let (mut paths, mut fetched) = (paths, fetched);
    paths.sort();
    fetched.sort();
    assert_eq!(fetched.len(), 3);
    assert_eq!(paths, fetched, "decrypted with the client's key log");
    let log = std::fs::read_to_string(&client_keys).unwrap();
    assert!(log.contains("CLIENT_TRAFFIC_SECRET_0"), "{log}");

    let server_keys = dir.join("server.keys");
    let (mut paths, mut fetched) =
        captured_run("keylog-server", None, Some(&server_keys), &server_keys)
            .await
            .expect("tshark was there a moment ago");
    paths.sort();
    fetched.sort();
    assert_eq!(paths, fetched, "decrypted with the server's key log");
}
