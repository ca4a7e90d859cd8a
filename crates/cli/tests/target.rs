//! `run --target URL`: the lab's clients against a server on the real network, here nginx on
//! loopback (tests send traffic to loopback only). Every response the size nginx served, the
//! path's round trip measured and said, the model set at it, no lab request id sent (nginx
//! echoes what it read), whose certificate check it was in every output, and the refusals that
//! keep a target run honest.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::{httplab, write_site, SITE_RESOURCES};
use httplab_testkit::binary::stderr;
use httplab_testkit::{temp_dir, Nginx};
use serde_json::Value;
use std::path::Path;

/// The site's files under `work/www`, and its page, twice, in `work/page.toml`.
fn site(work: &Path) -> std::path::PathBuf {
    let www = work.join("www");
    write_site(&www);
    let page = format!("name = \"remote-page\"\nrepeat = 2\n{SITE_RESOURCES}");
    std::fs::write(work.join("page.toml"), page).unwrap();
    www
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Every run of `protocol` answered in full, with the lab's own server out of it.
fn answered(results: &Value, protocol: &str) -> Vec<Value> {
    let runs: Vec<Value> = results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["protocol"] == protocol)
        .cloned()
        .collect();
    assert_eq!(runs.len(), 2, "{protocol}");
    for run in &runs {
        for r in run["requests"].as_array().unwrap() {
            let size = if r["path"] == "/index.html" {
                5000
            } else {
                20000
            };
            assert_eq!(r["status"], 200, "{r}");
            assert_eq!(r["response_body_bytes"], size, "{}", r["path"]);
        }
        assert!(run["server"].as_array().is_none_or(Vec::is_empty));
    }
    runs
}

#[test]
fn a_cleartext_target_is_measured_over_the_real_path_with_the_model_at_its_rtt() {
    let test = "a_cleartext_target_is_measured_over_the_real_path_with_the_model_at_its_rtt";
    let work = temp_dir("target-plain");
    let www = site(&work);
    // nginx says in each response what it read in the request's `x-httplab-request` field.
    let echo = r#"add_header x-seen-request-id "[$http_x_httplab_request]";"#;
    let Some(nginx) = Nginx::start(test, &www, echo) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", nginx.port);
    let out = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--target",
            &url,
            "--protocols",
            "http1.0,http1.1,http1.1-pipelined",
            "--out",
            "plain",
        ],
        &work,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The round trip, said before the runs.
    assert!(stderr(&out).contains("path RTT"), "{}", stderr(&out));
    let results = results(&work.join("plain"));
    for run in answered(&results, "http1.0") {
        assert_eq!(run["connections"].as_array().unwrap().len(), 9);
        assert_eq!(run["link"], Value::Null, "no emulated link");
    }
    // The lab's request id is for its own server's log: a target is sent none, as nginx saw.
    let mut runs = answered(&results, "http1.1");
    runs.extend(answered(&results, "http1.1-pipelined"));
    for r in runs
        .iter()
        .flat_map(|run| run["requests"].as_array().unwrap())
    {
        let field = |fields: &Value, name: &str| {
            fields
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .map(|f| f[1].clone())
        };
        assert_eq!(
            field(&r["request_headers"], "x-httplab-request"),
            None,
            "{r}"
        );
        assert_eq!(
            field(&r["response_headers"], "x-seen-request-id"),
            Some(Value::from("[]")),
            "{r}"
        );
    }
    let env = &results["environment"];
    assert!(
        env["server"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("remote, {url} (127.0.0.1:"))),
        "{env}"
    );
    // A loopback TCP handshake takes tens of microseconds; the least of five is well under a
    // millisecond on any machine, and above zero.
    let rtt = env["real_network"]["path_rtt_ms"]
        .as_f64()
        .expect("path RTT");
    assert!(rtt > 0.0 && rtt < 5.0, "{rtt} ms");
    assert_eq!(env["real_network"]["probes"], 5);
    let md = std::fs::read_to_string(work.join("plain/report.md")).unwrap();
    assert!(md.contains(&format!("real network to {url}")), "{md}");
    assert!(
        md.contains("the model predicts"),
        "the model at the path's RTT:\n{md}"
    );
    assert!(md.contains("The server-side timeline is absent"), "{md}");
}

#[test]
fn an_https_target_is_checked_as_the_user_says_and_every_output_says_how() {
    let test = "an_https_target_is_checked_as_the_user_says_and_every_output_says_how";
    let work = temp_dir("target-tls");
    let www = site(&work);
    // The lab's own CA and leaf, which no system trusts.
    let certs = work.join("certs");
    httplab_tls::CertStore::open_or_create(&certs).expect("lab certificates");
    let Some(nginx) = Nginx::start_tls(
        test,
        &www,
        &certs.join("localhost.pem"),
        &certs.join("localhost.key"),
    ) else {
        return;
    };
    let url = format!("https://localhost:{}", nginx.port);
    let ca = certs.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "page.toml",
            "--quiet",
            "--target",
            &url,
            "--protocols",
            "h2,http1.1",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        httplab(&args, &work)
    };

    let trusted = run("cacert", &["--cacert", ca]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    let cacert = results(&work.join("cacert"));
    for run in answered(&cacert, "h2") {
        assert_eq!(run["connections"].as_array().unwrap().len(), 1, "h2: one");
    }
    answered(&cacert, "http1.1");
    let server = cacert["environment"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        server.contains(&format!("verified against {ca} (--cacert)")),
        "{server}"
    );

    // The system's CAs do not know the lab's: one clear error before any run, naming the
    // target and the two ways on.
    let system = run("system", &[]);
    assert_eq!(system.status.code(), Some(2), "{}", stderr(&system));
    let err = stderr(&system);
    assert!(err.contains(&format!("{url} (127.0.0.1:")), "{err}");
    assert!(err.contains("not trusted by the system's CAs"), "{err}");
    assert!(
        err.contains("--cacert FILE") && err.contains("--insecure"),
        "{err}"
    );
    assert!(!work.join("system/results.json").exists(), "nothing ran");

    // h3 against a server that serves no HTTP/3 on its port's UDP side: refused before any
    // run, after one QUIC handshake that nothing answers (the probe's 4 s, plus the TCP and
    // TLS probes, each well under a second on loopback), not after each request's 10 s.
    let started = std::time::Instant::now();
    let no_quic = httplab(
        &[
            "run",
            "page.toml",
            "--quiet",
            "--target",
            &url,
            "--cacert",
            ca,
            "--protocols",
            "h3,http1.1",
            "--out",
            "noquic",
        ],
        &work,
    );
    let took = started.elapsed();
    assert_eq!(no_quic.status.code(), Some(2), "{}", stderr(&no_quic));
    let err = stderr(&no_quic);
    assert!(
        err.contains(&format!("h3 cannot run against {url}")),
        "{err}"
    );
    assert!(err.contains("UDP") && err.contains("--protocols"), "{err}");
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");
    assert!(!work.join("noquic/results.json").exists(), "nothing ran");

    let insecure = run("insecure", &["--insecure"]);
    assert!(insecure.status.success(), "{}", stderr(&insecure));
    answered(&results(&work.join("insecure")), "h2");
    for file in ["report.md", "report.html", "results.json"] {
        let text = std::fs::read_to_string(work.join("insecure").join(file)).unwrap();
        assert!(
            text.contains("certificate NOT verified (--insecure)"),
            "{file}"
        );
    }
}

#[test]
fn a_target_that_refuses_connections_is_one_clear_error() {
    let work = temp_dir("target-refused");
    site(&work);
    // A port nothing listens on: bound, then closed.
    let port = httplab_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = httplab(
        &[
            "run",
            "page.toml",
            "--target",
            &url,
            "--protocols",
            "http1.1",
        ],
        &work,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{port} ({url})")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn target_runs_refuse_what_would_not_be_the_real_path() {
    let work = temp_dir("target-refusals");
    site(&work);
    let refused = |args: &[&str], words: &str| {
        let out = httplab(args, &work);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{args:?}: {}", stderr(&out));
    };
    let base = ["run", "page.toml", "--target"];
    refused(
        &[&base[..], &["ftp://127.0.0.1"]].concat(),
        "http://HOST[:PORT]",
    );
    refused(
        &[&base[..], &["http://127.0.0.1:9/index.html"]].concat(),
        "the origin alone",
    );
    refused(
        &[
            &base[..],
            &["http://127.0.0.1:9", "--set", "network.rtt=40ms"],
        ]
        .concat(),
        "[network] table",
    );
    refused(
        &[&base[..], &["http://127.0.0.1:9", "--protocols", "h2"]].concat(),
        "h2 is HTTP/2 over TLS",
    );
    refused(
        &[&base[..], &["http://127.0.0.1:9", "--protocols", "h2,h3"]].concat(),
        "h2, h3 cannot run: the --target URL speaks cleartext, and h2 is HTTP/2 over TLS, and \
         h3 is HTTP/3 over QUIC, always encrypted; leave them out",
    );
    refused(
        &[&base[..], &["http://127.0.0.1:9", "--insecure"]].concat(),
        "cleartext",
    );
    refused(
        &[
            &base[..],
            &[
                "http://127.0.0.1:9",
                "--server-cmd",
                "true",
                "--server-port",
                "9",
            ],
        ]
        .concat(),
        "cannot be used with",
    );
}
