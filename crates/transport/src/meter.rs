//! A stream wrapper that counts bytes and timestamps them on the lab clock.
//!
//! The harness puts one [`Metered`] under TLS (to count bytes on the wire) and one above it (to
//! time the request's own bytes: TLS session tickets and record overhead never shift a phase).
//! The per-exchange window (`begin_exchange` → `exchange`) gives a protocol client the send, wait
//! and receive boundaries of one request/response without the client reading any clock itself.

use httplab_core::{Clock, CloseReason};
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
            self.record_write(n, started);
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
            self.record_write(n, started);
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
    fn record_write(&mut self, n: usize, started: Duration) {
        if n > 0 {
            let done = self.clock.now();
            let mut st = self.meter.state();
            st.lifetime.wrote(n, started, done);
            st.window.wrote(n, started, done);
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
    }
}
