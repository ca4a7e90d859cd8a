//! Test helpers shared by the server's integration tests: a scenario, a server on 127.0.0.1:0,
//! a temp directory, and a minimal HTTP/1.x response reader over raw bytes.
#![allow(dead_code)]

use httplab_core::{Clock, Scenario};
use httplab_server::LabServer;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;

pub(crate) const SCENARIO: &str = r#"
name = "server-test"
[[resource]]
path = "/index.html"
size = "20kb"
[[resource]]
path = "/style.css"
size = "100b"
[[resource]]
path = "/slow.json"
size = "10b"
think = "50ms"
[[resource]]
path = "/big.png"
size = "1mb"
[[resource]]
path = "/empty"
size = "0b"
[[resource]]
path = "/gone.html"
size = "7b"
status = 410
"#;

pub(crate) fn scenario() -> Arc<Scenario> {
    Arc::new(httplab_testkit::inline_scenario(SCENARIO))
}

pub(crate) async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> LabServer {
    start_with(scenario(), tls).await
}

pub(crate) async fn start_with(
    scenario: Arc<Scenario>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> LabServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    LabServer::start(listener, scenario, Clock::start(), tls).unwrap()
}

/// A fresh directory under the system temp dir (from the testkit), removed on drop because
/// it holds private keys.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        Self(httplab_testkit::temp_dir(&format!("server-{name}")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The `dur` of each metric in `Server-Timing`, in milliseconds, e.g. `timing("hol")`.
    pub(crate) fn timing(&self, metric: &str) -> Option<f64> {
        self.header("server-timing")?.split(',').find_map(|entry| {
            let (name, dur) = entry.trim().split_once(";dur=")?;
            (name == metric).then(|| dur.parse().ok())?
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (content-length framed; `head_request` => no body) from `io`, keeping
/// any bytes past it in `buf` for the next call. Gives up after 5 s.
pub(crate) async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> Response {
    tokio::time::timeout(Duration::from_secs(5), async {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            fill(io, buf).await;
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_string();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("content-length");
        let length = if head_request { 0 } else { length };
        while buf.len() < length {
            fill(io, buf).await;
        }
        let body = buf.drain(..length).collect();
        Response {
            status_line,
            status,
            headers,
            body,
        }
    })
    .await
    .expect("response within 5 s")
}

async fn fill<R: AsyncRead + Unpin>(io: &mut R, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    let n = io.read(&mut chunk).await.unwrap();
    assert!(n > 0, "connection closed mid-response");
    buf.extend_from_slice(&chunk[..n]);
}

/// The filler the server sends: byte i of every body.
pub(crate) fn expected_filler(len: usize) -> Vec<u8> {
    let line = b"httplab-filler-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ\n";
    (0..len).map(|i| line[i % line.len()]).collect()
}
