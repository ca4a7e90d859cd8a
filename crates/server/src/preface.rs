//! Telling h2c from HTTP/1.x on a cleartext connection, by the first bytes the client sends.
//!
//! An HTTP/2 client with prior knowledge (RFC 9113 §3.3) opens with the 24-byte connection
//! preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`; an HTTP/1.x client opens with a request line,
//! which differs from the preface within its first bytes (no method starts with `PRI `). The
//! server reads until it can tell, then replays what it read to whichever protocol serves the
//! connection (`Rewind`). It does not do the HTTP/1.1 `Upgrade: h2c` dance (RFC 9113 dropped
//! it) and knows nothing of TLS, where ALPN decides instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 client connection preface.
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// The whole HTTP/2 preface.
    H2,
    /// Anything else (including a connection closed before the preface was complete).
    Http1,
    /// A prefix of the preface so far: read more.
    Undecided,
}

/// Classifies the bytes a connection opened with.
pub(crate) fn classify(first: &[u8]) -> Opening {
    let n = first.len().min(PREFACE.len());
    if first[..n] != PREFACE[..n] {
        Opening::Http1
    } else if n == PREFACE.len() {
        Opening::H2
    } else {
        Opening::Undecided
    }
}

/// Bytes a read of the sniff takes at most: all a client has sent so far, as a whole request
/// head usually is, so the sniff costs no read of its own (reading only the preface's 24
/// bytes left the rest to a second `recvfrom`, one in nine system calls of a `Connection:
/// close` request). `Rewind` lets go of them once replayed.
const SNIFF_READ: usize = 4096;

/// Reads from `io` until `classify` decides; returns the verdict and the bytes read (to be
/// replayed), which may run past the preface or the request line. A connection that closes
/// first is `Http1` (hyper then sees the early close).
pub(crate) async fn sniff<S: AsyncRead + Unpin>(io: &mut S) -> io::Result<(Opening, Vec<u8>)> {
    let mut first = Vec::with_capacity(SNIFF_READ);
    loop {
        match classify(&first) {
            Opening::Undecided => {}
            decided => return Ok((decided, first)),
        }
        // Undecided means fewer than 24 bytes so far: there is room.
        if io.read_buf(&mut first).await? == 0 {
            return Ok((Opening::Http1, first));
        }
    }
}

/// A stream that yields `prefix` before reading from `inner`; writes go straight through.
pub(crate) struct Rewind<S> {
    prefix: Vec<u8>,
    /// Bytes of `prefix` already handed out.
    consumed: usize,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Rewind {
            prefix,
            consumed: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let left = &this.prefix[this.consumed..];
        if !left.is_empty() {
            let n = left.len().min(buf.remaining());
            buf.put_slice(&left[..n]);
            this.consumed += n;
            if this.consumed == this.prefix.len() {
                this.prefix = Vec::new();
                this.consumed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_recognised_byte_by_byte() {
        assert_eq!(classify(b""), Opening::Undecided);
        assert_eq!(classify(b"PRI * HTTP/2"), Opening::Undecided);
        assert_eq!(classify(PREFACE), Opening::H2);
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x12\x04");
        assert_eq!(classify(&more), Opening::H2);
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Opening::Http1);
        assert_eq!(classify(b"P"), Opening::Undecided);
        assert_eq!(classify(b"POST"), Opening::Http1);
        assert_eq!(classify(b"PRI * HTTP/1.1\r\n"), Opening::Http1);
    }

    #[tokio::test]
    async fn sniffed_bytes_are_replayed() {
        // The preface arriving in two pieces, then a frame.
        let (mut client, server) = tokio::io::duplex(64);
        let sent = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client.write_all(&PREFACE[..5]).await.unwrap();
            tokio::task::yield_now().await;
            client.write_all(&PREFACE[5..]).await.unwrap();
            client.write_all(b"frame").await.unwrap();
        });
        let mut server = server;
        let (opening, first) = sniff(&mut server).await.unwrap();
        assert_eq!(opening, Opening::H2);
        // The frame may have come with the preface's second piece.
        assert!(first.starts_with(PREFACE), "{first:?}");
        sent.await.unwrap();
        let mut replay = Rewind::new(first, server);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(&all[..24], PREFACE);
        assert_eq!(&all[24..], b"frame");

        // HTTP/1.x is decided at the first differing byte, without waiting for 24.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET")
            .await
            .unwrap();
        let (opening, first) = sniff(&mut server).await.unwrap();
        assert_eq!((opening, first.as_slice()), (Opening::Http1, &b"GET"[..]));

        // A request that came whole is read whole, in one read: nothing is left to read twice.
        let request = b"GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        let (mut client, mut server) = tokio::io::duplex(4096);
        tokio::io::AsyncWriteExt::write_all(&mut client, request)
            .await
            .unwrap();
        let (opening, first) = sniff(&mut server).await.unwrap();
        assert_eq!((opening, first.as_slice()), (Opening::Http1, &request[..]));

        // A connection closed early.
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert_eq!(sniff(&mut server).await.unwrap(), (Opening::Http1, vec![]));
    }
}
