//! The `httplab` binary as a user runs it: scenario errors, a full quickstart run and its
//! outputs, and `httplab serve` answering curl over TLS with the generated CA.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::{bin, httplab};
use httplab_testkit::binary::{assert_located_errors, stderr, stdout};
use httplab_testkit::{repo_root, require_tool, scenario_path, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn malformed_scenarios_get_file_line_column_and_exit_2() {
    let dir = temp_dir("bad-scenarios");
    // (file body, expected "file:line:col", words in the message)
    let cases = [
        (
            "syntax",
            "name = \"x\"\n[[resource]\npath = \"/a\"\n",
            ":2:12:",
            "unclosed",
        ),
        (
            "unknown-key",
            "name = \"x\"\n[client]\nmax_conections = 6\n[[resource]]\npath = \"/a\"\n",
            ":3:1:",
            "unknown field",
        ),
        (
            "bad-duration",
            "name = \"x\"\n[server]\nthink = \"2 fortnights\"\n[[resource]]\npath = \"/a\"\n",
            ":3:9:",
            "not a duration",
        ),
        (
            "bad-size",
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nsize = \"lots\"\n",
            ":4:8:",
            "not a size",
        ),
        (
            "unknown-protocol",
            "name = \"x\"\nprotocols = [\"http1.1\", \"spdy\"]\n[[resource]]\npath = \"/a\"\n",
            ":2:25:",
            "unknown protocol",
        ),
        (
            "wrong-type",
            "name = \"x\"\nrepeat = -3\n[[resource]]\npath = \"/a\"\n",
            ":2:10:",
            "repeat",
        ),
    ];
    assert_located_errors(bin(), &dir, &cases);
    let missing = httplab(&["check", "no-such-file.toml"], &dir);
    assert_eq!(missing.status.code(), Some(2));
    let bad_flag = httplab(
        &[
            "run",
            scenario_path("quickstart").to_str().unwrap(),
            "--protocols",
            "spdy",
        ],
        &dir,
    );
    assert_eq!(
        bad_flag.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad_flag.stderr)
    );
}

#[test]
fn check_accepts_every_scenario_in_the_repository() {
    for entry in std::fs::read_dir(repo_root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = httplab(&["check", path.to_str().unwrap()], &repo_root());
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `httplab run scenarios/NAME.toml --repeat N --quiet` into a fresh folder; returns the
/// output folder after asserting the run succeeded.
fn run_scenario(name: &str, repeat: u32) -> PathBuf {
    let work = temp_dir(name);
    let out_dir = work.join("out");
    let path = scenario_path(name);
    let repeat = repeat.to_string();
    let args = [
        "run",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--repeat",
        &repeat,
        "--quiet",
    ];
    let out = httplab(&args, &work);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_dir
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn quickstart_run_writes_every_output() {
    let out_dir = run_scenario("quickstart", 3);

    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 12, "4 protocols x 3 repetitions");
    for run in runs {
        let want = match run["protocol"].as_str() {
            Some("http1.0") => 13,
            Some("http1.1") => 6,
            _ => 1,
        };
        assert_eq!(
            run["connections"].as_array().unwrap().len(),
            want,
            "{}",
            run["protocol"]
        );
    }

    for protocol in ["http1.0", "http1.1", "h2", "h3"] {
        let har: Value = serde_json::from_str(
            &std::fs::read_to_string(out_dir.join(format!("{protocol}.har"))).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{protocol}.har does not parse: {e}"));
        assert_eq!(har["log"]["version"], "1.2");
        let entries = har["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 13);
        for e in entries {
            let t = &e["timings"];
            let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
                .iter()
                .map(|k| ms(&t[*k]).max(0.0))
                .sum();
            assert!(
                (sum - ms(&e["time"])).abs() < 0.01,
                "{protocol}: timings {sum} vs time {}",
                e["time"]
            );
            assert_eq!(ms(&t["dns"]), -1.0);
            assert!(e["connection"].is_string() && e["startedDateTime"].is_string());
            assert_eq!(
                e["response"]["content"]["size"],
                if e["request"]["url"]
                    .as_str()
                    .unwrap()
                    .ends_with("index.html")
                {
                    14_000
                } else {
                    8_000
                }
            );
            if protocol == "h3" {
                assert_eq!(e["response"]["httpVersion"], "HTTP/3");
            }
            if ms(&t["connect"]) < 0.0 {
                assert_eq!(ms(&t["ssl"]), -1.0, "ssl is -1 on a reused connection");
            } else {
                assert!(
                    ms(&t["ssl"]) >= 0.0 && ms(&t["ssl"]) <= ms(&t["connect"]),
                    "HAR connect includes ssl"
                );
            }
        }
    }
    let hars = ["http1.0", "http1.1", "h3"].map(|p| out_dir.join(format!("{p}.har")));
    httplab_testkit::validate_har_files("quickstart_run_writes_every_output", &hars);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("http1.0") && md.contains("http1.1") && md.to_lowercase().contains("verdict"),
        "{md}"
    );
    // The ledger of round trips before a connection's first request: TCP + TLS 1.3 two, QUIC
    // one.
    assert!(md.contains("(median run): 2 (TCP 1 + TLS 1) × 13"), "{md}");
    assert!(
        md.contains("(median run): 1 (QUIC, TLS 1.3 inside) × 1"),
        "{md}"
    );
}

#[test]
fn curl_fetches_from_httplab_serve_over_tls() {
    let Some(curl) = require_tool(
        "curl",
        "curl_fetches_from_httplab_serve_over_tls",
        "apt-get install curl",
    ) else {
        return;
    };
    let certs = temp_dir("serve-certs");
    let (_server, port) = httplab_testkit::serve(
        Path::new(env!("CARGO_BIN_EXE_httplab")),
        "quickstart",
        Some(&certs),
    );
    let ca = certs.join("ca.pem");
    for flag in ["--http1.1", "--http1.0"] {
        for (path, size) in [("/index.html", "14000"), ("/img/12.png", "8000")] {
            let out = Command::new(&curl)
                .args([
                    flag,
                    "--silent",
                    "--show-error",
                    "--max-time",
                    "10",
                    "--cacert",
                    ca.to_str().unwrap(),
                ])
                .args([
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %{size_download} %{http_version}",
                ])
                .arg(format!("https://localhost:{port}{path}"))
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout);
            // curl before 8 prints HTTP/1.0 as "1".
            let versions: &[&str] = if flag == "--http1.1" {
                &["1.1"]
            } else {
                &["1.0", "1"]
            };
            assert!(
                versions.iter().any(|v| said == format!("200 {size} {v}")),
                "curl {flag} {path} said {said:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn hol_blocking_report_explains_the_wait_in_words_from_the_numbers() {
    let out_dir = run_scenario("hol-blocking", 1);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for label in ["http1.1-pipelined/serial", "http1.1-pipelined/parallel"] {
        let sentence =
            format!("On {label}, the 9 responses behind /slow on the same connection waited ");
        assert!(
            md.contains(&sentence),
            "no explanation for {label} in:\n{md}"
        );
    }
    assert!(md.contains("head-of-line blocking"), "{md}");
    assert!(md.contains("the server's queue"), "{md}");
    // The parallel run's HAR carries each fast response's hol, about 500 ms less its 2 ms think.
    let har: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("http1.1-pipelined-parallel.har")).unwrap(),
    )
    .unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    for e in &entries[1..] {
        let hol = ms(&e["_hol"]);
        assert!(
            (488.0..=508.0).contains(&hol),
            "{}: _hol {hol}",
            e["request"]["url"]
        );
    }
}

/// A congestion control the kernel lacks is refused by `check` (and by `run` and `sweep`,
/// before anything runs) at its place in the file, with the names this kernel has; one it has
/// passes.
#[test]
fn a_congestion_control_the_kernel_lacks_is_a_located_error() {
    let dir = temp_dir("congestion-control");
    let scenario = |cc: &str| {
        format!(
            "name = \"cc\"\nprotocols = [\"http1.1\"]\n[network]\nrtt = \"10ms\"\n\
             congestion_control = \"{cc}\"\n[[resource]]\npath = \"/a\"\n"
        )
    };
    let missing = scenario("nonexistent");
    assert_located_errors(
        bin(),
        &dir,
        &[(
            "nonexistent",
            &missing,
            ":5:22:",
            "the kernel has no TCP congestion control \"nonexistent\"; available here: ",
        )],
    );
    let out = httplab(&["check", "nonexistent.toml"], &dir);
    let err = stderr(&out);
    let listed = err
        .split("available here: ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap_or_else(|| panic!("no list of names in {err}"));
    assert!(listed.split(", ").any(|n| n == "cubic"), "{err}");
    // The caret sits under the name, in its line.
    assert!(
        err.contains(
            "5 | congestion_control = \"nonexistent\"\n  |                      ^^^^^^^^^^^^^"
        ),
        "{err}"
    );

    // Each value of a sweep is checked before the first one runs.
    let out_dir = dir.join("sweep-out");
    let out = httplab(
        &[
            "sweep",
            "nonexistent.toml",
            "--vary",
            "network.congestion_control=reno,nonexistent",
            "--quiet",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &dir,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "--vary network.congestion_control=nonexistent: the kernel has no TCP congestion \
             control \"nonexistent\""
        ),
        "{err}"
    );
    assert!(!out_dir.exists(), "the sweep ran before refusing a value");

    std::fs::write(dir.join("reno.toml"), scenario("reno")).unwrap();
    let out = httplab(&["check", "reno.toml"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("TCP congestion control reno"),
        "{}",
        stdout(&out)
    );
}

/// Every socket of a run uses the lab's congestion control, whatever the host's default: cubic
/// on plain loopback, or the `[network]` table's choice under --no-link. Each client socket
/// reads it back from the kernel before it connects, and results.json records it per run.
#[test]
fn loopback_runs_use_the_labs_congestion_control_not_the_hosts() {
    let dir = temp_dir("loopback-cc");
    let page = "protocols = [\"http1.1\", \"h2\"]\nrepeat = 1\n[[resource]]\npath = \"/a\"\n\
                size = \"1kb\"\n";
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    for (label, body, extra, want) in [
        (
            "default",
            format!("name = \"plain\"\n{page}"),
            None,
            "cubic",
        ),
        (
            "reno",
            format!(
                "name = \"reno\"\n{page}[network]\nrtt = \"40ms\"\ncongestion_control = \"reno\"\n"
            ),
            Some("--no-link"),
            "reno",
        ),
    ] {
        let file = dir.join(format!("{label}.toml"));
        std::fs::write(&file, body).unwrap();
        let out_dir = dir.join(label);
        let mut args = vec![
            "run",
            file.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ];
        args.extend(extra);
        let out = httplab(&args, &dir);
        assert!(out.status.success(), "{label}: {}", stderr(&out));
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
                .unwrap();
        let runs = results["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{label}");
        for run in runs {
            assert_eq!(run["congestion_control"], want, "{label}: host has {host}");
            assert!(run["link"].is_null(), "{label}: ran on loopback");
            assert!(
                run["requests"][0]["error"].is_null(),
                "{label}: {}",
                run["requests"][0]["error"]
            );
        }
        assert_eq!(results["environment"]["congestion_control"], host.as_str());
        let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
        assert!(
            md.contains(&format!("TCP congestion control {want}")),
            "{label}: {md}"
        );
    }
}

#[test]
fn serve_gives_its_connections_the_scenario_s_congestion_control() {
    let test = "serve_gives_its_connections_the_scenario_s_congestion_control";
    let Some(ss) = require_tool("ss", test, "apt-get install iproute2") else {
        return;
    };
    // reno is built into every Linux kernel, and the host's default here is another.
    let dir = temp_dir("serve-cc");
    let scenario = dir.join("reno.toml");
    std::fs::write(
        &scenario,
        "name = \"reno\"\n[network]\nrtt = \"0\"\ncongestion_control = \"reno\"\n\
         [[resource]]\npath = \"/big\"\nsize = \"8mb\"\n",
    )
    .unwrap();
    let (_server, port) =
        httplab_testkit::serve_file(Path::new(env!("CARGO_BIN_EXE_httplab")), &scenario, None);
    // A response the client does not read keeps the server's socket established.
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut client, b"GET /big HTTP/1.1\r\nHost: lab\r\n\r\n").unwrap();
    let filter = format!("( sport = :{port} )");
    let mut seen = String::new();
    // At most 50 looks, 100 ms apart: the server accepts within milliseconds.
    for _ in 0..50 {
        let out = Command::new(&ss)
            .args(["-tin", "state", "established", &filter])
            .output()
            .unwrap();
        seen = String::from_utf8_lossy(&out.stdout).into_owned();
        if seen.contains(&format!(":{port}")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        seen.contains(&format!(":{port}")),
        "ss never showed the server's socket: {seen}"
    );
    assert!(
        seen.split_whitespace().any(|w| w == "reno"),
        "the server's socket is not under reno: {seen}"
    );
}

/// A page whose script is requested 150 ms after the HTML arrived (`delay`, a browser's parse
/// time) and whose image 80 ms after the script: each is issued no sooner, and the page's
/// critical path names that time `client_delay`, exactly the sum of the delays.
const DELAYED: &str = r#"
name = "delayed"
protocols = ["http1.1", "h2"]
repeat = 1
[[resource]]
path = "/index.html"
size = "4kb"
[[resource]]
path = "/app.js"
size = "2kb"
after = "/index.html"
delay = "150ms"
[[resource]]
path = "/hero.png"
size = "8kb"
after = "/app.js"
delay = "80ms"
"#;

#[test]
fn delay_holds_a_request_back_after_its_parent_and_is_the_page_s_client_delay() {
    let work = temp_dir("delay");
    std::fs::write(work.join("delayed.toml"), DELAYED).unwrap();
    let out = httplab(
        &[
            "run",
            "delayed.toml",
            "--no-link",
            "--quiet",
            "--out",
            "out",
        ],
        &work,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("out/results.json")).unwrap())
            .unwrap();
    for run in results["runs"].as_array().unwrap() {
        let requests = run["requests"].as_array().unwrap();
        let end = |r: &Value| ms(&r["issued_at_ms"]) + common::phases_ms(r);
        // A timer never fires early: each request is issued at least its delay after its
        // parent's last byte (the records are rounded to the microsecond).
        for (child, parent, delay) in [(1, 0, 150.0), (2, 1, 80.0)] {
            let gap = ms(&requests[child]["issued_at_ms"]) - end(&requests[parent]);
            assert!(
                gap >= delay - 0.002,
                "{}: gap {gap} ms < {delay}",
                run["protocol"]
            );
        }
        let page = &run["causes"]["page"];
        assert_eq!(ms(&page["client_delay_ms"]), 230.0, "{page}");
    }
}
