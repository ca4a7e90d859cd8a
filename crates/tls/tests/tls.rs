//! The certificate store on a real filesystem and handshakes over real 127.0.0.1 sockets.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{HandshakeKind, TlsVersion};
use httplab_tls::{describe, CertStore, TlsError, ALPN_H2, ALPN_HTTP10, ALPN_HTTP11};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// Certificate folders are TempDirs, removed on drop: they hold private keys.
use httplab_testkit::TempDir;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn generated_keys_are_private_and_the_ca_is_reused() {
    let tmp = TempDir::new("reuse");
    let store = CertStore::open_or_create(&tmp.0).unwrap();
    assert_eq!(store.dir(), tmp.0.as_path());
    assert_eq!(store.ca_cert_path(), tmp.0.join("ca.pem"));
    for key in ["ca.key", "localhost.key"] {
        assert_eq!(mode(&tmp.0.join(key)), 0o600, "{key}");
    }
    for name in ["ca.pem", "localhost.pem"] {
        assert!(
            std::fs::metadata(tmp.0.join(name)).unwrap().len() > 100,
            "{name}"
        );
    }
    let ca = std::fs::read(tmp.0.join("ca.pem")).unwrap();
    let ca_key = std::fs::read(tmp.0.join("ca.key")).unwrap();
    let leaf = std::fs::read(tmp.0.join("localhost.pem")).unwrap();

    // Reopening reuses everything.
    CertStore::open_or_create(&tmp.0).unwrap();
    assert_eq!(std::fs::read(tmp.0.join("ca.pem")).unwrap(), ca);
    assert_eq!(std::fs::read(tmp.0.join("ca.key")).unwrap(), ca_key);
    assert_eq!(std::fs::read(tmp.0.join("localhost.pem")).unwrap(), leaf);

    // A broken leaf is re-issued from the same CA.
    std::fs::write(tmp.0.join("localhost.pem"), b"garbage").unwrap();
    CertStore::open_or_create(&tmp.0).unwrap();
    let reissued = std::fs::read(tmp.0.join("localhost.pem")).unwrap();
    assert_ne!(reissued, leaf);
    assert_eq!(std::fs::read(tmp.0.join("ca.pem")).unwrap(), ca);
    assert_eq!(mode(&tmp.0.join("localhost.key")), 0o600);
}

#[test]
fn an_unusable_ca_names_the_file_and_the_fix() {
    let tmp = TempDir::new("badca");
    CertStore::open_or_create(&tmp.0).unwrap();
    std::fs::write(tmp.0.join("ca.key"), b"not a key").unwrap();
    let err = CertStore::open_or_create(&tmp.0).unwrap_err();
    assert!(matches!(err, TlsError::UnusableCa { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("ca.key") && msg.contains("Delete the directory"),
        "{msg}"
    );

    // A CA certificate that does not belong to the key is caught too.
    let other = TempDir::new("otherca");
    CertStore::open_or_create(&other.0).unwrap();
    std::fs::copy(other.0.join("ca.key"), tmp.0.join("ca.key")).unwrap();
    let msg = CertStore::open_or_create(&tmp.0).unwrap_err().to_string();
    assert!(
        msg.contains("ca.pem") && msg.contains("does not match"),
        "{msg}"
    );
}

/// Serves one TLS connection: handshake, write one byte, read until the client closes.
async fn serve_one(listener: &TcpListener, config: Arc<rustls::ServerConfig>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut tls = tokio_rustls::TlsAcceptor::from(config)
        .accept(tcp)
        .await
        .unwrap();
    tls.write_all(b"!").await.unwrap();
    tls.flush().await.unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
}

/// Connects, handshakes, reads the server's byte (which also takes in TLS 1.3 tickets), closes.
async fn connect_one(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> httplab_core::TlsRecord {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let record = describe(tls.get_ref().1, started.elapsed());
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"!");
    tls.shutdown().await.unwrap();
    record
}

#[tokio::test]
async fn tls13_handshake_then_resumption() {
    let tmp = TempDir::new("handshake");
    let store = CertStore::open_or_create(&tmp.0).unwrap();
    let server = store.server_config(&[ALPN_HTTP11, ALPN_HTTP10]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        for _ in 0..4 {
            serve_one(&listener, server.clone()).await;
        }
    });

    // Without resumption: two full handshakes.
    let fresh = store
        .client_config(&[ALPN_H2, ALPN_HTTP11], false, None)
        .unwrap();
    for _ in 0..2 {
        let record = connect_one(addr, fresh.clone()).await;
        assert_eq!(record.version, "TLSv1.3");
        assert_eq!(record.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(record.handshake_kind, HandshakeKind::Full);
        assert!(record.cipher.starts_with("TLS13_"), "{}", record.cipher);
        assert!(record.key_exchange_group.is_some());
        assert!(record.handshake > Duration::ZERO);
    }

    // With resumption: the second connection resumes.
    let resuming = store.client_config(&[ALPN_HTTP11], true, None).unwrap();
    let first = connect_one(addr, resuming.clone()).await;
    assert_eq!(first.handshake_kind, HandshakeKind::Full);
    let second = connect_one(addr, resuming).await;
    assert_eq!(second.handshake_kind, HandshakeKind::Resumed);
    assert_eq!(second.alpn.as_deref(), Some("http/1.1"));
    server_task.await.unwrap();
}

/// `version` pins the client to one TLS version; each resumes against the one server config
/// (TLS 1.2 with a session ticket from the ring `Ticketer`, TLS 1.3 with a TLS 1.3 ticket).
#[tokio::test]
async fn pinned_versions_handshake_then_resume() {
    let tmp = TempDir::new("versions");
    let store = CertStore::open_or_create(&tmp.0).unwrap();
    let server = store
        .server_config(&[ALPN_H2, ALPN_HTTP11, ALPN_HTTP10])
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        for _ in 0..5 {
            serve_one(&listener, server.clone()).await;
        }
    });

    // TLS 1.2: an ECDHE suite (the leaf is ECDSA P-256) and a named group, then resumed.
    let tls12 = store
        .client_config(&[ALPN_H2, ALPN_HTTP11], true, Some(TlsVersion::Tls12))
        .unwrap();
    let full = connect_one(addr, tls12.clone()).await;
    assert_eq!(full.version, "TLSv1.2");
    assert_eq!(full.handshake_kind, HandshakeKind::Full);
    assert!(
        full.cipher.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{}",
        full.cipher
    );
    assert_eq!(full.key_exchange_group.as_deref(), Some("X25519"));
    assert_eq!(full.alpn.as_deref(), Some("h2"));
    let resumed = connect_one(addr, tls12).await;
    assert_eq!(resumed.version, "TLSv1.2");
    assert_eq!(resumed.handshake_kind, HandshakeKind::Resumed);
    assert_eq!(resumed.cipher, full.cipher);
    assert_eq!(resumed.alpn.as_deref(), Some("h2"));

    // TLS 1.3 pinned: full, then resumed (PSK with a fresh (EC)DHE share).
    let tls13 = store
        .client_config(&[ALPN_HTTP11], true, Some(TlsVersion::Tls13))
        .unwrap();
    let full = connect_one(addr, tls13.clone()).await;
    assert_eq!(
        (full.version.as_str(), full.handshake_kind),
        ("TLSv1.3", HandshakeKind::Full)
    );
    assert!(full.cipher.starts_with("TLS13_"), "{}", full.cipher);
    let resumed = connect_one(addr, tls13).await;
    assert_eq!(
        (resumed.version.as_str(), resumed.handshake_kind),
        ("TLSv1.3", HandshakeKind::Resumed)
    );
    assert_eq!(resumed.alpn.as_deref(), Some("http/1.1"));

    // TLS 1.2 without resumption: always full.
    let fresh12 = store
        .client_config(&[ALPN_HTTP11], false, Some(TlsVersion::Tls12))
        .unwrap();
    let again = connect_one(addr, fresh12).await;
    assert_eq!(
        (again.version.as_str(), again.handshake_kind),
        ("TLSv1.2", HandshakeKind::Full)
    );
    server_task.await.unwrap();
}
