//! The pipelining loop's pure half: recognising a request head in bytes (`parse_head`, which
//! checks everything, the body's announced length included, before the loop acts on any of
//! it) and writing a response head (`response_head`). No socket, no clock: unit tests split
//! heads at every byte.

use super::{MAX_HEAD, MAX_HEADERS};
use crate::service::{Answer, MAX_REQUEST_BODY};
use http::{Method, StatusCode};
use httplab_core::wire::{pad_field, parse_request_id, ServerTiming, REQUEST_ID_HEADER};
use std::time::Duration;

/// The HTTP version of a request, which its response repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Http10,
    Http11,
}

impl Version {
    fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request head, fully recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: Method,
    /// The target's path, without the query.
    pub path: String,
    pub version: Version,
    /// Request body bytes that follow the head.
    pub content_length: u64,
    /// The connection ends after this request's response (HTTP/1.0, `Connection: close`).
    pub close: bool,
    pub request_id: Option<u32>,
    /// The `Host` header, which names the origin on a lab serving several.
    pub host: Option<String>,
}

/// A request the loop refuses itself; the connection closes after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not a valid HTTP/1.x request head.
    Malformed,
    /// A head longer than `MAX_HEAD` or with more than `MAX_HEADERS` fields.
    TooLarge,
    /// A body framed by `Transfer-Encoding` (chunked) rather than `Content-Length`.
    LengthRequired,
    /// A `Content-Length` above `MAX_REQUEST_BODY` (413 Content Too Large, RFC 9110 §15.5.14).
    BodyTooLarge,
}

impl Reject {
    pub(super) fn answer(self) -> Answer {
        let (status, text) = match self {
            Reject::Malformed => (StatusCode::BAD_REQUEST, "bad request\n"),
            Reject::TooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request head too large\n",
            ),
            Reject::LengthRequired => (
                StatusCode::LENGTH_REQUIRED,
                "send the request body with content-length\n",
            ),
            Reject::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
        };
        Answer::error(status, text)
    }
}

/// Recognises one request head at the start of `buf`: `Ok(None)` until it is complete, then the
/// head and its length in bytes (the body, if any, follows). Checks everything before the
/// caller acts on any of it.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, Reject> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let length = match request.parse(buf) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD => length,
        Ok(httparse::Status::Complete(_)) => return Err(Reject::TooLarge),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(Reject::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::TooLarge),
        Err(_) => return Err(Reject::Malformed),
    };
    let method = request
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(Reject::Malformed)?;
    let path = request
        .path
        .and_then(|p| http::Uri::try_from(p).ok())
        .ok_or(Reject::Malformed)?
        .path()
        .to_string();
    let version = match request.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(Reject::Malformed),
    };
    let mut head = RequestHead {
        method,
        path,
        version,
        content_length: 0,
        close: version == Version::Http10,
        request_id: None,
        host: None,
    };
    let mut content_length = None;
    for field in request.headers.iter() {
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(field.value).map_err(|_| Reject::Malformed)?;
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reject::Malformed);
            }
            let value: u64 = value.parse().map_err(|_| Reject::Malformed)?;
            if content_length.is_some_and(|earlier| earlier != value) {
                return Err(Reject::Malformed);
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Reject::LengthRequired);
        } else if name.eq_ignore_ascii_case("connection") {
            let close = field
                .value
                .split(|b| *b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            head.close |= close;
        } else if name.eq_ignore_ascii_case(REQUEST_ID_HEADER) {
            head.request_id = parse_request_id(field.value);
        } else if name.eq_ignore_ascii_case("host") {
            head.host = std::str::from_utf8(field.value).ok().map(str::to_string);
        }
    }
    head.content_length = content_length.unwrap_or(0);
    if head.content_length > MAX_REQUEST_BODY {
        return Err(Reject::BodyTooLarge);
    }
    Ok(Some((head, length)))
}

/// The response head, bytes ready to write. `date` is an IMF-fixdate, as hyper sends it.
pub(crate) fn response_head(
    version: Version,
    answer: &Answer,
    timing: &ServerTiming,
    close: bool,
    date: &str,
) -> Vec<u8> {
    let status = answer.status;
    let mut head = format!(
        "{} {} {}\r\ncontent-length: {}\r\ncontent-type: {}\r\ncache-control: no-store\r\n",
        version.as_str(),
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        answer.content_length(),
        answer.content_type,
    );
    if let Some(allow) = &answer.allow {
        head.push_str(&format!("allow: {allow}\r\n"));
    }
    head.push_str(&format!("server-timing: {}\r\n", timing.header()));
    if close {
        head.push_str("connection: close\r\n");
    }
    let date = format!("date: {date}\r\n");
    if let Some(target) = answer.head_bytes {
        // The head as it stands, with the date and blank line to come.
        let size = (head.len() + date.len() + 2) as u64;
        if let Some((name, value)) = pad_field(size, target) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&date);
    head.push_str("\r\n");
    head.into_bytes()
}

/// An HTTP date (RFC 9110 §5.6.7 IMF-fixdate) for seconds since the Unix epoch.
pub(crate) fn imf_fixdate(unix_secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(unix_secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::AnswerBody;

    fn parse(bytes: &[u8]) -> Result<Option<(RequestHead, usize)>, Reject> {
        parse_head(bytes)
    }

    #[test]
    fn a_pipeline_parses_head_by_head() {
        let first = b"GET /a.css?v=1 HTTP/1.1\r\nHost: x\r\nx-httplab-request: 7\r\n\r\n";
        let second =
            b"POST /up HTTP/1.1\r\nContent-Length: 5\r\nConnection: keep-alive, Close\r\n\r\nhello";
        let mut bytes = first.to_vec();
        bytes.extend_from_slice(second);
        let (head, length) = parse(&bytes).unwrap().unwrap();
        assert_eq!(length, first.len());
        assert_eq!(
            head,
            RequestHead {
                method: Method::GET,
                path: "/a.css".into(),
                version: Version::Http11,
                content_length: 0,
                close: false,
                request_id: Some(7),
                host: Some("x".into()),
            }
        );
        let (head, length) = parse(&bytes[first.len()..]).unwrap().unwrap();
        assert_eq!(length, second.len() - 5);
        assert_eq!(
            (head.method, head.content_length, head.close),
            (Method::POST, 5, true)
        );
        // Every prefix of a head is incomplete, not an error.
        for end in 0..first.len() {
            assert_eq!(parse(&first[..end]), Ok(None), "{end}");
        }
        let (head, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.version, head.close), (Version::Http10, true));
    }

    #[test]
    fn bad_heads_are_rejected_before_anything_happens() {
        let malformed: &[&[u8]] = &[
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ];
        for bytes in malformed {
            assert_eq!(
                parse(bytes),
                Err(Reject::Malformed),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            parse(b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Reject::LengthRequired)
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(Reject::TooLarge));
        let mut long = b"GET / HTTP/1.1\r\nx-long: ".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert_eq!(parse(&long), Err(Reject::TooLarge));
        // A length that overflows u64 cannot be parsed (400); u64::MAX can, and is more than
        // the server reads (413).
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
            Err(Reject::Malformed)
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"),
            Err(Reject::BodyTooLarge)
        );
        let at_most = format!("POST / HTTP/1.1\r\nContent-Length: {MAX_REQUEST_BODY}\r\n\r\n");
        assert_eq!(
            parse(at_most.as_bytes()).unwrap().unwrap().0.content_length,
            MAX_REQUEST_BODY
        );
        // Equal repeated lengths are one length.
        let (head, _) = parse(b"PUT / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.content_length, 3);
    }

    #[test]
    fn response_heads_carry_the_timing_and_close() {
        let answer = Answer {
            status: StatusCode::OK,
            think: Duration::ZERO,
            content_type: "text/css",
            allow: None,
            body: AnswerBody::Filler(100),
            head_only: false,
            respond: httplab_core::Respond::Always,
            timeout: None,
            head_bytes: None,
        };
        let timing = ServerTiming {
            app: Duration::from_micros(1_500),
            queue: Some(Duration::from_micros(250)),
            hol: Some(Duration::from_millis(300)),
        };
        let head = response_head(Version::Http10, &answer, &timing, true, "D");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.0 200 OK\r\ncontent-length: 100\r\ncontent-type: text/css\r\n\
             cache-control: no-store\r\nserver-timing: app;dur=1.500, queue;dur=0.250, \
             hol;dur=300.000\r\nconnection: close\r\ndate: D\r\n\r\n"
        );
        let refused = Reject::LengthRequired.answer();
        let head = response_head(
            Version::Http11,
            &refused,
            &ServerTiming::default(),
            false,
            "D",
        );
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 411 Length Required\r\ncontent-length: 42\r\n"),
            "{head}"
        );
    }

    #[test]
    fn http_dates() {
        // RFC 9110 §5.6.7's example, the epoch, a leap day and the end of a century year.
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(imf_fixdate(978_307_199), "Sun, 31 Dec 2000 23:59:59 GMT");
    }
}
