//! Why, down to TCP, end to end through the binary on the emulated link: packed writes leave
//! a burst in as few segments as its bytes need; the wire's retransmissions match the sending
//! sockets' own `TCP_INFO`; every connection carries its `TCP_INFO` readings; and the verdict
//! names the cause the numbers show (loss on one connection; never "waited for a free
//! connection" where h2 wins). Each asserts measured facts of real sockets: segments the relay
//! carried, counters the kernel kept. None is a timing bound.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::httplab;
use httplab_testkit::binary::stderr;
use httplab_testkit::{require_link, require_tool, scenario_path, temp_dir};
use serde_json::Value;
use std::path::Path;

/// One scenario run through the binary at a time: two links on two cores would share them.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `scenario` with `extra` arguments (`--set`, `--protocols`) into `out`; its results.
fn run(scenario: &Path, extra: &[&str], out: &Path) -> Value {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let done = httplab(&args, out.parent().unwrap());
    assert!(done.status.success(), "{}", stderr(&done));
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a count, got {v}"))
}

fn ms(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected milliseconds, got {v}"))
}

/// The wire's connection for the client connection `c` of `run`.
fn wire_of<'a>(run: &'a Value, local_addr: &Value) -> &'a Value {
    run["wire"]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["client"] == *local_addr)
        .unwrap_or_else(|| panic!("no wire connection for {local_addr}"))
}

const SMALL_PAGE: &str = r#"
name = "twelve-small"
description = "12 x 500 B at 60 ms, TLS 1.3, the same 10 ms think"
protocols = ["h2"]
repeat = 1
[client]
tls = true
[server]
think = "10ms"
[network]
rtt = "60ms"
congestion_control = "cubic"
[[resource]]
path = "/obj/{i}"
count = 12
size = "500b"
"#;

/// When the first and the last request's bytes were written (lab clock, ms).
fn requests_written(run: &Value) -> (f64, f64) {
    let sent: Vec<f64> = run["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let p = &r["phases"];
            let setup =
                p["connect_ms"].as_f64().unwrap_or(0.0) + p["ssl_ms"].as_f64().unwrap_or(0.0);
            ms(&r["issued_at_ms"]) + ms(&p["blocked_ms"]) + setup
        })
        .collect();
    let first = sent.iter().cloned().fold(f64::INFINITY, f64::min);
    let last = sent.iter().cloned().fold(0.0, f64::max);
    (first, last)
}

/// Segments in the client's round that carried the requests: the first round that was still
/// sending at or after `written` (the requests' write, lab clock).
fn client_burst_segments(run: &Value, written: f64) -> u64 {
    let conn = &run["connections"][0];
    let wire = wire_of(run, &conn["local_addr"]);
    let up = wire["client_to_server"]["rounds"].as_array().unwrap();
    up.iter()
        .filter(|r| ms(&r["last_sent_at_ms"]) >= written - 0.05)
        .map(|r| u(&r["segments"]))
        .next()
        .unwrap_or_else(|| panic!("no client round carried the requests: {up:#?}"))
}

/// How much earlier than the first response was ready (by the server's log) a response
/// segment may be stamped in the capture. The capture's and the wire trace's stamps are lined up
/// at the SYN, and on a busy CI machine they drifted 1.6 ms apart by the responses (a run at
/// 7d07398 stamped them 1.6 ms before `ready`, and the test counted none). What else the server
/// sends (its TLS tickets, SETTINGS) leaves as the requests arrive, the page's 10 ms think
/// before the responses, so half the think keeps it out.
const EARLY_MS: f64 = 5.0;

/// The responses' segments and payload bytes, as tshark reads them from the run's capture:
/// server segments carrying data from the moment the first response was ready to the page's
/// last byte. The capture's stamps are the relay's, as the wire trace's are: the SYN's stamp in
/// both lines them up.
fn response_segments(run: &Value, pcap: &Path, tshark: &Path) -> (u64, u64) {
    let out = std::process::Command::new(tshark)
        .args(["-r", pcap.to_str().unwrap(), "-T", "fields"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.len",
        ])
        .args(["-e", "tcp.flags.syn", "-e", "tcp.flags.ack"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(f64, u16, u64, bool)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let syn_only = f.get(3)? == &"1" && f.get(4)? == &"0";
            Some((
                f[0].parse().ok()?,
                f[1].parse().ok()?,
                f[2].parse().ok()?,
                syn_only,
            ))
        })
        .collect();
    let conn = &run["connections"][0];
    let wire = wire_of(run, &conn["local_addr"]);
    let server_port: u16 = wire["server"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let syn_epoch = rows
        .iter()
        .find(|r| r.3)
        .expect("the capture has the SYN")
        .0;
    let offset = ms(&wire["handshake"]["syn_at_ms"]) - syn_epoch * 1e3;
    let ready = run["server"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| ms(&s["response_ready_at_ms"]))
        .fold(f64::INFINITY, f64::min);
    let page_end = ms(&run["started_at_ms"]) + ms(&run["page_time_ms"]);
    rows.iter()
        .filter(|(epoch, port, len, _)| {
            let at = epoch * 1e3 + offset;
            *port == server_port && *len > 0 && at >= ready - EARLY_MS && at <= page_end
        })
        .fold((0, 0), |(segments, bytes), r| (segments + 1, bytes + r.2))
}

#[test]
fn packed_writes_send_a_burst_in_one_segment_and_responses_in_the_segments_their_bytes_need() {
    if !require_link("packed_writes_send_a_burst_in_one_segment") {
        return;
    }
    let dir = temp_dir("packing");
    let file = dir.join("small.toml");
    std::fs::write(&file, SMALL_PAGE).unwrap();

    let Some(tshark) = require_tool("tshark", "packed_writes", "apt-get install tshark") else {
        return;
    };
    let pcap = dir.join("packed.pcap");
    let packed = run(
        &file,
        &["--pcap", pcap.to_str().unwrap()],
        &dir.join("packed"),
    );
    let run0 = &packed["runs"][0];
    // The client: the twelve requests, issued together, left in one write...
    let (first, last) = requests_written(run0);
    assert!(last - first < 0.2, "requests written {first}..{last} ms");
    // ...which the wire carried as one segment: the client's round that carried them also
    // carried its TLS Finished (rustls writes it as the handshake ends, a segment of its own),
    // and nothing else.
    let burst = client_burst_segments(run0, first);
    assert_eq!(burst, 1 + 1, "the Finished and the requests");

    // The server: the twelve responses in no more segments than their bytes need, plus one.
    let (segments, bytes) = response_segments(run0, &pcap, &tshark);
    let need = bytes.div_ceil(1448);
    eprintln!("packed: {segments} response segments for {bytes} bytes ({need} needed)");
    assert!(bytes >= 12 * 500, "{bytes} bytes");
    assert!(
        segments <= need + 1,
        "{segments} segments for {bytes} bytes"
    );

    // Per-frame, as the HTTP library hands them over: a segment per response while the window
    // lets each go at once (the kernel merges what waits for ACKs), so more than their bytes
    // need.
    let pcap = dir.join("per-frame.pcap");
    let per_frame = run(
        &file,
        &[
            "--set",
            "server.write=per-frame",
            "--set",
            "client.write=per-frame",
            "--pcap",
            pcap.to_str().unwrap(),
        ],
        &dir.join("per-frame"),
    );
    let run1 = &per_frame["runs"][0];
    let (segments, bytes) = response_segments(run1, &pcap, &tshark);
    eprintln!("per-frame: {segments} response segments for {bytes} bytes");
    assert!(
        segments > bytes.div_ceil(1448) + 1,
        "{segments} segments for {bytes} bytes"
    );
    // h2's own writes: the preface and SETTINGS, the HEADERS, a WINDOW_UPDATE, apart.
    let (first, _) = requests_written(run1);
    assert!(client_burst_segments(run1, first) > 2);
}

#[test]
fn a_lossy_page_on_one_connection_is_explained_by_loss_and_the_wire_matches_the_kernel() {
    if !require_link("a_lossy_page_on_one_connection_is_explained_by_loss") {
        return;
    }
    let dir = temp_dir("loss-story");
    let out = dir.join("out");
    // Three repetitions, as the scenario has them: the verdict compares medians, so one run
    // that stalls cannot decide it alone (one repetition in a CI run at 1ae4bc6 had h2 at
    // 15.3 s, 6.6 s of it unexplained by loss or windows).
    let results = run(&scenario_path("loss-one-vs-six"), &[], &out);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let verdict = report
        .split("## Verdict\n\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    assert!(verdict.starts_with("**http1.1**"), "{verdict}");
    assert!(
        verdict.contains("Most of the difference is loss"),
        "{verdict}"
    );
    assert!(verdict.contains("Mathis"), "{verdict}");
    assert!(!verdict.contains("slow start begins"), "{verdict}");

    for run in results["runs"].as_array().unwrap() {
        // Every retransmission the relay saw, server to client, against the server socket's
        // own count, connection by connection and in all: within 5% (exact in practice).
        let (mut wire_total, mut kernel_total) = (0, 0);
        for server in run["server_connections"].as_array().unwrap() {
            // At close, or at the run's end when the client's FIN was still on its way (lost
            // at the link, its retransmission pending: a CI run at c8de33b met one).
            let info = &server["tcp_info"];
            let last = if info["at_close"].is_object() {
                &info["at_close"]
            } else {
                &info["at_end"]
            };
            assert!(
                last.is_object(),
                "{}: server connection {} has no reading at close or at the end: {server}",
                run["protocol"],
                server["connection"]
            );
            let kernel = u(&last["total_retrans"]);
            let wire = wire_of(run, &server["peer_addr"]);
            let seen = u(&wire["server_to_client"]["retransmitted_segments"]);
            wire_total += seen;
            kernel_total += kernel;
        }
        eprintln!(
            "{}: the wire saw {wire_total} retransmissions, the server sockets counted {kernel_total}",
            run["protocol"]
        );
        assert!(kernel_total > 0, "2% loss and no retransmission?");
        let diff = wire_total.abs_diff(kernel_total) as f64;
        assert!(
            diff <= 0.05 * kernel_total as f64,
            "{}: wire {wire_total} against TCP_INFO {kernel_total}",
            run["protocol"]
        );
        // Every client connection carries its readings: one per response it carried, and one
        // at close, with the congestion window and the congestion control in use.
        for conn in run["connections"].as_array().unwrap() {
            let info = &conn["tcp_info"];
            assert_eq!(
                info["responses"].as_array().map_or(0, Vec::len) as u64,
                u(&conn["requests_served"]),
                "{conn}"
            );
            let at_close = &info["at_close"];
            assert!(u(&at_close["snd_cwnd"]) >= 1, "{conn}");
            assert_eq!(at_close["congestion_control"], "cubic", "{conn}");
        }
    }
}

#[test]
fn where_h2_wins_on_many_small_objects_no_request_waited_for_a_free_connection() {
    if !require_link("where_h2_wins_on_many_small_objects") {
        return;
    }
    let dir = temp_dir("small-objects-story");
    let out = dir.join("out");
    let results = run(
        &scenario_path("many-small-objects"),
        &["--set", "repeat=1", "--protocols", "http1.1,h2"],
        &out,
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let verdict = report
        .split("## Verdict\n\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    assert!(verdict.starts_with("**h2**"), "{verdict}");
    assert!(!verdict.contains("free connection"), "{verdict}");
    assert!(verdict.contains("Most of the difference is"), "{verdict}");
    // http1.1's 64 requests over 6 connections queued; h2's waited for its one connection's
    // handshakes instead, which results.json keeps apart.
    let page = |label: &str| {
        results["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == label)
            .unwrap()["page_causes"]
            .clone()
    };
    assert!(
        ms(&page("h2")["own_handshake_ms"]) > 100.0,
        "{}",
        page("h2")
    );
    assert_eq!(ms(&page("http1.1")["own_handshake_ms"]), 0.0);
    let queued: f64 = results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["protocol"] == "http1.1")
        .flat_map(|r| r["causes"]["requests"].as_array().unwrap().iter())
        .map(|c| ms(&c["queued_ms"]))
        .sum();
    assert!(
        queued > 1000.0,
        "http1.1's requests queued {queued} ms in all"
    );
}

/// One 4 KB upload over HTTP/1.1 in cleartext on a 4 kbit/s (500 B/s) uplink: the head and the
/// first segment's share of the body arrive together, then a segment every 2.9 s, the last
/// about 6 s after the head. Judged every 5 s at the default least rate (1 KB/s: 5 KB a
/// window) it would be abandoned; the scenario writes no `min_body_rate`, so over its
/// rate-limited uplink a body need only progress, and the upload is answered. Written, the
/// same rate abandons it: the default is what changed, not the rule.
const SLOW_UPLINK: &str = r#"
name = "slow-uplink"
protocols = ["http1.1"]
repeat = 1
[server]
body_timeout = "5s"
[network]
rtt = "20ms"
bandwidth = "10mbit"
uplink = "4kbit"
[[resource]]
path = "/up"
method = "POST"
body = "4kb"
size = "100b"
"#;

#[test]
fn uploads_at_a_slow_uplink_s_pace_are_not_abandoned_by_the_default_body_rate() {
    if !require_link("uploads_at_a_slow_uplink_s_pace_are_not_abandoned_by_the_default_body_rate") {
        return;
    }
    let work = temp_dir("slow-uplink");
    let scenario = work.join("slow-uplink.toml");
    std::fs::write(&scenario, SLOW_UPLINK).unwrap();
    let results = run(&scenario, &[], &work.join("out"));
    let upload = &results["runs"][0]["requests"][0];
    assert_eq!(upload["status"], 200, "{upload}");
    // 4 KB at 500 B/s: the upload took more than one body_timeout.
    let page = ms(&results["runs"][0]["page_time_ms"]);
    assert!(page > 5000.0, "the uplink paced the upload: {page} ms");

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = work.join("written");
    let written = httplab(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--set",
            "server.min_body_rate=\"8kbit\"",
            "--out",
            out.to_str().unwrap(),
        ],
        &work,
    );
    assert_eq!(written.status.code(), Some(1), "{}", stderr(&written));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let failed = doc["runs"][0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["error"].is_null())
        .count();
    assert!(
        failed >= 1,
        "a written 8 kbit/s abandons the slowest upload"
    );
}
