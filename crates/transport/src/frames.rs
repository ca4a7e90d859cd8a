//! Counting HTTP/2 frames in one direction of a connection's plaintext (RFC 9113 §4.1).
//!
//! A [`FrameCounter`] is fed the bytes one side wrote (or read), in whatever pieces they came,
//! and counts frames by type, the bytes of header blocks (HPACK-compressed HEADERS and
//! CONTINUATION payloads) and of DATA payloads. It reads the 9-byte frame headers and, of a
//! payload, only the pad-length byte of a padded HEADERS or DATA frame; every other payload
//! byte is skipped, never buffered. It is pure code: no I/O, no clock, no allocation after
//! construction. [`FrameCounter::feed_with`] also reports each frame as its last byte passes
//! ([`FrameEnd`]: type, flags, stream), so the meter can timestamp when a stream's HEADERS and
//! END_STREAM actually crossed the socket. It deliberately does not decode HPACK, follow streams, or enforce the peer's
//! SETTINGS (a frame longer than SETTINGS_MAX_FRAME_SIZE is counted like any other); what it
//! cannot make sense of — a wrong connection preface, padding longer than its frame — stops the
//! count and is reported by [`FrameCounter::broken`], never by a panic.

use httplab_core::H2FrameDirection;

/// The client connection preface (RFC 9113 §3.4), sent before the client's first frame.
pub const CLIENT_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of a frame header: 24-bit length, type, flags, 31-bit stream id.
pub const FRAME_HEADER_LEN: usize = 9;

const TYPE_DATA: u8 = 0x0;
const TYPE_HEADERS: u8 = 0x1;
const TYPE_PRIORITY: u8 = 0x2;
const TYPE_RST_STREAM: u8 = 0x3;
const TYPE_SETTINGS: u8 = 0x4;
const TYPE_PUSH_PROMISE: u8 = 0x5;
const TYPE_PING: u8 = 0x6;
const TYPE_GOAWAY: u8 = 0x7;
const TYPE_WINDOW_UPDATE: u8 = 0x8;
const TYPE_CONTINUATION: u8 = 0x9;

const FLAG_END_STREAM: u8 = 0x1;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;
/// Stream dependency (4) + weight (1) of a HEADERS frame with the PRIORITY flag.
const PRIORITY_FIELDS_LEN: u32 = 5;

/// Where a HEADERS or DATA frame's content (payload less padding and priority fields) is
/// counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    HeaderBlock,
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Matching the client preface; `matched` bytes of it seen so far.
    Preface { matched: usize },
    /// Reading a frame header; `have` bytes of it in `header`.
    Header {
        header: [u8; FRAME_HEADER_LEN],
        have: usize,
    },
    /// Waiting for the pad-length byte, the first payload byte of a padded frame of `len`
    /// bytes whose content counts as `content`, less `fixed` bytes of priority fields.
    PadLength {
        content: Content,
        len: u32,
        fixed: u32,
    },
    /// Skipping `remaining` payload bytes.
    Skip { remaining: u32 },
    /// Stopped counting.
    Broken { reason: &'static str },
}

/// A frame whose last byte has just passed the tap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameEnd {
    pub kind: u8,
    pub flags: u8,
    pub stream_id: u32,
    /// The HPACK header-block bytes it carried (HEADERS and CONTINUATION, padding and
    /// priority fields excluded); 0 for other frames.
    pub header_block: u32,
}

impl FrameEnd {
    /// A HEADERS frame: it opens a stream (request) or starts a response.
    pub fn is_headers(&self) -> bool {
        self.kind == TYPE_HEADERS
    }

    /// A HEADERS or DATA frame with END_STREAM: the last frame of that side of the stream.
    pub fn ends_stream(&self) -> bool {
        matches!(self.kind, TYPE_HEADERS | TYPE_DATA) && self.flags & FLAG_END_STREAM != 0
    }
}

/// Counts the HTTP/2 frames of one direction of a connection, fed in arbitrary pieces.
#[derive(Debug, Clone)]
pub struct FrameCounter {
    state: State,
    counts: H2FrameDirection,
    /// The frame being read, reported when its last byte passes.
    current: FrameEnd,
}

impl FrameCounter {
    /// For the bytes the client writes: the 24-byte connection preface first, then frames.
    pub fn client_to_server() -> Self {
        Self {
            state: State::Preface { matched: 0 },
            counts: H2FrameDirection::default(),
            current: FrameEnd::default(),
        }
    }

    /// For the bytes the server writes: frames from the first byte (its SETTINGS is its
    /// preface).
    pub fn server_to_client() -> Self {
        Self {
            state: State::Header {
                header: [0; FRAME_HEADER_LEN],
                have: 0,
            },
            counts: H2FrameDirection::default(),
            current: FrameEnd::default(),
        }
    }

    /// The counts so far. A frame is counted once its header is complete, its bytes then
    /// included in `frame_bytes` whole; header-block and data bytes once its padding is known.
    pub fn counts(&self) -> H2FrameDirection {
        self.counts
    }

    /// Whether counting stopped on bytes that are not HTTP/2.
    pub fn is_broken(&self) -> bool {
        self.broken().is_some()
    }

    /// Why counting stopped, if it did.
    pub fn broken(&self) -> Option<&'static str> {
        match self.state {
            State::Broken { reason } => Some(reason),
            _ => None,
        }
    }

    /// Feeds the next bytes of this direction, in order.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.feed_with(bytes, &mut |_| {});
    }

    /// Feeds the next bytes, calling `on_end` for every frame whose last byte is among them.
    pub fn feed_with(&mut self, mut bytes: &[u8], on_end: &mut impl FnMut(FrameEnd)) {
        while !bytes.is_empty() {
            // The common case, a whole frame header at a frame boundary: read where it lies.
            if let State::Header { have: 0, .. } = self.state {
                if let Some(header) = bytes.first_chunk::<FRAME_HEADER_LEN>() {
                    self.state = self.frame_header(header);
                    bytes = &bytes[FRAME_HEADER_LEN..];
                    self.report_end(on_end);
                    continue;
                }
            }
            match &mut self.state {
                State::Broken { .. } => return,
                State::Preface { matched } => {
                    let want = &CLIENT_PREFACE[*matched..];
                    let n = want.len().min(bytes.len());
                    if bytes[..n] != want[..n] {
                        self.state = State::Broken {
                            reason: "the client connection preface is not PRI * HTTP/2.0",
                        };
                        return;
                    }
                    *matched += n;
                    bytes = &bytes[n..];
                    if *matched == CLIENT_PREFACE.len() {
                        self.state = State::Header {
                            header: [0; FRAME_HEADER_LEN],
                            have: 0,
                        };
                    }
                }
                State::Header { header, have } => {
                    let n = (FRAME_HEADER_LEN - *have).min(bytes.len());
                    header[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have == FRAME_HEADER_LEN {
                        let header = *header;
                        self.state = self.frame_header(&header);
                        self.report_end(on_end);
                    }
                }
                State::PadLength {
                    content,
                    len,
                    fixed,
                } => {
                    let (content, len, fixed) = (*content, *len, *fixed);
                    let pad = u32::from(bytes[0]);
                    bytes = &bytes[1..];
                    // Pad length byte + priority fields + padding must fit in the payload.
                    let Some(counted) = len.checked_sub(1 + fixed + pad) else {
                        self.state = State::Broken {
                            reason: "padding is longer than its frame's payload",
                        };
                        return;
                    };
                    self.count_content(content, counted);
                    self.state = skip(len - 1);
                    self.report_end(on_end);
                }
                State::Skip { remaining } => {
                    let n = (*remaining as usize).min(bytes.len());
                    *remaining -= n as u32;
                    bytes = &bytes[n..];
                    if *remaining == 0 {
                        self.state = State::Header {
                            header: [0; FRAME_HEADER_LEN],
                            have: 0,
                        };
                        self.report_end(on_end);
                    }
                }
            }
        }
    }

    /// Reports the current frame if the state has just come back to a frame boundary.
    fn report_end(&self, on_end: &mut impl FnMut(FrameEnd)) {
        if matches!(self.state, State::Header { have: 0, .. }) {
            on_end(self.current);
        }
    }

    /// Counts a complete frame header and says what to do with its payload.
    fn frame_header(&mut self, h: &[u8; FRAME_HEADER_LEN]) -> State {
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        let (kind, flags) = (h[3], h[4]);
        // The reserved bit is ignored (RFC 9113 §4.1).
        let stream_id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        self.current = FrameEnd {
            kind,
            flags,
            stream_id,
            header_block: 0,
        };
        let c = &mut self.counts;
        c.frame_bytes += FRAME_HEADER_LEN as u64 + u64::from(len);
        let content = match kind {
            TYPE_DATA => {
                c.data += 1;
                Some((Content::Data, 0))
            }
            TYPE_HEADERS => {
                c.headers += 1;
                let fixed = if flags & FLAG_PRIORITY != 0 {
                    PRIORITY_FIELDS_LEN
                } else {
                    0
                };
                Some((Content::HeaderBlock, fixed))
            }
            TYPE_CONTINUATION => {
                c.continuation += 1;
                c.header_block_bytes += u64::from(len);
                self.current.header_block = len;
                None
            }
            TYPE_PRIORITY => {
                c.priority += 1;
                None
            }
            TYPE_RST_STREAM => {
                c.rst_stream += 1;
                None
            }
            TYPE_SETTINGS => {
                c.settings += 1;
                None
            }
            TYPE_PUSH_PROMISE => {
                c.push_promise += 1;
                None
            }
            TYPE_PING => {
                c.ping += 1;
                None
            }
            TYPE_GOAWAY => {
                c.goaway += 1;
                None
            }
            TYPE_WINDOW_UPDATE => {
                c.window_update += 1;
                None
            }
            _ => {
                c.unknown += 1;
                None
            }
        };
        match content {
            None => skip(len),
            Some((content, fixed)) if flags & FLAG_PADDED != 0 => {
                if len == 0 {
                    State::Broken {
                        reason: "a padded frame has no room for its pad length",
                    }
                } else {
                    State::PadLength {
                        content,
                        len,
                        fixed,
                    }
                }
            }
            Some((content, fixed)) => match len.checked_sub(fixed) {
                Some(counted) => {
                    self.count_content(content, counted);
                    skip(len)
                }
                None => State::Broken {
                    reason: "a HEADERS frame is shorter than its priority fields",
                },
            },
        }
    }

    fn count_content(&mut self, content: Content, bytes: u32) {
        match content {
            Content::HeaderBlock => {
                self.counts.header_block_bytes += u64::from(bytes);
                self.current.header_block = bytes;
            }
            Content::Data => self.counts.data_bytes += u64::from(bytes),
        }
    }
}

/// Skips `len` payload bytes (none: straight to the next frame header).
fn skip(len: u32) -> State {
    if len == 0 {
        State::Header {
            header: [0; FRAME_HEADER_LEN],
            have: 0,
        }
    } else {
        State::Skip { remaining: len }
    }
}

/// Test-only frame builders, shared with the meter's socket test.
#[cfg(test)]
pub(crate) mod build {
    /// One frame: the 9-byte header then `payload`, stream id `stream`.
    pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A client's opening: preface, SETTINGS (one setting), HEADERS (END_HEADERS, 10-byte
    /// block) on stream 1, DATA (END_STREAM, 5 bytes) on stream 1.
    pub(crate) fn client_opening() -> Vec<u8> {
        let mut out = super::CLIENT_PREFACE.to_vec();
        out.extend(frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100]));
        out.extend(frame(0x1, 0x4, 1, &[0x82; 10]));
        out.extend(frame(0x0, 0x1, 1, b"hello"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::frame;
    use super::*;

    /// Feeds `bytes` whole, byte by byte, and split in two at every boundary; asserts every way
    /// gives the same counts and returns them.
    fn count_every_way(make: fn() -> FrameCounter, bytes: &[u8]) -> FrameCounter {
        let mut whole = make();
        whole.feed(bytes);
        let mut bytewise = make();
        for b in bytes {
            bytewise.feed(std::slice::from_ref(b));
        }
        assert_eq!(bytewise.counts(), whole.counts(), "byte by byte");
        assert_eq!(bytewise.broken(), whole.broken(), "byte by byte");
        for at in 0..=bytes.len() {
            let mut split = make();
            split.feed(&bytes[..at]);
            split.feed(&[]);
            split.feed(&bytes[at..]);
            assert_eq!(split.counts(), whole.counts(), "split at {at}");
            assert_eq!(split.broken(), whole.broken(), "split at {at}");
        }
        whole
    }

    #[test]
    fn client_preface_then_frames() {
        let bytes = build::client_opening();
        let c = count_every_way(FrameCounter::client_to_server, &bytes);
        assert!(!c.is_broken());
        assert_eq!(
            c.counts(),
            H2FrameDirection {
                settings: 1,
                headers: 1,
                data: 1,
                header_block_bytes: 10,
                data_bytes: 5,
                frame_bytes: (9 + 6) + (9 + 10) + (9 + 5),
                ..H2FrameDirection::default()
            }
        );
    }

    #[test]
    fn each_frame_is_reported_at_its_last_byte() {
        let mut bytes = build::client_opening();
        // A SETTINGS ACK: no payload, so it ends with its header.
        bytes.extend(frame(0x4, 0x1, 0, &[]));
        let mut counter = FrameCounter::client_to_server();
        let mut ends = Vec::new();
        for (i, b) in bytes.iter().enumerate() {
            counter.feed_with(std::slice::from_ref(b), &mut |end| ends.push((i, end)));
        }
        let settings = 24 + 9 + 6 - 1;
        let headers = settings + 9 + 10;
        let data = headers + 9 + 5;
        let ack = data + 9;
        let at: Vec<usize> = ends.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [settings, headers, data, ack]);
        let (_, h) = ends[1];
        assert!(h.is_headers() && !h.ends_stream());
        assert_eq!(h.stream_id, 1);
        let (_, d) = ends[2];
        assert!(!d.is_headers() && d.ends_stream());
        assert_eq!(d.stream_id, 1);
        // A SETTINGS ACK carries the same flag bit as END_STREAM but ends no stream.
        assert!(!ends[3].1.ends_stream());

        // Fed whole, the same frames in the same order.
        let mut whole = FrameCounter::client_to_server();
        let mut whole_ends = Vec::new();
        whole.feed_with(&bytes, &mut |end| whole_ends.push(end));
        assert_eq!(whole_ends, ends.iter().map(|(_, e)| *e).collect::<Vec<_>>());
    }

    #[test]
    fn padded_headers_with_priority_and_continuation() {
        // HEADERS, PADDED | PRIORITY: pad length 3, 5 priority bytes, 7-byte block, 3 pad bytes.
        let mut payload = vec![3];
        payload.extend([0x80, 0, 0, 0, 15]);
        payload.extend([0xAA; 7]);
        payload.extend([0; 3]);
        let mut bytes = frame(0x1, FLAG_PADDED | FLAG_PRIORITY, 3, &payload);
        // CONTINUATION (4 bytes) then CONTINUATION with END_HEADERS (2 bytes).
        bytes.extend(frame(0x9, 0, 3, &[0xBB; 4]));
        bytes.extend(frame(0x9, 0x4, 3, &[0xCC; 2]));
        // DATA, PADDED: pad length 2, 6 data bytes, 2 pad bytes.
        bytes.extend(frame(0x0, FLAG_PADDED, 3, &[2, 1, 2, 3, 4, 5, 6, 0, 0]));
        // HEADERS with PRIORITY alone: 5 priority bytes, 1-byte block.
        bytes.extend(frame(0x1, FLAG_PRIORITY | 0x4, 5, &[0, 0, 0, 3, 1, 0x88]));
        let c = count_every_way(FrameCounter::server_to_client, &bytes);
        assert!(!c.is_broken());
        let n = c.counts();
        assert_eq!((n.headers, n.continuation, n.data), (2, 2, 1));
        assert_eq!(n.header_block_bytes, 7 + 4 + 2 + 1);
        assert_eq!(n.data_bytes, 6);
        assert_eq!(n.frame_bytes, bytes.len() as u64);
    }

    #[test]
    fn every_type_is_counted_and_empty_payloads_need_no_bytes() {
        let mut bytes = Vec::new();
        for kind in 0x0..=0xB_u8 {
            bytes.extend(frame(kind, 0, 1, &[]));
        }
        // A frame header alone, payload still to come, is already counted.
        bytes.extend(frame(0x6, 0, 0, &[0; 8]));
        bytes.truncate(bytes.len() - 8);
        let c = count_every_way(FrameCounter::server_to_client, &bytes);
        let n = c.counts();
        let by_type = [
            n.data,
            n.headers,
            n.priority,
            n.rst_stream,
            n.settings,
            n.push_promise,
            n.ping,
            n.goaway,
            n.window_update,
            n.continuation,
        ];
        assert_eq!(by_type, [1, 1, 1, 1, 1, 1, 2, 1, 1, 1]);
        assert_eq!(n.unknown, 2, "types 0xA and 0xB");
        assert_eq!(n.frame_bytes, 13 * 9 + 8);
        assert_eq!((n.header_block_bytes, n.data_bytes), (0, 0));
    }

    #[test]
    fn large_payloads_are_skipped_across_feeds() {
        let body = vec![0x55; 70_000];
        let mut bytes = frame(0x0, 0, 1, &body);
        bytes.extend(frame(0x8, 0, 0, &[0, 0, 0x10, 0]));
        let mut c = FrameCounter::server_to_client();
        for chunk in bytes.chunks(1_000) {
            c.feed(chunk);
        }
        let n = c.counts();
        assert_eq!((n.data, n.window_update, n.data_bytes), (1, 1, 70_000));
        assert_eq!(n.frame_bytes, bytes.len() as u64);
    }

    #[test]
    fn a_bad_preface_stops_counting() {
        let mut bytes = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        bytes.extend(frame(0x4, 0, 0, &[]));
        let c = count_every_way(FrameCounter::client_to_server, &bytes);
        assert!(c.is_broken());
        assert_eq!(c.counts(), H2FrameDirection::default());

        // A preface that goes wrong in its last byte, after frames could have started.
        let mut bytes = CLIENT_PREFACE.to_vec();
        bytes[23] = b'X';
        bytes.extend(frame(0x4, 0, 0, &[]));
        let c = count_every_way(FrameCounter::client_to_server, &bytes);
        assert!(c.broken().is_some_and(|r| r.contains("preface")));
        assert_eq!(c.counts().settings, 0);
    }

    #[test]
    fn padding_longer_than_the_frame_is_reported() {
        // DATA, PADDED, 3-byte payload claiming 5 pad bytes; then a SETTINGS never counted.
        let mut bytes = frame(0x0, FLAG_PADDED, 1, &[5, 0, 0]);
        bytes.extend(frame(0x4, 0, 0, &[]));
        let c = count_every_way(FrameCounter::server_to_client, &bytes);
        assert!(c.is_broken());
        assert_eq!((c.counts().data, c.counts().settings), (1, 0));
        assert_eq!(c.counts().data_bytes, 0);

        // PADDED with an empty payload, and PRIORITY on a 4-byte HEADERS.
        for bad in [
            frame(0x1, FLAG_PADDED, 1, &[]),
            frame(0x1, FLAG_PRIORITY, 1, &[0; 4]),
            frame(0x1, FLAG_PADDED | FLAG_PRIORITY, 1, &[0, 0, 0, 0, 0]),
        ] {
            let c = count_every_way(FrameCounter::server_to_client, &bad);
            assert!(c.is_broken(), "{bad:?}");
            assert_eq!(c.counts().header_block_bytes, 0);
        }
    }
}
