//! When a connection last read bytes from its socket: the arrival of the requests those bytes
//! completed.
//!
//! hyper calls the service for an HTTP/2 stream from a task of its own, some microseconds after
//! the read that carried the stream's HEADERS, and a burst of streams from one read is called
//! one after another. Stamped at the read, requests that arrived together have one arrival,
//! so equal think times end at one instant (`alarm.rs`). It owns the stamp, nothing else.

use httplab_core::Clock;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The lab-clock time of a connection's latest read that returned bytes. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct LastRead(Arc<AtomicU64>);

impl LastRead {
    /// `None` before the first read.
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}

/// `S` with every read that returns bytes stamped into a [`LastRead`].
pub(crate) struct ReadStamped<S> {
    inner: S,
    last: LastRead,
    clock: Clock,
}

impl<S> ReadStamped<S> {
    pub(crate) fn new(inner: S, clock: Clock) -> (Self, LastRead) {
        let last = LastRead::default();
        let stamped = Self {
            inner,
            last: last.clone(),
            clock,
        };
        (stamped, last)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadStamped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let nanos = u64::try_from(self.clock.now().as_nanos()).unwrap_or(u64::MAX);
            self.last.0.store(nanos.max(1), Ordering::Release);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadStamped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
