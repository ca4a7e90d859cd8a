//! HTTP/1.x spoken as raw bytes from the client side, for tests of a server: request heads
//! written by hand (`get`) and a minimal response reader (status line, header fields, a
//! `content-length`-framed body). It frames nothing else (no chunked bodies, no trailers) and
//! judges nothing; the tests assert on what it returns.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How long [`read_response`] waits for a whole response.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The head of an HTTP/1.1 GET of `path` carrying request id `id` (`x-httplab-request`).
pub fn get(path: &str, id: u32) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nx-httplab-request: {id}\r\n\r\n")
}

/// One response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The `dur` of each metric in `Server-Timing`, in milliseconds, e.g. `timing("hol")`.
    pub fn timing(&self, metric: &str) -> Option<f64> {
        self.header("server-timing")?.split(',').find_map(|entry| {
            let (name, dur) = entry.trim().split_once(";dur=")?;
            (name == metric).then(|| dur.parse().ok())?
        })
    }

    /// The first header field called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (content-length framed; `head_request` => no body) from `io`, keeping
/// any bytes past it in `buf` for the next call. Gives up after 5 s.
pub async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> Response {
    tokio::time::timeout(TIME_LIMIT, async {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            fill(io, buf).await;
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).expect("a UTF-8 response head");
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status code in {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("a header field without a colon: {l:?}"));
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("a numeric content-length"))
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
    let n = io.read(&mut chunk).await.expect("read from the server");
    assert!(n > 0, "connection closed mid-response");
    buf.extend_from_slice(&chunk[..n]);
}
