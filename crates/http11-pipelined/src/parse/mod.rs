//! The response parser: HTTP/1.1 responses read back to back from one connection's byte stream.
//!
//! It owns message framing on the receiving side: status line and headers (through httparse,
//! with the head capped at [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`]), then a body delimited by
//! `Content-Length`, by `Transfer-Encoding: chunked` (extensions and trailers allowed), by the
//! end of the stream, or by nothing at all (responses to HEAD, 1xx, 204, 304). Because pipelined
//! responses carry no request id, the parser is told the method of each request in the order the
//! requests were written ([`ResponseParser::expect`]); the n-th response answers the n-th request.
//! Every byte fed has an absolute offset in the connection's stream, and each parsed response
//! says where its first byte and its end are, so the caller can map them to the socket reads that
//! carried them. A malformed or oversized response is an error naming its byte position, and the
//! parser refuses all further input once it has failed.
//!
//! It deliberately does no I/O and reads no clock: it is driven with byte slices, by the
//! pipeline state machine in `pipeline/` and by the unit tests below. It keeps no body bytes
//! (only counts them), so a 1 GB response costs no memory, and it does not decode content
//! codings.

use httplab_transport::exchange::header_fields_kept;
use std::collections::VecDeque;

/// Largest response head accepted (status line, headers and the blank line).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields accepted in one response head.
pub(crate) const MAX_HEADERS: usize = 100;
/// Longest chunk-size line accepted (with its extensions).
pub(crate) const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
/// Largest trailer section accepted after a chunked body.
pub(crate) const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// One complete final response (1xx responses are folded into the one that follows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResponse {
    /// Its position among the final responses on the connection, counted from 1.
    pub number: u64,
    pub status: u16,
    /// "HTTP/1.1" or "HTTP/1.0".
    pub http_version: &'static str,
    pub headers: Vec<(String, String)>,
    /// Stream offset of its first byte (of a preceding 1xx response, if there was one).
    pub first_byte: u64,
    /// Stream offset just past its last byte.
    pub end: u64,
    /// Bytes of its head, and of any 1xx heads before it.
    pub head_bytes: u64,
    /// Body bytes, without chunked framing.
    pub body_bytes: u64,
    /// The response ends the connection: `Connection: close`, or HTTP/1.0 without keep-alive.
    pub connection_close: bool,
}

impl ParsedResponse {
    /// Stream offset of its last byte.
    pub fn last_byte(&self) -> u64 {
        self.end.saturating_sub(1)
    }

    /// Bytes it took on the wire: heads, body and chunked framing.
    pub fn wire_bytes(&self) -> u64 {
        self.end - self.first_byte
    }
}

/// What is wrong with the input, without where; see [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("response with no request outstanding")]
    Unsolicited,
    #[error("invalid response head ({0})")]
    InvalidHead(httparse::Error),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("response head with more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("unexpected 101 Switching Protocols (no upgrade was asked for)")]
    UnexpectedUpgrade,
    #[error("invalid content-length {0:?}")]
    InvalidContentLength(String),
    #[error("content-length values differ ({0} and {1})")]
    ConflictingContentLength(u64, u64),
    #[error("both transfer-encoding and content-length (ambiguous framing)")]
    AmbiguousFraming,
    #[error("transfer-encoding in an HTTP/1.0 response")]
    TransferEncodingInHttp10,
    #[error("invalid chunk size")]
    InvalidChunkSize,
    #[error("chunk-size line longer than {MAX_CHUNK_LINE_BYTES} bytes")]
    ChunkLineTooLong,
    #[error("missing CRLF after chunk data")]
    MissingChunkCrlf,
    #[error("invalid trailer field")]
    InvalidTrailer,
    #[error("trailer section larger than {MAX_TRAILER_BYTES} bytes")]
    TrailersTooLarge,
    #[error("connection closed in the middle of a response head")]
    EofInHead,
    #[error("connection closed with {0} body bytes still expected")]
    EofInBody(u64),
    #[error("connection closed in the middle of a chunked body")]
    EofInChunkedBody,
}

/// A malformed, oversized or truncated response, located in the stream and in the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset} of the connection (byte {in_response} of response {response})")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Offset in the connection's stream (bytes read on it before the bad one).
    pub offset: u64,
    /// Which response, counted from 1 on the connection.
    pub response: u64,
    /// Offset from the response's first byte.
    pub in_response: u64,
}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilEof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a head into `buf`.
    Head,
    /// A `Content-Length` body.
    Body {
        remaining: u64,
    },
    /// Reading a chunk-size line into `buf`.
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    /// The CRLF after chunk data.
    ChunkDataEnd {
        seen_cr: bool,
    },
    /// Reading trailer lines into `buf`, `total` bytes so far.
    Trailers {
        total: usize,
    },
    /// A body that ends when the connection does.
    UntilEof,
    /// The connection ends after the last response; any further bytes are ignored.
    Closed,
    Failed(ParseError),
}

/// The response being read.
#[derive(Debug, Clone)]
struct Current {
    first_byte: u64,
    head_bytes: u64,
    status: u16,
    http_version: &'static str,
    headers: Vec<(String, String)>,
    body_bytes: u64,
    connection_close: bool,
}

/// Parses the responses of one connection, in order; see the module documentation.
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    /// The head or line being read; it starts at stream offset `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    /// Stream offset of the next byte fed.
    offset: u64,
    /// Whether each outstanding request was a HEAD, in the order written.
    expected: VecDeque<bool>,
    current: Option<Current>,
    completed: u64,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    pub fn new() -> Self {
        Self {
            state: State::Head,
            buf: Vec::new(),
            buf_start: 0,
            offset: 0,
            expected: VecDeque::new(),
            current: None,
            completed: 0,
        }
    }

    /// Announces a request written on the connection: its response comes after all earlier ones.
    /// The method matters because a response to HEAD has headers but never a body.
    pub fn expect(&mut self, method: &str) {
        self.expected.push_back(method.eq_ignore_ascii_case("HEAD"));
    }

    /// Requests announced and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.expected.len()
    }

    /// Stream offset of the next byte to be fed (the number of bytes fed so far).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Stream offset of the first byte of the response being read, if one has begun.
    pub fn message_start(&self) -> Option<u64> {
        self.current.as_ref().map(|c| c.first_byte)
    }

    /// Parses `data`, the next bytes of the stream, appending every response it completes to
    /// `out`. On error, the responses completed before the bad byte are still in `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<ParsedResponse>) -> Result<(), ParseError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let mut pos = 0;
        while pos < data.len() {
            match self.step(&data[pos..], out) {
                Ok(used) => {
                    pos += used;
                    self.offset += used as u64;
                }
                Err((kind, at)) => {
                    let error = self.error_at(kind, at);
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// The stream ended. Completes a response whose body runs to the end of the stream; a
    /// response cut short is an error. `Ok(None)` when the stream ended between responses.
    pub fn finish_eof(&mut self) -> Result<Option<ParsedResponse>, ParseError> {
        let kind = match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Closed => return Ok(None),
            State::Head if self.buf.is_empty() && self.current.is_none() => {
                self.state = State::Closed;
                return Ok(None);
            }
            State::UntilEof => {
                let done = self.complete(self.offset);
                self.state = State::Closed;
                return Ok(done);
            }
            State::Head => ParseErrorKind::EofInHead,
            State::Body { remaining } => ParseErrorKind::EofInBody(*remaining),
            State::ChunkSize
            | State::ChunkData { .. }
            | State::ChunkDataEnd { .. }
            | State::Trailers { .. } => ParseErrorKind::EofInChunkedBody,
        };
        let error = self.error_at(kind, self.offset);
        self.state = State::Failed(error.clone());
        Err(error)
    }

    fn error_at(&self, kind: ParseErrorKind, offset: u64) -> ParseError {
        let start = self.message_start().unwrap_or(offset);
        ParseError {
            kind,
            offset,
            response: self.completed + 1,
            in_response: offset.saturating_sub(start),
        }
    }

    /// Consumes a prefix of `rest` (at stream offset `self.offset`), at least one byte.
    fn step(
        &mut self,
        rest: &[u8],
        out: &mut Vec<ParsedResponse>,
    ) -> Result<usize, (ParseErrorKind, u64)> {
        let at = self.offset;
        match self.state {
            State::Head => self.step_head(rest, out),
            State::Body { remaining } => {
                let take = remaining.min(rest.len() as u64);
                self.count_body(take);
                if take == remaining {
                    self.finish_response(at + take, out);
                } else {
                    self.state = State::Body {
                        remaining: remaining - take,
                    };
                }
                Ok(take as usize)
            }
            State::ChunkSize => {
                let Some((line, used)) = self.take_line(rest, MAX_CHUNK_LINE_BYTES) else {
                    return if self.buf.len() > MAX_CHUNK_LINE_BYTES {
                        let start = self.buf_start;
                        Err((ParseErrorKind::ChunkLineTooLong, start))
                    } else {
                        Ok(rest.len())
                    };
                };
                let size = parse_chunk_size(&line)
                    .map_err(|i| (ParseErrorKind::InvalidChunkSize, self.buf_start + i as u64))?;
                self.buf.clear();
                self.state = if size == 0 {
                    State::Trailers { total: 0 }
                } else {
                    State::ChunkData { remaining: size }
                };
                Ok(used)
            }
            State::ChunkData { remaining } => {
                let take = remaining.min(rest.len() as u64);
                self.count_body(take);
                self.state = if take == remaining {
                    State::ChunkDataEnd { seen_cr: false }
                } else {
                    State::ChunkData {
                        remaining: remaining - take,
                    }
                };
                Ok(take as usize)
            }
            State::ChunkDataEnd { seen_cr } => match rest[0] {
                b'\r' if !seen_cr => {
                    self.state = State::ChunkDataEnd { seen_cr: true };
                    Ok(1)
                }
                b'\n' => {
                    self.state = State::ChunkSize;
                    Ok(1)
                }
                _ => Err((ParseErrorKind::MissingChunkCrlf, at)),
            },
            State::Trailers { total } => {
                let limit = MAX_TRAILER_BYTES - total;
                let Some((line, used)) = self.take_line(rest, limit) else {
                    return if self.buf.len() > limit {
                        Err((ParseErrorKind::TrailersTooLarge, self.buf_start))
                    } else {
                        Ok(rest.len())
                    };
                };
                let start = self.buf_start;
                self.buf.clear();
                if line.is_empty() {
                    self.finish_response(at + used as u64, out);
                } else if !is_field_line(&line) {
                    return Err((ParseErrorKind::InvalidTrailer, start));
                } else {
                    self.state = State::Trailers {
                        total: total + (at + used as u64 - start) as usize,
                    };
                }
                Ok(used)
            }
            State::UntilEof => {
                self.count_body(rest.len() as u64);
                Ok(rest.len())
            }
            State::Closed => Ok(rest.len()),
            // `feed` never steps a failed parser.
            State::Failed(ref e) => Err((e.kind.clone(), at)),
        }
    }

    fn count_body(&mut self, n: u64) {
        if let Some(current) = &mut self.current {
            current.body_bytes += n;
        }
    }

    /// Appends bytes of `rest` to `buf` up to the first LF. Returns the line (without CRLF or
    /// LF) and the bytes of `rest` used, or `None` if the line goes on (`buf` may then exceed
    /// `limit` by one byte, for the caller to report).
    fn take_line(&mut self, rest: &[u8], limit: usize) -> Option<(Vec<u8>, usize)> {
        if self.buf.is_empty() {
            self.buf_start = self.offset;
        }
        let room = (limit + 1).saturating_sub(self.buf.len());
        match rest.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => {
                self.buf.extend_from_slice(&rest[..=i]);
                if self.buf.len() > limit {
                    return None;
                }
                let mut line = self.buf[..self.buf.len() - 1].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some((line, i + 1))
            }
            None => {
                self.buf.extend_from_slice(&rest[..room.min(rest.len())]);
                None
            }
        }
    }

    fn step_head(
        &mut self,
        rest: &[u8],
        out: &mut Vec<ParsedResponse>,
    ) -> Result<usize, (ParseErrorKind, u64)> {
        let Some(&is_head_request) = self.expected.front() else {
            return Err((ParseErrorKind::Unsolicited, self.offset));
        };
        if self.buf.is_empty() {
            self.buf_start = self.offset;
            self.current.get_or_insert(Current {
                first_byte: self.offset,
                head_bytes: 0,
                status: 0,
                http_version: "HTTP/1.1",
                headers: Vec::new(),
                body_bytes: 0,
                connection_close: false,
            });
        }
        let old = self.buf.len();
        let take = rest.len().min(MAX_HEAD_BYTES + 1 - old);
        self.buf.extend_from_slice(&rest[..take]);
        let head_start = self.buf_start;
        // A head can only end on a LF: skip re-parsing a partial head until one arrives.
        let parsed = if old > 0 && !rest[..take].contains(&b'\n') {
            Ok(None)
        } else {
            parse_head(&self.buf, is_head_request)
        };
        let head = match parsed {
            Ok(Some(head)) => head,
            Ok(None) if self.buf.len() > MAX_HEAD_BYTES => {
                return Err((
                    ParseErrorKind::HeadTooLarge,
                    head_start + MAX_HEAD_BYTES as u64,
                ))
            }
            Ok(None) => return Ok(take),
            Err((kind, i)) => return Err((kind, head_start + i as u64)),
        };
        if head.len > MAX_HEAD_BYTES {
            return Err((
                ParseErrorKind::HeadTooLarge,
                head_start + MAX_HEAD_BYTES as u64,
            ));
        }
        let used = head.len - old;
        let end = head_start + head.len as u64;
        self.buf.clear();
        let Some(current) = &mut self.current else {
            return Ok(used);
        };
        current.head_bytes += head.len as u64;
        if head.status < 200 {
            // Informational: the final response is still to come.
            return Ok(used);
        }
        current.status = head.status;
        current.http_version = head.http_version;
        current.headers = head.headers;
        current.connection_close = head.connection_close;
        match head.framing {
            Framing::None | Framing::Length(0) => self.finish_response(end, out),
            Framing::Length(n) => self.state = State::Body { remaining: n },
            Framing::Chunked => self.state = State::ChunkSize,
            Framing::UntilEof => self.state = State::UntilEof,
        }
        Ok(used)
    }

    fn finish_response(&mut self, end: u64, out: &mut Vec<ParsedResponse>) {
        let done = self.complete(end);
        let close = done.as_ref().is_some_and(|r| r.connection_close);
        out.extend(done);
        self.state = if close { State::Closed } else { State::Head };
    }

    fn complete(&mut self, end: u64) -> Option<ParsedResponse> {
        let current = self.current.take()?;
        self.expected.pop_front();
        self.completed += 1;
        Some(ParsedResponse {
            number: self.completed,
            status: current.status,
            http_version: current.http_version,
            headers: current.headers,
            first_byte: current.first_byte,
            end,
            head_bytes: current.head_bytes,
            body_bytes: current.body_bytes,
            connection_close: current.connection_close,
        })
    }
}

/// A parsed head and what it means for the body.
struct Head {
    len: usize,
    status: u16,
    http_version: &'static str,
    headers: Vec<(String, String)>,
    framing: Framing,
    connection_close: bool,
}

/// Parses a complete head from the start of `buf`: `Ok(None)` if it is not complete yet, or the
/// error and its offset in `buf`.
fn parse_head(buf: &[u8], is_head_request: bool) -> Result<Option<Head>, (ParseErrorKind, usize)> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err((ParseErrorKind::TooManyHeaders, 0)),
        Err(e) => return Err((ParseErrorKind::InvalidHead(e), 0)),
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let offset_of = |value: &[u8]| (value.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize);

    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<String> = None;
    let (mut close, mut keep_alive) = (false, false);
    // The fields as text only when the records keep them (a load's do not).
    let keep = header_fields_kept();
    let mut headers = Vec::with_capacity(if keep { response.headers.len() } else { 0 });
    for field in response.headers.iter() {
        // As text only where it is read or kept: most fields are neither, in a load.
        let value = || String::from_utf8_lossy(field.value);
        if field.name.eq_ignore_ascii_case("content-length") {
            let value = value();
            // A list of identical values is allowed (RFC 9110 §8.6); anything else is not.
            for part in value.split(',') {
                let part = part.trim_matches([' ', '\t']);
                let n = match part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
                    true => part.parse::<u64>().ok(),
                    false => None,
                };
                let Some(n) = n else {
                    return Err((
                        ParseErrorKind::InvalidContentLength(value.into_owned()),
                        offset_of(field.value),
                    ));
                };
                match content_length {
                    Some(m) if m != n => {
                        return Err((
                            ParseErrorKind::ConflictingContentLength(m, n),
                            offset_of(field.value),
                        ))
                    }
                    _ => content_length = Some(n),
                }
            }
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            let all = transfer_encoding.get_or_insert_with(String::new);
            if !all.is_empty() {
                all.push(',');
            }
            all.push_str(&value());
        } else if field.name.eq_ignore_ascii_case("connection") {
            for token in value().split(',').map(|t| t.trim()) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
        if keep {
            headers.push((field.name.to_string(), value().into_owned()));
        }
    }

    if status == 101 {
        return Err((ParseErrorKind::UnexpectedUpgrade, 0));
    }
    let framing = if status < 200 || is_head_request || status == 204 || status == 304 {
        Framing::None
    } else if let Some(codings) = &transfer_encoding {
        if http10 {
            return Err((ParseErrorKind::TransferEncodingInHttp10, 0));
        }
        if content_length.is_some() {
            return Err((ParseErrorKind::AmbiguousFraming, 0));
        }
        // Chunked must be the final coding; otherwise the body runs to the end (RFC 9112 §6.3).
        let last = codings.rsplit(',').map(str::trim).find(|c| !c.is_empty());
        match last {
            Some(c) if c.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::UntilEof,
        }
    } else if let Some(n) = content_length {
        Framing::Length(n)
    } else {
        Framing::UntilEof
    };
    Ok(Some(Head {
        len,
        status,
        http_version: if http10 { "HTTP/1.0" } else { "HTTP/1.1" },
        headers,
        framing,
        connection_close: close || (http10 && !keep_alive),
    }))
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1): the size, or the offset of the first bad byte.
fn parse_chunk_size(line: &[u8]) -> Result<u64, usize> {
    let mut size: u64 = 0;
    let mut digits = 0;
    for (i, &b) in line.iter().enumerate() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ if digits > 0 => return chunk_ext(line, i).map(|()| size),
            _ => return Err(i),
        };
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)))
            .ok_or(i)?;
        digits += 1;
    }
    if digits == 0 {
        return Err(0);
    }
    Ok(size)
}

/// What may follow the size: whitespace, then nothing or `;` extensions without control bytes.
fn chunk_ext(line: &[u8], from: usize) -> Result<(), usize> {
    let mut i = from;
    while i < line.len() && matches!(line[i], b' ' | b'\t') {
        i += 1;
    }
    match line.get(i) {
        None => Ok(()),
        Some(b';') => match line[i..].iter().position(|&b| b < 0x20 && b != b'\t') {
            Some(bad) => Err(i + bad),
            None => Ok(()),
        },
        Some(_) => Err(i),
    }
}

/// A trailer line `name: value` with a token name.
fn is_field_line(line: &[u8]) -> bool {
    let mut fields = [httparse::EMPTY_HEADER; 1];
    let mut with_end = line.to_vec();
    with_end.extend_from_slice(b"\r\n\r\n");
    matches!(
        httparse::parse_headers(&with_end, &mut fields),
        Ok(httparse::Status::Complete(_))
    )
}

#[cfg(test)]
mod tests;
