//! Header bytes against body bytes, in words and frames: the sentence that puts HTTP/2's
//! HPACK-compressed header blocks beside HTTP/1.x's text heads, and the per-connection tables
//! of HTTP/2 frames by type for the median runs. It owns these words and tables only; the
//! numbers come from `summary` (header and body bytes) and the run records (frame counts), and
//! `markdown` places them.

use crate::analysis::Analysis;
use crate::summary::ProtocolSummary;
use crate::verdict::count;
use httplab_core::units::format_size;
use httplab_core::{H2FrameDirection, Protocol, RunRecord};
use std::fmt::Write as _;

fn is_h2(p: Protocol) -> bool {
    matches!(p, Protocol::H2 | Protocol::H2c)
}

fn size(bytes: f64) -> String {
    format_size(bytes.max(0.0).round() as u64)
}

/// One sentence per HTTP/2 configuration comparing its header bytes with an HTTP/1.x one
/// (`http1.1` first, then `http1.1-pipelined`, then `http1.0`); none unless both ran.
pub(crate) fn header_sentences(summaries: &[ProtocolSummary]) -> Vec<String> {
    let rank = |p: Protocol| match p {
        Protocol::Http11 => 0,
        Protocol::Http11Pipelined => 1,
        _ => 2,
    };
    let Some(h1) = summaries
        .iter()
        .filter(|s| !is_h2(s.protocol) && s.requests > 0.0)
        .min_by_key(|s| rank(s.protocol))
    else {
        return Vec::new();
    };
    summaries
        .iter()
        .filter(|s| is_h2(s.protocol) && s.requests > 0.0)
        .map(|h2| header_sentence(h2, h1))
        .collect()
}

fn header_sentence(h2: &ProtocolSummary, h1: &ProtocolSummary) -> String {
    if h2.request_header_bytes <= 0.0 {
        return format!(
            "`{}` recorded no header bytes, so HPACK's saving against `{}` cannot be measured here.",
            h2.label, h1.label
        );
    }
    let requests = |s: &ProtocolSummary| {
        let n = count(s.requests);
        format!("{n} request{}", if n == "1" { "" } else { "s" })
    };
    let their_requests = if count(h2.requests) == count(h1.requests) {
        String::new()
    } else {
        format!(" for {}", requests(h1))
    };
    let source = if h2.header_bytes_from_frames {
        ""
    } else {
        " (the client's own counts: no HTTP/2 frames were counted)"
    };
    let per_request = |s: &ProtocolSummary| s.request_header_bytes / s.requests;
    let (h2_per, h1_per) = (per_request(h2), per_request(h1));
    let mut out = format!(
        "`{}` sent {} of request headers for {} against {}{} over `{}`",
        h2.label,
        size(h2.request_header_bytes),
        requests(h2),
        size(h1.request_header_bytes),
        their_requests,
        h1.label,
    );
    if h2_per < h1_per {
        let less = ((1.0 - h2_per / h1_per) * 100.0).round();
        let _ = write!(
            out,
            " ({less:.0}% less per request), and received {} of response headers against {}{}: \
             HPACK's table let repeated headers travel as indexes.",
            size(h2.response_header_bytes),
            size(h1.response_header_bytes),
            source,
        );
    } else {
        let _ = write!(
            out,
            "{source}: no saving from HPACK here, the header blocks were no smaller per request \
             than HTTP/1.x's text heads."
        );
    }
    out
}

/// Frames by type each way, per connection, for the median run of every HTTP/2 configuration
/// whose connections carry frame counts. Writes nothing when none do.
pub(crate) fn frame_tables(md: &mut String, a: &Analysis<'_>) {
    let with_frames: Vec<&RunRecord> = a
        .medians()
        .filter(|(s, _)| is_h2(s.protocol))
        .map(|(_, r)| r)
        .filter(|r| r.connections.iter().any(|c| c.h2_frames.is_some()))
        .collect();
    if with_frames.is_empty() {
        return;
    }
    md.push_str("## HTTP/2 frames of the median run\n\n");
    md.push_str(
        "Frames counted on each connection's plaintext (between TLS and HTTP/2), by type, each \
         way. *header block* is the HPACK-compressed bytes of HEADERS and CONTINUATION payloads, \
         *DATA* the body bytes in DATA frames (padding excluded in both), *frame bytes* \
         everything including the 9-byte frame headers (the client's 24-byte preface is not a \
         frame).\n\n",
    );
    for run in with_frames {
        frame_table(md, run);
    }
}

type Column = (&'static str, fn(&H2FrameDirection) -> u64);

const TYPES: [Column; 11] = [
    ("DATA", |d| d.data),
    ("HEADERS", |d| d.headers),
    ("CONTINUATION", |d| d.continuation),
    ("SETTINGS", |d| d.settings),
    ("WINDOW_UPDATE", |d| d.window_update),
    ("PING", |d| d.ping),
    ("PRIORITY", |d| d.priority),
    ("RST_STREAM", |d| d.rst_stream),
    ("PUSH_PROMISE", |d| d.push_promise),
    ("GOAWAY", |d| d.goaway),
    ("unknown", |d| d.unknown),
];

/// Always shown, even when zero: the frames every HTTP/2 exchange has.
const ALWAYS: [&str; 3] = ["DATA", "HEADERS", "SETTINGS"];

fn frame_table(md: &mut String, run: &RunRecord) {
    let rows: Vec<(u32, &str, H2FrameDirection)> = run
        .connections
        .iter()
        .filter_map(|c| c.h2_frames.map(|f| (c.id, f)))
        .flat_map(|(id, f)| {
            [
                (id, "client → server", f.sent),
                (id, "server → client", f.received),
            ]
        })
        .collect();
    let columns: Vec<&Column> = TYPES
        .iter()
        .filter(|(name, get)| ALWAYS.contains(name) || rows.iter().any(|(_, _, d)| get(d) > 0))
        .collect();
    let _ = writeln!(md, "### `{}`: repetition {}\n", run.label(), run.repetition);
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let _ = writeln!(
        md,
        "| connection | direction | {} | header block | DATA bytes | frame bytes |",
        names.join(" | ")
    );
    let _ = writeln!(md, "|---:|---|{}", "---:|".repeat(columns.len() + 3));
    for (id, direction, d) in &rows {
        let cells: Vec<String> = columns.iter().map(|(_, get)| get(d).to_string()).collect();
        let _ = writeln!(
            md,
            "| {id} | {direction} | {} | {} | {} | {} |",
            cells.join(" | "),
            d.header_block_bytes,
            d.data_bytes,
            d.frame_bytes
        );
    }
    // The RTT as HTTP/2 measures it (a PING right after the handshake) beside the TCP connect,
    // the RTT as the kernel's handshake shows it.
    for c in &run.connections {
        if let Some(rtt) = c.ping_rtt {
            let _ = writeln!(
                md,
                "\nConnection {}: HTTP/2 PING round trip {}, TCP connect {}.",
                c.id,
                httplab_core::units::format_duration(rtt),
                httplab_core::units::format_duration(c.tcp_connect)
            );
        }
    }
    let uncounted = run
        .connections
        .iter()
        .filter(|c| c.h2_frames.is_none())
        .count();
    if uncounted > 0 {
        let _ = writeln!(
            md,
            "\n{uncounted} more connection{} carried no frame counts.",
            if uncounted == 1 { "" } else { "s" }
        );
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::summary::summarize;
    use crate::Environment;

    #[test]
    fn h2_against_http11_names_the_saving() {
        let runs = vec![
            RunBuilder::http11(0, 23).build(),
            RunBuilder::h2(0, 15).build(),
        ];
        let s = header_sentences(&summarize(&runs));
        // http1.1: 4 × 64 B request heads, 4 × 96 B response heads; h2: blocks of 30 + 3 × 8
        // and 40 + 3 × 6 bytes.
        assert_eq!(
            s,
            [
                "`h2` sent 54 B of request headers for 4 requests against 256 B over `http1.1` \
              (79% less per request), and received 58 B of response headers against 384 B: \
              HPACK's table let repeated headers travel as indexes."
            ]
        );
    }

    #[test]
    fn no_saving_is_said_as_such_and_no_http1_means_no_sentence() {
        // Without frame counts, h2 falls back to the records' 64-byte heads: no saving.
        let runs = vec![
            RunBuilder::http11(0, 23).build(),
            RunBuilder::h2(0, 15).without_h2_frames().build(),
        ];
        let s = header_sentences(&summarize(&runs));
        assert_eq!(s.len(), 1);
        assert!(s[0].contains("no saving from HPACK here"), "{}", s[0]);
        assert!(s[0].contains("no HTTP/2 frames were counted"), "{}", s[0]);
        assert!(header_sentences(&summarize(&[RunBuilder::h2(0, 15).build()])).is_empty());
        assert!(header_sentences(&summarize(&[RunBuilder::http11(0, 15).build()])).is_empty());
    }

    #[test]
    fn http11_is_preferred_and_each_h2_flavour_gets_a_sentence() {
        let runs = vec![
            RunBuilder::http10(0, 40).build(),
            RunBuilder::h2c(0, 14).build(),
            RunBuilder::http11(0, 23).build(),
            RunBuilder::h2(0, 15).build(),
        ];
        let s = header_sentences(&summarize(&runs));
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("`h2c` sent 54 B"), "{}", s[0]);
        assert!(s.iter().all(|l| l.contains("over `http1.1`")), "{s:?}");
    }

    #[test]
    fn frame_table_shows_types_present_and_byte_columns() {
        let runs = vec![RunBuilder::h2(0, 15).build()];
        let mut md = String::new();
        frame_tables(
            &mut md,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        );
        assert!(md.starts_with("## HTTP/2 frames of the median run"), "{md}");
        assert!(md.contains("### `h2`: repetition 0"), "{md}");
        assert!(
            md.contains(
                "| connection | direction | DATA | HEADERS | SETTINGS | WINDOW_UPDATE | header block | DATA bytes | frame bytes |"
            ),
            "{md}"
        );
        // Sent: 0 DATA, 4 HEADERS, 2 SETTINGS, 1 WINDOW_UPDATE, 54 block bytes;
        // frames 21 + 9 + 13 + 36 + 54.
        assert!(
            md.contains("| 0 | client → server | 0 | 4 | 2 | 1 | 54 | 0 | 133 |"),
            "{md}"
        );
        // Received: bodies 2 000 + 3 × 14 000.
        assert!(
            md.contains("| 0 | server → client | 4 | 4 | 2 | 0 | 58 | 44000 | 44154 |"),
            "{md}"
        );
        assert!(
            !md.contains("PING round trip"),
            "no PING measured in the fixture: {md}"
        );
        let mut runs = runs;
        runs[0].connections[0].ping_rtt = Some(std::time::Duration::from_micros(470));
        let mut md = String::new();
        frame_tables(
            &mut md,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        );
        assert!(
            md.contains("Connection 0: HTTP/2 PING round trip 470us, TCP connect "),
            "{md}"
        );

        let mut md = String::new();
        let runs = vec![RunBuilder::h2(0, 15).without_h2_frames().build()];
        frame_tables(
            &mut md,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        );
        assert!(md.is_empty(), "{md}");
    }
}
