//! The lab server over TLS, with configs from httplab-tls: a raw-bytes client and curl.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::start;
use httplab_testkit::http1_raw::read_response;
use httplab_testkit::{expected_filler, TempDir};
use httplab_tls::{CertStore, ALPN_HTTP10, ALPN_HTTP11};
use rustls_pki_types::ServerName;
use std::process::Command;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn get_over_tls() {
    let certs = TempDir::new("tls");
    let store = CertStore::open_or_create(&certs.0).unwrap();
    let server = start(Some(
        store.server_config(&[ALPN_HTTP11, ALPN_HTTP10]).unwrap(),
    ))
    .await;

    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let client = store.client_config(&[ALPN_HTTP11], false, None).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ALPN_HTTP11));
    let mut buf = Vec::new();
    for id in [1, 2] {
        let request = format!(
            "GET /index.html HTTP/1.1\r\nHost: localhost\r\nx-httplab-request: {id}\r\n\r\n"
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut tls, &mut buf, false).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, expected_filler(20_000));
    }
    let log = server.log().take();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].connection, log[1].connection);
    server.shutdown().await;
}

/// `curl` downloads over TLS with HTTP/1.1 and HTTP/1.0, trusting only the lab CA.
#[tokio::test]
async fn curl_downloads_over_tls() {
    // Missing curl: a loud "SKIP: ... `curl` not found" line, or a failure under CI=true.
    let Some(curl) =
        httplab_testkit::require_tool("curl", "curl_downloads_over_tls", "apt-get install curl")
    else {
        return;
    };
    let certs = TempDir::new("curl");
    let store = CertStore::open_or_create(&certs.0).unwrap();
    let server = start(Some(
        store.server_config(&[ALPN_HTTP11, ALPN_HTTP10]).unwrap(),
    ))
    .await;
    let port = server.local_addr().port();

    for (flag, name) in [("--http1.1", "h11.png"), ("--http1.0", "h10.png")] {
        let out = certs.0.join(name);
        let args: Vec<String> = vec![
            flag.into(),
            "--silent".into(),
            "--show-error".into(),
            "--fail".into(),
            "--max-time".into(),
            "10".into(),
            "--noproxy".into(),
            "*".into(),
            "--cacert".into(),
            store.ca_cert_path().display().to_string(),
            "--resolve".into(),
            format!("localhost:{port}:127.0.0.1"),
            format!("https://localhost:{port}/big.png"),
            "-o".into(),
            out.display().to_string(),
            "--write-out".into(),
            "%{http_version} %{http_code}".into(),
        ];
        let curl = curl.clone();
        let output = tokio::task::spawn_blocking(move || Command::new(curl).args(&args).output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "curl {flag} failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        // curl before 8.x writes HTTP/1.0 as "1".
        let versions: &[&str] = if flag == "--http1.1" {
            &["1.1"]
        } else {
            &["1.0", "1"]
        };
        let (version, status) = stdout.split_once(' ').unwrap_or_default();
        assert!(versions.contains(&version), "curl {flag}: {stdout}");
        assert_eq!(status, "200", "curl {flag}");
        let body = std::fs::read(&out).unwrap();
        assert_eq!(body.len(), 1_000_000, "curl {flag}");
        assert_eq!(body[..64], expected_filler(64)[..]);
    }
    let log = server.log().take();
    assert_eq!(log.len(), 2);
    assert_ne!(log[0].connection, log[1].connection);
    server.shutdown().await;
}
