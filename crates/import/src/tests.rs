//! The mapping on small hand-written HARs: Chrome's (`_initiator`, `connection`) and
//! Firefox's (neither), skips, query strings, repeated URLs and bad input. Each test reads the
//! scenario back through the lab's own parser and asserts on what the lab would run.

use crate::{import, ImportError, Imported};
use httplab_core::Resource;
use serde_json::{json, Value};
use std::time::Duration;

const T0: &str = "2026-11-30T16:00:00.000Z";

/// `T0` plus `ms` milliseconds, as startedDateTime.
fn at(ms: f64) -> String {
    let us = (ms * 1000.0).round() as i64;
    let seconds = us / 1_000_000;
    format!(
        "2026-11-30T16:{:02}:{:02}.{:06}Z",
        seconds / 60,
        seconds % 60,
        us % 1_000_000
    )
}

/// One entry: `url` started at `start` ms, lasting `time` ms, of which `wait` and `receive`
/// (connect and ssl -1 unless `extra` sets them), answered 200 with `size` bytes.
fn entry(url: &str, start: f64, time: f64, wait: f64, size: i64, extra: Value) -> Value {
    let mut e = json!({
        "startedDateTime": at(start),
        "time": time,
        "request": { "method": "GET", "url": url, "httpVersion": "h2", "headers": [],
                     "headersSize": 420, "bodySize": 0 },
        "response": { "status": 200, "httpVersion": "h2", "headers": [],
                      "content": { "size": size, "mimeType": "text/html" },
                      "headersSize": 180, "bodySize": size },
        "timings": { "blocked": 0, "dns": -1, "connect": -1, "ssl": -1, "send": 0.1,
                     "wait": wait, "receive": time - wait - 0.1 },
    });
    merge(&mut e, extra);
    e
}

/// Writes the keys of `extra` into `into`, objects merged key by key.
fn merge(into: &mut Value, extra: Value) {
    match (into, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn har(entries: Vec<Value>) -> String {
    json!({ "log": { "version": "1.2", "creator": { "name": "test", "version": "1" },
                     "pages": [{ "id": "page_1", "startedDateTime": T0, "title": "t",
                                 "pageTimings": {} }],
                     "entries": entries } })
    .to_string()
}

fn imported(entries: Vec<Value>) -> Imported {
    import(&har(entries), "page.har", "page").unwrap_or_else(|e| panic!("{e}"))
}

fn resource<'a>(i: &'a Imported, path: &str) -> &'a Resource {
    i.scenario
        .resources
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no {path} in\n{}", i.toml))
}

/// Every resource's path, in order.
fn paths(i: &Imported) -> Vec<&str> {
    i.scenario
        .resources
        .iter()
        .map(|r| r.path.as_str())
        .collect()
}

fn ms(ms: f64) -> Duration {
    Duration::from_micros((ms * 1000.0).round() as u64)
}

/// A Chrome page: the document opens connection 1 (connect 30 ms of which ssl 10 ms, so a
/// round trip of 20 ms), its stylesheet names a background image, a script fetches JSON.
fn chrome_page() -> Vec<Value> {
    let doc = "https://example.com/";
    let css = "https://example.com/style.css";
    let js = "https://example.com/app.js";
    vec![
        entry(
            doc,
            0.0,
            80.0,
            45.0,
            14_000,
            json!({
            "connection": "1", "_initiator": { "type": "other" },
            "timings": { "connect": 30.0, "ssl": 10.0 } }),
        ),
        entry(
            css,
            90.0,
            40.0,
            25.0,
            3_000,
            json!({
            "connection": "1", "_initiator": { "type": "parser", "url": doc } }),
        ),
        entry(
            js,
            91.0,
            50.0,
            21.5,
            9_000,
            json!({
            "connection": "1", "_initiator": { "type": "parser", "url": doc } }),
        ),
        entry(
            "https://example.com/bg.png",
            140.0,
            30.0,
            20.0,
            25_000,
            json!({
            "connection": "1", "_initiator": { "type": "parser", "url": css } }),
        ),
        entry(
            "https://example.com/api/items?page=2&q=a%20b",
            150.0,
            40.0,
            35.0,
            512,
            json!({
            "connection": "1",
            "_initiator": { "type": "script", "stack": { "callFrames": [],
                "parent": { "callFrames": [{ "url": js, "lineNumber": 3 }] } } } }),
        ),
    ]
}

#[test]
fn chrome_initiators_give_after_and_the_gap_gives_delay() {
    let i = imported(chrome_page());
    let r = &i.scenario.resources;
    assert_eq!(r.len(), 5, "{}", i.toml);
    assert!(i.scenario.client.tls);
    assert_eq!(r[0].path, "/");
    assert_eq!(r[0].after, None);
    assert_eq!(r[0].delay, Duration::ZERO);
    assert_eq!(r[0].size, 14_000);
    // The stylesheet: after the document, which ended at 80 ms; asked at 90 ms.
    assert_eq!(r[1].after.as_deref(), Some("/"));
    assert_eq!(r[1].delay, ms(10.0));
    // The background image: after the stylesheet (ended at 130 ms), asked at 140 ms.
    assert_eq!(r[3].path, "/bg.png");
    assert_eq!(r[3].after.as_deref(), Some("/style.css"));
    assert_eq!(r[3].delay, ms(10.0));
    assert_eq!(r[3].size, 25_000);
    // The script's fetch: its stack's top frame with a URL is app.js (ended at 141 ms).
    let api = resource(&i, "/api/items%3Fpage=2&q=a%2520b");
    assert_eq!(api.after.as_deref(), Some("/app.js"));
    assert_eq!(api.delay, ms(9.0));
}

#[test]
fn think_is_wait_less_the_connections_round_trip() {
    let i = imported(chrome_page());
    let r = &i.scenario.resources;
    // Round trip of connection 1: connect 30 − ssl 10 = 20 ms.
    assert_eq!(r[0].think, ms(25.0));
    assert_eq!(r[1].think, ms(5.0));
    assert_eq!(r[2].think, ms(1.5));
    assert_eq!(
        r[3].think,
        Duration::ZERO,
        "wait 20 ms is the round trip itself"
    );
    assert!(i.toml.contains("think = \"1.500ms\""), "{}", i.toml);
    assert!(
        i.toml.contains("request 420 B, response 180 B"),
        "{}",
        i.toml
    );
    // The proposed [network]: rtt from the connect, written commented out.
    assert!(i.toml.contains("# rtt = \"20.000ms\""), "{}", i.toml);
    assert!(i.scenario.network.is_none());
}

/// Firefox writes neither `_initiator` nor `connection`: each entry comes after the response
/// that ended last before it started, and a connection is serverIPAddress and port.
#[test]
fn firefox_entries_follow_the_latest_response_that_ended() {
    let ip = |a: &str| json!({ "serverIPAddress": a });
    let i = imported(vec![
        entry(
            "http://example.org/",
            0.0,
            60.0,
            30.0,
            10_000,
            ip("192.0.2.1"),
        ),
        entry(
            "http://example.org/a.css",
            70.0,
            40.0,
            32.0,
            2_000,
            ip("192.0.2.1"),
        ),
        entry(
            "http://example.org/b.js",
            71.0,
            30.0,
            34.0,
            2_000,
            ip("192.0.2.1"),
        ),
        // Starts at 105: b.js ended at 101, a.css only at 110.
        entry(
            "http://example.org/c.png",
            105.0,
            20.0,
            33.0,
            2_000,
            ip("192.0.2.1"),
        ),
        // Starts before anything ended: from the page's start.
        entry(
            "http://example.org/early.js",
            5.0,
            20.0,
            10.0,
            100,
            ip("192.0.2.9"),
        ),
    ]);
    let r = &i.scenario.resources;
    assert!(!i.scenario.client.tls);
    assert_eq!(r[1].after.as_deref(), Some("/"));
    assert_eq!(r[1].delay, ms(10.0));
    assert_eq!(r[2].after.as_deref(), Some("/"));
    assert_eq!(r[2].delay, ms(11.0));
    assert_eq!(r[3].after.as_deref(), Some("/b.js"));
    assert_eq!(r[3].delay, ms(4.0));
    assert_eq!(r[4].after, None);
    assert_eq!(r[4].delay, ms(5.0));
    // No connects: the round trip is the connection's least wait (30 ms on 192.0.2.1).
    assert_eq!(r[0].think, Duration::ZERO);
    assert_eq!(r[1].think, ms(2.0));
    assert_eq!(r[3].think, ms(3.0));
    assert_eq!(r[4].think, Duration::ZERO, "alone on 192.0.2.9");
    assert!(
        i.toml.contains("no entry opened a connection"),
        "{}",
        i.toml
    );
}

#[test]
fn unusable_entries_are_skipped_with_a_reason_and_their_dependants_re_pointed() {
    let doc = "https://example.com/";
    let css = "https://cdn.example.net/style.css";
    let cached = "https://example.com/cached.js";
    let parser = |url: &str| json!({ "_initiator": { "type": "parser", "url": url } });
    let mut websocket = entry("wss://example.com/live", 3.0, 1.0, 1.0, 0, parser(doc));
    merge(&mut websocket, json!({ "response": { "status": 101 } }));
    let mut revalidated = entry("https://example.com/304.png", 4.0, 9.0, 8.0, 0, parser(doc));
    merge(&mut revalidated, json!({ "response": { "status": 304 } }));
    let mut aborted = entry("https://example.com/gone.js", 5.0, 2.0, 1.0, 0, parser(doc));
    merge(
        &mut aborted,
        json!({ "response": { "status": 0 }, "_error": "net::ERR_ABORTED" }),
    );
    let mut from_cache = entry(cached, 6.0, 0.5, 0.1, 700, parser(doc));
    merge(&mut from_cache, json!({ "_fromCache": "disk" }));
    let mut blocked = entry(css, 25.0, 10.0, 5.0, 900, parser(doc));
    merge(
        &mut blocked,
        json!({ "response": { "status": 0 }, "_error": "net::ERR_BLOCKED_BY_CLIENT" }),
    );
    let mut no_content = entry("https://example.com/beacon", 40.0, 3.0, 2.0, 0, parser(doc));
    merge(
        &mut no_content,
        json!({ "request": { "method": "POST", "bodySize": 64 },
                                   "response": { "status": 204 } }),
    );
    let i = imported(vec![
        entry("data:image/png;base64,AAAA", 0.0, 0.0, 0.0, 4, json!({})),
        entry(doc, 1.0, 20.0, 10.0, 5_000, json!({})),
        entry(
            "blob:https://example.com/1234",
            2.0,
            0.0,
            0.0,
            10,
            json!({}),
        ),
        websocket,
        revalidated,
        aborted,
        from_cache,
        blocked,
        entry(
            "https://cdn.example.net/font.woff2",
            26.0,
            10.0,
            5.0,
            900,
            parser(doc),
        ),
        // Found by the CDN's stylesheet, which was blocked, itself found by the document.
        entry(
            "https://example.com/sprite.png",
            40.0,
            10.0,
            5.0,
            800,
            parser(css),
        ),
        // Found by the cached script: its initiator is the document too.
        entry(
            "https://example.com/lazy.png",
            30.0,
            10.0,
            5.0,
            300,
            parser(cached),
        ),
        no_content,
        entry(
            "chrome-extension://abc/inject.js",
            50.0,
            1.0,
            1.0,
            10,
            json!({}),
        ),
    ]);
    let paths = paths(&i);
    assert_eq!(
        paths,
        ["/", "/font.woff2", "/sprite.png", "/lazy.png", "/beacon"],
        "{}",
        i.toml
    );
    let sprite = resource(&i, "/sprite.png");
    assert_eq!(
        sprite.after.as_deref(),
        Some("/"),
        "re-pointed past the CDN's stylesheet"
    );
    assert_eq!(sprite.delay, ms(19.0), "from the document's end at 21 ms");
    assert_eq!(resource(&i, "/lazy.png").after.as_deref(), Some("/"));
    let beacon = resource(&i, "/beacon");
    assert_eq!(
        (beacon.status, beacon.size, beacon.request_body),
        (200, 0, 64)
    );
    assert_eq!(beacon.method, "POST");
    let notes = i.notes.join("\n");
    for words in [
        "entry 1 (log.entries[0]) data:image/png;base64,AAAA skipped: a data: URL",
        "entry 3 (log.entries[2])",
        "a blob: URL",
        "entry 4 (log.entries[3]) wss://example.com/live skipped: a WebSocket",
        "a 304",
        "status 0, net::ERR_ABORTED",
        "_fromCache: disk",
        "status 0, net::ERR_BLOCKED_BY_CLIENT",
        "a browser extension's URL",
    ] {
        assert!(notes.contains(words), "no `{words}` in\n{notes}");
    }
    assert_eq!(i.notes.len(), 8, "{notes}");
    // The scenario's header says the same.
    assert!(
        i.toml.contains("# - entry 6 (log.entries[5])"),
        "{}",
        i.toml
    );
    assert!(
        i.toml.contains("its _initiator, entry 8, was skipped"),
        "{}",
        i.toml
    );
}

#[test]
fn query_strings_and_repeated_urls_get_distinct_reversible_paths() {
    let i = imported(vec![
        entry("https://example.com/poll?t=1", 0.0, 5.0, 4.0, 10, json!({})),
        entry(
            "https://example.com/poll?t=1",
            10.0,
            5.0,
            4.0,
            11,
            json!({}),
        ),
        entry(
            "https://example.com/poll?t=1#frag",
            20.0,
            5.0,
            4.0,
            12,
            json!({}),
        ),
        entry(
            "https://example.com/a b/100%25.png?x=?y",
            30.0,
            5.0,
            4.0,
            13,
            json!({}),
        ),
        entry("https://example.com", 40.0, 5.0, 4.0, 14, json!({})),
        entry(
            "https://example.com/{i}/café|\"x\"",
            50.0,
            5.0,
            4.0,
            15,
            json!({}),
        ),
    ]);
    let paths = paths(&i);
    assert_eq!(
        paths,
        [
            "/poll%3Ft=1",
            "/poll%3Ft=1%232",
            "/poll%3Ft=1%233",
            "/a%20b/100%2525.png%3Fx=%3Fy",
            "/",
            "/%7Bi%7D/caf%C3%A9%7C%22x%22",
        ]
    );
    let sizes: Vec<u64> = i.scenario.resources.iter().map(|r| r.size).collect();
    assert_eq!(sizes, [10, 11, 12, 13, 14, 15]);
}

#[test]
fn content_size_falls_back_to_body_size_and_bodies_to_post_data() {
    let mut compressed = entry("https://example.com/x", 0.0, 5.0, 4.0, -1, json!({}));
    merge(&mut compressed, json!({ "response": { "bodySize": 777 } }));
    let mut upload = entry("https://example.com/up", 1.0, 5.0, 4.0, 3, json!({}));
    merge(
        &mut upload,
        json!({ "request": { "method": "PUT", "bodySize": -1,
                                            "postData": { "mimeType": "text/plain", "text": "hello" } } }),
    );
    let i = imported(vec![compressed, upload]);
    assert_eq!(i.scenario.resources[0].size, 777);
    assert_eq!(i.scenario.resources[1].request_body, 5);
    assert_eq!(i.scenario.resources[1].method, "PUT");
}

fn error(text: &str) -> ImportError {
    match import(text, "bad.har", "bad") {
        Ok(i) => panic!("imported:\n{}", i.toml),
        Err(e) => {
            assert!(e.is_input(), "{e}");
            e
        }
    }
}

#[test]
fn bad_input_is_refused_naming_the_file_and_the_entry() {
    let e = error("{ \"log\": ").to_string();
    assert!(
        e.starts_with("bad.har:1:") && e.contains(": not JSON: "),
        "{e}"
    );
    let e = error(&json!({ "log": { "version": "1.0", "entries": [] } }).to_string());
    assert!(
        e.to_string()
            .contains("`log.version` is \"1.0\", not \"1.2\""),
        "{e}"
    );
    let e = error(&json!({ "log": { "entries": [] } }).to_string());
    assert!(e.to_string().contains("`log.version` is missing"), "{e}");
    let e = error(&json!({ "entries": [] }).to_string());
    assert!(e.to_string().contains("no `log` object"), "{e}");
    let e = error(&har(vec![]));
    assert_eq!(
        e.to_string(),
        "bad.har: the HAR has no entries: export it after the page has loaded"
    );

    let good = || entry("https://example.com/", 0.0, 5.0, 4.0, 10, json!({}));
    let mut no_url = good();
    merge(&mut no_url, json!({ "request": { "url": Value::Null } }));
    let e = error(&har(vec![good(), good(), no_url]));
    assert_eq!(
        e.to_string(),
        "bad.har: entry 3 (log.entries[2]): `request.url` is missing"
    );
    for (bad, words) in [
        (
            json!({ "request": { "url": "example.com/x" } }),
            "has no scheme",
        ),
        (
            json!({ "request": { "url": "https://example.com:http/" } }),
            "has a bad port `http`",
        ),
        (json!({ "request": { "url": "https:///x" } }), "has no host"),
        (
            json!({ "startedDateTime": "yesterday" }),
            "`startedDateTime` \"yesterday\" is not an ISO 8601",
        ),
        (
            json!({ "time": "slow" }),
            "`time` is missing or not a number",
        ),
        (
            json!({ "timings": { "wait": Value::Null } }),
            "`timings.wait` is missing",
        ),
        (json!({ "timings": 3 }), "no `timings` object"),
    ] {
        let mut e = good();
        merge(&mut e, bad);
        let message = error(&har(vec![good(), e])).to_string();
        assert!(
            message.starts_with("bad.har: entry 2 (log.entries[1]): "),
            "{message}"
        );
        assert!(message.contains(words), "{words}: {message}");
    }
    let e = error(&har(vec![entry("data:,x", 0.0, 0.0, 0.0, 1, json!({}))]));
    assert!(
        matches!(e, ImportError::NothingToReplay { entries: 1, .. }),
        "{e}"
    );
}

#[test]
fn timestamps_with_offsets_and_long_fractions() {
    use crate::har::parse_date;
    let z = parse_date("2026-11-30T16:00:00.123Z").expect("Z");
    assert_eq!(parse_date("2026-11-30T17:00:00.123+01:00"), Some(z));
    assert_eq!(
        parse_date("2026-11-30T15:30:00.123456789-00:30"),
        Some(z + 456)
    );
    assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1_000_000));
    assert_eq!(
        parse_date("2000-03-01T00:00:00Z"),
        Some(951_868_800_000_000)
    );
    assert_eq!(parse_date("2026-11-30T16:00:00"), None, "no offset");
    assert_eq!(parse_date("2026-13-30T16:00:00Z"), None);
}

/// A HAR of 10,000 entries, each found after the one before (the deepest `after` chain a page
/// can have), imports, and the lab checks it.
#[test]
fn ten_thousand_entries_chained_import() {
    let entries: Vec<Value> = (0..10_000)
        .map(|n| {
            let start = f64::from(n) * 10.0;
            let mut e = entry(
                &format!("https://example.com/r/{n}.js"),
                start,
                8.0,
                5.0,
                100,
                json!({}),
            );
            if n > 0 {
                let parent = format!("https://example.com/r/{}.js", n - 1);
                merge(
                    &mut e,
                    json!({ "_initiator": { "type": "script", "url": parent } }),
                );
            }
            e
        })
        .collect();
    let i = imported(entries);
    let r = &i.scenario.resources;
    assert_eq!(r.len(), 10_000);
    assert_eq!(r[9_999].after.as_deref(), Some("/r/9998.js"));
    assert_eq!(r[9_999].delay, ms(2.0));
    assert_eq!(i.scenario.dependencies()[9_999], Some(9_998));
}

/// Pages on several origins, and what a HAR says of the server's think and its heads.
mod pages;
