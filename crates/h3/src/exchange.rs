//! One request and its response on one HTTP/3 stream, timed where its frames cross into and
//! out of the QUIC connection.
//!
//! Each stream is its own byte stream inside QUIC, so the h3 API's events are the stream's:
//! - the request's first write: its HEADERS frame handed to its stream, once QUIC let the
//!   stream open (a wait for the server's stream limit before that is `blocked`);
//! - its last write: the stream finished (FIN), after any upload's DATA frames, which QUIC
//!   takes only as fast as its flow control and congestion window allow;
//! - the response's first read: its HEADERS frame decoded from the stream;
//! - its last read: the stream's end.
//!
//! QUIC sends what a stream is handed from its connection's task, microseconds later unless
//! the congestion window holds it. Header bytes are the fields' own (name and value, as RFC
//! 9114 §4.2.2 counts a field section, without its 32-byte overhead): the h3 crate does not
//! say how many bytes QPACK made of them.

use bytes::{Buf, Bytes};
use http::{HeaderMap, Request};
use httplab_core::Clock;
use httplab_transport::{ByteTimes, ResponseSummary};

/// The request body filler, sent in slices.
static FILLER: [u8; FILLER_CHUNK] = [b'x'; FILLER_CHUNK];
const FILLER_CHUNK: usize = 16 * 1024;

/// A completed exchange.
pub(crate) struct Exchanged {
    pub(crate) bytes: ByteTimes,
    pub(crate) response: ResponseSummary,
}

/// A failed exchange, with the stream's times so far once its request had been handed over.
pub(crate) struct Failed {
    pub(crate) error: String,
    pub(crate) bytes: Option<ByteTimes>,
}

/// Sends `request` (and `body_bytes` of filler) on a new stream and reads the response.
pub(crate) async fn exchange(
    mut sender: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    request: Request<()>,
    body_bytes: u64,
    clock: Clock,
) -> Result<Exchanged, Failed> {
    let (head_bytes, pseudo) = request_field_bytes(&request);
    let mut stream = sender.send_request(request).await.map_err(|e| Failed {
        error: format!("HTTP/3 stream: {e}"),
        bytes: None,
    })?;
    let mut bytes = ByteTimes {
        bytes_written: head_bytes + pseudo + body_bytes,
        first_write: Some(clock.now()),
        ..ByteTimes::default()
    };
    let failed = |bytes: &ByteTimes, e: &dyn std::fmt::Display| Failed {
        error: format!("HTTP/3 stream: {e}"),
        bytes: Some(*bytes),
    };
    let mut remaining = body_bytes;
    while remaining > 0 {
        let n = remaining.min(FILLER_CHUNK as u64) as usize;
        if let Err(e) = stream.send_data(Bytes::from_static(&FILLER[..n])).await {
            return Err(failed(&bytes, &e));
        }
        remaining -= n as u64;
    }
    if let Err(e) = stream.finish().await {
        return Err(failed(&bytes, &e));
    }
    bytes.last_write = Some(clock.now());
    let response = match stream.recv_response().await {
        Ok(response) => response,
        Err(e) => return Err(failed(&bytes, &e)),
    };
    bytes.first_read = Some(clock.now());
    let mut received = 0u64;
    loop {
        match stream.recv_data().await {
            Ok(Some(chunk)) => received += chunk.remaining() as u64,
            Ok(None) => break,
            Err(e) => {
                bytes.bytes_read = received;
                return Err(failed(&bytes, &e));
            }
        }
    }
    bytes.last_read = Some(clock.now());
    // The status is the one pseudo-header of a response.
    bytes.bytes_read = field_bytes(response.headers()) + ":status".len() as u64 + 3 + received;
    let response = ResponseSummary {
        status: response.status().as_u16(),
        http_version: "HTTP/3".into(),
        headers: httplab_transport::exchange::record_fields(response.headers()),
        body_bytes: received,
        connection_close: false,
        error: None,
    };
    Ok(Exchanged { bytes, response })
}

/// A request's field bytes: its fields, and its four pseudo-headers.
fn request_field_bytes(request: &Request<()>) -> (u64, u64) {
    let uri = request.uri();
    let pseudo = [
        (":method", request.method().as_str().len()),
        (":scheme", uri.scheme_str().map_or(0, str::len)),
        (
            ":authority",
            uri.authority().map_or(0, |a| a.as_str().len()),
        ),
        (
            ":path",
            uri.path_and_query().map_or(1, |p| p.as_str().len()),
        ),
    ]
    .iter()
    .map(|(name, value)| (name.len() + value) as u64)
    .sum();
    (field_bytes(request.headers()), pseudo)
}

/// Names and values of `headers`, in bytes.
fn field_bytes(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len()) as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_its_pseudo_headers_and_fields() {
        let mut request = Request::new(());
        *request.uri_mut() = "https://localhost:8443/a.css".parse().unwrap();
        request
            .headers_mut()
            .insert("user-agent", "lab".parse().unwrap());
        let (fields, pseudo) = request_field_bytes(&request);
        assert_eq!(fields, 10 + 3);
        // :method GET, :scheme https, :authority localhost:8443, :path /a.css
        assert_eq!(pseudo, (7 + 3) + (7 + 5) + (10 + 14) + (5 + 6));
    }
}
