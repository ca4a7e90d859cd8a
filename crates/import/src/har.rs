//! Reading a HAR file (http://www.softwareishard.com/blog/har-12-spec/) as DevTools (Chrome,
//! Edge, Firefox), WebPageTest and sitespeed.io's chrome-har write it: the fields of each entry
//! the import uses, in microseconds and bytes, with HAR's -1 ("unknown") as `None`.
//!
//! It owns [`Har`] and [`Entry`] and their checks ("full recognition before processing": the
//! whole file is read, and a bad entry refused with its index, before anything is mapped) and the
//! ISO 8601 timestamps of `startedDateTime`. It deliberately decides nothing about what is
//! replayed: `plan.rs` skips, orders and times entries.

use crate::error::ImportError;
use crate::url::Url;
use httplab_core::wire::ServerTiming;
use serde_json::Value;

/// The entries of the HAR's first page, in the file's order.
pub(crate) struct Har {
    /// `log.creator` as "name version".
    pub(crate) creator: String,
    pub(crate) entries: Vec<Entry>,
    /// Entries of later pages (`pageref` naming another page than the first), left out.
    pub(crate) later_pages: usize,
}

/// What the import reads of one `log.entries[i]`.
pub(crate) struct Entry {
    /// 0-based position in `log.entries`.
    pub(crate) index: usize,
    pub(crate) url: String,
    pub(crate) parsed: Url,
    pub(crate) method: String,
    pub(crate) status: i64,
    /// `startedDateTime`, microseconds since the Unix epoch.
    pub(crate) started: i64,
    /// `time`, microseconds (0 when negative).
    pub(crate) time: i64,
    pub(crate) connect: Option<i64>,
    pub(crate) ssl: Option<i64>,
    pub(crate) wait: Option<i64>,
    pub(crate) receive: Option<i64>,
    /// `response.content.size`, else `response.bodySize`.
    pub(crate) response_body: Option<u64>,
    /// Bytes that crossed the wire for the response: `_transferSize`, else bodySize plus
    /// headersSize.
    pub(crate) transferred: Option<u64>,
    /// `request.bodySize`, else `postData.text`'s length.
    pub(crate) request_body: u64,
    pub(crate) request_headers: Option<u64>,
    pub(crate) response_headers: Option<u64>,
    /// `connection` (Chrome), as text.
    pub(crate) connection: Option<String>,
    pub(crate) server_ip: Option<String>,
    pub(crate) initiator: Initiator,
    /// `_fromCache` (Chrome: "memory" or "disk").
    pub(crate) from_cache: Option<String>,
    /// `_error` (Chrome: "net::ERR_ABORTED" and the like).
    pub(crate) error: Option<String>,
    pub(crate) resource_type: Option<String>,
    pub(crate) http_version: String,
    /// The response's own account of its think time, microseconds: `Server-Timing`'s `total`,
    /// else its `app` (the lab's server and many others send one).
    pub(crate) server_timing: Option<(String, i64)>,
}

/// `_initiator`, as Chrome and chrome-har write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Initiator {
    /// No `_initiator` field (Firefox, WebPageTest).
    Absent,
    /// The URL that made the browser ask: `url`, the top frame of a script's stack, or
    /// chrome-har's plain string.
    Url(String),
    /// An initiator that names no URL (`type: "other"`: the document itself, a navigation).
    NoUrl,
}

/// Reads and checks the whole file.
pub(crate) fn read(text: &str, file: &str) -> Result<Har, ImportError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| ImportError::NotJson {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let not_har = |why: &str| ImportError::NotHar {
        file: file.to_string(),
        why: why.to_string(),
    };
    let log = doc
        .get("log")
        .filter(|l| l.is_object())
        .ok_or_else(|| not_har("it has no `log` object"))?;
    match log.get("version").and_then(Value::as_str) {
        // 1.1 (WebPageTest still writes it) lacks only fields the import treats as optional.
        Some("1.2" | "1.1") => {}
        Some(v) => return Err(not_har(&format!("`log.version` is \"{v}\", not \"1.2\""))),
        None => return Err(not_har("`log.version` is missing")),
    }
    let entries = log
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| not_har("`log.entries` is missing or not a list"))?;
    if entries.is_empty() {
        return Err(ImportError::NoEntries {
            file: file.to_string(),
        });
    }
    let creator = log.get("creator").map_or_else(String::new, |c| {
        let part = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
        format!("{} {}", part("name"), part("version"))
            .trim()
            .to_string()
    });
    let first_page = log
        .get("pages")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str);
    let mut read = Vec::with_capacity(entries.len());
    let mut later_pages = 0;
    for (index, e) in entries.iter().enumerate() {
        let entry = entry(index, e).map_err(|why| ImportError::Entry {
            file: file.to_string(),
            index,
            why,
        })?;
        let pageref = e.get("pageref").and_then(Value::as_str);
        match (first_page, pageref) {
            (Some(first), Some(page)) if page != first => later_pages += 1,
            _ => read.push(entry),
        }
    }
    Ok(Har {
        creator,
        entries: read,
        later_pages,
    })
}

/// A number of milliseconds as microseconds; negative (HAR's -1), missing or null is `None`.
fn micros(v: Option<&Value>) -> Option<i64> {
    let ms = v?.as_f64()?;
    (ms >= 0.0 && ms.is_finite()).then(|| (ms * 1000.0).round() as i64)
}

/// A byte count; negative (HAR's -1), missing or null is `None`.
fn bytes(v: Option<&Value>) -> Option<u64> {
    let n = v?.as_f64()?;
    (n >= 0.0 && n.is_finite()).then(|| n.round() as u64)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn entry(index: usize, e: &Value) -> Result<Entry, String> {
    let request = e
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("it has no `request` object")?;
    let response = e.get("response").filter(|r| r.is_object());
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or("`request.url` is missing")?
        .to_string();
    let parsed = Url::parse(&url)?;
    if let Url::Other { .. } = parsed {
        // Never replayed (data:, blob:, …), so its timings are not asked for.
        return Ok(Entry::unreplayable(index, url, parsed));
    }
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let at = |key: &str| response.and_then(|r| r.get(key));
    let status = at("status").and_then(Value::as_i64).unwrap_or(0);
    let started = e
        .get("startedDateTime")
        .and_then(Value::as_str)
        .ok_or("`startedDateTime` is missing")?;
    let started = parse_date(started).ok_or_else(|| {
        format!("`startedDateTime` \"{started}\" is not an ISO 8601 date and time")
    })?;
    let time = e
        .get("time")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .ok_or("`time` is missing or not a number")?;
    let timings = e
        .get("timings")
        .filter(|t| t.is_object())
        .ok_or("it has no `timings` object")?;
    let timing = |k: &str| timings.get(k);
    if !timing("wait").is_some_and(Value::is_number) {
        return Err("`timings.wait` is missing or not a number".into());
    }
    let content_size = at("content").and_then(|c| bytes(c.get("size")));
    let body_size = bytes(at("bodySize"));
    let response_headers = bytes(at("headersSize"));
    let transferred = bytes(at("_transferSize"))
        .or_else(|| body_size.map(|b| b + response_headers.unwrap_or_default()));
    let post_text = request
        .get("postData")
        .and_then(|p| p.get("text"))
        .and_then(Value::as_str)
        .map(|t| t.len() as u64);
    let initiator = match e.get("_initiator") {
        None | Some(Value::Null) => Initiator::Absent,
        Some(i) => initiator_url(i).map_or(Initiator::NoUrl, Initiator::Url),
    };
    Ok(Entry {
        index,
        url,
        parsed,
        method,
        status,
        started,
        time: (time.max(0.0) * 1000.0).round() as i64,
        connect: micros(timing("connect")),
        ssl: micros(timing("ssl")),
        wait: micros(timing("wait")),
        receive: micros(timing("receive")),
        response_body: content_size.or(body_size),
        transferred,
        request_body: bytes(request.get("bodySize"))
            .or(post_text)
            .unwrap_or_default(),
        request_headers: bytes(request.get("headersSize")),
        response_headers,
        connection: text(e.get("connection")),
        server_ip: text(e.get("serverIPAddress")),
        initiator,
        from_cache: text(e.get("_fromCache")),
        error: text(e.get("_error")),
        resource_type: text(e.get("_resourceType")),
        http_version: at("httpVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        server_timing: server_timing(at("headers")),
    })
}

/// The `total` (else `app`) duration of a response's `Server-Timing` fields, microseconds.
fn server_timing(headers: Option<&Value>) -> Option<(String, i64)> {
    let values: Vec<&str> = headers?
        .as_array()?
        .iter()
        .filter(|h| {
            h.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case("server-timing"))
        })
        .filter_map(|h| h.get("value").and_then(Value::as_str))
        .collect();
    ["total", "app"].into_iter().find_map(|metric| {
        let dur = values
            .iter()
            .find_map(|v| ServerTiming::metric(v, metric))?;
        Some((metric.to_string(), i64::try_from(dur.as_micros()).ok()?))
    })
}

impl Entry {
    /// An entry with a URL no replay requests: only its place and URL matter.
    fn unreplayable(index: usize, url: String, parsed: Url) -> Entry {
        Entry {
            index,
            url,
            parsed,
            method: String::new(),
            status: 0,
            started: 0,
            time: 0,
            connect: None,
            ssl: None,
            wait: None,
            receive: None,
            response_body: None,
            transferred: None,
            request_body: 0,
            request_headers: None,
            response_headers: None,
            connection: None,
            server_ip: None,
            initiator: Initiator::Absent,
            from_cache: None,
            error: None,
            resource_type: None,
            http_version: String::new(),
            server_timing: None,
        }
    }
}

/// The URL an `_initiator` names: chrome-har's string, `url` (parser, preload), or the top
/// frame with a URL of a script's stack, following `parent` (async stacks).
fn initiator_url(initiator: &Value) -> Option<String> {
    if let Some(url) = initiator.as_str() {
        return Some(url.to_string()).filter(|u| !u.is_empty());
    }
    if let Some(url) = initiator.get("url").and_then(Value::as_str) {
        if !url.is_empty() {
            return Some(url.to_string());
        }
    }
    let mut stack = initiator.get("stack");
    // Bounded: DevTools caps async stack chains far below this.
    for _ in 0..64 {
        let s = stack?;
        let frames = s.get("callFrames").and_then(Value::as_array);
        if let Some(url) = frames
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("url").and_then(Value::as_str))
            .find(|u| !u.is_empty())
        {
            return Some(url.to_string());
        }
        stack = s.get("parent");
    }
    None
}

/// An ISO 8601 date and time (`2026-11-30T16:02:03.123Z`, `…123456+01:00`) as microseconds
/// since the Unix epoch; digits of the fraction beyond microseconds are dropped.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut fraction = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let six: String = f[..n]
            .chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect();
        fraction = six.parse::<i64>().ok()?;
        rest = &f[n..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (hm[..2].parse::<i64>().ok()? * 60 + hm[2..].parse::<i64>().ok()?)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000_000 + fraction)
}
