//! A stream wrapper that counts bytes and timestamps them on the lab clock.
//!
//! The harness puts one [`Metered`] under TLS (to count bytes on the wire) and one above it (to
//! time the request's own bytes: TLS session tickets and record overhead never shift a phase).
//! The per-exchange window (`begin_exchange` → `exchange`) gives a protocol client the send, wait
//! and receive boundaries of one request/response without the client reading any clock itself.
//! On an HTTP/2 connection the harness can also switch on [`Meter::enable_h2_frames`]: the
//! metered stream then feeds what it writes and reads to two [`FrameCounter`]s (it sits on the
//! client side, so writes are client → server), giving frames by type each way.

use crate::frames::{FrameCounter, FrameEnd};
use httplab_core::{Clock, CloseReason, H2FrameCounts};
use rustc_hash::FxHashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Byte counts and the times of the first and last byte each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteTimes {
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub first_write: Option<Duration>,
    pub last_write: Option<Duration>,
    pub first_read: Option<Duration>,
    pub last_read: Option<Duration>,
}

impl ByteTimes {
    /// A write that started at `started` and returned at `done`: the first byte left no
    /// earlier than the call began, the last no later than it returned.
    fn wrote(&mut self, n: usize, started: Duration, done: Duration) {
        self.bytes_written += n as u64;
        self.first_write.get_or_insert(started);
        self.last_write = Some(done);
    }

    fn read(&mut self, n: usize, at: Duration) {
        self.bytes_read += n as u64;
        self.first_read.get_or_insert(at);
        self.last_read = Some(at);
    }
}

#[derive(Debug, Default)]
struct MeterState {
    lifetime: ByteTimes,
    window: ByteTimes,
    closed_at: Option<Duration>,
    close_reason: Option<CloseReason>,
    ping_rtt: Option<Duration>,
    h2_frames: Option<H2Tap>,
}

/// When one HTTP/2 stream's frames crossed the tap: its HEADERS and its END_STREAM, each way.
/// These are socket times (the plaintext under h2), so a stream h2 held back behind the
/// server's stream cap shows when its HEADERS really left, not when it was handed to h2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct H2StreamTimes {
    /// The write that carried the stream's first HEADERS frame began.
    pub headers_sent: Option<Duration>,
    /// The write that carried its END_STREAM returned.
    pub end_sent: Option<Duration>,
    /// The read that completed the first response HEADERS frame.
    pub headers_received: Option<Duration>,
    /// The read that completed the response's END_STREAM frame.
    pub end_received: Option<Duration>,
    /// The HPACK header-block bytes of the stream's HEADERS and CONTINUATION frames, each way
    /// (padding and priority fields excluded): its header bytes as they crossed the wire.
    pub header_block_sent: u64,
    pub header_block_received: u64,
}

/// The frame counters of a stream with HTTP/2 frame counting on.
#[derive(Debug)]
struct H2Tap {
    sent: FrameCounter,
    received: FrameCounter,
    /// Per stream id, until taken by [`Meter::take_h2_stream`].
    streams: FxHashMap<u32, H2StreamTimes>,
}

impl H2Tap {
    /// Why counting stopped early, in which direction, if it did.
    fn broken(&self) -> Option<String> {
        match (self.sent.broken(), self.received.broken()) {
            (Some(r), _) => Some(format!("client to server: {r}")),
            (None, Some(r)) => Some(format!("server to client: {r}")),
            (None, None) => None,
        }
    }

    fn feed_sent(&mut self, bytes: &[u8], started: Duration, done: Duration) {
        let streams = &mut self.streams;
        self.sent
            .feed_with(bytes, &mut |end| sent_frame(streams, end, started, done));
    }

    fn feed_received(&mut self, bytes: &[u8], at: Duration) {
        let streams = &mut self.streams;
        self.received
            .feed_with(bytes, &mut |end| received_frame(streams, end, at));
    }
}

fn sent_frame(
    streams: &mut FxHashMap<u32, H2StreamTimes>,
    end: FrameEnd,
    started: Duration,
    done: Duration,
) {
    if end.stream_id == 0 {
        return;
    }
    let times = streams.entry(end.stream_id).or_default();
    times.header_block_sent += u64::from(end.header_block);
    if end.is_headers() {
        times.headers_sent.get_or_insert(started);
    }
    if end.ends_stream() {
        times.end_sent.get_or_insert(done);
    }
}

fn received_frame(streams: &mut FxHashMap<u32, H2StreamTimes>, end: FrameEnd, at: Duration) {
    if end.stream_id == 0 {
        return;
    }
    let times = streams.entry(end.stream_id).or_default();
    times.header_block_received += u64::from(end.header_block);
    if end.is_headers() {
        times.headers_received.get_or_insert(at);
    }
    if end.ends_stream() {
        times.end_received.get_or_insert(at);
    }
}

/// Shared view of one metered stream; clone it before handing the stream away.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<MeterState>>);

impl Meter {
    fn state(&self) -> MutexGuard<'_, MeterState> {
        // A poisoned meter only means a panic elsewhere; its counts are still valid.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a new exchange window: counts and times from here on.
    pub fn begin_exchange(&self) {
        self.state().window = ByteTimes::default();
    }

    /// Counts and times since the last `begin_exchange`.
    pub fn exchange(&self) -> ByteTimes {
        self.state().window
    }

    /// Counts and times over the stream's whole life.
    pub fn lifetime(&self) -> ByteTimes {
        self.state().lifetime
    }

    /// Records why the connection ended; the first reason given wins.
    pub fn set_close_reason(&self, reason: CloseReason) {
        self.state().close_reason.get_or_insert(reason);
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state().close_reason.clone()
    }

    /// Records the round trip of a protocol-level ping (HTTP/2 PING) on this connection.
    pub fn set_ping_rtt(&self, rtt: Duration) {
        self.state().ping_rtt = Some(rtt);
    }

    pub fn ping_rtt(&self) -> Option<Duration> {
        self.state().ping_rtt
    }

    /// Switches on HTTP/2 frame counting for this stream: what it writes is counted as the
    /// client's frames (after the connection preface), what it reads as the server's. Call it
    /// before any byte flows; a second call changes nothing.
    pub fn enable_h2_frames(&self) {
        self.state().h2_frames.get_or_insert_with(|| H2Tap {
            sent: FrameCounter::client_to_server(),
            received: FrameCounter::server_to_client(),
            streams: FxHashMap::default(),
        });
    }

    /// When stream `stream_id`'s frames crossed the tap, forgetting them (a workload of
    /// thousands of streams keeps no more than those in flight); `None` unless frame counting
    /// is on and the stream was seen.
    pub fn take_h2_stream(&self, stream_id: u32) -> Option<H2StreamTimes> {
        self.state().h2_frames.as_mut()?.streams.remove(&stream_id)
    }

    /// Frames counted each way so far; `None` unless [`Meter::enable_h2_frames`] was called.
    pub fn h2_frames(&self) -> Option<H2FrameCounts> {
        self.state().h2_frames.as_ref().map(|t| H2FrameCounts {
            sent: t.sent.counts(),
            received: t.received.counts(),
        })
    }

    /// Whether frame counting is on and still following both directions, so it will time
    /// the streams from here on.
    pub fn h2_tap_working(&self) -> bool {
        self.state()
            .h2_frames
            .as_ref()
            .is_some_and(|t| t.broken().is_none())
    }

    /// Why frame counting stopped early (bytes that are not HTTP/2), if it did.
    pub fn h2_frames_error(&self) -> Option<String> {
        self.state().h2_frames.as_ref()?.broken()
    }

    /// When the stream was dropped (the socket closed), if it was.
    pub fn closed_at(&self) -> Option<Duration> {
        self.state().closed_at
    }
}

/// `S` with every read and write counted and timestamped into a [`Meter`].
pub struct Metered<S> {
    inner: S,
    meter: Meter,
    clock: Clock,
}

impl<S> Metered<S> {
    pub fn new(inner: S, clock: Clock) -> Self {
        Self {
            inner,
            meter: Meter::default(),
            clock,
        }
    }

    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Drop for Metered<S> {
    fn drop(&mut self) {
        let now = self.clock.now();
        self.meter.state().closed_at.get_or_insert(now);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            let at = self.clock.now();
            let mut st = self.meter.state();
            st.lifetime.read(n, at);
            st.window.read(n, at);
            if let Some(tap) = &mut st.h2_frames {
                tap.feed_received(&buf.filled()[before..], at);
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let started = self.clock.now();
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            let done = self.record_write(n, started);
            self.tap_written(std::iter::once(&buf[..n.min(buf.len())]), started, done);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let started = self.clock.now();
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            let done = self.record_write(n, started);
            // The first `n` bytes across the slices are the ones written.
            let mut left = n;
            self.tap_written(
                bufs.iter().map(|b| {
                    let take = left.min(b.len());
                    left -= take;
                    &b[..take]
                }),
                started,
                done,
            );
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S> Metered<S> {
    /// Counts a write that began at `started`; returns when it returned.
    fn record_write(&mut self, n: usize, started: Duration) -> Duration {
        let done = self.clock.now();
        if n > 0 {
            let mut st = self.meter.state();
            st.lifetime.wrote(n, started, done);
            st.window.wrote(n, started, done);
        }
        done
    }

    /// Feeds written bytes to the client → server frame counter, when counting is on.
    fn tap_written<'a>(
        &self,
        written: impl Iterator<Item = &'a [u8]>,
        started: Duration,
        done: Duration,
    ) {
        let mut st = self.meter.state();
        if let Some(tap) = &mut st.h2_frames {
            for bytes in written {
                tap.feed_sent(bytes, started, done);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_and_times_real_socket_bytes() {
        let clock = Clock::start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 6];
            s.read_exact(&mut buf).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(b"0123456789").await.unwrap();
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut m = Metered::new(tcp, clock);
        let meter = m.meter().clone();
        m.write_all(b"hello").await.unwrap();
        meter.begin_exchange();
        m.write_all(b"!").await.unwrap();
        let mut got = Vec::new();
        m.read_to_end(&mut got).await.unwrap();
        server.await.unwrap();
        let ex = meter.exchange();
        assert_eq!((ex.bytes_written, ex.bytes_read), (1, 10));
        assert_eq!(meter.lifetime().bytes_written, 6);
        let wait = ex.first_read.unwrap() - ex.last_write.unwrap();
        assert!(wait >= Duration::from_millis(19), "{wait:?}");
        assert!(meter.closed_at().is_none());
        drop(m);
        assert!(meter.closed_at().is_some());
        assert_eq!(
            meter.h2_frames(),
            None,
            "frame counting is off unless enabled"
        );
    }

    #[tokio::test]
    async fn counts_h2_frames_each_way_on_real_sockets() {
        use crate::frames::build::{client_opening, frame};
        let clock = Clock::start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let opening = client_opening();
        // The server side: a metered stream too, reading what the client wrote; its writes
        // (the server's frames) are what the client's meter reads.
        let server_frames = [
            frame(0x4, 0, 0, &[]),
            frame(0x4, 0x1, 0, &[]),
            frame(0x1, 0x4, 1, &[0x88, 0x5f, 0x87]),
            frame(0x0, 0x8, 1, &[4, b'a', b'b', 0, 0, 0, 0]),
            frame(0x0, 0x1, 1, &[b'c'; 3000]),
        ]
        .concat();
        let to_send = server_frames.clone();
        let expected_len = opening.len();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut m = Metered::new(s, clock);
            let meter = m.meter().clone();
            // The server reads the client's bytes: count them as client → server by hand.
            let mut got = vec![0u8; expected_len];
            m.read_exact(&mut got).await.unwrap();
            let mut c = crate::frames::FrameCounter::client_to_server();
            c.feed(&got);
            // Written in uneven pieces, so frame headers straddle reads.
            for piece in to_send.chunks(7) {
                m.write_all(piece).await.unwrap();
            }
            m.shutdown().await.unwrap();
            (c.counts(), meter.h2_frames())
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut m = Metered::new(tcp, clock);
        let meter = m.meter().clone();
        meter.enable_h2_frames();
        // The preface and frames written in two pieces split inside a frame header.
        m.write_all(&opening[..30]).await.unwrap();
        m.write_all(&opening[30..]).await.unwrap();
        let mut got = Vec::new();
        m.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, server_frames);
        let (server_saw, server_meter) = server.await.unwrap();
        assert_eq!(server_meter, None);

        let counts = meter.h2_frames().expect("counting was enabled");
        assert_eq!(meter.h2_frames_error(), None);
        let sent = counts.sent;
        assert_eq!((sent.settings, sent.headers, sent.data), (1, 1, 1));
        assert_eq!((sent.header_block_bytes, sent.data_bytes), (10, 5));
        assert_eq!(sent.frame_bytes, (opening.len() - 24) as u64);
        assert_eq!(
            sent, server_saw,
            "the client's tap agrees with the server's bytes"
        );
        let received = counts.received;
        assert_eq!(
            (received.settings, received.headers, received.data),
            (2, 1, 2)
        );
        assert_eq!(received.header_block_bytes, 3);
        assert_eq!(received.data_bytes, 2 + 3000);
        assert_eq!(received.frame_bytes, server_frames.len() as u64);
        assert_eq!(received.frame_bytes, meter.lifetime().bytes_read);

        // Stream 1's frames, timed as they crossed: its HEADERS and END_STREAM went out in the
        // second write, the response's HEADERS came before its END_STREAM, and all of it lies
        // inside the connection's byte times.
        let life = meter.lifetime();
        let times = meter.take_h2_stream(1).expect("stream 1 was seen");
        let sent = times.headers_sent.expect("HEADERS sent");
        let ended = times.end_sent.expect("END_STREAM sent");
        let first = times.headers_received.expect("HEADERS received");
        let last = times.end_received.expect("END_STREAM received");
        assert!(life.first_write.unwrap() <= sent && sent <= ended);
        assert!(ended <= life.last_write.unwrap());
        assert!(first <= last && last == life.last_read.unwrap());
        assert_eq!(meter.take_h2_stream(1), None, "taken once");
        assert_eq!(meter.take_h2_stream(0), None, "stream 0 is the connection");
    }

    #[tokio::test]
    async fn vectored_writes_feed_only_the_bytes_written() {
        let opening = crate::frames::build::client_opening();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            all
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut m = Metered::new(tcp, Clock::start());
        m.meter().enable_h2_frames();
        // An empty slice first, then the opening in three slices; partial writes resume.
        let (a, rest) = opening.split_at(20);
        let (b, c) = rest.split_at(17);
        let mut written = 0;
        while written < opening.len() {
            let mut skip = written;
            let slices: Vec<io::IoSlice<'_>> = [&[][..], a, b, c]
                .into_iter()
                .map(|s| {
                    let from = skip.min(s.len());
                    skip -= from;
                    io::IoSlice::new(&s[from..])
                })
                .collect();
            written += m.write_vectored(&slices).await.unwrap();
        }
        m.shutdown().await.unwrap();
        let meter = m.meter().clone();
        drop(m);
        assert_eq!(reader.await.unwrap(), opening);
        let sent = meter.h2_frames().map(|c| c.sent);
        assert_eq!(
            sent.map(|s| (s.settings, s.headers, s.data, s.frame_bytes)),
            Some((1, 1, 1, (opening.len() - 24) as u64))
        );
    }

    #[tokio::test]
    async fn a_stream_that_is_not_h2_is_reported_not_counted() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut m = Metered::new(a, Clock::start());
        m.meter().enable_h2_frames();
        m.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut got = [0u8; 18];
        b.read_exact(&mut got).await.unwrap();
        let err = m.meter().h2_frames_error().expect("not HTTP/2");
        assert!(err.starts_with("client to server"), "{err}");
        assert_eq!(m.meter().h2_frames().map(|c| c.sent.frame_bytes), Some(0));
    }
}
