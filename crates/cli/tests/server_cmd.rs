//! `httplab run --server-cmd`: a server no one here wrote (nginx) run inside the lab's server
//! namespace, behind the emulated link, serving the scenario's files with their sizes; every
//! protocol's requests are answered with the bytes nginx served, the h2 run on one connection
//! and HTTP/1.1 within its cap; the report says the server was external; and nginx is gone
//! when the run ends.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::{httplab, write_site, SITE_RESOURCES};
use httplab_testkit::binary::stderr;
use httplab_testkit::{free_port, nginx_config, require_link, require_tool, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The site's page, over a 20 ms link, twice.
fn scenario() -> String {
    format!("name = \"external-page\"\nrepeat = 2\n[network]\nrtt = \"20ms\"\n{SITE_RESOURCES}")
}

/// An nginx.conf in `dir` serving `www` on `listen` (e.g. `8080`, or `8443 ssl http2` with
/// `tls` lines), in the foreground, one process.
fn nginx_conf(dir: &Path, www: &Path, listen: &str, tls: &str) -> PathBuf {
    let path = dir.join("nginx.conf");
    std::fs::write(&path, nginx_config(dir, www, listen, tls)).unwrap();
    path
}

fn runs_of<'a>(results: &'a Value, protocol: &str) -> Vec<&'a Value> {
    results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["protocol"] == protocol)
        .collect()
}

/// Every request of `run` answered with the size the scenario gave its file.
fn answered_with_sizes(run: &Value) {
    let requests = run["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 9, "{}", run["protocol"]);
    for r in requests {
        assert_eq!(r["status"], 200, "{r}");
        let size = if r["path"] == "/index.html" {
            5000
        } else {
            20000
        };
        assert_eq!(r["response_body_bytes"], size, "{}", r["path"]);
    }
    assert!(
        run["server"].as_array().is_none_or(Vec::is_empty),
        "no lab server log for an external server"
    );
}

#[test]
fn nginx_inside_the_lab_serves_every_protocol_with_its_sizes_and_is_stopped() {
    let test = "nginx_inside_the_lab_serves_every_protocol_with_its_sizes_and_is_stopped";
    if !require_link(test) {
        return;
    }
    let Some(nginx) = Some(PathBuf::from("/usr/sbin/nginx"))
        .filter(|p| p.is_file())
        .or_else(|| require_tool("nginx", test, "apt-get install nginx"))
    else {
        return;
    };
    let work = temp_dir("server-cmd");
    let www = work.join("www");
    write_site(&www);
    std::fs::write(work.join("page.toml"), scenario()).unwrap();
    let certs = work.join("certs");

    // Cleartext: HTTP/1.0, HTTP/1.1 and pipelining.
    let plain = work.join("nginx-plain");
    std::fs::create_dir_all(&plain).unwrap();
    let port = free_port();
    let conf = nginx_conf(&plain, &www, &port.to_string(), "");
    let cmd = format!(
        "{} -p {} -c {}",
        nginx.display(),
        plain.display(),
        conf.display()
    );
    let port_arg = port.to_string();
    let out = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--protocols",
            "http1.0,http1.1,http1.1-pipelined",
            "--out",
            "plain",
            "--server-cmd",
            &cmd,
            "--server-port",
            &port_arg,
        ],
        &work,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("plain/results.json")).unwrap())
            .unwrap();
    for protocol in ["http1.0", "http1.1", "http1.1-pipelined"] {
        let runs = runs_of(&results, protocol);
        assert_eq!(runs.len(), 2, "{protocol}");
        for run in runs {
            answered_with_sizes(run);
            let connections = run["connections"].as_array().unwrap().len();
            match protocol {
                "http1.0" => assert_eq!(connections, 9, "one per request"),
                "http1.1" => assert!(connections <= 6, "within the cap: {connections}"),
                _ => {}
            }
        }
    }
    // The reports say whose server it was, and that its side of the timeline is absent.
    let md = std::fs::read_to_string(work.join("plain/report.md")).unwrap();
    assert!(md.contains("> **Server: external, `"), "{md}");
    assert!(md.contains("The server-side timeline is absent"), "{md}");
    let html = std::fs::read_to_string(work.join("plain/report.html")).unwrap();
    assert!(
        html.contains("class=\"facts server\""),
        "the HTML says so too"
    );
    assert!(
        results["environment"]["server"]
            .as_str()
            .is_some_and(|s| s.starts_with("external")),
        "{}",
        results["environment"]
    );
    assert_stopped(&plain);

    // TLS with the lab's certificate: h2 on one connection, and HTTP/1.1 over TLS.
    let tls_dir = work.join("nginx-tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let port = free_port();
    let tls = format!(
        "    ssl_certificate {c}/localhost.pem;\n    ssl_certificate_key {c}/localhost.key;\n",
        c = certs.display()
    );
    let conf = nginx_conf(&tls_dir, &www, &format!("{port} ssl http2"), &tls);
    let cmd = format!(
        "{} -p {} -c {}",
        nginx.display(),
        tls_dir.display(),
        conf.display()
    );
    let port_arg = port.to_string();
    let out = std::process::Command::new(common::bin())
        .args([
            "run",
            "page.toml",
            "--quiet",
            "--protocols",
            "h2,http1.1",
            "--out",
            "tls",
            "--server-cmd",
            &cmd,
            "--server-port",
            &port_arg,
            "--server-tls",
        ])
        .env("HTTPLAB_CERTS", &certs)
        .current_dir(&work)
        .output()
        .expect("httplab runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("tls/results.json")).unwrap())
            .unwrap();
    for run in runs_of(&results, "h2") {
        answered_with_sizes(run);
        assert_eq!(
            run["connections"].as_array().unwrap().len(),
            1,
            "h2: one connection"
        );
    }
    for run in runs_of(&results, "http1.1") {
        answered_with_sizes(run);
    }
    assert_stopped(&tls_dir);

    // h2 needs TLS: without --server-tls it is refused before anything runs.
    let refused = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--protocols",
            "h2",
            "--server-cmd",
            "true",
            "--server-port",
            "1",
        ],
        &work,
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("h2 cannot run"),
        "{}",
        stderr(&refused)
    );
}

/// nginx (its pid in `dir/nginx.pid`) is no longer running.
fn assert_stopped(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("nginx.pid")).unwrap_or_default();
    let pid = pid.trim();
    if pid.is_empty() {
        return; // nginx removes its pid file when it exits cleanly.
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    assert!(
        stat.is_empty() || state.starts_with('Z'),
        "nginx {pid} still runs: {stat}"
    );
}

/// The article's experiment with its own kind of server: Node.js, whose upload handler never
/// answers (`scenarios/node-never-respond.js`), and a Safari-like client (6 connections)
/// sending 9 uploads. Six reach the server at once; the other three only once
/// `server.setTimeout(500)` has closed held connections. Fixed to answer, all nine reach it
/// before any timeout could have. Arrival times come from the server's own log.
#[test]
fn the_article_s_node_server_holds_six_connections_until_its_timeout_frees_them() {
    let test = "the_article_s_node_server_holds_six_connections_until_its_timeout_frees_them";
    let Some(node) = require_tool("node", test, "apt-get install nodejs") else {
        return;
    };
    let work = temp_dir("node-never-respond");
    let script = httplab_testkit::repo_root().join("scenarios/node-never-respond.js");
    let scenario = httplab_testkit::scenario_path("node-never-respond");
    for fixed in [false, true] {
        let port = free_port();
        let log = work.join(format!("arrivals-{fixed}.log"));
        let cmd = format!(
            "{} {} {port} {}{}",
            node.display(),
            script.display(),
            log.display(),
            if fixed { " fixed" } else { "" }
        );
        let port_arg = port.to_string();
        let out_dir = format!("out-{fixed}");
        let out = httplab(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--quiet",
                "--no-link",
                "--protocols",
                "http1.1",
                "--out",
                &out_dir,
                "--server-cmd",
                &cmd,
                "--server-port",
                &port_arg,
            ],
            &work,
        );
        // The never-answered uploads fail as the scenario says they will (`respond =
        // "never"`): not an unexpected failure.
        assert!(out.status.success(), "fixed={fixed}: {}", stderr(&out));
        let mut arrivals: Vec<f64> = std::fs::read_to_string(&log)
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
            .lines()
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        arrivals.sort_by(f64::total_cmp);
        assert_eq!(arrivals.len(), 9, "fixed={fixed}: {arrivals:?}");
        let after_first = |i: usize| arrivals[i] - arrivals[0];
        if fixed {
            // Answered, the six connections are reused at once: the last upload arrives before
            // the 500 ms any of them would have waited for a timeout.
            assert!(after_first(8) < 450.0, "{arrivals:?}");
        } else {
            // The first six are issued together on six new loopback connections: their
            // arrivals differ by connection set-up, far less than the 500 ms timeout (bound:
            // half of it).
            assert!(after_first(5) < 250.0, "{arrivals:?}");
            // The seventh can only arrive once a held connection was closed by the timeout,
            // 500 ms after its last byte, which came after its own arrival; a timer never
            // fires early.
            assert!(after_first(6) >= 500.0, "{arrivals:?}");
        }
    }
}

/// h3 against servers that carry no QUIC. A server whose UDP port swallows every datagram,
/// inside the lab's server namespace (as UDP blocked between the namespaces looks to the
/// client): the run starts (the socket is bound), and the request fails at the QUIC
/// handshake's 10 s timeout with an error naming UDP being blocked. A server that accepts TCP
/// but binds no UDP port: refused before any run, 3 s after its TCP port was ready.
#[test]
fn h3_against_a_server_without_quic_is_a_clear_error_naming_udp() {
    let test = "h3_against_a_server_without_quic_is_a_clear_error_naming_udp";
    if !require_link(test) || require_tool("python3", test, "apt-get install python3").is_none() {
        return;
    }
    let work = temp_dir("server-cmd-h3");
    std::fs::write(
        work.join("page.toml"),
        "name = \"one\"\nrepeat = 1\n[network]\nrtt = \"20ms\"\n[[resource]]\npath = \"/a\"\n",
    )
    .unwrap();
    let port = free_port();
    let sink = format!(
        "exec python3 -c \"import socket, time; u = socket.socket(socket.AF_INET, \
         socket.SOCK_DGRAM); u.bind(('0.0.0.0', {port})); time.sleep(120)\""
    );
    let port_arg = port.to_string();
    let started = std::time::Instant::now();
    let out = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--protocols",
            "h3",
            "--server-cmd",
            &sink,
            "--server-port",
            &port_arg,
            "--server-tls",
            "--out",
            "sink",
        ],
        &work,
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("sink/results.json")).unwrap())
            .unwrap();
    let request = &runs_of(&results, "h3")[0]["requests"][0];
    let error = request["error"].as_str().expect("the request failed");
    assert!(
        error.contains("no QUIC handshake") && error.contains("is UDP blocked"),
        "{error}"
    );
    assert!(
        error.contains(&format!("UDP port {port}")),
        "names the port: {error}"
    );
    // The handshake's 10 s, and the lab's start and stop (the link, the server): each takes
    // well under a few seconds.
    assert!(took >= std::time::Duration::from_secs(10), "{took:?}");
    assert!(took < std::time::Duration::from_secs(40), "{took:?}");

    // TCP but no UDP: the lab names h3 and UDP before any run.
    let port = free_port();
    let port_arg = port.to_string();
    let tcp_only = format!("exec python3 -m http.server {port}");
    let out = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--protocols",
            "h3,http1.1",
            "--server-cmd",
            &tcp_only,
            "--server-port",
            &port_arg,
            "--server-tls",
            "--out",
            "tcp-only",
        ],
        &work,
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("h3 cannot run") && err.contains(&format!("no UDP socket on port {port}")),
        "{err}"
    );
    assert!(!work.join("tcp-only/results.json").exists(), "nothing ran");
}
