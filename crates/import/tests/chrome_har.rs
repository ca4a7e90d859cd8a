//! Two Chrome HARs imported. `data/chromium-nginx-h2.har` is a real load: headless Chromium
//! fetching a 25-resource page from nginx over h2, recorded through the DevTools protocol by
//! `data/record-chromium-har.py`. And a Chrome-format HAR of a shop's front page (`data/chrome-shop.har`: 29 entries over h2, a
//! stylesheet naming a font and a background image, a script fetching JSON, an analytics ping
//! on another origin (imported as a second origin), a data: URL, a memory-cache hit and an aborted script), imported. The
//! file was written by hand in the format Chrome 131's DevTools exports (WebInspector creator,
//! `_initiator`, `connection`, `_transferSize`, `_fromCache`, millisecond timestamps), not
//! recorded from a browser; its numbers are a plausible page's.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::Resource;
use httplab_import::{import, Imported};
use std::path::Path;
use std::time::Duration;

fn imported(name: &str) -> Imported {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{name}.har"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    import(&text, &format!("{name}.har"), name).unwrap_or_else(|e| panic!("{e}"))
}

/// The resource of `path`.
fn resource<'a>(i: &'a Imported, path: &str) -> &'a Resource {
    i.scenario
        .resources
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no {path} in\n{}", i.toml))
}

fn shop() -> Imported {
    imported("chrome-shop")
}

/// The real load: every entry kept, the stylesheet's font and background image after it, the
/// script's two fetches of one URL after the script, the images after the document, and each
/// size the bytes nginx served.
#[test]
fn a_real_chromium_load_from_nginx_imports_with_its_structure() {
    let i = imported("chromium-nginx-h2");
    let s = &i.scenario;
    assert!(i.notes.is_empty(), "{:?}", i.notes);
    assert_eq!(s.resources.len(), 25, "{}", i.toml);
    assert!(s.client.tls);
    let find = |path: &str| resource(&i, path);
    // Sizes: the files nginx served (ls -l of the page's folder).
    for (path, size) in [
        ("/index.html", 13_031),
        ("/style.css", 6_188),
        ("/bg.png", 12_420),
        ("/font.woff2", 9_000),
        ("/api/data.json%3Fpage=1", 1_903),
    ] {
        assert_eq!(find(path).size, size, "{path}");
    }
    assert_eq!(find("/bg.png").after.as_deref(), Some("/style.css"));
    assert_eq!(find("/font.woff2").after.as_deref(), Some("/style.css"));
    assert_eq!(find("/style.css").after.as_deref(), Some("/index.html"));
    assert_eq!(
        find("/api/data.json%3Fpage=1").after.as_deref(),
        Some("/app.js")
    );
    assert_eq!(
        find("/api/data.json%3Fpage=1%232").after.as_deref(),
        Some("/app.js")
    );
    for n in 1..=16 {
        assert_eq!(
            find(&format!("/img/{n}.png")).after.as_deref(),
            Some("/index.html")
        );
    }
    assert_eq!(find("/index.html").after, None);
    // One connection (Chrome's id 75), opened by the document over loopback: connect 23.908
    // ms of which TLS 23.886 ms leaves a 22 us round trip, less than any entry's wait.
    assert!(i.toml.contains("\n# rtt = \"0.022ms\"\n"), "{}", i.toml);
    assert_eq!(find("/index.html").think, Duration::from_micros(5_872 - 22));
}

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

#[test]
fn the_shop_page_imports_with_its_structure() {
    let i = shop();
    let s = &i.scenario;
    assert_eq!(s.name, "chrome-shop");
    assert!(s.client.tls, "https origin");
    assert_eq!(
        s.resources.len(),
        26,
        "29 entries less 3 skipped:\n{}",
        i.toml
    );
    // The analytics ping is on an origin of its own, at an address of its own.
    let names: Vec<(&str, usize)> = s
        .origins
        .iter()
        .map(|o| (o.name.as_str(), o.address))
        .collect();
    assert_eq!(
        names,
        [("shop.example", 0), ("www.google-analytics.com", 1)]
    );
    let ping = s
        .resources
        .iter()
        .find(|r| r.origin == 1)
        .expect("the ping");
    assert!(ping.path.starts_with("/g/collect"), "{}", ping.path);
    let find = |path: &str| resource(&i, path);
    // The document: wait 61.4 ms less its connection's round trip, connect 42.6 − ssl 21.5.
    let doc = &s.resources[0];
    assert_eq!(
        (doc.path.as_str(), doc.size, doc.after.as_deref()),
        ("/", 38_412, None)
    );
    assert_eq!(doc.think, us(40_300));
    // The stylesheet's background image: after the stylesheet (started .430, 37.633 ms long),
    // asked at .471; think 22.6 − 21.1.
    let bg = find("/img/bg-pattern.png");
    assert_eq!(bg.after.as_deref(), Some("/css/main.css"));
    assert_eq!(bg.delay, us(3_367));
    assert_eq!(bg.think, us(1_500));
    assert_eq!(bg.size, 12_410);
    assert_eq!(
        find("/fonts/inter.woff2").after.as_deref(),
        Some("/css/main.css")
    );
    assert_eq!(
        find("/img/footer.jpg").after.as_deref(),
        Some("/css/main.css")
    );
    // The script's fetches: after app.js, by the top frame of their stacks.
    let cart = find("/api/cart%3Fsession=abc123");
    assert_eq!(cart.after.as_deref(), Some("/js/app.js"));
    let again = find("/api/cart%3Fsession=abc123%232");
    assert_eq!(
        (again.size, again.after.as_deref()),
        (1_862, Some("/js/app.js"))
    );
    assert_eq!(
        find("/img/products/1.webp%3Fw=400").after.as_deref(),
        Some("/js/app.js")
    );
    let events = find("/api/events");
    assert_eq!((events.method.as_str(), events.request_body), ("POST", 382));
    // The favicon: no initiator URL, so from the page's start (.311 → .611); its 404 kept.
    let favicon = find("/favicon.ico");
    assert_eq!((favicon.status, favicon.after.as_deref()), (404, None));
    assert_eq!(favicon.delay, us(300_000));
}

#[test]
fn the_shop_pages_skips_and_proposed_network_are_stated() {
    let i = shop();
    let notes = i.notes.join("\n");
    assert_eq!(i.notes.len(), 3, "{notes}");
    for words in [
        "entry 8 (log.entries[7]) data:image/svg+xml",
        "entry 24 (log.entries[23]) https://shop.example/img/cached-badge.png skipped: served from the browser's cache (_fromCache: memory)",
        "entry 27 (log.entries[26]) https://shop.example/js/chat-widget.js skipped: failed or aborted before a response (status 0, net::ERR_ABORTED)",
    ] {
        assert!(notes.contains(words), "no `{words}` in\n{notes}");
    }
    assert_eq!(i.skipped, 3);
    // rtt: the document's connect less its TLS (the analytics connection's is 25.3 ms);
    // bandwidth: the font's 47,300 bytes in 7.7 ms beat the hero image's 184,350 in 31.7 ms.
    assert!(i.toml.contains("\n# rtt = \"21.100ms\"\n"), "{}", i.toml);
    assert!(
        i.toml.contains("\n# bandwidth = \"49142kbit\"\n"),
        "{}",
        i.toml
    );
    assert!(i.toml.contains("# entry 18: GET https://shop.example/img/bg-pattern.png — header sizes: request 48 B, response 149 B"), "{}", i.toml);
    assert!(
        i.toml
            .contains("the browser used (response.httpVersion, entries): http/2.0 26"),
        "{}",
        i.toml
    );
}
