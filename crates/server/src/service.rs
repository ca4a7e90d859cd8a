//! One request: look the resource up, think, answer, and log the server's side of it.
//!
//! The decision (which resource, which status, which methods, how long to think, whether to
//! answer at all and how long the request may stay unanswered) is shared by every path: hyper's
//! HTTP/1.x and HTTP/2 connections (both through `Connection::respond`, here) and the server's
//! own pipelining loop (`pipeline.rs`). This module does no socket I/O; it hands back an
//! `Answer` that each path puts on the wire its own way, or `TimedOut`, on which each path
//! ends the request without a response: hyper's HTTP/1.x closes the connection, hyper's HTTP/2
//! resets the stream (RST_STREAM with INTERNAL_ERROR, hyper's code for a failed service; the
//! connection and its other streams live on), the pipelining loop closes the connection.
//!
//! Every path reads request bodies under the same rules: at most `MAX_REQUEST_BODY` bytes (a
//! larger `Content-Length` is answered 413 without reading the body, and the connection
//! closes), at the pace of `[server] min_body_rate` judged every `body_timeout` (`pace.rs`; a
//! slower body is abandoned like a timed-out request). Each request counts as in progress in
//! its connection's `Activity` from its arrival until its response's last byte is handed over.
//!
//! Think times are drawn per request from the resource's distribution with the scenario's
//! `seed`, keyed by path and the client's request id (`x-httplab-request`), so every run meets
//! the same server. Every request that arrived is logged: answered ones when their response is
//! ready, the others (timed out, or their connection gone) with status 0 when abandoned.

use crate::activity::Activity;
use crate::body::{LabBody, Progress, SentHook};
use crate::pace::BodyPace;
use crate::Shared;
use http::header::{
    HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use httplab_core::think::draw_key;
use httplab_core::wire::{head_size, pad_field, parse_request_id, ServerTiming, REQUEST_ID_HEADER};
use httplab_core::{Resource, Respond, Scenario, ServerRequestRecord};
use httplab_socket::TcpProbe;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The response field that carries the handler's think and head-of-line times, named once
/// (parsing a name from a string per response cost a few hundred instructions).
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The largest request body the server reads: the largest `body` a scenario may upload (1 GB).
/// A request that announces more is answered 413 (Content Too Large, RFC 9110 §15.5.14).
pub const MAX_REQUEST_BODY: u64 = 1_000_000_000;

/// One accepted connection, as its requests see it.
pub(crate) struct Connection {
    pub shared: Arc<Shared>,
    /// Server-side connection number, in acceptance order from 0.
    pub number: u64,
    pub peer: SocketAddr,
    /// `peer` as every log record of the connection names it, formatted once: formatting an
    /// address per request was a tenth of the server's time per keep-alive request. Empty (and
    /// its clones free) for a counting log, which keeps no records: formatting it there was a
    /// tenth of the server's instructions per `Connection: close` request.
    peer_text: String,
    /// Requests that arrived on it so far.
    requests: AtomicU32,
    /// Its socket, whose probe tells when a read last returned bytes.
    probe: Option<TcpProbe>,
    /// Whether a request's arrival is that read (HTTP/2) rather than the service call.
    pub arrival_at_read: bool,
    /// What the connection is doing, for its limits and for admission.
    pub activity: Arc<Activity>,
    /// Whether a response has put `server-timing` into the peer's HPACK table (see `respond`).
    timing_name_sent: AtomicBool,
}

/// A request that reached its `request_timeout` unanswered: the path ends it without a
/// response.
#[derive(Debug, thiserror::Error)]
#[error("request unanswered when its request_timeout ran out")]
pub(crate) struct TimedOut;

/// The parts of a request the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub method: Method,
    /// The path of the request target, without the query.
    pub path: String,
    pub request_id: Option<u32>,
    /// The request's authority (`Host`, or HTTP/2's `:authority`), which names the origin on
    /// a lab serving several.
    pub host: Option<String>,
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
    /// Whether the handler answers at all (`never`: it holds until `timeout`).
    pub respond: Respond,
    /// Longest the request may stay unanswered, from its arrival.
    pub timeout: Option<Duration>,
    /// The response head's size as HTTP/1.1 text, padded to (`response_headers`).
    pub head_bytes: Option<u64>,
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
    pub(crate) fn content_length(&self) -> u64 {
        match self.body {
            AnswerBody::Filler(size) => size,
            AnswerBody::Text(text) => text.len() as u64,
        }
    }

    /// Body bytes actually sent.
    pub(crate) fn body_bytes(&self) -> u64 {
        if self.head_only {
            0
        } else {
            self.content_length()
        }
    }

    /// Whether the scenario's resource answered (rather than an error page).
    pub(crate) fn is_resource(&self) -> bool {
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
            respond: Respond::Always,
            timeout: None,
            head_bytes: None,
        }
    }
}

/// The answer to `method path`: 404 for an unknown path, 405 (with `allow`) for a method the
/// resource does not take, otherwise the resource, with its think time drawn for `draw`
/// (`think::draw_key`). A resource takes its scenario `method`; a GET resource takes HEAD too.
pub(crate) fn decide(
    scenario: &Scenario,
    resource: Option<&Resource>,
    method: &Method,
    path: &str,
    draw: u64,
) -> Answer {
    let Some(resource) = resource else {
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
        think: resource.think_distribution.draw(scenario.seed, draw),
        content_type: content_type(path),
        allow: None,
        body: AnswerBody::Filler(resource.size),
        head_only: is_head,
        respond: resource.respond,
        timeout: resource.request_timeout,
        head_bytes: resource.response_headers,
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
    pub(crate) fn app(&self) -> Duration {
        self.ready_at.saturating_sub(self.started_at)
    }
}

/// A request that arrived and is not answered yet: if it is dropped before `answered`, the
/// request is logged as abandoned (status 0, `response_ready_at` = when it was given up).
struct Unanswered<'a> {
    conn: &'a Connection,
    request: Option<RequestInfo>,
    started_at: Duration,
}

impl Unanswered<'_> {
    fn answered(mut self) -> Option<RequestInfo> {
        self.request.take()
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(request) = self.request.take() {
            self.conn.log_abandoned(request, self.started_at);
        }
    }
}

impl Connection {
    pub(crate) fn new(
        shared: Arc<Shared>,
        number: u64,
        peer: SocketAddr,
        probe: Option<TcpProbe>,
        activity: Arc<Activity>,
    ) -> Self {
        let peer_text = match shared.log.is_counting() {
            true => String::new(),
            false => peer.to_string(),
        };
        Connection {
            shared,
            number,
            peer,
            peer_text,
            requests: AtomicU32::new(0),
            probe,
            arrival_at_read: false,
            activity,
            timing_name_sent: AtomicBool::new(false),
        }
    }

    /// A pace for a request body whose reading starts now (`[server] body_timeout`,
    /// `min_body_rate`).
    pub(crate) fn body_pace(&self) -> BodyPace {
        let server = &self.shared.scenario.server;
        BodyPace::new(Instant::now(), server.body_timeout, server.min_body_rate)
    }

    /// Notes a request that arrived at `at`; true when it is the last one this connection may
    /// serve (`max_requests_per_connection`), so its response closes the connection.
    pub(crate) fn arrived(&self, at: Duration) -> bool {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.log.request_arrived(self.number, at);
        self.shared
            .scenario
            .server
            .max_requests_per_connection
            .is_some_and(|max| n >= max)
    }

    /// The answer to `request`, its think time drawn.
    pub(crate) fn decide(&self, request: &RequestInfo) -> Answer {
        let draw = match request.request_id {
            Some(id) => u64::from(id),
            None => self.shared.next_anonymous(),
        };
        let scenario = &self.shared.scenario;
        // The lab's own clients name the request; anyone else's is found by host and path.
        let resource = request
            .request_id
            .and_then(|id| scenario.resources.get(id as usize))
            .filter(|r| r.path == request.path)
            .or_else(|| scenario.resource(request.host.as_deref(), &request.path));
        decide(
            scenario,
            resource,
            &request.method,
            &request.path,
            draw_key(&request.path, draw),
        )
    }

    /// When `answer`'s timeout runs out for a request that arrived at `arrived_at`.
    pub(crate) fn deadline(&self, arrived_at: Duration, answer: &Answer) -> Option<Instant> {
        let timeout = answer.timeout?;
        let left = (arrived_at + timeout).saturating_sub(self.shared.clock.now());
        Some(Instant::now() + left)
    }

    /// Runs the handler of one request whose body has been read: decide, then `run` (its
    /// think time from `started_at`, else from now).
    pub(crate) async fn handle(
        &self,
        request: RequestInfo,
        started_at: Option<Duration>,
    ) -> Result<Handled, TimedOut> {
        let answer = self.decide(&request);
        let deadline = self.deadline(request.arrived_at, &answer);
        self.run(request, answer, deadline, started_at).await
    }

    /// Thinks (or, for `respond = "never"`, holds) until the answer is ready or `deadline`
    /// passes, and logs the record: ready, or abandoned. The caller writes the response and
    /// marks it sent. The think time runs from `started_at` when given (an HTTP/2 request
    /// without a body: from the read that brought it), else from now.
    pub(crate) async fn run(
        &self,
        request: RequestInfo,
        answer: Answer,
        deadline: Option<Instant>,
        started_at: Option<Duration>,
    ) -> Result<Handled, TimedOut> {
        let clock = self.shared.clock;
        let started_at = started_at.unwrap_or_else(|| clock.now());
        let pending = Unanswered {
            conn: self,
            request: Some(request),
            started_at,
        };
        let work = async {
            if answer.respond == Respond::Never {
                std::future::pending::<()>().await;
            }
            if !answer.think.is_zero() {
                let alarms = &self.shared.alarms;
                alarms.until(clock, started_at + answer.think).await;
            }
        };
        by(deadline, work).await?;
        let Some(request) = pending.answered() else {
            return Err(TimedOut);
        };
        let ready_at = clock.now();
        let seq = self.shared.log.push(ServerRequestRecord {
            request_id: request.request_id,
            connection: self.number,
            peer_addr: self.peer_text.clone(),
            method: request.method.as_str().to_owned(),
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
        Ok(Handled {
            answer,
            seq,
            arrived_at: request.arrived_at,
            started_at,
            ready_at,
        })
    }

    /// Logs a request that arrived but was never answered: status 0, no body, and
    /// `response_ready_at` set to when the server gave up on it.
    pub(crate) fn log_abandoned(&self, request: RequestInfo, started_at: Duration) {
        let now = self.shared.clock.now();
        self.shared.log.push(ServerRequestRecord {
            request_id: request.request_id,
            connection: self.number,
            peer_addr: self.peer_text.clone(),
            method: request.method.as_str().to_owned(),
            path: request.path,
            arrived_at: request.arrived_at,
            started_at,
            request_body_bytes: request.body_bytes,
            response_ready_at: now,
            turn_at: None,
            response_sent_at: None,
            status: 0,
            response_body_bytes: 0,
        });
    }

    /// hyper's service: one request in, one streamed response out — or `TimedOut`, on which
    /// hyper closes an HTTP/1.x connection and resets an HTTP/2 stream.
    pub(crate) async fn respond<B>(
        &self,
        request: Request<B>,
    ) -> Result<Response<LabBody>, TimedOut>
    where
        B: http_body::Body + Unpin,
    {
        let now = self.shared.clock.now();
        // HTTP/2: the read that brought the request (hyper calls the service promptly after
        // it, so no later read has happened yet unless more bytes arrived meanwhile).
        let arrived_at = self
            .probe
            .as_ref()
            .filter(|_| self.arrival_at_read)
            .and_then(TcpProbe::last_read)
            .filter(|&at| at <= now)
            .unwrap_or(now);
        let open = self.activity.open();
        let last = self.arrived(arrived_at);
        let (head, mut body) = request.into_parts();
        let request_id = head
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| parse_request_id(v.as_bytes()));
        let host = head
            .uri
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                let host = head.headers.get(http::header::HOST)?;
                host.to_str().ok().map(str::to_string)
            });
        let info = RequestInfo {
            method: head.method,
            path: head.uri.path().to_string(),
            request_id,
            host,
            arrived_at,
            body_bytes: 0,
        };
        let too_large = head
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .is_some_and(|length| length > MAX_REQUEST_BODY);
        let answer = if too_large {
            Answer::error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
        } else {
            self.decide(&info)
        };
        let deadline = self.deadline(arrived_at, &answer);
        let mut pending = Unanswered {
            conn: self,
            request: Some(info),
            started_at: arrived_at,
        };
        // Read the request body (an upload, or one to discard), so the connection stays usable;
        // the request timeout runs from the head's arrival, so it covers the upload too. One
        // announced too large is not read at all.
        let read = async {
            if too_large {
                return Ok::<(), crate::pace::TooSlow>(());
            }
            let reading = self.activity.reading_body();
            let mut pace = self.body_pace();
            loop {
                let frame = match tokio::time::timeout_at(pace.deadline(), body.frame()).await {
                    Ok(Some(Ok(frame))) => frame,
                    Ok(None | Some(Err(_))) => return Ok(()),
                    Err(_) => {
                        pace.window_over(Instant::now())?;
                        continue;
                    }
                };
                let n = frame
                    .data_ref()
                    .map_or(0, |d| bytes::Buf::remaining(d) as u64);
                pace.arrived(n);
                reading.arrived(n);
                if let Some(request) = pending.request.as_mut() {
                    request.body_bytes += n;
                }
            }
        };
        if let Err(slow) = by(deadline, read).await? {
            tracing::debug!(connection = self.number, peer = %self.peer, "{slow}");
            return Err(TimedOut);
        }
        let Some(info) = pending.answered() else {
            return Err(TimedOut);
        };
        // With no body to wait for, the handler starts as the request arrives.
        let started_at = (info.body_bytes == 0 && self.arrival_at_read).then_some(arrived_at);
        let handled = self.run(info, answer, deadline, started_at).await?;
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
        let body = body.tracked(Progress {
            _open: open,
            sending: self.activity.sending(),
        });
        let mut response = Response::new(body);
        *response.status_mut() = answer.status;
        let headers = response.headers_mut();
        if answer.is_resource() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(answer.content_length()));
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(alt_svc) = self.shared.alt_svc.get() {
            headers.insert(http::header::ALT_SVC, alt_svc.clone());
        }
        if let Some(allow) = answer
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(ALLOW, allow);
        }
        if answer.is_resource() {
            if let Ok(mut timing) = HeaderValue::try_from(
                ServerTiming {
                    app: handled.app(),
                    ..ServerTiming::default()
                }
                .header(),
            ) {
                // Its value is new in every response, so HPACK is told not to index it (an
                // indexed copy would only push the fields that do repeat out of the table),
                // except in the connection's first: that one puts the name in the table, so
                // every later response names it in one byte instead of spelling it out.
                timing.set_sensitive(self.timing_name_sent.swap(true, Ordering::Relaxed));
                headers.insert(SERVER_TIMING, timing);
            }
        }
        if (last || too_large) && head.version < Version::HTTP_2 {
            // hyper closes the connection after a response that says so.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(target) = answer.head_bytes {
            pad_head(headers, answer.status, target);
        }
        Ok(response)
    }
}

/// Pads a response head to `target` bytes as HTTP/1.1 text. It names its own `date`, which
/// hyper then leaves alone, so every byte of the head is counted here.
fn pad_head(headers: &mut http::HeaderMap, status: StatusCode, target: u64) {
    if let Ok(date) = HeaderValue::try_from(crate::pipeline::imf_fixdate(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )) {
        headers.insert(http::header::DATE, date);
    }
    let start_line = format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let size = head_size(
        start_line.len(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    if let Some((name, value)) = pad_field(size, target) {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
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

/// Runs `work` to its end, or until `deadline` if there is one (the request's timeout).
async fn by<T, F: std::future::Future<Output = T>>(
    deadline: Option<Instant>,
    work: F,
) -> Result<T, TimedOut> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| TimedOut),
        None => Ok(work.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/img/3.PNG"), "image/png");
        assert_eq!(content_type("/a.b/c"), "application/octet-stream");
        assert_eq!(content_type("/app.js"), "text/javascript");
        assert_eq!(content_type("/"), "application/octet-stream");
    }

    #[test]
    fn methods_follow_the_resource() {
        let scenario = Scenario::parse(
            "name = \"m\"\n[[resource]]\npath = \"/page.html\"\nsize = \"10b\"\nthink = \"5ms\"\n\
             [[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"1kb\"\nsize = \"3b\"\n",
            "m.toml",
        )
        .unwrap();
        let get = decide(
            &scenario,
            scenario.resource(None, "/page.html"),
            &Method::GET,
            "/page.html",
            0,
        );
        assert_eq!(
            (get.status, get.think),
            (StatusCode::OK, Duration::from_millis(5))
        );
        assert_eq!((get.content_length(), get.body_bytes()), (10, 10));
        let head = decide(
            &scenario,
            scenario.resource(None, "/page.html"),
            &Method::HEAD,
            "/page.html",
            0,
        );
        assert_eq!(
            (head.status, head.content_length(), head.body_bytes()),
            (StatusCode::OK, 10, 0)
        );
        let post = decide(
            &scenario,
            scenario.resource(None, "/page.html"),
            &Method::POST,
            "/page.html",
            0,
        );
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.allow.as_deref(), Some("GET, HEAD"));
        assert_eq!(post.think, Duration::ZERO);

        let upload = decide(
            &scenario,
            scenario.resource(None, "/up"),
            &Method::POST,
            "/up",
            0,
        );
        assert_eq!((upload.status, upload.body_bytes()), (StatusCode::OK, 3));
        for method in [Method::GET, Method::HEAD, Method::PUT] {
            let refused = decide(&scenario, scenario.resource(None, "/up"), &method, "/up", 0);
            assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(refused.allow.as_deref(), Some("POST"));
        }
        let missing = decide(
            &scenario,
            scenario.resource(None, "/nope"),
            &Method::GET,
            "/nope",
            0,
        );
        assert_eq!(
            (missing.status, missing.body),
            (StatusCode::NOT_FOUND, AnswerBody::Text("not found\n"))
        );
    }
}
