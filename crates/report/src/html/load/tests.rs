//! The load page drawn from hand-built load.json documents: whole, escaped, self-contained,
//! with every protocol's numbers, and still a page when there is nothing to show.

use super::*;
use serde_json::json;

/// Two protocols over a warm-up second and three measured ones, with the nulls and missing
/// fields a document from an older httplab (or a server that did not say) has.
fn doc() -> Value {
    let second = |at: i64, users: Option<u64>, open: u64, memory: Option<u64>| {
        let mut s = json!({
            "at_s": at, "pages": if at == 1 { 0 } else { 90 + at }, "failed": 0,
            "p50_ms": 20.0 + at as f64, "p99_ms": 80.0, "peak_connections": open,
            "open_connections": open, "accepted": 3, "server_cpu_ms": 410.5, "fds": open + 9,
            "server_memory_bytes": memory, "socket_memory_bytes": null,
        });
        if let Some(users) = users {
            s["users"] = json!(users);
        }
        s
    };
    let protocol = |id: &str, peak: u64, cpu: Value, memory: Value, users: bool| {
        let u = |n| users.then_some(n);
        json!({
            "protocol": id,
            "arrival": { "model": "closed", "users": 1000 },
            "duration_s": 3.0, "warmup_s": 1.0,
            "pages": 300, "failed_pages": 2, "first_failure": "page 7: connection <reset>",
            "pages_per_s": 100.0, "requests": 3900, "failed_requests": 2,
            "requests_per_s": 1300.0,
            "page_latency": { "count": 300, "p50_ms": 21.5, "p90_ms": 40.0, "p99_ms": 81.0,
                              "p99_9_ms": 95.2, "max_ms": 101.0 },
            "request_latency": { "count": 3900, "p50_ms": 2.0, "p90_ms": 4.0, "p99_ms": 9.5,
                                 "p99_9_ms": 12.0, "max_ms": 14.0 },
            "bytes_per_page": 412_345.0, "client_connections_per_page": 0.01,
            "server": {
                "peak_connections": peak, "mean_connections": peak as f64 * 0.97,
                "new_connections_per_s": 1300.0, "cpu_ms_per_page": cpu,
                "peak_fds": peak + 9, "peak_memory_bytes": memory,
                "memory_per_connection_bytes": null,
            },
            "seconds": [
                second(-1, u(1000), peak / 2, None),
                second(0, u(990), peak, Some(52_000_000)),
                second(1, None, peak, Some(61_000_000)),
                second(2, u(1000), peak, Some(60_500_000)),
            ],
        })
    };
    json!({
        "schema": "httplab-load/1",
        "httplab_version": "0.1.0",
        "scenario": { "name": "quick<script>alert(1)</script>", "requests_per_page": 13 },
        "network": "plain loopback",
        "verdict": "**h2** held 1000 server connections at peak against http1.1's 6000.",
        "failure": "the server exited: status 137 & <nothing> after",
        "protocols": [
            protocol("http1.1", 6000, json!(0.61), json!(null), true),
            protocol("h2", 1000, json!(null), json!(700_000_000u64), false),
        ],
    })
}

/// Checks the tags nest: every element opened is closed in order (void and self-closed
/// elements apart). Returns the elements seen.
fn balanced(html: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("a tag is closed") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(closing), "at </{closing}>");
        } else if !tag.ends_with('/') && name != "meta" {
            seen.push(name.clone());
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
    seen
}

#[test]
fn the_page_is_whole_escaped_self_contained_and_holds_every_protocol() {
    let html = load_html(&doc());
    assert!(html.starts_with("<!DOCTYPE html>\n<html"), "{html}");
    assert!(html.ends_with("</html>\n"));
    let elements = balanced(&html);
    let svgs = elements.iter().filter(|e| *e == "svg").count();
    // Four bars charts less the unmeasured memory one, two over time, and against users:
    // connections, CPU, memory and descriptors (socket memory is null throughout).
    assert_eq!(svgs, 3 + 2 + 4, "{html}");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    for id in ["http1.1", "h2"] {
        assert!(html.contains(&format!("</span>{id}</th>")), "{id}");
    }
    // The peaks in the table and written by their bars.
    assert!(html.contains("<td>6,000</td>") && html.contains("<td>1,000</td>"));
    assert!(html.contains(">6,000</text>") && html.contains(">1,000</text>"));
    // New connections per page: 1300/s over 100 pages/s.
    assert!(html.contains(">13.0</text>"), "{html}");
    // What a user or a server wrote is text, never markup.
    assert!(!html.contains("<script") && !html.contains("<reset>"));
    assert!(html.contains("quick&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains(
        "The run ended early: the server exited: status 137 &amp; &lt;nothing&gt; after"
    ));
    assert!(html.contains("<strong>h2</strong> held 1000"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("url("));
    // Nulls and missing fields read "n/a"; memory rescaled to MB on its axis.
    assert!(html.contains("<td>n/a</td>"));
    assert!(html.contains("server memory, MB"));
    assert!(!html.contains("NaN") && !html.contains("inf<"));
    // The warm-up is shaded, and the missing per-second user count fell back to the users.
    assert!(html.contains("class=\"warmup\""));
    assert!(html.contains("<title>h2: 1,000, 1,000</title>"), "{html}");
    // The same colour for a protocol everywhere.
    assert!(html.contains("<span class=\"sw c1\"></span>h2"));
    let h2_bar = html
        .split("<g class=\"c1\"><text class=\"bar-label\"")
        .nth(1)
        .unwrap_or_default();
    assert!(h2_bar.contains(">h2</text>"), "{html}");
}

#[test]
fn an_empty_document_still_renders_a_page_that_says_so() {
    let mut d = doc();
    d["protocols"] = json!([]);
    d["verdict"] = Value::Null;
    d["failure"] = Value::Null;
    let html = load_html(&d);
    assert!(html.starts_with("<!DOCTYPE html>"));
    balanced(&html);
    assert!(html.contains("nothing to show"), "{html}");
    assert!(
        !html.contains("<svg") && !html.contains("ended early") && !html.contains("id=\"verdict\"")
    );
    let html = load_html(&Value::Null);
    balanced(&html);
    assert!(html.contains("unnamed scenario") && html.contains("nothing to show"));
}

#[test]
fn an_open_model_without_users_per_second_draws_no_bill_against_users() {
    let mut d = doc();
    for p in d["protocols"].as_array_mut().unwrap() {
        p["arrival"] = json!({ "model": "open", "rate_per_s": 200.0, "schedule": "poisson" });
        for s in p["seconds"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("users");
        }
    }
    let html = load_html(&d);
    balanced(&html);
    assert!(html.contains("open model: 200 page loads a second, Poisson arrivals"));
    assert!(html.contains("nothing to draw"), "{html}");
    assert!(!html.contains("users with a page in flight"));
}

#[test]
fn text_helpers() {
    assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    assert_eq!(thousands(6000.0, 0), "6,000");
    assert_eq!(thousands(1_234_567.891, 2), "1,234,567.89");
    assert_eq!(thousands(-1234.0, 0), "-1,234");
    assert_eq!(thousands(-0.001, 1), "0.0");
    assert_eq!(thousands(999.0, 0), "999");
    assert_eq!(thousands(f64::NAN, 0), "n/a");
    assert_eq!(number(0.4234), "0.42");
    assert_eq!(number(13.04), "13.0");
    assert_eq!(number(5870.2), "5,870");
    assert_eq!(
        markdown_paragraphs("**h2** <b> `x` **open"),
        "<p><strong>h2</strong> &lt;b&gt; <code>x</code> **open</p>\n"
    );
}
