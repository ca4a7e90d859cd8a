//! One HTTP/1.x request and response over a hyper connection, as both hyper-based clients use
//! it: build the request head, send it with its upload (`Upload`: the scenario's `body` bytes
//! of filler), read the response body to its end counting bytes, and return what the record
//! needs. Timing comes from the connection's meter, not from here.

use bytes::Bytes;
use http_body_util::BodyExt;
use httplab_core::wire::{head_size, pad_field, REQUEST_ID_HEADER};
use httplab_core::RequestSpec;
use hyper::body::{Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Version};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Bytes per upload chunk.
const UPLOAD_CHUNK: usize = 16 * 1024;
/// What an upload is made of (the h2 client uploads the same byte).
static UPLOAD_FILLER: [u8; UPLOAD_CHUNK] = [b'x'; UPLOAD_CHUNK];

/// A request body of a given length, streamed in chunks from one static block (so a large
/// upload costs no memory); its exact length goes out as `content-length`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upload {
    left: u64,
}

impl Upload {
    pub fn new(len: u64) -> Self {
        Self { left: len }
    }
}

impl hyper::body::Body for Upload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = usize::try_from(self.left).map_or(UPLOAD_CHUNK, |left| left.min(UPLOAD_CHUNK));
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &UPLOAD_FILLER[..n],
        )))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// What came back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    /// e.g. "HTTP/1.1".
    pub http_version: String,
    pub headers: Vec<(String, String)>,
    pub body_bytes: u64,
    /// Whether the response asked for the connection to close (or HTTP/1.0 without keep-alive).
    pub connection_close: bool,
    pub error: Option<String>,
}

/// Whether responses' header fields go into their records (`RequestRecord::response_headers`,
/// for the HAR and the reports). `httplab load`, which shows none of them, turns it off: copying
/// every field into owned strings was a tenth of its client's time per request.
static KEEP_RESPONSE_HEADERS: AtomicBool = AtomicBool::new(true);

/// Sets, for the whole process, whether response header fields are kept in the records.
pub fn keep_response_headers(keep: bool) {
    KEEP_RESPONSE_HEADERS.store(keep, Ordering::Relaxed);
}

/// A response's header fields as a record keeps them (none when they are not kept).
pub fn response_fields(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    if !KEEP_RESPONSE_HEADERS.load(Ordering::Relaxed) {
        return Vec::new();
    }
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The `user-agent` every client sends.
const USER_AGENT: &str = concat!("httplab/", env!("CARGO_PKG_VERSION"));

/// The request head every client sends, in order: the common headers, the protocol's own
/// `extra` ones, then the workload's (`spec.headers`, e.g. the scenario's cookie).
pub fn request_headers(
    authority: &str,
    spec: &RequestSpec,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("host".to_string(), authority.to_string()),
        ("user-agent".to_string(), USER_AGENT.to_string()),
        ("accept".to_string(), "*/*".to_string()),
        (REQUEST_ID_HEADER.to_string(), spec.id.to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    headers.extend(spec.headers.iter().cloned());
    if let Some(target) = spec.head_bytes {
        // The head as it goes out, padded to the scenario's size: an upload's length is named
        // here (hyper keeps a length it is given, and adds the same one otherwise).
        if spec.body_bytes > 0 && !headers.iter().any(|(n, _)| n == "content-length") {
            headers.push(("content-length".into(), spec.body_bytes.to_string()));
        }
        let start_line = spec.method.len() + 1 + spec.path.len() + " HTTP/1.1".len();
        let size = head_size(
            start_line,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        );
        if let Some((name, value)) = pad_field(size, target) {
            headers.push((name.to_string(), value));
        }
    }
    headers
}

/// Sends one request with `body_bytes` of upload and reads the whole response.
pub async fn exchange_http1(
    sender: &mut SendRequest<Upload>,
    method: &str,
    path: &str,
    version: Version,
    headers: &[(String, String)],
    body_bytes: u64,
) -> Result<ResponseSummary, hyper::Error> {
    let mut builder = Request::builder().method(method).uri(path).version(version);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = match builder.body(Upload::new(body_bytes)) {
        Ok(r) => r,
        Err(e) => {
            return Ok(ResponseSummary {
                error: Some(format!("could not build the request: {e}")),
                ..Default::default()
            })
        }
    };
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let http_version = format!("{:?}", response.version());
    let connection_close = response
        .headers()
        .get(hyper::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || response.version() == Version::HTTP_10;
    let headers = response_fields(response.headers());
    let mut body = response.into_body();
    let mut body_bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    Ok(ResponseSummary {
        status,
        http_version,
        headers,
        body_bytes,
        connection_close,
        error: None,
    })
}
