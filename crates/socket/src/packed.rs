//! Packed writes: what an endpoint makes ready in one scheduler turn leaves in one write.
//!
//! An HTTP library hands its bytes over a frame or a response at a time (h2 writes each DATA
//! frame with its own write call). Over TLS each write becomes a TLS record, and with
//! `TCP_NODELAY` each record leaves as a TCP segment of its own: twelve 500-byte responses are
//! twelve segments, not the five their bytes fill, and against an initial congestion window of
//! ten the last ones wait a round trip for ACKs. Production software packs: a browser writes the
//! HEADERS frames of one burst together, and nginx (`ssl_buffer_size`, 16 KB) and h2o write the
//! frames that are ready in one event-loop turn as full TLS records.
//!
//! [`Packed`] does the same for the lab's endpoints. Writes are gathered in a buffer; a
//! flush (which the HTTP library calls once it has nothing more to write) first lets every
//! other task that is already runnable take its turn, and again as long as a turn added bytes
//! (h2 hands a stream's DATA over in steps: the connection task grants flow-control capacity,
//! the stream's task then sends, each a turn of the scheduler), at most [`MAX_YIELDS`] times.
//! No timer is involved: nothing waits for data that is not ready, so this is packing, not
//! Nagle. Then it writes the buffer in chunks of [`RECORD_BYTES`], each one TLS record. A buffer that reaches a record's worth
//! is written at once, whole records only, so a long response streams as full records.
//! `WriteMode::PerFrame` passes every call straight through: the library's own writes.
//!
//! It owns the buffer and the order of writes; it knows nothing of HTTP or TLS framing.

use httplab_core::WriteMode;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One write to the layer below, at most: a full TLS record's plaintext (RFC 8446 §5.1,
/// nginx's default `ssl_buffer_size`).
pub const RECORD_BYTES: usize = 16 * 1024;
/// Bytes gathered at most before a write must wait for the layer below to take some.
const MAX_BUFFERED: usize = 4 * RECORD_BYTES;
/// Turns a flush lets pass at most while they keep adding bytes.
pub const MAX_YIELDS: u32 = 16;

/// A stream whose writes are packed (or passed through, per-frame).
pub struct Packed<S> {
    inner: S,
    mode: WriteMode,
    buf: Vec<u8>,
    /// Bytes of `buf` already written below.
    done: usize,
    /// Turns this flush has let pass, and the buffer's length at the last one.
    yields: u32,
    len_at_yield: Option<usize>,
}

impl<S> Packed<S> {
    pub fn new(inner: S, mode: WriteMode) -> Self {
        Self {
            inner,
            mode,
            buf: Vec::new(),
            done: 0,
            yields: 0,
            len_at_yield: None,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.done
    }

    /// Takes as much of `bufs` as there is room for; how much that was.
    fn gather(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        let mut room = MAX_BUFFERED.saturating_sub(self.pending());
        let mut taken = 0;
        for b in bufs {
            if room == 0 {
                break;
            }
            let n = b.len().min(room);
            self.buf.extend_from_slice(&b[..n]);
            room -= n;
            taken += n;
        }
        taken
    }
}

impl<S: AsyncWrite + Unpin> Packed<S> {
    /// Writes what is buffered below, a record at a time: whole records only, or everything
    /// when `all`.
    fn drain(&mut self, cx: &mut Context<'_>, all: bool) -> Poll<io::Result<()>> {
        while self.pending() >= RECORD_BYTES || (all && self.pending() > 0) {
            let n = self.pending().min(RECORD_BYTES);
            let chunk = &self.buf[self.done..self.done + n];
            match Pin::new(&mut self.inner).poll_write(cx, chunk) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => self.done += written,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.done == self.buf.len() {
            self.buf.clear();
            self.done = 0;
        } else if self.done >= RECORD_BYTES {
            self.buf.drain(..self.done);
            self.done = 0;
        }
        Poll::Ready(Ok(()))
    }

    fn packed_write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.pending() >= RECORD_BYTES {
            match self.drain(cx, false) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if self.pending() >= MAX_BUFFERED => return Poll::Pending,
                _ => {}
            }
        }
        Poll::Ready(Ok(self.gather(bufs)))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Packed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Packed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.mode {
            WriteMode::PerFrame => Pin::new(&mut self.inner).poll_write(cx, buf),
            WriteMode::Packed => self.packed_write(cx, &[IoSlice::new(buf)]),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.mode {
            WriteMode::PerFrame => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
            WriteMode::Packed => self.packed_write(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self.mode {
            WriteMode::PerFrame => self.inner.is_write_vectored(),
            // Gathering slices is a copy into the buffer either way.
            WriteMode::Packed => true,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending() > 0 {
            if self.yields < MAX_YIELDS && self.len_at_yield != Some(self.buf.len()) {
                // Let every task already runnable (other streams' handlers, the rest of a
                // burst of requests) add its bytes first, while they still add some.
                self.yields += 1;
                self.len_at_yield = Some(self.buf.len());
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.drain(cx, true) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        self.yields = 0;
        self.len_at_yield = None;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending() > 0 {
            match self.drain(cx, true) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    /// A sink that records the size of every write it is given.
    #[derive(Default, Clone)]
    struct Writes(Arc<Mutex<Vec<usize>>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().push(buf.len());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn small_writes_leave_together_at_the_flush_and_per_frame_leaves_them_alone() {
        let sink = Writes::default();
        let mut packed = Packed::new(sink.clone(), WriteMode::Packed);
        for _ in 0..12 {
            packed.write_all(&[1u8; 509]).await.unwrap();
        }
        assert!(
            sink.0.lock().unwrap().is_empty(),
            "nothing before the flush"
        );
        packed.flush().await.unwrap();
        assert_eq!(*sink.0.lock().unwrap(), vec![12 * 509]);

        let sink = Writes::default();
        let mut each = Packed::new(sink.clone(), WriteMode::PerFrame);
        for _ in 0..12 {
            each.write_all(&[1u8; 509]).await.unwrap();
        }
        each.flush().await.unwrap();
        assert_eq!(*sink.0.lock().unwrap(), vec![509; 12]);
    }

    #[tokio::test]
    async fn a_long_stream_leaves_as_full_records_and_the_rest_at_the_flush() {
        let sink = Writes::default();
        let mut packed = Packed::new(sink.clone(), WriteMode::Packed);
        for _ in 0..10 {
            packed.write_all(&[2u8; 16_393]).await.unwrap();
        }
        packed.flush().await.unwrap();
        let writes = sink.0.lock().unwrap().clone();
        assert_eq!(writes.iter().sum::<usize>(), 163_930);
        let (last, full) = writes.split_last().unwrap();
        assert!(full.iter().all(|&w| w == RECORD_BYTES), "{writes:?}");
        assert!(*last <= RECORD_BYTES);
    }

    #[tokio::test]
    async fn a_flush_lets_runnable_tasks_add_their_bytes_first() {
        // Two tasks on one thread: the first writes and flushes, the second (already
        // runnable) writes before the first's flush reaches the socket.
        let sink = Writes::default();
        let packed = Arc::new(tokio::sync::Mutex::new(Packed::new(
            sink.clone(),
            WriteMode::Packed,
        )));
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let a = packed.clone();
                let first = tokio::task::spawn_local(async move {
                    let mut p = a.lock().await;
                    p.write_all(&[1u8; 100]).await.unwrap();
                    drop(p);
                    // Flush without holding the lock across the yield.
                    std::future::poll_fn(|cx| {
                        let mut p = match a.try_lock() {
                            Ok(p) => p,
                            Err(_) => {
                                cx.waker().wake_by_ref();
                                return Poll::Pending;
                            }
                        };
                        Pin::new(&mut *p).poll_flush(cx)
                    })
                    .await
                    .unwrap();
                });
                let b = packed.clone();
                let second = tokio::task::spawn_local(async move {
                    b.lock().await.write_all(&[2u8; 200]).await.unwrap();
                });
                first.await.unwrap();
                second.await.unwrap();
            })
            .await;
        assert_eq!(*sink.0.lock().unwrap(), vec![300]);
    }
}
