//! HTTP/2 interop: `httplab serve` answering peers no one here wrote: curl (ALPN h2 over TLS,
//! trusting only the lab CA) and nghttp2's h2load (h2 over TLS, and h2c with prior knowledge).

use httplab_testkit::{require_tool, scenario_path, temp_dir, KillOnDrop};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// `httplab serve scenarios/quickstart.toml` on a free port (`--tls` when `certs` is given);
/// returns the child and the port from its first line, "serving … on https://localhost:PORT".
fn serve(certs: Option<&Path>) -> (KillOnDrop, u16) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_httplab"));
    command.args([
        "serve",
        scenario_path("quickstart").to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    if let Some(certs) = certs {
        command.arg("--tls").env("HTTPLAB_CERTS", certs);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("httplab serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = KillOnDrop(child);
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first stdout line");
    // Keep draining what it prints, so its writes never meet a full or closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    assert!(line.starts_with("serving "), "{line:?}");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

/// Runs a peer to completion (bounded by its own timeouts) and returns its stdout.
fn run(program: &Path, args: &[String]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn curl_negotiates_h2_with_alpn() {
    let test = "curl_negotiates_h2_with_alpn";
    let Some(curl) = require_tool("curl", test, "apt-get install curl") else {
        return;
    };
    let certs = temp_dir("interop-h2-curl");
    let (_server, port) = serve(Some(&certs));
    let out = run(
        &curl,
        &[
            "--http2".into(),
            "--silent".into(),
            "--show-error".into(),
            "--fail".into(),
            "--max-time".into(),
            "10".into(),
            "--noproxy".into(),
            "*".into(),
            "--cacert".into(),
            certs.join("ca.pem").display().to_string(),
            "--resolve".into(),
            format!("localhost:{port}:127.0.0.1"),
            format!("https://localhost:{port}/index.html"),
            "-o".into(),
            "/dev/null".into(),
            "--write-out".into(),
            "%{http_version} %{http_code} %{size_download}".into(),
        ],
    );
    assert_eq!(out.trim(), "2 200 14000");
    let _ = std::fs::remove_dir_all(&certs);
}

/// h2load's summary line, e.g. "requests: 1000 total, 1000 started, 1000 done, 1000 succeeded,
/// 0 failed, 0 errored, 0 timeout".
fn assert_h2load_clean(out: &str, requests: u32) {
    let summary = out
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no summary in h2load output:\n{out}"));
    assert!(
        summary.contains(&format!(
            "{requests} succeeded, 0 failed, 0 errored, 0 timeout"
        )),
        "{summary}\n{out}"
    );
    let codes = out
        .lines()
        .find(|l| l.starts_with("status codes:"))
        .unwrap_or_else(|| panic!("no status codes in h2load output:\n{out}"));
    assert!(codes.contains(&format!("{requests} 2xx")), "{codes}");
}

#[test]
fn h2load_over_tls() {
    let test = "h2load_over_tls";
    let Some(h2load) = require_tool("h2load", test, "apt-get install nghttp2-client") else {
        return;
    };
    let certs = temp_dir("interop-h2-h2load");
    let (_server, port) = serve(Some(&certs));
    // h2load does not verify certificates, so it needs no --cacert.
    let out = run(
        &h2load,
        &[
            "-n".into(),
            "1000".into(),
            "-c".into(),
            "4".into(),
            "-m".into(),
            "10".into(),
            "-T".into(),
            "20".into(),
            format!("https://localhost:{port}/img/1.png"),
        ],
    );
    assert!(
        out.contains("Application protocol: h2"),
        "h2load did not negotiate h2:\n{out}"
    );
    assert_h2load_clean(&out, 1000);
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn h2load_h2c_prior_knowledge() {
    let test = "h2load_h2c_prior_knowledge";
    let Some(h2load) = require_tool("h2load", test, "apt-get install nghttp2-client") else {
        return;
    };
    let (_server, port) = serve(None);
    // For http:// URIs h2load speaks h2c with prior knowledge by default.
    let out = run(
        &h2load,
        &[
            "-n".into(),
            "200".into(),
            "-c".into(),
            "2".into(),
            "-m".into(),
            "10".into(),
            "-T".into(),
            "20".into(),
            format!("http://127.0.0.1:{port}/index.html"),
        ],
    );
    assert!(out.contains("Application protocol: h2c"), "{out}");
    assert_h2load_clean(&out, 200);
}
