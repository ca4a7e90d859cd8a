//! What the lab's client and server tell each other beyond HTTP itself: the request id that
//! joins the server's log to the client's records (`x-httplab-request`), the padding that gives
//! a head the size a scenario asks (`x-httplab-pad`), and the metrics the
//! server reports in `Server-Timing` (W3C Server Timing): `app;dur=…` the handler's think time,
//! and from the pipelining server `queue;dur=…` (request read → handler started) and
//! `hol;dur=…` (response ready → its turn to be written), all in milliseconds.
//!
//! The server encodes with this module and the tests decode with it; no other code writes or
//! reads these. Decoding follows the W3C grammar loosely: entries are separated by commas and
//! parameters by semicolons, `dur` is a decimal number of milliseconds, values may be quoted,
//! whitespace is tolerated, and anything it cannot read is skipped rather than failed.

use std::time::Duration;

/// The header carrying the client's request id, which the server logs beside its own times.
pub const REQUEST_ID_HEADER: &str = "x-httplab-request";

/// The field that pads a request or response head to the size a scenario gives it
/// (`request_headers`, `response_headers`: a HAR's `headersSize`).
pub const PAD_HEADER: &str = "x-httplab-pad";

/// A head's size as HTTP/1.1 text: its start line (without CRLF), each field as
/// `name: value` CRLF, and the blank line.
pub fn head_size<'a>(
    start_line: usize,
    fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> u64 {
    let fields: usize = fields
        .into_iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum();
    (start_line + 2 + fields + 2) as u64
}

/// The [`PAD_HEADER`] field that brings a head of `size` bytes to `target`, if one fits (it
/// takes 17 bytes at least); `None` when the head is already that large or within 17 bytes of
/// it.
pub fn pad_field(size: u64, target: u64) -> Option<(&'static str, String)> {
    let overhead = (PAD_HEADER.len() + 4) as u64;
    let fill = target.checked_sub(size)?.checked_sub(overhead)?;
    Some((PAD_HEADER, "p".repeat(usize::try_from(fill).ok()?)))
}

/// The request id in a [`REQUEST_ID_HEADER`] value.
pub fn parse_request_id(value: &[u8]) -> Option<u32> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// The server's side of one response, as its `Server-Timing` header says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerTiming {
    /// The handler's think time.
    pub app: Duration,
    /// Request head read → handler started (the pipelining server only).
    pub queue: Option<Duration>,
    /// Response ready → its turn to be written (the pipelining server only).
    pub hol: Option<Duration>,
}

impl ServerTiming {
    /// The header value: `app;dur=1.500`, then `queue` and `hol` where known.
    pub fn header(&self) -> String {
        let mut value = String::with_capacity(64);
        value.push_str("app;dur=");
        push_millis(&mut value, self.app);
        for (name, dur) in [("queue", self.queue), ("hol", self.hol)] {
            if let Some(dur) = dur {
                value.push_str(", ");
                value.push_str(name);
                value.push_str(";dur=");
                push_millis(&mut value, dur);
            }
        }
        value
    }

    /// The first readable `dur` of the metric `name` in one header value.
    pub fn metric(value: &str, name: &str) -> Option<Duration> {
        for entry in split_unquoted(value, ',') {
            let mut parts = split_unquoted(entry, ';').into_iter();
            if !parts
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case(name)
            {
                continue;
            }
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                if !key.trim().eq_ignore_ascii_case("dur") {
                    continue;
                }
                if let Some(dur) = milliseconds(&unquote(value.trim())) {
                    return Some(dur);
                }
            }
        }
        None
    }

    /// What a response's `Server-Timing` fields (any number of them, among its headers) say;
    /// `None` without a readable `app` entry.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let values: Vec<&str> = headers
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("server-timing"))
            .map(|(_, value)| value)
            .collect();
        let find = |name: &str| values.iter().find_map(|v| Self::metric(v, name));
        Some(Self {
            app: find("app")?,
            queue: find("queue"),
            hol: find("hol"),
        })
    }
}

/// A duration as `Server-Timing` writes it: milliseconds, 3 decimals (the microsecond rounded
/// half up). Written digit by digit: the server writes one per response, and float formatting
/// was a twentieth of its time per request.
fn push_millis(out: &mut String, d: Duration) {
    let micros = (d.as_nanos() + 500) / 1000;
    push_digits(out, micros / 1000);
    out.push('.');
    let frac = micros % 1000;
    for div in [100, 10, 1] {
        out.push(char::from(b'0' + (frac / div % 10) as u8));
    }
}

/// `n` in decimal.
fn push_digits(out: &mut String, n: u128) {
    if n >= 10 {
        push_digits(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Splits on `sep` outside double quotes (a backslash escapes the next byte inside quotes).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A quoted-string's content, or the token as it is.
fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            out
        }
        None => s.to_string(),
    }
}

/// Decimal milliseconds (`95`, `95.5`, `.5`), nothing else: no sign, exponent, `inf` or `NaN`.
fn milliseconds(s: &str) -> Option<Duration> {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let dots = s.bytes().filter(|&b| b == b'.').count();
    if digits == 0 || digits + dots != s.len() || dots > 1 {
        return None;
    }
    let ms: f64 = s.parse().ok()?;
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Option<Duration> {
        Some(Duration::from_secs_f64(v / 1000.0))
    }

    #[test]
    fn finds_a_metric_among_entries() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("hol;dur=95.5", ms(95.5)),
            ("app;dur=2.000, hol;dur=12", ms(12.0)),
            ("  HOL ; DUR = 7.25 ;desc=\"queued\"", ms(7.25)),
            ("hol;desc=\"a, b; c\";dur=\"3.5\"", ms(3.5)),
            ("app;desc=\"hol;dur=9\", hol;dur=1", ms(1.0)),
            ("hol;dur=.5", ms(0.5)),
            ("hol;dur=0", ms(0.0)),
            ("hol", None),
            ("hol;dur", None),
            ("hol;dur=", None),
            ("hol;dur=-3", None),
            ("hol;dur=1e3", None),
            ("hol;dur=inf", None),
            ("hol;dur=NaN", None),
            ("hol;dur=1.2.3", None),
            ("hol;dur=abc, hol;dur=4", ms(4.0)),
            ("holx;dur=5", None),
            ("app;dur=5", None),
            ("", None),
            (";;,,=\"", None),
            ("hol;dur=\"unterminated", None),
            ("hol;dur=99999999999999999999999999", None),
        ];
        for (value, want) in cases {
            assert_eq!(ServerTiming::metric(value, "hol"), *want, "{value:?}");
        }
    }

    #[test]
    fn what_the_server_encodes_decodes_to_the_same() {
        let timing = ServerTiming {
            app: Duration::from_micros(1_500),
            queue: Some(Duration::from_micros(250)),
            hol: Some(Duration::from_micros(300_000)),
        };
        let header = timing.header();
        assert_eq!(header, "app;dur=1.500, queue;dur=0.250, hol;dur=300.000");
        assert_eq!(
            ServerTiming::from_headers([("Server-Timing", header.as_str())]),
            Some(timing)
        );
        let app_only = ServerTiming {
            app: Duration::from_micros(50_123),
            ..ServerTiming::default()
        };
        assert_eq!(app_only.header(), "app;dur=50.123");
        // The microsecond rounded half up; no digits lost on long durations.
        for (nanos, want) in [
            (0, "app;dur=0.000"),
            (1_234_499, "app;dur=1.234"),
            (1_234_500, "app;dur=1.235"),
            (12_000_000_000, "app;dur=12000.000"),
        ] {
            let timing = ServerTiming {
                app: Duration::from_nanos(nanos),
                ..ServerTiming::default()
            };
            assert_eq!(timing.header(), want, "{nanos} ns");
        }
    }

    #[test]
    fn looks_through_every_server_timing_field() {
        let headers = [
            ("content-length", "5"),
            ("Server-Timing", "app;dur=1"),
            ("server-timing", "hol;dur=95.5"),
        ];
        let timing = ServerTiming::from_headers(headers).expect("app is there");
        assert_eq!(timing.hol, ms(95.5));
        assert_eq!(
            ServerTiming::from_headers(headers[..2].iter().copied())
                .unwrap()
                .hol,
            None
        );
        assert_eq!(
            ServerTiming::from_headers([("server-timing", "hol;dur=1")]),
            None
        );
    }

    #[test]
    fn request_ids_are_decimal_numbers() {
        assert_eq!(parse_request_id(b" 42 "), Some(42));
        assert_eq!(parse_request_id(b"-1"), None);
        assert_eq!(parse_request_id(b"\xff"), None);
    }
}
