//! `TCP_INFO` on the lab's own sockets.
//!
//! It reads `TCP_INFO` (and `TCP_CONGESTION`) from a socket into a
//! [`httplab_core::TcpInfo`], checking how many bytes the kernel returned so that a field an
//! older kernel does not fill is absent, not zero. [`Watched`] wraps a stream the lab owns
//! (the client's socket under TLS, the server's accepted socket) and hands out a [`TcpProbe`]
//! that reads it while it is open, from any task: the harness reads the client's socket at the
//! end of each response, the server its own; the last reading is taken as the stream is
//! dropped, before its descriptor closes. The probe also tells when a read last returned bytes
//! (the server dates an HTTP/2 request's arrival by it).
//!
//! It owns the one `getsockopt(TCP_INFO)` of the workspace and the rule that keeps a probe from
//! reading a descriptor that has been closed (and perhaps reused). It does not decide when to
//! read, nor keep the readings: the caller gets them back.

mod convert;
mod sys;

use httplab_core::{Clock, TcpInfo};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads `fd`'s `TCP_INFO` and congestion control now, stamped `at`.
pub fn read(fd: BorrowedFd<'_>, at: Duration) -> io::Result<TcpInfo> {
    let (raw, len) = sys::tcp_info(fd)?;
    let mut info = convert::from_raw(&raw, len, at);
    info.congestion_control = Some(sys::congestion(fd)?);
    Ok(info)
}

/// The congestion control a TCP socket uses (`TCP_CONGESTION`), e.g. "cubic".
pub fn congestion(fd: BorrowedFd<'_>) -> io::Result<String> {
    sys::congestion(fd)
}

/// What a probe shares with its stream: the descriptor while the stream holds it open.
struct Shared {
    fd: RwLock<Option<RawFd>>,
    clock: Clock,
    /// When a read last returned bytes, nanoseconds on `clock`; 0 before the first.
    last_read: AtomicU64,
}

/// Reads a [`Watched`] stream's `TCP_INFO` while the stream is open. Cheap to clone.
#[derive(Clone)]
pub struct TcpProbe(Arc<Shared>);

impl TcpProbe {
    /// The socket's `TCP_INFO` now; `None` once the stream has been dropped.
    pub fn read(&self) -> Option<io::Result<TcpInfo>> {
        let fd = self.0.fd.read().unwrap_or_else(|p| p.into_inner());
        let raw = (*fd)?;
        // SAFETY: `raw` is open while the read lock is held: `Watched` owns the stream that
        // owns the descriptor, and clears it under the write lock in `drop` before the stream
        // (and so the descriptor) is dropped.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        Some(read(borrowed, self.0.clock.now()))
    }

    /// When a read of the stream last returned bytes, on the stream's clock: the arrival of
    /// whatever those bytes completed. `None` before the first.
    pub fn last_read(&self) -> Option<Duration> {
        match self.0.last_read.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}

/// What a [`Watched`] stream does with its last reading, as it closes.
pub type OnClose = Box<dyn FnOnce(io::Result<TcpInfo>) + Send + Sync>;

/// A stream whose `TCP_INFO` can be read while it lives, and is read once more as it is
/// dropped when someone wants that last reading (`on_close`). Reads and writes pass straight
/// through.
pub struct Watched<S: AsRawFd> {
    inner: S,
    probe: TcpProbe,
    on_close: Option<OnClose>,
    /// Whether each read that returns bytes stamps the probe's `last_read` (a clock read per
    /// read; only the server asks for it).
    read_times: bool,
}

impl<S: AsRawFd> Watched<S> {
    /// Watches `inner`; `on_close` gets the reading taken as it is dropped.
    pub fn new(inner: S, clock: Clock, on_close: OnClose) -> Self {
        let mut watched = Self::without_last_reading(inner, clock);
        watched.on_close = Some(on_close);
        watched
    }

    /// Watches `inner` with no reading at the close: a server that only counts its
    /// connections saves a `getsockopt` per connection.
    pub fn without_last_reading(inner: S, clock: Clock) -> Self {
        let fd = inner.as_raw_fd();
        Self {
            inner,
            probe: TcpProbe(Arc::new(Shared {
                fd: RwLock::new(Some(fd)),
                clock,
                last_read: AtomicU64::new(0),
            })),
            on_close: None,
            read_times: true,
        }
    }

    /// The same stream, with no time kept of its reads ([`TcpProbe::last_read`] stays
    /// `None`): a client, which times its reads itself, saves a clock read per read.
    pub fn without_read_times(mut self) -> Self {
        self.read_times = false;
        self
    }

    /// A probe on this stream's socket.
    pub fn probe(&self) -> TcpProbe {
        self.probe.clone()
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsRawFd> Drop for Watched<S> {
    fn drop(&mut self) {
        let Some(on_close) = self.on_close.take() else {
            // Probes still held see the socket gone.
            self.probe
                .0
                .fd
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            return;
        };
        let last = {
            let mut fd = self.probe.0.fd.write().unwrap_or_else(|p| p.into_inner());
            fd.take();
            // The stream is still open here: its fields are dropped after this returns.
            let borrowed = self.inner.as_raw_fd();
            // SAFETY: `inner` owns `borrowed` and is alive for the whole of this function.
            read(
                unsafe { BorrowedFd::borrow_raw(borrowed) },
                self.probe.0.clock.now(),
            )
        };
        on_close(last);
    }
}

impl<S: AsRawFd + AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.read_times && matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let shared = &self.probe.0;
            let nanos = u64::try_from(shared.clock.now().as_nanos()).unwrap_or(u64::MAX);
            shared.last_read.store(nanos.max(1), Ordering::Release);
        }
        polled
    }
}

impl<S: AsRawFd + AsyncWrite + Unpin> AsyncWrite for Watched<S> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A real loopback connection: the probe reads the sender's counters, the drop reads once
    /// more, and a probe of a dropped stream reads nothing.
    #[tokio::test]
    async fn a_probe_reads_the_socket_while_it_lives_and_the_drop_reads_last() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 100_000];
            s.read_exact(&mut buf).await.unwrap();
            s // kept open until the probe has read
        });
        let clock = Clock::start();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let closed: Arc<Mutex<Option<TcpInfo>>> = Arc::default();
        let keep = closed.clone();
        let mut watched = Watched::new(
            tcp,
            clock,
            Box::new(move |info| *keep.lock().unwrap() = info.ok()),
        );
        let probe = watched.probe();
        watched.write_all(&[7u8; 100_000]).await.unwrap();
        watched.flush().await.unwrap();
        let server_side = server.await.unwrap();
        let info = probe.read().unwrap().unwrap();
        assert!(info.snd_cwnd.unwrap() >= 1);
        assert!(info.snd_mss.unwrap() > 0);
        assert_eq!(info.state.as_deref(), Some("established"));
        assert!(info
            .congestion_control
            .as_deref()
            .is_some_and(|c| !c.is_empty()));
        // The reader has it all, so it was all sent.
        assert_eq!(info.bytes_sent, Some(100_000));
        drop(watched);
        drop(server_side);
        assert!(probe.read().is_none());
        let last = closed.lock().unwrap().clone().unwrap();
        assert_eq!(last.bytes_sent, Some(100_000));
        assert!(last.at >= info.at);
    }
}
