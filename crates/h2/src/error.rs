//! What can go wrong on the way to a response, in the client's own words. This module owns the
//! error type and the one judgement made on it (may a refused request go out again?); it does
//! not decide what a failure does to the connection's record — the connection driver does.

use h2::Reason;

/// Why a request, or the connection it needed, failed.
#[derive(Debug, thiserror::Error)]
pub enum H2ClientError {
    /// The harness's connector could not open (or TLS-handshake) the connection.
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The HTTP/2 connection preface and SETTINGS exchange failed.
    #[error("HTTP/2 handshake: {0}")]
    Handshake(h2::Error),
    /// The request could not be expressed as an HTTP/2 request (a bad path or header).
    #[error("could not build the request: {0}")]
    Request(#[from] http::Error),
    /// The stream failed: RST_STREAM, GOAWAY, or a connection error; h2's own words.
    #[error("{0}")]
    Stream(#[from] h2::Error),
    /// The connection ended before the stream did, without h2 saying why.
    #[error("the stream ended before its response did")]
    StreamGone,
    /// `finish` has closed the connection.
    #[error("the client has finished")]
    Finished,
}

impl H2ClientError {
    /// The server refused the stream before processing it (RST_STREAM REFUSED_STREAM, RFC 9113
    /// §8.7): the request may be sent again, whatever its method.
    pub fn is_refused(&self) -> bool {
        matches!(self, H2ClientError::Stream(e)
            if e.is_remote() && e.is_reset() && e.reason() == Some(Reason::REFUSED_STREAM))
    }
}
