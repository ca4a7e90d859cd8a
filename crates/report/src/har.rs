//! HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) of one run, loadable by browser
//! DevTools: one page, one entry per request in issue order, the lab's phases as HAR `timings`.
//!
//! It owns the mapping from the lab's timing model to HAR's: HAR's `connect` includes `ssl`
//! (the record's `connect` is TCP alone), `dns` is always -1 (the lab connects to addresses),
//! and `time` is the sum of the written timings so a reader's arithmetic agrees exactly. Lab
//! fields carry a leading underscore as HAR allows; a resource with `after` carries Chrome's
//! `_initiator` (`{"type": "parser", "url": …}`, others `{"type": "other"}`), so `httplab
//! import` reads the page's structure back. It deliberately does not choose which run to
//! write (the caller passes the median repetition) and does not write files.

use crate::causes::RunCauses;
use crate::date::rfc3339;
use crate::reason::reason_phrase;
use httplab_core::{RequestRecord, RunRecord, Scenario};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The HAR 1.2 document of one run; each entry carries its `_causes` when given.
pub fn har(scenario: &Scenario, run: &RunRecord, causes: Option<&RunCauses>) -> Value {
    let page_id = format!("page_{}", run.label());
    let page = json!({
        "startedDateTime": rfc3339(run.epoch_unix_ms, run.started_at),
        "id": page_id,
        "title": format!("{} over {}", scenario.name, run.label()),
        "pageTimings": {
            "onContentLoad": -1,
            "onLoad": ms(micros(run.page_time)),
        },
        "comment": format!(
            "repetition {} of {}; {}",
            run.repetition, scenario.repeat, scenario.description
        ),
    });
    let mut requests: Vec<&RequestRecord> = run.requests.iter().collect();
    requests.sort_by_key(|r| (r.issued_at, r.id));
    let initiators = initiators(scenario, run);
    let entries: Vec<Value> = requests
        .iter()
        .map(|r| {
            let mut e = entry(run, r, &page_id);
            if let Value::Object(map) = &mut e {
                // As Chrome writes a parser's discovery (and the document's, "other"): what
                // `httplab import` reads `after` from.
                let initiator = match initiators.get(&r.id) {
                    Some(url) => json!({ "type": "parser", "url": url }),
                    None => json!({ "type": "other" }),
                };
                map.insert("_initiator".into(), initiator);
            }
            let split = causes.and_then(|c| c.requests.iter().find(|c| c.request_id == r.id));
            if let (Value::Object(map), Some(split)) = (&mut e, split) {
                let by_cause: Map<String, Value> = split
                    .split
                    .iter()
                    .filter(|(_, d)| !d.is_zero())
                    .map(|(c, d)| (c.id().to_string(), json!(ms(micros(d)))))
                    .collect();
                map.insert("_causes".into(), Value::Object(by_cause));
            }
            e
        })
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "httplab", "version": env!("CARGO_PKG_VERSION") },
            "pages": [page],
            "entries": entries,
            "_link": run.link,
        }
    })
}

/// For each request with an `after` (by id), the URL the run requested that `after` resource at.
fn initiators<'a>(scenario: &Scenario, run: &'a RunRecord) -> HashMap<u32, &'a str> {
    let urls: HashMap<u32, &str> = run
        .requests
        .iter()
        .map(|r| (r.id, r.url.as_str()))
        .collect();
    scenario
        .dependencies()
        .into_iter()
        .enumerate()
        .filter_map(|(i, parent)| {
            let url = urls.get(&(parent? as u32))?;
            Some((i as u32, *url))
        })
        .collect()
}

/// A duration in whole microseconds, rounded to nearest.
fn micros(d: Duration) -> i64 {
    i64::try_from((d.as_nanos() + 500) / 1_000).unwrap_or(i64::MAX)
}

/// Microseconds as HAR milliseconds.
fn ms(us: i64) -> f64 {
    us as f64 / 1e3
}

/// HAR timings in whole microseconds; `None` is HAR's -1, "does not apply".
struct Timings {
    blocked: i64,
    connect: Option<i64>,
    ssl: Option<i64>,
    send: i64,
    wait: i64,
    receive: i64,
}

impl Timings {
    fn of(r: &RequestRecord) -> Self {
        let p = &r.phases;
        let ssl = p.ssl.map(micros);
        Self {
            blocked: micros(p.blocked),
            // HAR's connect includes the TLS handshake; the record's is TCP alone. QUIC's one
            // handshake (no TCP: the record's connect is none) is both.
            connect: p
                .connect
                .map(|c| micros(c) + ssl.unwrap_or_default())
                .or(ssl),
            ssl,
            send: micros(p.send),
            wait: micros(p.wait),
            receive: micros(p.receive),
        }
    }

    /// HAR's `time`: every timing except `ssl` (already inside `connect`), -1 counted as 0.
    /// Summed from the same rounded microseconds that are written, so it adds up exactly.
    fn total(&self) -> i64 {
        self.blocked + self.connect.unwrap_or_default() + self.send + self.wait + self.receive
    }
}

/// A timing that may not apply: milliseconds, or HAR's -1.
fn ms_or_minus_one(us: Option<i64>) -> f64 {
    us.map_or(-1.0, ms)
}

fn entry(run: &RunRecord, r: &RequestRecord, page_id: &str) -> Value {
    let t = Timings::of(r);
    let http_version = if r.http_version.is_empty() {
        run.protocol.http_version()
    } else {
        &r.http_version
    };
    let mime = header(&r.response_headers, "content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let mut e = Map::new();
    e.insert("pageref".into(), json!(page_id));
    e.insert(
        "startedDateTime".into(),
        json!(rfc3339(run.epoch_unix_ms, r.issued_at)),
    );
    e.insert("time".into(), json!(ms(t.total())));
    e.insert(
        "request".into(),
        json!({
            "method": r.method,
            "url": r.url,
            "httpVersion": run.protocol.http_version(),
            "cookies": [],
            "headers": headers(&r.request_headers),
            "queryString": query_string(&r.url),
            "headersSize": r.request_header_bytes,
            "bodySize": r.request_body_bytes,
        }),
    );
    e.insert(
        "response".into(),
        json!({
            "status": r.status,
            "statusText": reason_phrase(r.status),
            "httpVersion": http_version,
            "cookies": [],
            "headers": headers(&r.response_headers),
            "content": { "size": r.response_body_bytes, "mimeType": mime },
            "redirectURL": header(&r.response_headers, "location").unwrap_or(""),
            "headersSize": r.response_header_bytes,
            "bodySize": r.response_body_bytes,
        }),
    );
    e.insert("cache".into(), json!({}));
    e.insert(
        "timings".into(),
        json!({
            "blocked": ms(t.blocked),
            "dns": -1,
            "connect": ms_or_minus_one(t.connect),
            "send": ms(t.send),
            "wait": ms(t.wait),
            "receive": ms(t.receive),
            "ssl": ms_or_minus_one(t.ssl),
        }),
    );
    if let Some(conn) = r
        .connection
        .and_then(|id| run.connections.iter().find(|c| c.id == id))
    {
        e.insert("serverIPAddress".into(), json!(host_of(&conn.remote_addr)));
    }
    if let Some(id) = r.connection {
        e.insert("connection".into(), json!(id.to_string()));
    }
    e.insert("_requestId".into(), json!(r.id));
    if let Some(hol) = r.phases.hol {
        e.insert("_hol".into(), json!(ms(micros(hol))));
    }
    if let Some(s) = run.server_view(r.id) {
        e.insert("_serverArrivedAt".into(), json!(ms(micros(s.arrived_at))));
        e.insert(
            "_serverResponseReadyAt".into(),
            json!(ms(micros(s.response_ready_at))),
        );
        if let Some(sent) = s.response_sent_at {
            e.insert("_serverResponseSentAt".into(), json!(ms(micros(sent))));
        }
    }
    if let Some(err) = &r.error {
        e.insert("_error".into(), json!(err));
    }
    Value::Object(e)
}

fn headers(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

/// The first value of a header, by case-insensitive name.
fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `?a=1&b` → [{a,1},{b,""}], as written (HAR does not ask for decoding).
fn query_string(url: &str) -> Vec<Value> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            json!({ "name": name, "value": value })
        })
        .collect()
}

/// The address without its port: "10.0.0.2:8443" → "10.0.0.2", "[::1]:443" → "::1".
fn host_of(addr: &str) -> String {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return sa.ip().to_string();
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.is_empty() => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        _ => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use httplab_core::Protocol;

    fn num(v: &Value) -> f64 {
        v.as_f64()
            .unwrap_or_else(|| panic!("expected a number, got {v}"))
    }

    /// time == blocked+dns+connect+send+wait+receive with -1 as 0, ssl excluded.
    fn assert_timings_add_up(entry: &Value) {
        let t = &entry["timings"];
        let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|k| num(&t[*k]).max(0.0))
            .sum();
        let time = num(&entry["time"]);
        assert!(
            (time - sum).abs() < 0.002,
            "time {time} != sum of timings {sum} in {entry}"
        );
        // The causes split the same time (each rounded to the microsecond).
        let causes: f64 = entry["_causes"]
            .as_object()
            .expect("every entry has its causes")
            .values()
            .map(num)
            .sum();
        assert!(
            (time - causes).abs() < 0.007,
            "time {time} != sum of causes {causes} in {entry}"
        );
    }

    #[test]
    fn timings_add_up_for_new_and_reused_connections() {
        // http1.1 with two connections: requests 0 and 1 open one, 2 and 3 reuse them.
        let mut run = RunBuilder::http11(0, 20).build();
        // Sub-microsecond parts that rounding must not lose from the sum.
        run.requests[1].phases.wait = Duration::from_nanos(2_000_499);
        run.requests[3].phases.receive = Duration::from_nanos(812_501);
        run.requests[3].phases.blocked = Duration::from_nanos(4_103_500);
        let doc = har(
            &scenario(),
            &run,
            Some(&crate::causes::run_causes(&scenario(), &run)),
        );
        let entries = doc["log"]["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 4);
        for e in entries {
            assert_timings_add_up(e);
        }
        // New connection: 3us blocked + (1500us TCP + 2250us TLS) + 12 + 2000 + 800.
        assert_eq!(num(&entries[0]["time"]), 6.565);
        // Reused: 4104 us blocked (4103.5 rounded), no connect, 12 + 2000 + 813 (812.501).
        assert_eq!(num(&entries[3]["time"]), 6.929);
    }

    #[test]
    fn connect_includes_ssl_and_reused_connections_write_minus_one() {
        let run = RunBuilder::http11(0, 20).build();
        let doc = har(
            &scenario(),
            &run,
            Some(&crate::causes::run_causes(&scenario(), &run)),
        );
        let e = &doc["log"]["entries"];
        // Request 1: TCP 1507 us + TLS 2250 us.
        assert_eq!(num(&e[1]["timings"]["connect"]), 3.757);
        assert_eq!(num(&e[1]["timings"]["ssl"]), 2.25);
        assert!(num(&e[1]["timings"]["connect"]) >= num(&e[1]["timings"]["ssl"]));
        for reused in [2, 3] {
            assert_eq!(num(&e[reused]["timings"]["connect"]), -1.0);
            assert_eq!(num(&e[reused]["timings"]["ssl"]), -1.0);
            assert_eq!(num(&e[reused]["timings"]["dns"]), -1.0);
            assert_timings_add_up(&e[reused]);
        }
        assert_eq!(e[2]["connection"], "0");
        assert_eq!(e[3]["connection"], "1");
        assert_eq!(e[3]["serverIPAddress"], "10.0.0.2");
    }

    #[test]
    fn cleartext_new_connection_has_connect_but_no_ssl() {
        let run = RunBuilder::http10(0, 20).no_tls().build();
        let doc = har(
            &scenario(),
            &run,
            Some(&crate::causes::run_causes(&scenario(), &run)),
        );
        let t = &doc["log"]["entries"][0]["timings"];
        assert_eq!(num(&t["connect"]), 1.5);
        assert_eq!(num(&t["ssl"]), -1.0);
        assert_timings_add_up(&doc["log"]["entries"][0]);
    }

    #[test]
    fn has_every_field_har_1_2_requires() {
        let run = RunBuilder::http10(0, 20)
            .fail(3, "connection reset by peer")
            .hol(1, Duration::from_micros(1_250))
            .build();
        let doc = har(
            &scenario(),
            &run,
            Some(&crate::causes::run_causes(&scenario(), &run)),
        );
        let log = &doc["log"];
        assert_eq!(log["version"], "1.2");
        assert_eq!(log["creator"]["name"], "httplab");
        assert!(log["creator"]["version"].is_string());
        let page = &log["pages"][0];
        assert_eq!(page["id"], "page_http1.0");
        assert_eq!(page["title"], "four-objects over http1.0");
        assert_eq!(page["startedDateTime"], "2023-11-14T22:13:20.001Z");
        assert_eq!(num(&page["pageTimings"]["onContentLoad"]), -1.0);
        assert_eq!(num(&page["pageTimings"]["onLoad"]), 20.0);
        let entries = log["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 4);
        for e in entries {
            assert_eq!(e["pageref"], "page_http1.0");
            for k in [
                "startedDateTime",
                "time",
                "request",
                "response",
                "cache",
                "timings",
            ] {
                assert!(!e[k].is_null(), "entry lacks {k}: {e}");
            }
            assert_eq!(e["startedDateTime"], "2023-11-14T22:13:20.001Z");
            let req = &e["request"];
            for k in ["method", "url", "httpVersion"] {
                assert!(req[k].is_string(), "request.{k}: {req}");
            }
            for k in ["cookies", "headers", "queryString"] {
                assert!(req[k].is_array(), "request.{k}: {req}");
            }
            for k in ["headersSize", "bodySize"] {
                assert!(req[k].is_number(), "request.{k}: {req}");
            }
            let res = &e["response"];
            for k in ["status", "headersSize", "bodySize"] {
                assert!(res[k].is_number(), "response.{k}: {res}");
            }
            for k in ["statusText", "httpVersion", "redirectURL"] {
                assert!(res[k].is_string(), "response.{k}: {res}");
            }
            for k in ["cookies", "headers"] {
                assert!(res[k].is_array(), "response.{k}: {res}");
            }
            assert!(res["content"]["size"].is_number());
            assert!(res["content"]["mimeType"].is_string());
            assert!(e["cache"].is_object());
            for k in ["send", "wait", "receive"] {
                assert!(num(&e["timings"][k]) >= 0.0, "timings.{k}: {e}");
            }
            for k in ["blocked", "dns", "connect", "ssl"] {
                assert!(e["timings"][k].is_number(), "timings.{k}: {e}");
            }
            assert_timings_add_up(e);
        }
        let ok = &entries[1];
        assert_eq!(ok["response"]["status"], 200);
        assert_eq!(ok["response"]["statusText"], "OK");
        assert_eq!(ok["response"]["httpVersion"], "HTTP/1.0");
        assert_eq!(ok["response"]["content"]["mimeType"], "image/png");
        assert_eq!(ok["response"]["content"]["size"], 14_000);
        assert_eq!(ok["request"]["headersSize"], 64);
        assert_eq!(ok["request"]["headers"][0]["name"], "host");
        assert_eq!(num(&ok["_hol"]), 1.25);
        assert_eq!(ok["_requestId"], 1);
        // Server saw it 0.5 ms after the request's last byte: 1 + 0.003 + 1.507 + 2.25 + 0.012.
        assert_eq!(num(&ok["_serverArrivedAt"]), 5.272);
        assert_eq!(num(&ok["_serverResponseSentAt"]), 6.472);
        assert!(ok.get("_error").is_none());
        assert!(entries[0].get("_hol").is_none());
        let failed = &entries[3];
        assert_eq!(failed["_error"], "connection reset by peer");
        assert_eq!(failed["response"]["status"], 0);
        assert_eq!(failed["response"]["httpVersion"], "HTTP/1.0");
        assert_eq!(
            failed["response"]["content"]["mimeType"],
            "application/octet-stream"
        );
        assert!(failed.get("_serverArrivedAt").is_none());
    }

    #[test]
    fn a_resource_with_after_carries_its_initiator_as_chrome_writes_it() {
        let mut s = scenario();
        s.resources[2].after = Some("/index.html".into());
        let run = RunBuilder::http11(0, 20).build();
        let doc = har(&s, &run, None);
        let e = &doc["log"]["entries"];
        assert_eq!(
            e[2]["_initiator"],
            json!({ "type": "parser", "url": "https://lab.test:8443/index.html" })
        );
        for plain in [0, 1, 3] {
            assert_eq!(e[plain]["_initiator"], json!({ "type": "other" }));
        }
    }

    #[test]
    fn entries_in_issue_order_and_odd_addresses() {
        let mut run = RunBuilder::new(Protocol::Http11, 0).build();
        run.requests.reverse();
        run.requests[0].issued_at += Duration::from_millis(3);
        run.connections[0].remote_addr = "[::1]:8443".into();
        run.requests[0].url.push_str("?w=1&x");
        let doc = har(
            &scenario(),
            &run,
            Some(&crate::causes::run_causes(&scenario(), &run)),
        );
        let ids: Vec<u64> = doc["log"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["_requestId"].as_u64())
            .collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(doc["log"]["entries"][0]["serverIPAddress"], "::1");
        let q = &doc["log"]["entries"][3]["request"]["queryString"];
        assert_eq!(
            q,
            &json!([{"name":"w","value":"1"},{"name":"x","value":""}])
        );
        assert_eq!(host_of("lab.test:443"), "lab.test");
        assert_eq!(host_of("weird"), "weird");
    }
}
