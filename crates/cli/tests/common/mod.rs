//! Helpers the `httplab` binary's test files share: running the binary, and the check that a
//! malformed scenario is reported as `file:line:column` with a caret and exit status 2.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `httplab` binary with `args` in `cwd`.
pub(crate) fn httplab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_httplab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("httplab runs")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes each `(label, body, at, words)` case to `dir/<label>.toml` and checks that both
/// `httplab check` and `httplab run` reject it with exit status 2, naming `<label>.toml<at>`
/// (e.g. `:2:25:`), saying `words`, drawing a caret, and never panicking.
pub(crate) fn assert_located_errors(dir: &Path, cases: &[(&str, &str, &str, &str)]) {
    for (label, body, at, words) in cases {
        let file = dir.join(format!("{label}.toml"));
        std::fs::write(&file, body).unwrap();
        for cmd in ["check", "run"] {
            let mut args = vec![cmd, file.to_str().unwrap()];
            if cmd == "run" {
                args.push("--quiet");
            }
            let out = httplab(&args, dir);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{label} ({cmd}): {err}");
            assert!(
                err.contains(&format!("{label}.toml{at}")),
                "{label} ({cmd}): {err}"
            );
            assert!(err.contains(words), "{label} ({cmd}): {err}");
            assert!(err.contains('^'), "{label}: no caret in {err}");
            assert!(!err.contains("panicked"), "{label}: {err}");
        }
    }
}
