//! The scenario library through the binary: `httplab scenarios` and `httplab profiles`, every
//! library file run end to end (scaled down with `--set`), `--set` itself, and the mistakes of
//! the library's keys (an unknown profile, `respond = "sometimes"`, `after` naming a missing
//! path, a dependency cycle) reported as file:line:column with exit status 2.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::{bin, httplab};
use httplab_core::Scenario;
use httplab_testkit::binary::{assert_located_errors, stderr, stdout};
use httplab_testkit::{repo_root, scenario_path, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn library() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn scenarios_lists_every_file_with_its_summary() {
    let out = httplab(&["scenarios"], &repo_root());
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    for name in [
        "quickstart",
        "never-respond",
        "browser-limits",
        "hol-blocking",
        "many-small-objects",
        "large-objects",
        "high-latency",
        "lossy",
        "tls-versions",
        "header-heavy",
        "dependencies",
    ] {
        assert!(scenario_path(name).is_file(), "the library lacks {name}");
    }
    for file in library() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&file).unwrap();
        let summary = httplab_core::scenario::comment_summary(&source)
            .unwrap_or_else(|| panic!("{name} has no comment block"));
        let line = listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} not listed:\n{listing}"));
        assert!(line.ends_with(&summary), "{line:?} vs {summary:?}");
    }
    // From another folder, `--dir` names the library.
    let elsewhere = temp_dir("scenarios-elsewhere");
    let dir = repo_root().join("scenarios");
    let out = httplab(&["scenarios", "--dir", dir.to_str().unwrap()], &elsewhere);
    assert_eq!(
        stdout(&out),
        listing.replace("scenarios/NAME", &format!("{}/NAME", dir.display()))
    );
}

#[test]
fn profiles_lists_each_cap_with_its_source() {
    let out = httplab(&["profiles"], &repo_root());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (name, cap, source) in [
        ("ie7", 2, "Internet Explorer 7"),
        ("ie8", 6, "Internet Explorer 8"),
        ("ie10", 8, "IE 10 = 8"),
        ("ie11", 13, "IE 11 = 13"),
        ("chrome", 6, "kMaxSocketsPerGroup = 6"),
        ("firefox", 6, "max-persistent-connections-per-server"),
        ("safari", 6, "Safari = 6"),
        ("opera", 6, "Opera = 6"),
        ("rfc2616", 2, "RFC 2616 §8.1.4"),
        ("unlimited", 1000, "no per-host cap"),
    ] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], cap.to_string(), "{line}");
        assert!(line.contains(source), "{line}");
    }
}

#[test]
fn mistakes_in_the_library_keys_get_file_line_column_and_exit_2() {
    let dir = temp_dir("library-mistakes");
    // (file body, expected "file:line:col", words in the message)
    let cases = [
        (
            "unknown-profile",
            "name = \"x\"\n[client]\nprofile = \"netscape4\"\n[[resource]]\npath = \"/a\"\n",
            ":3:11:",
            "unknown profile `netscape4`: use one of ie7, ie8, ie10, ie11, chrome",
        ),
        (
            "respond-sometimes",
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nrespond = \"sometimes\"\n",
            ":4:11:",
            "unknown variant `sometimes`, expected `always` or `never`",
        ),
        (
            "never-without-timeout",
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nrespond = \"never\"\n",
            ":4:11:",
            "request_timeout",
        ),
        (
            "after-missing",
            "name = \"x\"\n[[resource]]\npath = \"/index.html\"\n[[resource]]\npath = \"/a.css\"\nafter = \"/index.htm\"\n",
            ":6:9:",
            "`after` names `/index.htm`, but no resource has that path",
        ),
        (
            "after-cycle",
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nafter = \"/b\"\n[[resource]]\npath = \"/b\"\nafter = \"/a\"\n",
            ":4:9:",
            "`after` makes a cycle: /a → /b → /a",
        ),
        (
            "think-distribution",
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nthink = \"uniform(50ms,5ms)\"\n",
            ":4:9:",
            "low <= high",
        ),
    ];
    assert_located_errors(bin(), &dir, &cases);
}

#[test]
fn set_overrides_keys_and_names_itself_in_errors() {
    let quickstart = scenario_path("quickstart");
    let file = quickstart.to_str().unwrap();
    let work = temp_dir("set");
    // A bad value is blamed on the override, a bad argument too; both exit 2.
    for (args, words) in [
        (
            vec!["--set", "network.rtt=fast"],
            "--set network.rtt=fast: `fast` is not a duration",
        ),
        (
            vec!["--set", "client.profile=ie5"],
            "--set client.profile=ie5: unknown profile",
        ),
        (vec!["--set", "rtt"], "write KEY=VALUE"),
        (
            vec!["--set", "resource.size=1kb"],
            "[[resource]] tables cannot be set",
        ),
    ] {
        for cmd in ["check", "run"] {
            let mut all = vec![cmd, file];
            all.extend(&args);
            let out = httplab(&all, &work);
            assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(words), "{all:?}: {}", stderr(&out));
        }
    }
    // A list-valued override makes client variants.
    let out = httplab(
        &[
            "check",
            file,
            "--set",
            "client.profile=[\"ie7\",\"ie11\"]",
            "--set",
            "client.max_connections_per_host=6",
        ],
        &work,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "the override would defeat the list"
    );
    let out = httplab(
        &["check", "--set", "client.profile=[\"ie7\",\"ie11\"]", file],
        &work,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("client variants ie7, ie11"),
        "{}",
        stdout(&out)
    );

    // The override is what runs: IE 7's two connections for quickstart's 13 requests.
    let out_dir = work.join("out");
    let out = httplab(
        &[
            "run",
            file,
            "--set",
            "client.profile=ie7",
            "--set",
            "repeat=1",
            "--protocols",
            "http1.1",
            "--quiet",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &work,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let results = results(&out_dir);
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["connections"].as_array().unwrap().len(), 2);
}

fn results(out_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap()
}

/// Every request's causes in results.json add up to its duration (the sum of its phases)
/// within 0.1 ms: each is written rounded to the microsecond, 13 of them.
fn assert_causes_add_up(name: &str, run: &Value) {
    let requests = run["requests"].as_array().unwrap();
    let causes = run["causes"]["requests"].as_array().unwrap();
    assert_eq!(causes.len(), requests.len(), "{name}");
    for (r, c) in requests.iter().zip(causes) {
        assert_eq!(r["id"], c["request_id"], "{name}");
        let phases = common::phases_ms(r);
        let split: f64 = c
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with("_ms"))
            .map(|(_, v)| v.as_f64().unwrap())
            .sum();
        assert!(
            (phases - split).abs() <= 0.1,
            "{name} {} request {}: phases {phases} ms, causes {split} ms: {c}",
            run["protocol"],
            r["id"]
        );
    }
}

/// Every file of the library runs through the binary, once per protocol, scaled down: one
/// repetition and, behind an emulated link, a 5 ms RTT. Every request's causes add up.
#[test]
fn every_library_scenario_runs() {
    let work = temp_dir("library-runs");
    let started = std::time::Instant::now();
    for file in library() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&file).unwrap();
        let scenario = Scenario::parse(&source, &name).unwrap_or_else(|e| panic!("{e}"));
        let out_dir = work.join(&name);
        let mut args = vec![
            "run".to_string(),
            file.to_str().unwrap().to_string(),
            "--set".into(),
            "repeat=1".into(),
            "--quiet".into(),
            "--out".into(),
            out_dir.to_str().unwrap().to_string(),
        ];
        if scenario.network.is_some() {
            args.extend(["--set".into(), "network.rtt=5ms".into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let one = std::time::Instant::now();
        let out = httplab(&args, &work);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let results = results(&out_dir);
        let runs = results["runs"].as_array().unwrap();
        assert!(
            runs.len() >= scenario.protocols.len(),
            "{name}: {} runs",
            runs.len()
        );
        for run in runs {
            let requests = run["requests"].as_array().unwrap();
            assert_eq!(requests.len(), scenario.resources.len(), "{name}");
            let failed = requests.iter().filter(|r| !r["error"].is_null()).count();
            // Only requests to handlers that never answer fail (never-respond's and
            // node-never-respond's), all of them: nothing answers them.
            let expected = scenario
                .resources
                .iter()
                .filter(|r| r.respond == httplab_core::Respond::Never)
                .count();
            assert_eq!(
                failed, expected,
                "{name} {}: {failed} failed",
                run["protocol"]
            );
            assert_causes_add_up(&name, run);
        }
        eprintln!("{name}: {} runs in {:.1?}", runs.len(), one.elapsed());
    }
    eprintln!("the whole library in {:.1?}", started.elapsed());
}
