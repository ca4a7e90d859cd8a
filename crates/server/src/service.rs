//! One request: look the resource up, think, answer, and log the server's side of it.
//!
//! The decision (which resource, which status, which methods, how long to think) is shared by
//! every path: hyper's HTTP/1.x and HTTP/2 connections (both through `Connection::respond`,
//! here) and the server's own pipelining loop (`pipeline.rs`). This module does no socket I/O; it hands back an `Answer`
//! that each path puts on the wire its own way.

use crate::body::{LabBody, SentHook};
use crate::Shared;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use httplab_core::{Scenario, ServerRequestRecord};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The header carrying the client's request id.
pub const REQUEST_ID_HEADER: &str = "x-httplab-request";

/// One accepted connection, as its requests see it.
pub(crate) struct Connection {
    pub shared: Arc<Shared>,
    /// Server-side connection number, in acceptance order from 0.
    pub number: u64,
    pub peer: SocketAddr,
}

/// The parts of a request the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub method: Method,
    /// The path of the request target, without the query.
    pub path: String,
    pub request_id: Option<u32>,
    /// When the request head had been read.
    pub arrived_at: Duration,
    /// Request body bytes read.
    pub body_bytes: u64,
}

/// What to answer a request, decided from the scenario alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: StatusCode,
    /// Think time to spend before the response is ready.
    pub think: Duration,
    pub content_type: &'static str,
    /// The `allow` header of a 405.
    pub allow: Option<String>,
    pub body: AnswerBody,
    /// A HEAD request: the body's `content-length`, but no body bytes.
    pub head_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnswerBody {
    /// The resource: this many bytes of filler.
    Filler(u64),
    /// A short error page (no think time ran).
    Text(&'static str),
}

impl Answer {
    /// The `content-length` header's value.
    pub fn content_length(&self) -> u64 {
        match self.body {
            AnswerBody::Filler(size) => size,
            AnswerBody::Text(text) => text.len() as u64,
        }
    }

    /// Body bytes actually sent.
    pub fn body_bytes(&self) -> u64 {
        if self.head_only {
            0
        } else {
            self.content_length()
        }
    }

    /// Whether the scenario's resource answered (rather than an error page).
    pub fn is_resource(&self) -> bool {
        matches!(self.body, AnswerBody::Filler(_))
    }

    pub(crate) fn error(status: StatusCode, text: &'static str) -> Self {
        Answer {
            status,
            think: Duration::ZERO,
            content_type: "text/plain; charset=utf-8",
            allow: None,
            body: AnswerBody::Text(text),
            head_only: false,
        }
    }
}

/// The answer to `method path`: 404 for an unknown path, 405 (with `allow`) for a method the
/// resource does not take, otherwise the resource. A resource takes its scenario `method`; a GET
/// resource takes HEAD too.
pub(crate) fn decide(scenario: &Scenario, method: &Method, path: &str) -> Answer {
    let Some(resource) = scenario.resource(path) else {
        return Answer::error(StatusCode::NOT_FOUND, "not found\n");
    };
    let is_get = resource.method == "GET";
    let is_head = *method == Method::HEAD;
    if method.as_str() != resource.method && !(is_get && is_head) {
        let mut answer = Answer::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        answer.allow = Some(if is_get {
            "GET, HEAD".to_string()
        } else {
            resource.method.clone()
        });
        return answer;
    }
    Answer {
        status: StatusCode::from_u16(resource.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        think: resource.think,
        content_type: content_type(path),
        allow: None,
        body: AnswerBody::Filler(resource.size),
        head_only: is_head,
    }
}

/// A request after its handler ran: the answer, logged, with the handler's times.
pub(crate) struct Handled {
    pub answer: Answer,
    /// The log record's sequence number, for `ServerLog::mark_sent`.
    pub seq: u64,
    pub arrived_at: Duration,
    /// Handler started (think began).
    pub started_at: Duration,
    /// Handler done (think over): the response could be written from now on.
    pub ready_at: Duration,
}

impl Handled {
    /// Think time actually spent.
    pub fn app(&self) -> Duration {
        self.ready_at.saturating_sub(self.started_at)
    }
}

impl Connection {
    /// Runs the handler of one request: decide, think, and log the record (its response is
    /// ready). The caller writes the response and marks it sent.
    pub async fn handle(&self, request: RequestInfo) -> Handled {
        let clock = self.shared.clock;
        let started_at = clock.now();
        let answer = decide(&self.shared.scenario, &request.method, &request.path);
        if !answer.think.is_zero() {
            tokio::time::sleep(answer.think).await;
        }
        let ready_at = clock.now();
        let seq = self.shared.log.push(ServerRequestRecord {
            request_id: request.request_id,
            connection: self.number,
            peer_addr: self.peer.to_string(),
            method: request.method.to_string(),
            path: request.path,
            arrived_at: request.arrived_at,
            started_at,
            request_body_bytes: request.body_bytes,
            response_ready_at: ready_at,
            turn_at: None,
            response_sent_at: None,
            status: answer.status.as_u16(),
            response_body_bytes: answer.body_bytes(),
        });
        Handled {
            answer,
            seq,
            arrived_at: request.arrived_at,
            started_at,
            ready_at,
        }
    }

    /// hyper's service: one request in, one streamed response out.
    pub async fn respond<B>(&self, request: Request<B>) -> Response<LabBody>
    where
        B: http_body::Body + Unpin,
    {
        let arrived_at = self.shared.clock.now();
        let (head, mut body) = request.into_parts();
        // Read the request body (an upload, or one to discard), so the connection stays usable.
        let mut body_bytes = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    body_bytes += frame
                        .data_ref()
                        .map_or(0, |d| bytes::Buf::remaining(d) as u64)
                }
                Err(_) => break,
            }
        }
        let request_id = head
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| parse_request_id(v.as_bytes()));
        let handled = self
            .handle(RequestInfo {
                method: head.method,
                path: head.uri.path().to_string(),
                request_id,
                arrived_at,
                body_bytes,
            })
            .await;
        let hook = SentHook {
            log: self.shared.log.clone(),
            seq: handled.seq,
            clock: self.shared.clock,
        };
        let answer = &handled.answer;
        let body = match answer.body {
            _ if answer.head_only => LabBody::empty(hook),
            AnswerBody::Filler(size) => LabBody::filler(size, hook),
            AnswerBody::Text(text) => LabBody::text(text, hook),
        };
        let mut response = Response::new(body);
        *response.status_mut() = answer.status;
        let headers = response.headers_mut();
        if answer.is_resource() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(answer.content_length()));
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(allow) = answer
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(ALLOW, allow);
        }
        if answer.is_resource() {
            if let Ok(timing) = HeaderValue::try_from(server_timing(handled.app())) {
                headers.insert("server-timing", timing);
            }
        }
        response
    }
}

/// The request id in an `x-httplab-request` header value.
pub(crate) fn parse_request_id(value: &[u8]) -> Option<u32> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// `Server-Timing` for the think time actually spent; `dur` is in milliseconds.
pub(crate) fn server_timing(think: Duration) -> String {
    format!("app;dur={}", millis(think))
}

/// A duration as `Server-Timing` writes it: milliseconds, 3 decimals.
pub(crate) fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// The media type for a path's extension.
fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_timing() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/img/3.PNG"), "image/png");
        assert_eq!(content_type("/a.b/c"), "application/octet-stream");
        assert_eq!(content_type("/app.js"), "text/javascript");
        assert_eq!(content_type("/"), "application/octet-stream");
        assert_eq!(
            server_timing(Duration::from_micros(50_123)),
            "app;dur=50.123"
        );
    }

    #[test]
    fn methods_follow_the_resource() {
        let scenario = Scenario::parse(
            "name = \"m\"\n[[resource]]\npath = \"/page.html\"\nsize = \"10b\"\nthink = \"5ms\"\n\
             [[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"1kb\"\nsize = \"3b\"\n",
            "m.toml",
        )
        .unwrap();
        let get = decide(&scenario, &Method::GET, "/page.html");
        assert_eq!(
            (get.status, get.think),
            (StatusCode::OK, Duration::from_millis(5))
        );
        assert_eq!((get.content_length(), get.body_bytes()), (10, 10));
        let head = decide(&scenario, &Method::HEAD, "/page.html");
        assert_eq!(
            (head.status, head.content_length(), head.body_bytes()),
            (StatusCode::OK, 10, 0)
        );
        let post = decide(&scenario, &Method::POST, "/page.html");
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.allow.as_deref(), Some("GET, HEAD"));
        assert_eq!(post.think, Duration::ZERO);

        let upload = decide(&scenario, &Method::POST, "/up");
        assert_eq!((upload.status, upload.body_bytes()), (StatusCode::OK, 3));
        for method in [Method::GET, Method::HEAD, Method::PUT] {
            let refused = decide(&scenario, &method, "/up");
            assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(refused.allow.as_deref(), Some("POST"));
        }
        let missing = decide(&scenario, &Method::GET, "/nope");
        assert_eq!(
            (missing.status, missing.body),
            (StatusCode::NOT_FOUND, AnswerBody::Text("not found\n"))
        );
    }
}
