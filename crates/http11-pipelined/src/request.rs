//! Request heads as bytes: what this client writes for one `RequestSpec`.
//!
//! It owns the request line and header block (the same headers every HTTP/1.x client of the lab
//! sends, from `httplab_transport::exchange::request_headers`, plus `content-length` when the
//! request carries a body) and the filler the body is made of. It deliberately does not write
//! anything: the connection worker streams the head and then `body_bytes` of [`FILLER`].

use httplab_core::RequestSpec;
use httplab_transport::exchange::request_headers;

/// What request bodies are made of; the worker writes it repeatedly, never holding a whole body.
pub(crate) static FILLER: [u8; 16 * 1024] = [b'.'; 16 * 1024];

/// One request, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodedRequest {
    /// Request line, header fields and the blank line.
    pub head: Vec<u8>,
    /// The header fields, as the record shows them.
    pub headers: Vec<(String, String)>,
    /// Body bytes to write after the head.
    pub body_bytes: u64,
}

/// Why a request cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("method {0:?} is not a token")]
    Method(String),
    #[error("request target {0:?} must start with '/' and hold no spaces or control bytes")]
    Target(String),
}

/// Encodes `spec` as an HTTP/1.1 request to `authority`.
pub(crate) fn encode(spec: &RequestSpec, authority: &str) -> Result<EncodedRequest, RequestError> {
    if spec.method.is_empty() || !spec.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(RequestError::Method(spec.method.clone()));
    }
    if !spec.path.starts_with('/') || spec.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(RequestError::Target(spec.path.clone()));
    }
    // A POST or PUT announces its length even when empty (RFC 9110 §8.6).
    let has_body = spec.body_bytes > 0 || matches!(spec.method.as_str(), "POST" | "PUT");
    let length = spec.body_bytes.to_string();
    let extra: &[(&str, &str)] = if has_body {
        &[("content-length", &length)]
    } else {
        &[]
    };
    let headers = request_headers(authority, spec, extra);
    let mut head = format!("{} {} HTTP/1.1\r\n", spec.method, spec.path).into_bytes();
    for (name, value) in &headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    Ok(EncodedRequest {
        head,
        headers,
        body_bytes: if has_body { spec.body_bytes } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: &str, path: &str, body_bytes: u64) -> RequestSpec {
        RequestSpec {
            id: 4,
            method: method.into(),
            path: path.into(),
            body_bytes,
            headers: Vec::new(),
            origin: 0,
            authority: None,
            head_bytes: None,
            anonymous: false,
        }
    }

    #[test]
    fn get_and_post_heads() {
        let get = encode(&spec("GET", "/a.png", 0), "localhost:80").unwrap();
        let text = String::from_utf8(get.head).unwrap();
        assert!(
            text.starts_with("GET /a.png HTTP/1.1\r\nhost: localhost:80\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nx-httplab-request: 4\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n") && !text.contains("content-length"),
            "{text}"
        );
        assert_eq!(get.body_bytes, 0);

        let post = encode(&spec("POST", "/up", 2_000), "h").unwrap();
        assert!(String::from_utf8_lossy(&post.head).contains("\r\ncontent-length: 2000\r\n\r\n"));
        assert_eq!(post.body_bytes, 2_000);
        assert_eq!(
            post.headers.last().unwrap(),
            &("content-length".into(), "2000".into())
        );
        let empty_put = encode(&spec("PUT", "/x", 0), "h").unwrap();
        assert!(String::from_utf8_lossy(&empty_put.head).contains("content-length: 0\r\n"));
    }

    #[test]
    fn refuses_what_would_break_the_stream() {
        assert!(encode(&spec("GET", "/a b", 0), "h").is_err());
        assert!(encode(&spec("GET", "/a\r\nx: y", 0), "h").is_err());
        assert!(encode(&spec("GET", "a", 0), "h").is_err());
        assert!(encode(&spec("G T", "/a", 0), "h").is_err());
    }
}
