//! HTTP/3 interop: `httplab serve --tls` answering QUIC peers no one here wrote: the Python
//! aioquic stack (PyPI), and headless Chromium with QUIC forced on for the server's origin.
//! Each fetches the quickstart page's resources over h3 and must get every byte. And the other
//! way: the lab's h3 client against an aioquic HTTP/3 server run with `--server-cmd`.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_testkit::{free_port, temp_dir, under_ci, Chromium, KillOnDrop};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `httplab serve scenarios/quickstart.toml --tls` on a free port: TCP and UDP alike.
fn serve(certs: &Path) -> (KillOnDrop, u16) {
    httplab_testkit::serve(
        Path::new(env!("CARGO_BIN_EXE_httplab")),
        "quickstart",
        Some(certs),
    )
}

/// The Python with aioquic that `.ci/run` installs (a venv under target/), or
/// `$HTTPLAB_PYTHON`. Missing: a failure under CI, else a loud SKIP.
fn aioquic_python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("HTTPLAB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/pyvenv/bin/python3"));
    let has = Command::new(&python)
        .args(["-c", "import aioquic"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has {
        return Some(python);
    }
    let msg = format!(
        "{test}: no Python with aioquic at {} (run .ci/run, or: python3 -m venv target/pyvenv \
         && target/pyvenv/bin/pip install aioquic; or set HTTPLAB_PYTHON)",
        python.display()
    );
    assert!(!under_ci(), "CI=true and {msg}");
    eprintln!("\n**************** SKIP: {msg} ****************\n");
    None
}

/// The quickstart page's paths and sizes.
fn page() -> Vec<(String, u64)> {
    let mut page = vec![("/index.html".to_string(), 14_000)];
    page.extend((1..=12).map(|i| (format!("/img/{i}.png"), 8_000)));
    page
}

#[test]
fn aioquic_fetches_the_page_from_httplab_serve_over_h3() {
    let test = "aioquic_fetches_the_page_from_httplab_serve_over_h3";
    let Some(python) = aioquic_python(test) else {
        return;
    };
    let certs = temp_dir("h3-certs");
    let (_server, port) = serve(&certs);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aioquic_get.py");
    let page = page();
    let out = Command::new(&python)
        .arg(&script)
        .arg(port.to_string())
        .arg(certs.join("ca.pem"))
        .args(page.iter().map(|(p, _)| p))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aioquic failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_str(&stdout).expect("the script's JSON");
    assert_eq!(got["alpn"], "h3", "{got}");
    let responses = got["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), page.len());
    for (r, (path, size)) in responses.iter().zip(&page) {
        assert_eq!(r["path"], path.as_str());
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["bytes"], *size, "{r}");
        // The server advertises itself where it already is.
        assert_eq!(r["alt_svc"], format!("h3=\":{port}\"; ma=86400"), "{r}");
    }
}

#[test]
fn chromium_fetches_from_httplab_serve_over_h3() {
    let test = "chromium_fetches_from_httplab_serve_over_h3";
    let Some(chromium) = Chromium::find(test) else {
        return;
    };
    let certs = temp_dir("h3-chromium-certs");
    let (_server, port) = serve(&certs);
    let spki = httplab_tls::spki_sha256_base64(&certs.join("localhost.pem")).expect("leaf");
    let netlog = temp_dir("h3-netlog").join("netlog.json");
    let origin = format!("localhost:{port}");
    let rendered = chromium.load_over_quic(
        &format!("https://{origin}/index.html"),
        &origin,
        &spki,
        &netlog,
    );
    // The document arrived whole: its 14,000 bytes of filler are the body Chromium parsed.
    let dom = &rendered.stdout;
    let body = dom
        .split_once("<body>")
        .and_then(|(_, rest)| rest.split_once("</body>"))
        .map_or(0, |(body, _)| body.len());
    assert_eq!(
        body,
        14_000,
        "{} bytes of DOM:\n{}",
        dom.len(),
        rendered.stderr
    );
    // And it came over QUIC: the net log has a QUIC session to the server, whose ALPN was h3.
    let log: Value = serde_json::from_str(
        &std::fs::read_to_string(&netlog).unwrap_or_else(|e| panic!("{}: {e}", netlog.display())),
    )
    .expect("Chromium's net log is JSON");
    let types = &log["constants"]["logEventTypes"];
    let events = log["events"].as_array().expect("events");
    // Events of a type, by its name in this Chromium's own list.
    let of = |name: &str| -> Vec<&Value> {
        let t = types[name]
            .as_u64()
            .unwrap_or_else(|| panic!("this Chromium's net log has no {name} events"));
        events
            .iter()
            .filter(|e| e["type"].as_u64() == Some(t))
            .collect()
    };
    let sessions = of("QUIC_SESSION");
    assert!(
        sessions.iter().any(|e| {
            let params = e["params"].to_string();
            params.contains("localhost") && params.contains(&port.to_string())
        }),
        "no QUIC session to {origin} in the net log: {sessions:?}\n{}",
        rendered.stderr
    );
    assert!(
        !of("QUIC_SESSION_PACKET_RECEIVED").is_empty(),
        "no QUIC packets received"
    );
    assert!(
        !of("HTTP3_HEADERS_DECODED").is_empty(),
        "no HTTP/3 response headers decoded"
    );
}

#[test]
fn the_lab_s_h3_client_loads_a_page_from_an_aioquic_server() {
    let test = "the_lab_s_h3_client_loads_a_page_from_an_aioquic_server";
    let Some(python) = aioquic_python(test) else {
        return;
    };
    let work = temp_dir("h3-aioquic-server");
    let certs = work.join("certs");
    // The server answers /obj/SIZE/... with SIZE bytes.
    std::fs::write(
        work.join("page.toml"),
        "name = \"aioquic\"\nprotocols = [\"h3\"]\nrepeat = 2\n[[resource]]\n\
         path = \"/obj/3000/{i}\"\ncount = 10\nsize = \"3kb\"\n",
    )
    .expect("scenario");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aioquic_server.py");
    let port = free_port();
    let cmd = format!(
        "{} {} {port} {} {}",
        python.display(),
        script.display(),
        certs.join("localhost.pem").display(),
        certs.join("localhost.key").display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_httplab"))
        .current_dir(&work)
        .env("HTTPLAB_CERTS", &certs)
        .args([
            "run",
            "page.toml",
            "--quiet",
            "--out",
            "out",
            "--server-tls",
        ])
        .args(["--server-cmd", &cmd, "--server-port", &port.to_string()])
        .output()
        .expect("httplab runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("out/results.json")).expect("results.json"),
    )
    .expect("JSON");
    let runs = results["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for run in runs {
        let connections = run["connections"].as_array().expect("connections");
        assert_eq!(connections.len(), 1, "one QUIC connection: {connections:?}");
        assert_eq!(connections[0]["tls"]["alpn"], "h3");
        assert!(connections[0]["quic"]["bytes_received"].as_u64() > Some(30_000));
        for r in run["requests"].as_array().expect("requests") {
            assert!(r["error"].is_null(), "{r}");
            assert_eq!(r["status"], 200, "{r}");
            assert_eq!(r["http_version"], "HTTP/3");
            assert_eq!(r["response_body_bytes"], 3_000, "{r}");
        }
    }
}
