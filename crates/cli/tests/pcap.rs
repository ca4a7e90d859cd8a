//! `httplab run --pcap`: every packet the emulated link carried, in a pcap file tshark reads,
//! whose TLS decrypts with the key log `SSLKEYLOGFILE` asked for — the lab's HTTP/2 requests
//! come out by path, with the HPACK representations the lab chose for each field.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_testkit::{http2_paths, require_link, require_tool, temp_dir};
use serde_json::Value;
use std::process::Command;

#[test]
fn the_link_s_capture_opens_in_tshark_and_decrypts_with_the_key_log() {
    let test = "the_link_s_capture_opens_in_tshark_and_decrypts_with_the_key_log";
    if !require_link(test) || require_tool("tshark", test, "apt-get install tshark").is_none() {
        return;
    }
    let work = temp_dir("pcap");
    let scenario = work.join("pcap.toml");
    std::fs::write(
        &scenario,
        "name = \"pcap\"\nprotocols = [\"h2\"]\nrepeat = 1\n\
         [[resource]]\npath = \"/captured/{i}\"\ncount = 4\nsize = \"20kb\"\n\
         [network]\nrtt = \"10ms\"\n",
    )
    .unwrap();
    let (out, pcap, keys) = (
        work.join("out"),
        work.join("run.pcap"),
        work.join("keys.log"),
    );
    let run = Command::new(env!("CARGO_BIN_EXE_httplab"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--pcap")
        .arg(&pcap)
        .arg("--quiet")
        .env("SSLKEYLOGFILE", &keys)
        .env("HTTPLAB_CERTS", work.join("certs"))
        .current_dir(&work)
        .output()
        .expect("run httplab");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // The server's port, from the run's record of its one connection.
    let results: Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let run0 = &results["runs"][0];
    assert!(run0["link"].is_object(), "the run crossed the link");
    let remote = run0["connections"][0]["remote_addr"].as_str().unwrap();
    assert!(remote.starts_with("10.77.0.2:"), "{remote}");
    let port: u16 = remote.rsplit(':').next().unwrap().parse().unwrap();

    // Every packet the link delivered during the run is in the file (and a few more: the
    // capture covers the lab's whole life, connection closes after the run's account too), and
    // nothing else: only the lab's two addresses.
    let link_packets = run0["link"]["uplink"]["packets"].as_u64().unwrap()
        + run0["link"]["downlink"]["packets"].as_u64().unwrap();
    let read = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-e", "ip.src", "-e", "ip.dst"])
        .output()
        .expect("tshark -r");
    assert!(read.status.success());
    let frames: Vec<String> = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        frames.len() as u64 >= link_packets && link_packets > 20,
        "{} frames in the capture, {link_packets} packets carried during the run",
        frames.len()
    );
    for frame in &frames {
        assert!(
            frame == "10.77.0.1\t10.77.0.2" || frame == "10.77.0.2\t10.77.0.1",
            "{frame}"
        );
    }

    let mut paths = http2_paths(&pcap, port, Some(&keys));
    paths.sort();
    let expected: Vec<String> = (1..=4).map(|i| format!("/captured/{i}")).collect();
    assert_eq!(paths, expected, "the h2 requests, decrypted");
    assert!(
        http2_paths(&pcap, port, None).is_empty(),
        "without the key log nothing decrypts"
    );

    // HPACK, as tshark decodes it: the fields new in every message (the request id, the
    // response's Server-Timing) are sent never indexed after the first, so they do not push the
    // fields that repeat out of the dynamic table; the first of each connection is indexed,
    // which puts its name in the table for the others to name by index. The fields that repeat
    // do so as one-byte indexes.
    let fields = header_fields(&pcap, port, &keys);
    let repr_of = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n.starts_with(name))
            .map(|(_, r)| r.as_str())
            .collect()
    };
    for name in ["x-httplab-request", "server-timing"] {
        let reprs = repr_of(name);
        assert_eq!(
            reprs.len(),
            4,
            "{name} in each of the 4 exchanges: {fields:?}"
        );
        assert!(
            reprs[0].contains("Incremental Indexing"),
            "{name}: {reprs:?}"
        );
        assert!(
            reprs[1..]
                .iter()
                .all(|r| *r == "Literal Header Field never Indexed - Indexed Name"),
            "{name}: {reprs:?}"
        );
    }
    let agent = repr_of("user-agent");
    assert_eq!(agent.len(), 4, "{fields:?}");
    assert!(agent[0].contains("Incremental Indexing"), "{agent:?}");
    assert!(
        agent[1..].iter().all(|r| *r == "Indexed Header Field"),
        "the repeated user-agent is an index: {agent:?}"
    );
}

/// Every header field of the decrypted HTTP/2 HEADERS frames to or from `port`, in capture
/// order, with its HPACK representation as tshark names it.
fn header_fields(
    pcap: &std::path::Path,
    port: u16,
    keys: &std::path::Path,
) -> Vec<(String, String)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("tcp.port=={port},tls")])
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keys.display()))
        .args([
            "-Y",
            "http2.type == 1",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
        ])
        .args(["-e", "http2.header.name", "-e", "http2.header.repr"])
        .output()
        .expect("tshark -r");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|line| {
            let (names, reprs) = line.split_once('\t').unwrap_or((line, ""));
            names
                .split(',')
                .zip(reprs.split(','))
                .map(|(n, r)| (n.to_string(), r.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}
