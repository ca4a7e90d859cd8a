//! One request: look the resource up, think, answer, and log the server's side of it.

use crate::body::{LabBody, SentHook};
use crate::Shared;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use httplab_core::ServerRequestRecord;
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

impl Connection {
    pub async fn respond<B>(&self, request: Request<B>) -> Response<LabBody>
    where
        B: http_body::Body + Unpin,
    {
        let clock = self.shared.clock;
        let arrived_at = clock.now();
        let (head, mut body) = request.into_parts();
        // Read and discard any request body, so the connection stays usable.
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
        let request_id = head
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let path = head.uri.path().to_string();
        let mut record = ServerRequestRecord {
            request_id,
            connection: self.number,
            peer_addr: self.peer.to_string(),
            method: head.method.to_string(),
            path,
            arrived_at,
            response_ready_at: arrived_at,
            response_sent_at: None,
            status: 0,
            response_body_bytes: 0,
        };

        let Some(resource) = self.shared.scenario.resource(&record.path) else {
            return self.error(record, StatusCode::NOT_FOUND, "not found\n");
        };
        let is_head = head.method == Method::HEAD;
        if head.method != Method::GET && !is_head {
            let mut response = self.error(
                record,
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n",
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }

        let think_started = clock.now();
        if !resource.think.is_zero() {
            tokio::time::sleep(resource.think).await;
        }
        record.response_ready_at = clock.now();
        let think = record.response_ready_at.saturating_sub(think_started);
        let status =
            StatusCode::from_u16(resource.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        record.status = status.as_u16();
        record.response_body_bytes = if is_head { 0 } else { resource.size };
        let size = resource.size;
        let content_type = content_type(&record.path);
        let hook = self.hook(record);
        let body = if is_head {
            LabBody::empty(hook)
        } else {
            LabBody::filler(size, hook)
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(timing) = HeaderValue::try_from(server_timing(think)) {
            headers.insert("server-timing", timing);
        }
        response
    }

    fn error(
        &self,
        mut record: ServerRequestRecord,
        status: StatusCode,
        text: &'static str,
    ) -> Response<LabBody> {
        record.response_ready_at = self.shared.clock.now();
        record.status = status.as_u16();
        record.response_body_bytes = text.len() as u64;
        let mut response = Response::new(LabBody::text(text, self.hook(record)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// Logs the record (its response head is ready) and returns the hook that completes it.
    fn hook(&self, record: ServerRequestRecord) -> SentHook {
        SentHook {
            seq: self.shared.log.push(record),
            log: self.shared.log.clone(),
            clock: self.shared.clock,
        }
    }
}

/// `Server-Timing` for the think time actually spent; `dur` is in milliseconds.
fn server_timing(think: Duration) -> String {
    format!("app;dur={:.3}", think.as_secs_f64() * 1000.0)
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
}
