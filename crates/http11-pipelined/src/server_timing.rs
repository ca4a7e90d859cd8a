//! Reading the head-of-line time a server reports in `Server-Timing` (W3C Server Timing).
//!
//! The lab server reports, for a pipelined response, how long it was ready but queued behind
//! earlier responses, as an entry `hol;dur=<milliseconds>`. This module owns finding that entry
//! in a header value: entries are separated by commas and parameters by semicolons, `dur` is a
//! decimal number of milliseconds, values may be quoted, whitespace is tolerated, and anything
//! it cannot read is skipped rather than failed. It deliberately knows no other metric names.

use std::time::Duration;

/// The name of the metric holding the head-of-line time.
pub const HOL_METRIC: &str = "hol";

/// The `dur` of the first readable `hol` entry in one `Server-Timing` field value.
pub fn hol_from_server_timing(value: &str) -> Option<Duration> {
    for entry in split_unquoted(value, ',') {
        let mut parts = split_unquoted(entry, ';').into_iter();
        let name = parts.next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case(HOL_METRIC) {
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

/// The `hol` time among a response's headers (any number of `Server-Timing` fields).
pub fn hol_from_headers(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("server-timing"))
        .find_map(|(_, value)| hol_from_server_timing(value))
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
    fn finds_hol_among_entries() {
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
            assert_eq!(hol_from_server_timing(value), *want, "{value:?}");
        }
    }

    #[test]
    fn looks_through_every_server_timing_field() {
        let headers = vec![
            ("content-length".to_string(), "5".to_string()),
            ("Server-Timing".to_string(), "app;dur=1".to_string()),
            ("server-timing".to_string(), "hol;dur=95.5".to_string()),
        ];
        assert_eq!(hol_from_headers(&headers), ms(95.5));
        assert_eq!(hol_from_headers(&headers[..2]), None);
    }
}
