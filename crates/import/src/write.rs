//! The imported scenario's text: a header that says where every number came from and what was
//! left out, `[client]`, a proposed `[network]` written commented out, and one `[[resource]]`
//! per kept entry with a comment naming its entry, header sizes and how its think and `after`
//! were found.
//!
//! It owns the wording and the TOML spelling (strings escaped, durations as `"12.345ms"`, sizes
//! in bytes as `"14500b"`). It deliberately decides nothing: `plan.rs` made every choice.

use crate::plan::{Discovery, Plan, Planned, RttSource};
use crate::url::shorten;
use httplab_core::scenario::{MAX_REQUEST_HEADERS, MAX_RESPONSE_HEADERS};
use std::fmt::Write;

/// The scenario file for `plan`, read from `file` (as the user named it) by a HAR of `creator`.
pub(crate) fn scenario(plan: &Plan, file: &str, creator: &str, name: &str) -> String {
    let mut out = String::new();
    header(&mut out, plan, file, creator);
    let _ = writeln!(out, "name = {}", quoted(name));
    let _ = writeln!(
        out,
        "description = {}",
        quoted(&format!(
            "{} imported from {file} ({} resources)",
            page_origin(plan),
            plan.resources.len()
        ))
    );
    let used: Vec<String> = plan
        .versions
        .iter()
        .map(|(v, n)| format!("{} {n}", if v.is_empty() { "unknown" } else { v }))
        .collect();
    let _ = writeln!(
        out,
        "# protocols: the lab's default, all five; the browser used (response.httpVersion, entries): {}",
        used.join(", ")
    );
    let _ = writeln!(out, "\n[client]");
    let first = plan.origins.first();
    let _ = writeln!(
        out,
        "tls = {}                          # the page's origin is {}",
        first.is_some_and(|o| o.tls),
        page_origin(plan)
    );
    network(&mut out, plan);
    origins(&mut out, plan);
    for r in &plan.resources {
        resource(&mut out, plan, r);
    }
    out
}

fn header(out: &mut String, plan: &Plan, file: &str, creator: &str) {
    let creator = if creator.is_empty() {
        String::new()
    } else {
        format!(", written by {creator}")
    };
    let lines = [
        format!(
            "Imported by `httplab import` from {file}{creator}: the page at {}.",
            page_origin(plan)
        ),
        String::new(),
        "Where each number comes from (\"entry N\" is the Nth of log.entries, counted from 1):"
            .into(),
        "- one [[resource]] per entry a replay can use, in the HAR's order;".into(),
        "- path: the URL's path and query with every character but letters, digits, `-._~`,".into(),
        "  `!$&'()*+,;=:@/` percent-encoded once more (`%` is `%25`, `?` is `%3F`), the".into(),
        "  fragment dropped: decoding it once gives the URL's path and query back. The Nth".into(),
        "  request of a URL already imported gets `%23N` appended.".into(),
        "- size: response.content.size, or response.bodySize where that is missing or negative;"
            .into(),
        "  body: request.bodySize, or the length of request.postData.text (none for GET/HEAD)."
            .into(),
        "- status: as recorded; a 204 is written 200 with an empty body (a scenario's status"
            .into(),
        "  has a body). method: as recorded.".into(),
        "- think: the response's Server-Timing `total` (else `app`) duration, the server's own"
            .into(),
        "  account, where it sends one. Else timings.wait less the round trip of the entry's"
            .into(),
        "  connection (`connection`, else serverIPAddress and the URL's port): the least".into(),
        "  timings.connect − timings.ssl of that connection's entries, or where none of them"
            .into(),
        "  opened it, their least timings.wait; never below zero. A wait also holds what TCP"
            .into(),
        "  and TLS delayed (a response queued behind others on one HTTP/2 connection), which"
            .into(),
        "  the replay adds again, so Server-Timing is the better source.".into(),
        "- after: the entry its _initiator names (its url, or a script's top stack frame's url;"
            .into(),
        "  the latest entry of that URL started before it); a skipped initiator hands over to its"
            .into(),
        "  own, up to the nearest kept one or none. Without _initiator, the kept entry whose"
            .into(),
        "  response ended (startedDateTime + time) last before this one started.".into(),
        "- delay: startedDateTime less the end of its `after` (startedDateTime + time), or less"
            .into(),
        "  the page's first startedDateTime without `after`; never below zero, at most 600s."
            .into(),
        "- request_headers and response_headers: request.headersSize and response.headersSize"
            .into(),
        "  (cookies included), for HTTP/1.x entries that know them; an HTTP/2 head is a".into(),
        "  compressed block, so its size is in the comment only. The client and the server pad"
            .into(),
        "  each head to its size with an x-httplab-pad field.".into(),
    ];
    for line in lines {
        comment(out, &line);
    }
    let skipped = plan.skipped_entries();
    if skipped > 0 {
        comment(out, "");
        comment(out, &format!("Skipped: {skipped} entries."));
        for line in skip_lines(plan) {
            comment(out, &format!("- {line}"));
        }
    }
    out.push('\n');
}

/// One line per skipped entry, then one per other origin, then the entries over the limit:
/// the notes `httplab import` prints too.
pub(crate) fn skip_lines(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .skipped
        .iter()
        .map(|s| {
            format!(
                "entry {} (log.entries[{}]) {} skipped: {}",
                s.index + 1,
                s.index,
                shorten(&s.url),
                s.why
            )
        })
        .collect();
    if plan.later_pages > 0 {
        lines.push(format!(
            "{} entries of the HAR's later pages skipped: a scenario is one page, the first",
            plan.later_pages
        ));
    }
    if plan.beyond_limit > 0 {
        lines.push(format!(
            "{} entries after the first {} skipped: a scenario holds at most {} resources",
            plan.beyond_limit,
            httplab_core::scenario::MAX_REQUESTS,
            httplab_core::scenario::MAX_REQUESTS
        ));
    }
    lines
}

fn network(out: &mut String, plan: &Plan) {
    let n = &plan.network;
    out.push('\n');
    comment(
        out,
        "A proposed [network], estimated from the HAR: uncomment it to replay the page over",
    );
    comment(
        out,
        "a link like the one it was recorded on, or write your own.",
    );
    match n.rtt {
        Some(rtt) => comment(
            out,
            &format!(
                "rtt: the least TCP connect time (timings.connect − timings.ssl) of any entry, {}.",
                duration(rtt)
            ),
        ),
        None => comment(
            out,
            "rtt: no entry opened a connection (timings.connect), so none is proposed.",
        ),
    }
    match n.bandwidth {
        Some(bps) => comment(out, &format!(
            "bandwidth: the most of bytes × 8 / timings.receive over the {} largest transfers (_transferSize, else bodySize + headersSize), {}.",
            n.transfers,
            rate(bps)
        )),
        None => comment(out, "bandwidth: no transfer with a receive time, so none is proposed."),
    }
    comment(out, "[network]");
    comment(
        out,
        &format!(
            "rtt = {}",
            n.rtt.map_or_else(
                || "\"40ms\"                    # (a guess: none measured)".into(),
                |r| quoted(&duration(r))
            )
        ),
    );
    if let Some(bps) = n.bandwidth {
        comment(out, &format!("bandwidth = {}", quoted(&rate(bps))));
    }
}

fn resource(out: &mut String, plan: &Plan, r: &Planned) {
    let head = |h: Option<u64>| h.map_or_else(|| "unknown".into(), |b| format!("{b} B"));
    out.push('\n');
    comment(
        out,
        &format!(
            "entry {}: {} {} — header sizes: request {}, response {}",
            r.index + 1,
            r.method,
            shorten(&r.url),
            head(r.har_headers.0),
            head(r.har_headers.1)
        ),
    );
    let rtt_from = match r.round_trip.source {
        RttSource::Connect => "its connection's connect",
        RttSource::SmallestWait => "its connection's least wait",
    };
    let think = match &r.think_from {
        Some(metric) => format!(
            "think: the response's Server-Timing {metric} (wait {} less round trip {} would say {})",
            duration(r.wait),
            duration(r.round_trip.micros),
            duration((r.wait - r.round_trip.micros).max(0))
        ),
        None => format!(
            "think: wait {} less round trip {} ({rtt_from})",
            duration(r.wait),
            duration(r.round_trip.micros)
        ),
    };
    comment(out, &think);
    let after = r.after.and_then(|a| plan.resources.get(a));
    let found = match (r.discovery, after) {
        (Discovery::Initiator, Some(a)) => format!("after: entry {}, its _initiator", a.index + 1),
        (Discovery::Repointed { skipped }, Some(a)) => format!(
            "after: entry {}, the nearest kept initiator (its _initiator, entry {}, was skipped)",
            a.index + 1,
            skipped + 1
        ),
        (Discovery::Repointed { skipped }, None) => format!(
            "after: none (its _initiator, entry {}, was skipped, and so were that one's initiators); delay from the page's start",
            skipped + 1
        ),
        (Discovery::LatestEnded, Some(a)) => format!(
            "after: entry {}, the latest response that ended before it started (no _initiator)",
            a.index + 1
        ),
        (Discovery::InitiatorNotFound, _) => {
            "after: none (its _initiator's URL is no earlier entry's); delay from the page's start".into()
        }
        (Discovery::NoInitiatorUrl, _) => {
            "after: none (its _initiator names no URL); delay from the page's start".into()
        }
        _ => "after: none (no response ended before it started); delay from the page's start".into(),
    };
    comment(out, &found);
    if let Some(status) = r.har_status {
        comment(
            out,
            &format!("status: the HAR's {status} has no body, so 200 with an empty body"),
        );
    }
    if r.dropped_body > 0 {
        comment(
            out,
            &format!(
                "body: the HAR's {} request carried {} bytes, which a {} cannot here; dropped",
                r.method, r.dropped_body, r.method
            ),
        );
    }
    if r.delay_capped {
        comment(
            out,
            "delay: the gap was over 600s, the lab's longest; 600s written",
        );
    }
    let _ = writeln!(out, "[[resource]]");
    if plan.origins.len() > 1 && r.origin > 0 {
        let _ = writeln!(out, "origin = {}", quoted(&plan.origins[r.origin].name));
    }
    let _ = writeln!(out, "path = {}", quoted(&r.path));
    if r.method != "GET" {
        let _ = writeln!(out, "method = {}", quoted(&r.method));
    }
    let _ = writeln!(out, "size = \"{}b\"", r.size);
    if r.status != 200 {
        let _ = writeln!(out, "status = {}", r.status);
    }
    if r.request_body > 0 {
        let _ = writeln!(out, "body = \"{}b\"", r.request_body);
    }
    for (key, size, max) in [
        ("request_headers", r.request_headers, MAX_REQUEST_HEADERS),
        ("response_headers", r.response_headers, MAX_RESPONSE_HEADERS),
    ] {
        // A head past the lab's largest is written at it; the comment above has the HAR's.
        if let Some(size) = size.filter(|&s| s > 0) {
            let _ = writeln!(out, "{key} = \"{}b\"", size.min(max));
        }
    }
    let _ = writeln!(out, "think = {}", quoted(&duration(r.think)));
    if let Some(a) = after {
        // Another origin's resource is named with its origin: `//host/path`.
        let named = if a.origin == r.origin {
            a.path.clone()
        } else {
            format!("//{}{}", plan.origins[a.origin].name, a.path)
        };
        let _ = writeln!(out, "after = {}", quoted(&named));
    }
    if r.delay > 0 {
        let _ = writeln!(out, "delay = {}", quoted(&duration(r.delay)));
    }
}

/// The page's own origin, `scheme://host[:port]` (the first kept entry's).
fn page_origin(plan: &Plan) -> &str {
    plan.origins.first().map_or("", |o| o.url.as_str())
}

/// One `[[origin]]` table per origin, for a page on several: its name, scheme, and the origin
/// whose address it shares when the HAR saw them at one `serverIPAddress`. None for one origin.
fn origins(out: &mut String, plan: &Plan) {
    if plan.origins.len() < 2 {
        return;
    }
    let _ = writeln!(out);
    comment(
        out,
        "The page's origins, in order of first appearance; each has a connection pool of its own.",
    );
    comment(
        out,
        "Origins the HAR saw at one serverIPAddress share an address here, so HTTP/2 may coalesce",
    );
    comment(out, "them onto one connection, as the browser could.");
    for o in &plan.origins {
        let _ = writeln!(out);
        let ip =
            o.ip.as_deref()
                .map_or_else(String::new, |ip| format!(", serverIPAddress {ip}"));
        let entries = if o.entries == 1 { "entry" } else { "entries" };
        comment(out, &format!("{}: {} {entries}{ip}", o.url, o.entries));
        let _ = writeln!(out, "[[origin]]");
        let _ = writeln!(out, "name = {}", quoted(&o.name));
        let _ = writeln!(out, "tls = {}", o.tls);
        if let Some(j) = o.same_address_as {
            let _ = writeln!(out, "same_address_as = {}", quoted(&plan.origins[j].name));
        }
    }
}

/// A comment line (`#` alone for an empty one).
fn comment(out: &mut String, line: &str) {
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        // A URL may hold a line break; a comment may not.
        let line: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "# {line}");
    }
}

/// Microseconds as a scenario duration: `"12.345ms"`.
pub(crate) fn duration(micros: i64) -> String {
    let us = micros.max(0);
    format!("{}.{:03}ms", us / 1000, us % 1000)
}

/// Bits per second as a scenario rate, in whole kbit (bit below one).
fn rate(bps: u64) -> String {
    if bps < 1000 {
        format!("{bps}bit")
    } else {
        format!("{}kbit", bps / 1000)
    }
}

/// A TOML basic string.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
