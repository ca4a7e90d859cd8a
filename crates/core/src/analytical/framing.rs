//! The bytes a response puts on the wire beyond its head and body: HTTP/2's frame headers and
//! TLS's record overhead, so the model counts the segments the server actually fills.
//!
//! It owns these constants and the arithmetic on them, on literal byte counts. It deliberately
//! does not decide what is written together (the protocols' walks in `mod.rs` do), and counts
//! no handshake or control bytes (those are segments of their own, `PageModel::control_segments`).

/// Most plaintext bytes in one TLS record (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub const TLS_RECORD_PLAINTEXT: u64 = 16_384;

/// What each TLS record adds to its plaintext: TLS 1.3 with AES-GCM, a 5-byte header, a 16-byte
/// tag and the 1-byte inner content type. TLS 1.2 with AES-GCM adds 29 (an 8-byte explicit
/// nonce, no content type); the model uses 22 for both, a difference of 7 bytes a record.
pub const TLS_RECORD_OVERHEAD: u64 = 22;

/// An HTTP/2 frame header (RFC 9113 §4.1).
pub const H2_FRAME_HEADER: u64 = 9;

/// The largest HTTP/2 DATA frame the server sends: the client's SETTINGS_MAX_FRAME_SIZE, left
/// at its default (RFC 9113 §6.5.2).
pub const H2_MAX_DATA_FRAME: u64 = 16_384;

/// `plaintext` bytes written at once, as they leave the socket: in records of at most
/// [`TLS_RECORD_PLAINTEXT`] bytes with TLS, as they are without.
pub(super) fn on_the_wire(plaintext: u64, tls: bool) -> u64 {
    if tls {
        plaintext + plaintext.div_ceil(TLS_RECORD_PLAINTEXT) * TLS_RECORD_OVERHEAD
    } else {
        plaintext
    }
}

/// An HTTP/2 response's frames: a HEADERS frame carrying `head` bytes of header block, and
/// the body in DATA frames of at most [`H2_MAX_DATA_FRAME`] bytes (none for an empty body:
/// the HEADERS frame ends the stream).
pub(super) fn h2_frames(head: u64, body: u64) -> u64 {
    H2_FRAME_HEADER + head + body + body.div_ceil(H2_MAX_DATA_FRAME) * H2_FRAME_HEADER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_frames_add_their_headers() {
        assert_eq!(on_the_wire(500, false), 500);
        assert_eq!(on_the_wire(500, true), 522);
        // 16,384 bytes are one record, one more byte a second.
        assert_eq!(on_the_wire(16_384, true), 16_406);
        assert_eq!(on_the_wire(16_385, true), 16_385 + 44);
        assert_eq!(on_the_wire(0, true), 0);
        // 40 bytes of header block and 500 of body: HEADERS (9 + 40) and one DATA (9 + 500).
        assert_eq!(h2_frames(40, 500), 558);
        assert_eq!(h2_frames(40, 0), 49);
        // 435,000 bytes of body need 27 DATA frames (26 full ones and one of 9,016 bytes).
        assert_eq!(h2_frames(0, 435_000), 9 + 435_000 + 27 * 9);
    }
}
