//! The run budget and the request-head limits through the binary: a scenario over the budget is
//! refused by `check`, `run` and `sweep` before anything runs, located at the key that drives
//! it, and `--force` gets past the refusal naming the limit crossed; the longest path `check`
//! accepts is served by every protocol.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::{bin, httplab};
use httplab_core::scenario::{longest_path, Budget};
use httplab_core::{Protocol, Scenario};
use httplab_testkit::binary::{assert_located_errors, stderr, stdout};
use httplab_testkit::{repo_root, temp_dir};
use serde_json::Value;

const HUGE: &str =
    "name = \"huge\"\nrepeat = 1000\n[[resource]]\npath = \"/o/{i}\"\ncount = 10000\n";

#[test]
fn a_scenario_over_the_budget_is_refused_before_anything_runs_at_the_key_that_drives_it() {
    let dir = temp_dir("budget");
    let cases = [
        ("huge", HUGE, ":2:10:", "estimated peak memory 312.42 GB, over the limit of 4.00 GB"),
        (
            "terabytes",
            "name = \"t\"\nrepeat = 1\n[[resource]]\npath = \"/o/{i}\"\ncount = 10000\nsize = \"1gb\"\n",
            ":6:8:",
            "bytes moved 60.00 TB, over the limit of 10.00 GB",
        ),
    ];
    assert_located_errors(bin(), &dir, &cases);
    let huge = dir.join("huge.toml");
    let huge = huge.to_str().expect("utf-8");
    let out = dir.join("out");
    let refused = httplab(
        &[
            "run",
            huge,
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("`repeat = 1000` drives it"),
        "{}",
        stderr(&refused)
    );
    assert!(!out.exists(), "a refused run wrote {}", out.display());
    let sweep = httplab(&["sweep", huge, "--vary", "seed=1,2", "--quiet"], &dir);
    assert_eq!(sweep.status.code(), Some(2), "{}", stderr(&sweep));
    // Two points of 60,000 requests a repetition: the sweep's records are held at once, so
    // fewer repetitions fit than for one point (5 against 11), and `repeat` drives it.
    assert!(
        stderr(&sweep).contains("huge.toml:2:10: the scenario is over the run budget"),
        "{}",
        stderr(&sweep)
    );
    assert!(
        stderr(&sweep).contains("at most 5 repetitions fit"),
        "{}",
        stderr(&sweep)
    );

    // `check --force` accepts it, printing the budget and the limits crossed.
    let forced = httplab(&["check", huge, "--force"], &dir);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stdout(&forced).contains("budget: 60000000 requests in 6000 runs"),
        "{}",
        stdout(&forced)
    );
    let warned = stderr(&forced);
    assert!(
        warned.contains("--force: going ahead over the run budget: estimated peak memory"),
        "{warned}"
    );
    assert!(warned.contains("about 17.5 h"), "{warned}");
    // `run --force` gets past the budget and stops at the next check (--pcap needs a link),
    // before anything runs.
    let pcap = dir.join("x.pcap");
    let forced = httplab(
        &[
            "run",
            huge,
            "--force",
            "--quiet",
            "--pcap",
            pcap.to_str().expect("utf-8"),
        ],
        &dir,
    );
    let err = stderr(&forced);
    assert_eq!(forced.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--force: going ahead over the run budget"),
        "{err}"
    );
    assert!(
        err.contains("--pcap records the emulated link's packets"),
        "{err}"
    );
}

#[test]
fn the_budget_counts_the_runs_the_harness_plans() {
    for entry in std::fs::read_dir(repo_root().join("scenarios")).expect("scenarios/") {
        let path = entry.expect("entry").path();
        // The library holds scenarios and the servers some of them name (node-never-respond.js).
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable");
        let s = Scenario::parse(&source, "x.toml").expect("valid");
        let planned = httplab_harness::planned_runs(&s) as u64;
        assert_eq!(Budget::of(&s).runs, planned, "{}", path.display());
    }
}

#[test]
fn the_longest_path_check_accepts_is_served_by_every_protocol() {
    // Core's copy of the pipelining server's head limit is the server's.
    assert_eq!(
        httplab_core::scenario::PIPELINING_MAX_HEAD,
        httplab_server::MAX_HEAD
    );
    let dir = temp_dir("longest-path");
    let every = Protocol::ALL;
    let http1 = [
        Protocol::Http10,
        Protocol::Http11,
        Protocol::Http11Pipelined,
    ];
    for (label, protocols, pipelining) in
        [("all", &every[..], false), ("pipelining", &http1[..], true)]
    {
        let cookie = 2_000;
        let length = longest_path(protocols, pipelining, cookie);
        let ids: Vec<String> = protocols
            .iter()
            .map(|p| format!("\"{}\"", p.id()))
            .collect();
        let file = dir.join(format!("{label}.toml"));
        std::fs::write(
            &file,
            format!(
                "name = \"{label}\"\nprotocols = [{}]\nrepeat = 1\n[client]\ntls = true\ncookie = \"2kb\"\n{}\
                 [[resource]]\npath = \"/{}\"\nsize = \"1kb\"\n",
                ids.join(", "),
                if pipelining { "[server]\npipelining = \"parallel\"\n" } else { "" },
                "p".repeat(length - 1)
            ),
        )
        .expect("written");
        let out = dir.join(format!("{label}-out"));
        let args = [
            "run",
            file.to_str().expect("utf-8"),
            "--no-link",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        let run = httplab(&args, &dir);
        assert!(run.status.success(), "{label}: {}", stderr(&run));
        let results: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
        )
        .expect("json");
        let runs = results["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), protocols.len(), "{label}");
        for run in runs {
            let request = &run["requests"][0];
            assert_eq!(
                request["status"], 200,
                "{label} {}: a {length}-byte path: {}",
                run["protocol"], request["error"]
            );
        }
    }
}
