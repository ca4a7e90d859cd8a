//! Unit tests of the response parser.

use super::*;

/// Feeds `chunks` in turn, then the end of the stream.
fn parse(methods: &[&str], chunks: &[&[u8]]) -> Result<Vec<ParsedResponse>, ParseError> {
    let mut parser = ResponseParser::new();
    for m in methods {
        parser.expect(m);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out)?;
    }
    out.extend(parser.finish_eof()?);
    Ok(out)
}

/// Several responses of every framing, back to back, ending with a close-delimited one.
fn mixed_stream() -> (Vec<&'static str>, Vec<u8>) {
    let parts: &[(&str, &str)] = &[
        ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer-Timing: hol;dur=1\r\n\r\nhello"),
        ("GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;name=\"a;b\"\r\nWiki\r\n5 ; x\r\npedia\r\n0\r\nExpires: never\r\n\r\n"),
        ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        ("GET", "HTTP/1.1 204 No Content\r\n\r\n"),
        ("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nA\r\n0123456789\n0\n\n"),
        ("GET", "HTTP/1.1 200 OK\r\n\r\nto the end"),
    ];
    let methods = parts.iter().map(|(m, _)| *m).collect();
    let bytes = parts.iter().flat_map(|(_, r)| r.bytes()).collect();
    (methods, bytes)
}

#[test]
fn merged_responses_in_one_buffer() {
    let (methods, bytes) = mixed_stream();
    let got = parse(&methods, &[&bytes]).unwrap();
    let summary: Vec<(u64, u16, u64)> = got
        .iter()
        .map(|r| (r.number, r.status, r.body_bytes))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 200, 5),
            (2, 200, 2),
            (3, 200, 9),
            (4, 200, 0),
            (5, 204, 0),
            (6, 304, 0),
            (7, 200, 0),
            (8, 200, 10),
            (9, 200, 10)
        ]
    );
    // Offsets tile the stream exactly: each response starts where the previous one ended.
    assert_eq!(got[0].first_byte, 0);
    for pair in got.windows(2) {
        assert_eq!(pair[0].end, pair[1].first_byte);
    }
    assert_eq!(got[8].end, bytes.len() as u64);
    // The 100 Continue head counts towards the response it precedes.
    assert_eq!(got[1].head_bytes, 25 + 38);
    assert_eq!(got[1].wire_bytes(), 25 + 38 + 2);
    assert_eq!(
        got[0].headers[1],
        ("Server-Timing".into(), "hol;dur=1".into())
    );
    assert!(got.iter().all(|r| !r.connection_close));
}

#[test]
fn every_split_point_gives_the_same_responses() {
    let (methods, bytes) = mixed_stream();
    let whole = parse(&methods, &[&bytes]).unwrap();
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let got = parse(&methods, &[a, b]).unwrap_or_else(|e| panic!("split {split}: {e}"));
        assert_eq!(got, whole, "split at {split}");
    }
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(parse(&methods, &bytewise).unwrap(), whole);
}

#[test]
fn message_start_follows_the_response_in_progress() {
    let mut p = ResponseParser::new();
    p.expect("GET");
    p.expect("GET");
    let mut out = Vec::new();
    assert_eq!(p.message_start(), None);
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", &mut out)
        .unwrap();
    assert_eq!(p.message_start(), Some(0));
    p.feed(b"cHTTP/1.1 200", &mut out).unwrap();
    assert_eq!((out.len(), out[0].end, out[0].last_byte()), (1, 41, 40));
    assert_eq!(p.message_start(), Some(41));
    assert_eq!((p.offset(), p.outstanding()), (53, 1));
}

#[test]
fn connection_close_and_http10() {
    let stream = b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
    let got = parse(&["GET", "GET"], &[stream]).unwrap();
    assert_eq!(got.len(), 1, "bytes after a closing response are ignored");
    assert!(got[0].connection_close);
    let got = parse(
        &["GET"],
        &[b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"],
    )
    .unwrap();
    assert_eq!(
        (got[0].http_version, got[0].connection_close),
        ("HTTP/1.0", true)
    );
    let got = parse(
        &["GET"],
        &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"],
    )
    .unwrap();
    assert!(!got[0].connection_close);
}

fn error(methods: &[&str], stream: &[u8]) -> ParseError {
    parse(methods, &[stream]).unwrap_err()
}

#[test]
fn truncated_input_is_an_error() {
    let e = error(
        &["GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert_eq!(e.kind, ParseErrorKind::EofInBody(7));
    assert_eq!((e.offset, e.response, e.in_response), (42, 1, 42));
    let e = error(
        &["GET", "GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le",
    );
    assert_eq!(e.kind, ParseErrorKind::EofInHead);
    assert_eq!((e.offset, e.response, e.in_response), (65, 2, 27));
    let e = error(
        &["GET"],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    );
    assert_eq!(e.kind, ParseErrorKind::EofInChunkedBody);
    // A clean end between responses is not an error, whatever is still expected.
    assert_eq!(parse(&["GET", "GET"], &[b""]).unwrap(), vec![]);
}

#[test]
fn chunked_errors_name_the_byte() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let at = head.len() as u64;
    let e = error(&["GET"], format!("{head}zz\r\n").as_bytes());
    assert_eq!(
        (e.kind.clone(), e.offset),
        (ParseErrorKind::InvalidChunkSize, at)
    );
    assert_eq!(
        e.to_string(),
        format!("invalid chunk size at byte {at} of the connection (byte {at} of response 1)")
    );
    let e = error(&["GET"], format!("{head}5x\r\n").as_bytes());
    assert_eq!(e.offset, at + 1);
    let e = error(&["GET"], format!("{head}3\r\nabcX").as_bytes());
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::MissingChunkCrlf, at + 6)
    );
    let e = error(&["GET"], format!("{head}fffffffffffffffff\r\n").as_bytes());
    assert_eq!(e.kind, ParseErrorKind::InvalidChunkSize);
    let long = format!("{head}1;{}\r\n", "e".repeat(MAX_CHUNK_LINE_BYTES));
    assert_eq!(
        error(&["GET"], long.as_bytes()).kind,
        ParseErrorKind::ChunkLineTooLong
    );
    let e = error(
        &["GET"],
        format!("{head}0\r\nnot a field\r\n\r\n").as_bytes(),
    );
    assert_eq!(e.kind, ParseErrorKind::InvalidTrailer);
}

#[test]
fn oversized_heads_are_errors() {
    // Few headers but too many bytes: caught while the head is still incomplete.
    let mut few = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    few.resize(MAX_HEAD_BYTES + 10, b'a');
    let e = error(&["GET"], &few);
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::HeadTooLarge, MAX_HEAD_BYTES as u64)
    );
    // In small pieces, the same.
    let mut p = ResponseParser::new();
    p.expect("GET");
    let mut out = Vec::new();
    let e = few
        .chunks(7)
        .find_map(|b| p.feed(b, &mut out).err())
        .unwrap();
    assert_eq!(e.kind, ParseErrorKind::HeadTooLarge);
    // Too many header fields.
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(error(&["GET"], &many).kind, ParseErrorKind::TooManyHeaders);
    // The parser stays failed.
    assert_eq!(
        p.feed(b"more", &mut out).unwrap_err().kind,
        ParseErrorKind::HeadTooLarge
    );
    assert_eq!(
        p.finish_eof().unwrap_err().kind,
        ParseErrorKind::HeadTooLarge
    );
}

#[test]
fn bad_content_lengths() {
    let e = error(&["GET"], b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n");
    assert_eq!(e.kind, ParseErrorKind::InvalidContentLength("abc".into()));
    assert_eq!(e.offset, 33);
    assert!(e.to_string().contains("at byte 33"), "{e}");
    let e = error(
        &["GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    );
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::ConflictingContentLength(5, 6), 52)
    );
    for bad in ["-1", "+5", "1 2", "", "99999999999999999999999", "0x10"] {
        let stream = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
        let e = error(&["GET"], stream.as_bytes());
        assert!(
            matches!(e.kind, ParseErrorKind::InvalidContentLength(_)),
            "{bad}: {e}"
        );
    }
    // Identical duplicates are one length.
    let ok = parse(
        &["GET"],
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"],
    )
    .unwrap();
    assert_eq!(ok[0].body_bytes, 2);
    let e = error(
        &["GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(e.kind, ParseErrorKind::AmbiguousFraming);
}

#[test]
fn other_malformed_input() {
    // No length at all: the body runs to the end of the stream.
    let got = parse(&["GET"], &[b"HTTP/1.1 200 OK\r\n\r\n"]).unwrap();
    assert_eq!((got[0].body_bytes, got[0].end), (0, 19));
    let e = error(&[], b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Unsolicited, 0));
    let e = error(&["GET"], b"HTTP/1.1 20x OK\r\n\r\n");
    assert!(matches!(e.kind, ParseErrorKind::InvalidHead(_)), "{e}");
    let e = error(&["GET"], b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    assert_eq!(e.kind, ParseErrorKind::UnexpectedUpgrade);
    let e = error(
        &["GET"],
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(e.kind, ParseErrorKind::TransferEncodingInHttp10);
}
