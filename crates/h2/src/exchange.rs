//! One request and its response on one HTTP/2 stream, timed where its frames cross the socket.
//!
//! HTTP/2 multiplexes every stream over one socket, so the socket's byte counts cannot say which
//! request a byte belonged to; the connection's frame tap can: it sees each frame's stream id as
//! the plaintext passes, and records when the stream's HEADERS and END_STREAM were written and
//! read ([`httplab_transport::H2StreamTimes`]). Those are the request's first and last write and the response's
//! first and last read. So a stream h2 held back behind the server's stream cap (while the
//! client still assumed 100 streams) shows that wait in `blocked`, not in `wait`. Without a tap
//! (a caller that did not meter the stream), the times fall back to h2's stream API: HEADERS
//! handed to h2, the last DATA handed over, response HEADERS and END_STREAM delivered. Byte
//! counts are the DATA payloads and each side's header block as the tap counted it on the
//! wire (HPACK-compressed; none without a tap). This module owns the stream's flow
//! control (sending within the peer's window, releasing ours as data is read); it does not
//! choose the stream slot or open the connection.

use crate::error::H2ClientError;
use bytes::Bytes;
use h2::client::SendRequest;
use h2::SendStream;
use http::Request;
use httplab_core::Clock;
use httplab_transport::{ByteTimes, Meter, ResponseSummary};
use std::future::{poll_fn, Future};
use std::time::Duration;

/// The request body filler: DATA frames carry slices of it (at most one frame's worth each).
static FILLER: [u8; FILLER_CHUNK] = [b'x'; FILLER_CHUNK];
const FILLER_CHUNK: usize = 16 * 1024;

/// A completed exchange.
#[derive(Debug)]
pub(crate) struct Exchanged {
    pub bytes: ByteTimes,
    pub response: ResponseSummary,
}

/// A failed exchange, with the stream's byte times so far when its HEADERS had gone out, so
/// a stream reset after its request was sent is timed as sent and waiting, not as `blocked`.
#[derive(Debug)]
pub(crate) struct Failed {
    pub error: H2ClientError,
    pub bytes: Option<ByteTimes>,
}

impl From<H2ClientError> for Failed {
    fn from(error: H2ClientError) -> Self {
        Failed { error, bytes: None }
    }
}

/// Sends `request` (HEADERS, then `body_bytes` of filler in DATA frames) on a new stream and
/// reads the response to its end. `meter` is the connection's, whose frame tap times the
/// stream and counts its header blocks.
///
/// The request is handed to h2 before the returned future first runs, so the future does not
/// carry it (a request is a quarter of a kilobyte, copied at every move of the future).
pub(crate) fn exchange(
    mut sender: SendRequest<Bytes>,
    request: Request<()>,
    body_bytes: u64,
    clock: Clock,
    meter: &Meter,
) -> impl Future<Output = Result<Exchanged, Failed>> + Send + '_ {
    let sent = sender.send_request(request, body_bytes == 0);
    // A block, not an `async fn`: an async fn's future keeps each argument twice.
    async move {
        let (response, mut stream) = sent.map_err(H2ClientError::from)?;
        let stream_id = u32::from(stream.stream_id());
        // Normally at once. If h2 had to queue the stream behind the server's stream cap (the slot
        // count raced a SETTINGS change), this waits until the stream opens, and the wait stays in
        // `blocked` instead of `wait`.
        if let Err(e) = sender.ready().await {
            tracing::debug!("h2 connection no longer ready after sending HEADERS: {e}");
        }
        // The stream API's own times, for when the tap cannot say: read only then, since a clock
        // read per event was a fiftieth of a load's client time.
        let tapped = meter.h2_tap_working();
        let stamp = || (!tapped).then(|| clock.now());
        let first_write = stamp();
        let mut last_write = None;
        let sent = async {
            send_body(&mut stream, body_bytes).await?;
            last_write = stamp();
            response.await.map_err(H2ClientError::from)
        };
        let result = sent.await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let sent = (first_write, last_write);
                return Err(unanswered(error, meter, stream_id, sent, clock));
            }
        };
        let first_read = stamp();
        let (head, mut body) = response.into_parts();
        let status = head.status.as_u16();
        let headers = httplab_transport::exchange::record_fields(&head.headers);
        drop(head);
        let mut received = 0u64;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(H2ClientError::from)?;
            received += chunk.len() as u64;
            // Give the window back as data is consumed; without this a response larger than the
            // stream window stalls until the server times out.
            body.flow_control()
                .release_capacity(chunk.len())
                .map_err(H2ClientError::from)?;
        }
        if !body.is_end_stream() {
            return Err(H2ClientError::StreamGone.into());
        }
        let last_read = stamp();
        drop(stream);
        let on_wire = meter.take_h2_stream(stream_id).unwrap_or_default();
        // A tap that broke during the exchange left some of its times out: those are now.
        let now = || Some(clock.now());
        let first_write = on_wire.headers_sent.or(first_write).or_else(now);
        let last_write = on_wire.end_sent.or(last_write).or(first_write);
        let first_read = on_wire.headers_received.or(first_read).or_else(now);
        let last_read = on_wire.end_received.or(last_read).or_else(now);

        let bytes = ByteTimes {
            bytes_written: on_wire.header_block_sent + body_bytes,
            bytes_read: on_wire.header_block_received + received,
            first_write,
            last_write,
            first_read,
            last_read,
        };
        let response = ResponseSummary {
            status,
            http_version: "HTTP/2".into(),
            headers,
            body_bytes: received,
            connection_close: false,
            error: None,
        };
        Ok(Exchanged { bytes, response })
    }
}

/// A stream that failed before its response came: its times so far, from the tap, or from
/// h2's stream API (`sent`: HEADERS and the last DATA handed over) where the tap cannot say.
#[cold]
fn unanswered(
    error: H2ClientError,
    meter: &Meter,
    stream_id: u32,
    (first_write, last_write): (Option<Duration>, Option<Duration>),
    clock: Clock,
) -> Failed {
    let on_wire = meter.take_h2_stream(stream_id).unwrap_or_default();
    let bytes = ByteTimes {
        bytes_written: on_wire.header_block_sent,
        first_write: on_wire
            .headers_sent
            .or(first_write)
            .or_else(|| Some(clock.now())),
        last_write: on_wire.end_sent.or(last_write),
        first_read: on_wire.headers_received,
        last_read: on_wire.end_received,
        ..ByteTimes::default()
    };
    Failed {
        error,
        bytes: Some(bytes),
    }
}

/// Sends `len` filler bytes within the peer's flow-control windows, END_STREAM on the last.
async fn send_body(stream: &mut SendStream<Bytes>, len: u64) -> Result<(), H2ClientError> {
    let mut remaining = len;
    while remaining > 0 {
        let want = remaining.min(FILLER_CHUNK as u64) as usize;
        stream.reserve_capacity(want);
        let granted = match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(granted) => granted?,
            None => return Err(H2ClientError::StreamGone),
        };
        let n = granted.min(want);
        if n == 0 {
            continue;
        }
        remaining -= n as u64;
        stream.send_data(Bytes::from_static(&FILLER[..n]), remaining == 0)?;
    }
    Ok(())
}
