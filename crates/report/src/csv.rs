//! `requests.csv`: one row per request per repetition, every phase, for spreadsheets and
//! notebooks. RFC 4180: a header row, comma-separated fields, CRLF line ends, fields holding a
//! comma, quote or line break quoted with inner quotes doubled. Times are milliseconds with
//! microsecond precision; `issued_at_ms` and the server's times count from the start of that
//! repetition's page load (`RunRecord::started_at`), the phases are durations; an empty field
//! means "does not apply" (connect and ssl on a reused connection, hol without pipelining, the
//! server's times for a request it never saw). After them, one column per cause
//! (`cause_<id>_ms`, `causes.rs`): the request's time split so that the causes add up to
//! `total_ms`. It owns the column set and the quoting only.

use crate::analysis::Analysis;
use crate::causes::{Cause, RunCauses};
use httplab_core::{RequestRecord, RunRecord};
use std::fmt::Write as _;
use std::time::Duration;

/// The header row's columns, in order.
pub(crate) const COLUMNS: [&str; 27] = [
    "label",
    "protocol",
    "repetition",
    "request_id",
    "method",
    "path",
    "status",
    "connection",
    "issued_at_ms",
    "blocked_ms",
    "connect_ms",
    "ssl_ms",
    "send_ms",
    "wait_ms",
    "receive_ms",
    "hol_ms",
    "total_ms",
    "request_header_bytes",
    "request_body_bytes",
    "response_header_bytes",
    "response_body_bytes",
    "retries",
    "server_arrived_at_ms",
    "server_started_at_ms",
    "server_response_sent_at_ms",
    "http_version",
    "error",
];

/// The whole CSV document.
pub fn requests_csv(a: &Analysis<'_>) -> String {
    let mut out = String::new();
    out.push_str(&COLUMNS.join(","));
    for cause in Cause::ALL {
        let _ = write!(out, ",cause_{}_ms", cause.id());
    }
    out.push_str("\r\n");
    for (run, causes) in a.runs.iter().zip(&a.causes) {
        let mut requests: Vec<&RequestRecord> = run.requests.iter().collect();
        requests.sort_by_key(|r| (r.issued_at, r.id));
        for r in requests {
            row(&mut out, run, r, causes);
        }
    }
    out
}

fn row(out: &mut String, run: &RunRecord, r: &RequestRecord, causes: &RunCauses) {
    let p = &r.phases;
    let since_start = |at: Duration| ms(at.saturating_sub(run.started_at));
    let server = run.server_view(r.id);
    let fields: [String; 27] = [
        field(&run.label()),
        field(run.protocol.id()),
        run.repetition.to_string(),
        r.id.to_string(),
        field(&r.method),
        field(&r.path),
        r.status.to_string(),
        r.connection.map(|c| c.to_string()).unwrap_or_default(),
        since_start(r.issued_at),
        ms(p.blocked),
        p.connect.map(ms).unwrap_or_default(),
        p.ssl.map(ms).unwrap_or_default(),
        ms(p.send),
        ms(p.wait),
        ms(p.receive),
        p.hol.map(ms).unwrap_or_default(),
        ms(p.total()),
        r.request_header_bytes.to_string(),
        r.request_body_bytes.to_string(),
        r.response_header_bytes.to_string(),
        r.response_body_bytes.to_string(),
        r.retries.to_string(),
        server
            .map(|s| since_start(s.arrived_at))
            .unwrap_or_default(),
        server
            .map(|s| since_start(s.started_at))
            .unwrap_or_default(),
        server
            .and_then(|s| s.response_sent_at)
            .map(since_start)
            .unwrap_or_default(),
        field(&r.http_version),
        r.error.as_deref().map(field).unwrap_or_default(),
    ];
    let split = causes
        .requests
        .iter()
        .find(|c| c.request_id == r.id)
        .map(|c| c.split)
        .unwrap_or_default();
    let causes: Vec<String> = split.iter().map(|(_, d)| ms(d)).collect();
    let _ = write!(out, "{},{}\r\n", fields.join(","), causes.join(","));
}

/// A duration in milliseconds with three decimals (whole microseconds, rounded to nearest),
/// written from integers so the output does not depend on float formatting.
fn ms(d: Duration) -> String {
    let us = (d.as_nanos() + 500) / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// A text field, quoted when RFC 4180 requires it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;

    #[test]
    fn one_row_per_request_per_repetition_with_every_phase() {
        let runs = vec![
            RunBuilder::http11(0, 23)
                .hol(3, Duration::from_micros(700))
                .build(),
            RunBuilder::http10(1, 44)
                .fail(2, "reset, \"by peer\"")
                .build(),
        ];
        let scenario = crate::fixtures::scenario();
        let env = crate::Environment::default();
        let csv = requests_csv(&Analysis::new(&scenario, &runs, &env));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines.len(),
            1 + 8 + 1,
            "header, 2 × 4 rows, empty after the last CRLF"
        );
        let causes: Vec<String> = Cause::ALL
            .iter()
            .map(|c| format!("cause_{}_ms", c.id()))
            .collect();
        assert_eq!(
            lines[0],
            format!("{},{}", COLUMNS.join(","), causes.join(","))
        );
        assert_eq!(lines[9], "");
        // http1.1 request 0 opened connection 0: blocked 3 us, connect 1.5 ms, ssl 2.25 ms,
        // send 12 us, wait 2 ms, receive 800 us; the server saw it 0.5 ms after its last byte.
        assert_eq!(
            lines[1],
            "http1.1,http1.1,0,0,GET,/index.html,200,0,0.000,0.003,1.500,2.250,0.012,2.000,0.800,,\
             6.565,64,0,96,2000,0,4.265,4.265,5.465,HTTP/1.1,,\
             0.003,0.000,1.500,2.250,0.012,1.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,1.800"
        );
        // Request 3 reused connection 1: no connect or ssl, and it carries hol.
        assert_eq!(
            lines[4],
            "http1.1,http1.1,0,3,GET,/img/3.png,200,1,0.000,4.103,,,0.012,2.000,0.839,0.700,\
             6.954,64,0,96,14000,0,4.615,4.615,5.815,HTTP/1.1,,\
             4.103,0.000,0.000,0.000,0.012,1.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,\
             1.839"
        );
        // The failed request: no server times, status 0, the error quoted per RFC 4180.
        assert_eq!(
            lines[7],
            "http1.0,http1.0,1,2,GET,/img/2.png,0,2,0.000,0.003,1.514,2.250,0.012,2.000,0.826,,\
             6.605,64,0,0,0,0,,,,,\"reset, \"\"by peer\"\"\",\
             0.003,0.000,1.514,2.250,0.012,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,\
             2.826"
        );
    }

    #[test]
    fn quoting_and_milliseconds() {
        assert_eq!(field("/a"), "/a");
        assert_eq!(field("/a,b"), "\"/a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(ms(Duration::from_nanos(1_234_567_890)), "1234.568");
        assert_eq!(ms(Duration::from_nanos(499)), "0.000");
        assert_eq!(ms(Duration::from_nanos(500)), "0.001");
    }
}
