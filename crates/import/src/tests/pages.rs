//! HARs of pages on several origins, and what a HAR says of the server's think time
//! (`Server-Timing`) and of its heads (sizes replayed for HTTP/1.x entries only).

use super::*;

#[test]
fn a_page_on_several_origins_imports_one_origin_per_host_and_port() {
    let doc = "https://www.shop.test/";
    let js = "https://cdn.example.net/app.js";
    let parser = |url: &str| json!({ "_initiator": { "type": "parser", "url": url } });
    let at_ip = |mut e: Value, ip: &str| {
        merge(&mut e, json!({ "serverIPAddress": ip }));
        e
    };
    let i = imported(vec![
        at_ip(entry(doc, 0.0, 20.0, 10.0, 5_000, json!({})), "192.0.2.1"),
        // The same path on a second host at the same address: a shard.
        at_ip(
            entry("https://img.shop.test/", 21.0, 10.0, 5.0, 700, parser(doc)),
            "192.0.2.1",
        ),
        at_ip(entry(js, 22.0, 10.0, 5.0, 900, parser(doc)), "198.51.100.7"),
        at_ip(
            entry(
                "https://cdn.example.net/font.woff2",
                33.0,
                10.0,
                5.0,
                300,
                parser(js),
            ),
            "198.51.100.7",
        ),
        entry("http://127.0.0.1:8080/x", 34.0, 10.0, 5.0, 10, parser(doc)),
    ]);
    let s = &i.scenario;
    let origins: Vec<(&str, bool, usize)> = s
        .origins
        .iter()
        .map(|o| (o.name.as_str(), o.tls, o.address))
        .collect();
    assert_eq!(
        origins,
        [
            ("www.shop.test", true, 0),
            ("img.shop.test", true, 0),
            ("cdn.example.net", true, 1),
            ("ip-127-0-0-1", false, 2),
        ],
        "{}",
        i.toml
    );
    let by_origin: Vec<(usize, &str)> = s
        .resources
        .iter()
        .map(|r| (r.origin, r.path.as_str()))
        .collect();
    assert_eq!(
        by_origin,
        [
            (0, "/"),
            (1, "/"),
            (2, "/app.js"),
            (2, "/font.woff2"),
            (3, "/x")
        ]
    );
    assert_eq!(
        s.dependencies(),
        vec![None, Some(0), Some(0), Some(2), Some(0)]
    );
    for line in [
        "same_address_as = \"www.shop.test\"",
        "after = \"//www.shop.test/\"",
        "after = \"/app.js\"",
    ] {
        assert!(i.toml.contains(line), "no `{line}` in\n{}", i.toml);
    }
    assert!(i.notes.is_empty(), "{:?}", i.notes);
}

#[test]
fn server_timing_gives_think_and_only_http1_heads_are_replayed() {
    let timing = |value: &str| json!({ "response": { "headers": [{ "name": "Server-Timing", "value": value }] } });
    let mut h1 = entry(
        "https://example.com/a",
        10.0,
        80.0,
        60.0,
        10,
        timing("app;dur=12.5, db;dur=3"),
    );
    merge(
        &mut h1,
        json!({ "response": { "httpVersion": "HTTP/1.1" }, "request": { "httpVersion": "HTTP/1.1" } }),
    );
    let i = imported(vec![
        entry("https://example.com/", 0.0, 20.0, 10.0, 100, json!({})),
        h1,
        entry(
            "https://example.com/b",
            11.0,
            80.0,
            60.0,
            10,
            timing("total;dur=40, app;dur=12"),
        ),
    ]);
    let r = &i.scenario.resources;
    // The server's own account, not the wait: 12.5 ms (`app`), 40 ms (`total` first).
    assert_eq!(r[1].think, ms(12.5));
    assert_eq!(r[2].think, ms(40.0));
    assert!(
        i.toml.contains("think: the response's Server-Timing app"),
        "{}",
        i.toml
    );
    // An HTTP/1.1 entry's head sizes are replayed; an h2 entry's (the helper's default) are not.
    assert_eq!(
        (r[1].request_headers, r[1].response_headers),
        (Some(420), Some(180))
    );
    assert_eq!((r[2].request_headers, r[2].response_headers), (None, None));
}
