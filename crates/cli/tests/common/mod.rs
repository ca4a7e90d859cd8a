//! Test support that must stay in this crate: naming the `httplab` binary, whose path
//! (`CARGO_BIN_EXE_httplab`) only this crate's tests can see, and the small site the tests of
//! other servers (`--server-cmd`, `--target`) serve with nginx. Running the binary, reading its
//! output and the located-error check are testkit's (`binary`).
#![allow(dead_code)] // each test file uses its own subset

use httplab_testkit::binary;
use std::path::Path;
use std::process::Output;

/// The `httplab` binary cargo built for these tests.
pub(crate) fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_httplab"))
}

/// Runs the `httplab` binary with `args` in `cwd`.
pub(crate) fn httplab(args: &[&str], cwd: &Path) -> Output {
    binary::run(bin(), args, cwd)
}

/// A request record's phases in results.json, summed: its time from issue to last byte
/// (`blocked + connect + ssl + send + wait + receive`, nulls as 0).
pub(crate) fn phases_ms(request: &serde_json::Value) -> f64 {
    [
        "blocked_ms",
        "connect_ms",
        "ssl_ms",
        "send_ms",
        "wait_ms",
        "receive_ms",
    ]
    .iter()
    .map(|k| request["phases"][*k].as_f64().unwrap_or(0.0))
    .sum()
}

/// The resources of a small page a real server can serve from files: a 5000 B document and
/// eight 20000 B images after it (a scenario's `[[resource]]` tables, to append).
pub(crate) const SITE_RESOURCES: &str = r#"
[[resource]]
path = "/index.html"
size = "5000b"
[[resource]]
path = "/img/{i}.png"
count = 8
size = "20000b"
after = "/index.html"
"#;

/// The files of [`SITE_RESOURCES`], with their sizes, under `www`, for nginx to serve.
pub(crate) fn write_site(www: &Path) {
    std::fs::create_dir_all(www.join("img")).unwrap();
    std::fs::write(www.join("index.html"), vec![b'h'; 5000]).unwrap();
    for i in 1..=8 {
        std::fs::write(www.join(format!("img/{i}.png")), vec![b'p'; 20000]).unwrap();
    }
}
