//! Running a binary under test the way a user does, for the `httplab` binary's tests: its
//! output, stdout and stderr as text, and the check that a malformed scenario is reported as
//! `file:line:column` with a caret and exit status 2. The caller names the binary (its
//! `env!("CARGO_BIN_EXE_httplab")`, which only its own tests can see); this module builds none.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `binary` with `args` in `cwd` and waits for its output.
pub fn run(binary: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", binary.display()))
}

/// The standard output, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes each `(label, body, at, words)` case to `dir/<label>.toml` and checks that both
/// `BINARY check` and `BINARY run` reject it with exit status 2, naming `<label>.toml<at>`
/// (e.g. `:2:25:`), saying `words`, drawing a caret, and never panicking.
pub fn assert_located_errors(binary: &Path, dir: &Path, cases: &[(&str, &str, &str, &str)]) {
    for (label, body, at, words) in cases {
        let file = dir.join(format!("{label}.toml"));
        std::fs::write(&file, body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for cmd in ["check", "run"] {
            let mut args = vec![cmd, file.to_str().expect("utf-8 path")];
            if cmd == "run" {
                args.push("--quiet");
            }
            let out = run(binary, &args, dir);
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
