//! `LabBody`: a response body that streams deterministic filler (or a short text) and notes in
//! the log when its last byte has been handed to the connection.
//!
//! It also carries its request's place in the connection's `Activity` (`Progress`): the request
//! stays in progress until the last byte is handed over, and each chunk hyper takes is progress
//! against `send_timeout` (hyper takes none while the client's window is closed).
//!
//! Filler is served from one static 16 KiB block, so a 1 GB resource costs no memory. Byte `i`
//! of every body is `FILLER[i % 16384]`: 63 printable characters and a newline, repeating.

use crate::activity::{Open, Sending};
use crate::log::ServerLog;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use httplab_core::Clock;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Bytes per data frame.
pub(crate) const CHUNK: usize = 16 * 1024;

const fn filler() -> [u8; CHUNK] {
    const LINE: &[u8; 64] = b"httplab-filler-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ\n";
    let mut block = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        block[i] = LINE[i % LINE.len()];
        i += 1;
    }
    block
}

static FILLER: [u8; CHUNK] = filler();

/// The first `len` bytes (at most `CHUNK`) of every filler body; a body of `size` bytes is
/// `size / CHUNK` whole blocks followed by `filler_chunk(size % CHUNK)`.
pub(crate) fn filler_chunk(len: usize) -> &'static [u8] {
    &FILLER[..len.min(CHUNK)]
}

/// Where to note that the body is done.
pub(crate) struct SentHook {
    pub log: ServerLog,
    pub seq: u64,
    pub clock: Clock,
}

/// A response's request, in progress until its body is done, and its progress in sending.
pub(crate) struct Progress {
    pub _open: Open,
    pub sending: Sending,
}

pub(crate) struct LabBody {
    text: Option<Bytes>,
    filler_left: u64,
    sent: Option<SentHook>,
    progress: Option<Progress>,
}

impl LabBody {
    /// `size` bytes of filler.
    pub(crate) fn filler(size: u64, sent: SentHook) -> Self {
        Self {
            text: None,
            filler_left: size,
            sent: Some(sent),
            progress: None,
        }
    }

    /// A short fixed text (error pages).
    pub(crate) fn text(text: &'static str, sent: SentHook) -> Self {
        Self {
            text: Some(Bytes::from_static(text.as_bytes())),
            filler_left: 0,
            sent: Some(sent),
            progress: None,
        }
    }

    /// No body at all (HEAD).
    pub(crate) fn empty(sent: SentHook) -> Self {
        Self::filler(0, sent)
    }

    /// The same body, keeping `progress` until it is done.
    pub(crate) fn tracked(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    fn finish(&mut self) {
        if let Some(hook) = self.sent.take() {
            hook.log.mark_sent(hook.seq, hook.clock.now());
        }
        self.progress = None;
    }
}

impl Body for LabBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(progress) = &self.progress {
            progress.sending.progress();
        }
        let chunk = if let Some(text) = self.text.take() {
            text
        } else if self.filler_left > 0 {
            let n = usize::try_from(self.filler_left).map_or(CHUNK, |left| left.min(CHUNK));
            self.filler_left -= n as u64;
            Bytes::from_static(&FILLER[..n])
        } else {
            self.finish();
            return Poll::Ready(None);
        };
        if self.filler_left == 0 {
            // The last chunk: once it is handed over, the response is sent.
            self.finish();
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        // Stay "not ended" until the hook fired, so hyper polls even an empty body once.
        self.text.is_none() && self.filler_left == 0 && self.sent.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let text = self.text.as_ref().map_or(0, |t| t.len() as u64);
        SizeHint::with_exact(text + self.filler_left)
    }
}

impl Drop for LabBody {
    fn drop(&mut self) {
        // hyper drops a HEAD response's body unpolled when it encodes the head: nothing was
        // left to send, so the response is sent. A body dropped with bytes left (the peer went
        // away) keeps `response_sent_at: None`.
        if self.text.is_none() && self.filler_left == 0 {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::time::Duration;

    fn hook(log: &ServerLog) -> SentHook {
        let seq = log.push(httplab_core::ServerRequestRecord {
            request_id: None,
            connection: 0,
            peer_addr: String::new(),
            method: "GET".into(),
            path: "/".into(),
            arrived_at: Duration::ZERO,
            started_at: Duration::ZERO,
            request_body_bytes: 0,
            response_ready_at: Duration::ZERO,
            turn_at: None,
            response_sent_at: None,
            status: 200,
            response_body_bytes: 0,
        });
        SentHook {
            log: log.clone(),
            seq,
            clock: Clock::start(),
        }
    }

    #[tokio::test]
    async fn filler_is_deterministic_chunked_and_marks_sent() {
        for size in [0u64, 1, 16_384, 16_385, 100_000] {
            let log = ServerLog::default();
            let mut body = LabBody::filler(size, hook(&log));
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap();
                assert!(data.len() <= CHUNK);
                bytes.extend_from_slice(&data);
            }
            assert_eq!(bytes.len() as u64, size);
            assert!(bytes
                .iter()
                .enumerate()
                .all(|(i, b)| *b == FILLER[i % CHUNK]));
            assert!(log.snapshot()[0].response_sent_at.is_some(), "size {size}");
        }
    }

    #[test]
    fn an_abandoned_body_is_not_sent_but_an_empty_one_is() {
        let log = ServerLog::default();
        drop(LabBody::filler(10, hook(&log)));
        drop(LabBody::empty(hook(&log)));
        let records = log.take();
        assert_eq!(records[0].response_sent_at, None);
        assert!(records[1].response_sent_at.is_some());
    }
}
