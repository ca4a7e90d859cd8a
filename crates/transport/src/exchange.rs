//! One HTTP/1.x request and response over a hyper connection, as both hyper-based clients use
//! it: build the request head, send it with its upload (`Upload`: the scenario's `body` bytes
//! of filler), read the response body to its end counting bytes, and return what the record
//! needs. Timing comes from the connection's meter, not from here.

use bytes::Bytes;
use http_body_util::BodyExt;
use httplab_core::wire::{head_size, pad_field, PAD_HEADER, REQUEST_ID_HEADER};
use httplab_core::RequestSpec;
use hyper::body::{Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri, Version};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
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
    pub http_version: Cow<'static, str>,
    pub headers: Vec<(String, String)>,
    pub body_bytes: u64,
    /// Whether the response asked for the connection to close (or HTTP/1.0 without keep-alive).
    pub connection_close: bool,
    pub error: Option<String>,
}

/// Whether header fields go into the records (`RequestRecord::request_headers` and
/// `response_headers`, for the HAR and the reports). `httplab load`, which shows none of them,
/// turns it off: copying every field into owned strings was a tenth of its client's time per
/// request.
static KEEP_HEADER_FIELDS: AtomicBool = AtomicBool::new(true);

/// Sets, for the whole process, whether header fields are kept in the records.
pub fn keep_header_fields(keep: bool) {
    KEEP_HEADER_FIELDS.store(keep, Ordering::Relaxed);
}

/// Whether records keep header fields (see [`keep_header_fields`]).
pub fn header_fields_kept() -> bool {
    KEEP_HEADER_FIELDS.load(Ordering::Relaxed)
}

/// A head's header fields as a record keeps them, request or response, in the order they go
/// out (none when they are not kept).
pub fn record_fields(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    if !header_fields_kept() {
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
const LAB_USER_AGENT: &str = concat!("httplab/", env!("CARGO_PKG_VERSION"));

/// The request head every client sends, in order: the common headers, the protocol's own
/// `extra` ones, then the workload's (`spec.headers`, e.g. the scenario's cookie), as text
/// (the pipelining client writes it as it is).
pub fn request_headers(
    authority: &str,
    spec: &RequestSpec,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut headers = Vec::with_capacity(4 + extra.len() + spec.headers.len());
    each_request_field(authority, spec, extra, |name, value| {
        headers.push((name.to_string(), value.to_string()));
    });
    headers
}

/// The same head as [`request_headers`], as hyper and h2 take it: built without a copy of the
/// fields the lab always sends, since a load sends one per request.
pub fn request_head(
    authority: &str,
    spec: &RequestSpec,
    extra: &[(&str, &str)],
) -> Result<HeaderMap, String> {
    request_head_without(authority, spec, extra, &[])
}

/// The request heads a client has built, by request: a load sends the same page's requests
/// again and again, and building a head anew (its map, the id's digits, the host's copy) was a
/// twelfth of the load client's instructions per request. A head is reused only for a request
/// equal in every field to the one it was built for; the client's own part of the head (its
/// authority, its extra and omitted fields) is the same for every request it sends. Holds at
/// most one head per request of the workload. `T` is what a client builds its request from
/// (h2's adds the method and the URI to the fields).
#[derive(Debug)]
pub struct HeadCache<T = HeaderMap>(Mutex<FxHashMap<u32, (RequestSpec, T)>>);

impl<T> Default for HeadCache<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T: Clone> HeadCache<T> {
    /// The head of `spec`: a copy of the one built before for it, or `build`'s, kept.
    pub fn head(
        &self,
        spec: &RequestSpec,
        build: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        let heads = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((built_for, head)) = heads().get(&spec.id) {
            if built_for == spec {
                return Ok(head.clone());
            }
        }
        let head = build()?;
        heads().insert(spec.id, (spec.clone(), head.clone()));
        Ok(head)
    }
}

/// Fields HTTP/2 and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2) or replace with
/// pseudo-headers (`host`, by `:authority`).
pub const NOT_IN_MULTIPLEXED: [&str; 6] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A multiplexed protocol's request (HTTP/2, HTTP/3): its method, its URI (`scheme`,
/// `authority` and the path: `own`, the client's origin parsed once, when it is that one) and
/// its fields, those HTTP/1.x would send less [`NOT_IN_MULTIPLEXED`], with the upload's
/// length.
pub fn multiplexed_head(
    spec: &RequestSpec,
    scheme: &hyper::http::uri::Scheme,
    own: Option<&hyper::http::uri::Authority>,
    authority: &str,
) -> Result<(Method, Uri, HeaderMap), String> {
    use hyper::http::uri::{Authority, Parts, PathAndQuery};
    let bad = |e: &dyn std::fmt::Display| format!("could not build the request: {e}");
    let method = Method::from_bytes(spec.method.as_bytes()).map_err(|e| bad(&e))?;
    let parsed = match own {
        Some(own) if own.as_str() == authority => own.clone(),
        _ => Authority::try_from(authority).map_err(|e| bad(&e))?,
    };
    let mut parts = Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(parsed);
    parts.path_and_query = Some(PathAndQuery::try_from(spec.path.as_str()).map_err(|e| bad(&e))?);
    let uri = Uri::from_parts(parts).map_err(|e| bad(&e))?;
    let mut head = request_head_without(authority, spec, &[], &NOT_IN_MULTIPLEXED)?;
    if spec.body_bytes > 0 {
        head.insert(hyper::header::CONTENT_LENGTH, spec.body_bytes.into());
    }
    Ok((method, uri, head))
}

/// [`request_head`] less the fields named in `omit` (h2's, e.g. `host`), with the padding still
/// sized as the HTTP/1.1 head's.
pub fn request_head_without(
    authority: &str,
    spec: &RequestSpec,
    extra: &[(&str, &str)],
    omit: &[&str],
) -> Result<HeaderMap, String> {
    let mut head = HeaderMap::with_capacity(4 + extra.len() + spec.headers.len());
    let mut bad = None;
    each_request_field(authority, spec, extra, |name, value| {
        if omit.contains(&name) {
            return;
        }
        match (header_name(name), header_value(value)) {
            (Ok(name), Ok(mut value)) => {
                // The request id is new in every request, so HPACK is told not to index it:
                // an indexed copy would only push the fields that do repeat out of the table.
                if name == REQUEST_ID_HEADER {
                    value.set_sensitive(true);
                }
                head.append(name, value);
            }
            _ => {
                bad.get_or_insert_with(|| format!("invalid request header field {name:?}"));
            }
        }
    });
    bad.map_or(Ok(head), Err)
}

/// Calls `emit` with each field of the request head, in order; with `spec.head_bytes`, the
/// head is padded to that size (as HTTP/1.1 text).
fn each_request_field(
    authority: &str,
    spec: &RequestSpec,
    extra: &[(&str, &str)],
    mut emit: impl FnMut(&str, &str),
) {
    let id = spec.id.to_string();
    let named = [
        ("host", authority),
        ("user-agent", LAB_USER_AGENT),
        ("accept", "*/*"),
        (REQUEST_ID_HEADER, id.as_str()),
    ];
    // An anonymous request leaves out the request id, the last of these.
    let common = &named[..named.len() - usize::from(spec.anonymous)];
    let fields = || {
        common
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .chain(spec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    };
    for (name, value) in fields() {
        emit(name, value);
    }
    let Some(target) = spec.head_bytes else {
        return;
    };
    // The head as it goes out, padded to the scenario's size: an upload's length is named here
    // (hyper keeps a length it is given, and adds the same one otherwise).
    let named = fields().any(|(n, _)| n == "content-length");
    let length = (spec.body_bytes > 0 && !named).then(|| spec.body_bytes.to_string());
    if let Some(length) = &length {
        emit("content-length", length);
    }
    let start_line = spec.method.len() + 1 + spec.path.len() + " HTTP/1.1".len();
    let size = head_size(
        start_line,
        fields()
            .chain(length.as_deref().map(|l| ("content-length", l)))
            .map(|(n, v)| (n, v.as_bytes())),
    );
    if let Some((name, value)) = pad_field(size, target) {
        emit(name, &value);
    }
}

/// The names every request sends, as http's constants (no parse, and for the lab's own names no
/// copy, per request).
fn header_name(name: &str) -> Result<HeaderName, hyper::header::InvalidHeaderName> {
    use hyper::header::{ACCEPT, CONNECTION, CONTENT_LENGTH, HOST, USER_AGENT};
    const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
    const PAD: HeaderName = HeaderName::from_static(PAD_HEADER);
    match name {
        "host" => Ok(HOST),
        "user-agent" => Ok(USER_AGENT),
        "accept" => Ok(ACCEPT),
        "connection" => Ok(CONNECTION),
        "content-length" => Ok(CONTENT_LENGTH),
        REQUEST_ID_HEADER => Ok(REQUEST_ID),
        PAD_HEADER => Ok(PAD),
        _ => HeaderName::from_bytes(name.as_bytes()),
    }
}

/// The values every request sends as static values (no copy per request).
fn header_value(value: &str) -> Result<HeaderValue, hyper::header::InvalidHeaderValue> {
    match value {
        LAB_USER_AGENT => Ok(HeaderValue::from_static(LAB_USER_AGENT)),
        "*/*" => Ok(HeaderValue::from_static("*/*")),
        _ => HeaderValue::from_str(value),
    }
}

/// The name hyper gives a response's version, e.g. "HTTP/1.1".
fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// Sends one request (`head` from [`request_head`]) with `body_bytes` of upload and reads the
/// whole response.
pub async fn exchange_http1(
    sender: &mut SendRequest<Upload>,
    method: &str,
    path: &str,
    version: Version,
    head: HeaderMap,
    body_bytes: u64,
) -> Result<ResponseSummary, hyper::Error> {
    let (method, uri) = match (Method::from_bytes(method.as_bytes()), Uri::try_from(path)) {
        (Ok(method), Ok(uri)) => (method, uri),
        (Err(e), _) => return Ok(unbuilt(e)),
        (_, Err(e)) => return Ok(unbuilt(e)),
    };
    let mut request = Request::new(Upload::new(body_bytes));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = head;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let http_version = version_name(response.version()).into();
    let connection_close = response
        .headers()
        .get(hyper::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || response.version() == Version::HTTP_10;
    let headers = record_fields(response.headers());
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

/// The summary of a request that could not be built.
fn unbuilt(e: impl std::fmt::Display) -> ResponseSummary {
    ResponseSummary {
        error: Some(format!("could not build the request: {e}")),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn spec(id: u32, path: &str) -> RequestSpec {
        RequestSpec {
            id,
            method: "GET".into(),
            path: path.into(),
            body_bytes: 0,
            headers: Vec::new(),
            origin: 0,
            authority: None,
            head_bytes: None,
            anonymous: false,
        }
    }

    #[test]
    fn a_head_is_built_once_per_request_and_again_for_a_request_that_differs() {
        let cache = HeadCache::default();
        let builds = Cell::new(0);
        let head = |s: &RequestSpec| {
            cache
                .head(s, || {
                    builds.set(builds.get() + 1);
                    request_head("example.test:443", s, &[])
                })
                .expect("a head")
        };
        let first = head(&spec(3, "/a"));
        let again = head(&spec(3, "/a"));
        assert_eq!(builds.get(), 1, "the second request reuses the head");
        assert_eq!(first, again);
        let id = again.get(REQUEST_ID_HEADER).expect("the request id");
        assert!(
            id.is_sensitive(),
            "the copy keeps the id out of HPACK's table"
        );

        // The same id with another field (a variant's path, a cookie): built anew.
        let mut cookie = spec(3, "/a");
        cookie.headers.push(("cookie".into(), "c=1".into()));
        let with_cookie = head(&cookie);
        assert_eq!(builds.get(), 2);
        assert_eq!(
            with_cookie.get("cookie").map(|v| v.as_bytes()),
            Some(&b"c=1"[..])
        );
        head(&spec(4, "/b"));
        assert_eq!(builds.get(), 3, "another request has its own head");

        // A head that cannot be built is not kept, and fails each time.
        let bad = RequestSpec {
            headers: vec![("bad name".into(), "v".into())],
            ..spec(5, "/c")
        };
        for _ in 0..2 {
            assert!(cache.head(&bad, || request_head("h", &bad, &[])).is_err());
        }
    }
}
