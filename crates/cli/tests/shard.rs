//! Shards and `httplab merge` as a scheduler runs them: each shard a separate `httplab`
//! process (on loopback, `--no-link`), then `merge` over their folders, compared with the
//! unsharded run. An open-model load's arrivals are a deterministic schedule, so the merged
//! request count must equal the unsharded one exactly; merged percentiles must be those of one
//! histogram holding every shard's samples (within one HDR bucket). A sweep's shards must merge
//! into the unsharded sweep's points. Bad `--shard` forms, shards of different scenarios and a
//! missing shard exit 2 naming the problem.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{bin, httplab};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use httplab_testkit::binary::stderr;
use httplab_testkit::{scenario_path, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// `httplab ARGS` in `cwd`, started (not awaited), with no scheduler index in its
/// environment unless `index` gives JOB_COMPLETION_INDEX. Each process has a certificate
/// folder of its own, as docs/distributed.md tells shards sharing a folder to: two processes
/// that both find `certs/` missing would each write a CA into it.
fn start(args: &[&str], cwd: &Path, index: Option<&str>) -> Child {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let certs = cwd.join(format!("certs-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .env("HTTPLAB_CERTS", certs)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(i) = index {
        cmd.env("JOB_COMPLETION_INDEX", i);
    }
    cmd.spawn().expect("httplab starts")
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().expect("httplab ends");
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn histogram(doc: &Value, which: &str) -> Histogram<u64> {
    let text = doc["protocols"][0]["histograms"][which]
        .as_str()
        .unwrap_or_else(|| panic!("histograms.{which} in {doc}"));
    let bytes = STANDARD.decode(text).expect("base64");
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .expect("an HDR V2 deflate histogram")
}

fn refused(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(
        stderr(out).contains(words),
        "wanted `{words}` in: {}",
        stderr(out)
    );
}

#[test]
fn load_shards_merge_into_the_unsharded_count_and_the_histogram_of_every_sample() {
    let dir = temp_dir("shard-load");
    let quickstart = scenario_path("quickstart");
    let q = quickstart.to_str().unwrap();
    let load = |out: &'static str, extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec![
            "load",
            q,
            "--rate",
            "40/s",
            "--duration",
            "2s",
            "--no-link",
            "--protocols",
            "http1.1",
            "--quiet",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        args
    };
    finish(start(&load("whole", &[]), &dir, None));
    // The two shards at once, as two nodes run them; the second takes its index from a
    // Kubernetes Indexed Job's variable. A third, of the scenario with an override, is another
    // scenario's shard.
    let shard0 = start(&load("s0", &["--shard", "0/2"]), &dir, None);
    let shard1 = start(&load("s1", &["--shard", "auto/2"]), &dir, Some("1"));
    let other = start(
        &load("other", &["--shard", "1/2", "--set", "server.think=1ms"]),
        &dir,
        None,
    );
    for child in [shard0, shard1, other] {
        finish(child);
    }
    let merged = httplab(&["merge", "s0", "s1", "--out", "merged", "--quiet"], &dir);
    assert!(merged.status.success(), "{}", stderr(&merged));

    let whole = json(&dir.join("whole/load.json"));
    let s0 = json(&dir.join("s0/load.json"));
    let s1 = json(&dir.join("s1/load.json"));
    let doc = json(&dir.join("merged/load.json"));
    let count = |d: &Value, k: &str| d["protocols"][0][k].as_u64().unwrap();
    assert_eq!(s0["shard"], serde_json::json!({ "index": 0, "count": 2 }));
    assert_eq!(s1["shard"], serde_json::json!({ "index": 1, "count": 2 }));
    assert_eq!(doc["shard"], Value::Null);
    assert_eq!(doc["merged_from"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["scenario"]["digest"], whole["scenario"]["digest"]);
    // 40 arrivals a second for 2 s: 80 page loads of 13 requests, split 40 and 40.
    assert_eq!(count(&whole, "pages"), 80);
    assert_eq!((count(&s0, "pages"), count(&s1, "pages")), (40, 40));
    assert_eq!(count(&doc, "pages"), count(&whole, "pages"));
    assert_eq!(count(&doc, "requests"), count(&whole, "requests"));
    assert_eq!(count(&doc, "requests"), 80 * 13);
    assert_eq!(count(&doc, "failed_pages"), 0);
    assert_eq!(
        count(&doc, "bytes"),
        count(&s0, "bytes") + count(&s1, "bytes")
    );

    for (which, percentiles) in [
        ("page_latency_us", "page_latency"),
        ("request_latency_us", "request_latency"),
    ] {
        // One histogram of every sample, recorded one value at a time from both shards.
        let mut single = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for shard in [&s0, &s1] {
            for v in histogram(shard, which).iter_recorded() {
                for _ in 0..v.count_at_value() {
                    single.record(v.value_iterated_to()).unwrap();
                }
            }
        }
        let merged = histogram(&doc, which);
        assert_eq!(merged.len(), single.len(), "{which}");
        let reported = &doc["protocols"][0][percentiles];
        assert_eq!(reported["count"].as_u64(), Some(single.len()), "{which}");
        for (q, field) in [
            (0.5, "p50_ms"),
            (0.9, "p90_ms"),
            (0.99, "p99_ms"),
            (1.0, "max_ms"),
        ] {
            let (m, s) = if q == 1.0 {
                (merged.max(), single.max())
            } else {
                (merged.value_at_quantile(q), single.value_at_quantile(q))
            };
            let bucket = single.equivalent_range(s);
            assert!(
                m.abs_diff(s) <= bucket,
                "{which} {field}: merged {m} µs, one histogram {s} µs (bucket {bucket} µs)"
            );
            // load.json's milliseconds, rounded to 10 µs, from the merged histogram.
            let ms = reported[field].as_f64().unwrap();
            assert!(
                (ms * 1e3 - s as f64).abs() <= bucket as f64 + 5.0,
                "{which} {field}: load.json {ms} ms, one histogram {s} µs"
            );
            eprintln!(
                "{which} {field}: merged {m} µs, one histogram {s} µs, unsharded {} ms",
                whole["protocols"][0][percentiles][field]
            );
        }
    }
    let md = std::fs::read_to_string(dir.join("merged/load.md")).unwrap();
    assert!(
        md.contains("**Merged** by `httplab merge` from 2 shards"),
        "{md}"
    );

    // Not the shards of one load: each refused, naming what is wrong.
    refused(
        &httplab(&["merge", "s0", "--out", "m1"], &dir),
        "shard 1 of 2 is missing",
    );
    refused(
        &httplab(&["merge", "s0", "s0", "--out", "m2"], &dir),
        "are both shard 0 of 2",
    );
    let out = httplab(&["merge", "s0", "other", "--out", "m3"], &dir);
    refused(&out, "other/load.json: scenario `quickstart` (digest ");
    refused(&out, "but s0/load.json: scenario `quickstart` (digest ");
    refused(
        &httplab(&["merge", "whole", "s1", "--out", "m4"], &dir),
        "whole/load.json: not a shard",
    );
    for m in ["m1", "m2", "m3", "m4"] {
        assert!(!dir.join(m).exists(), "{m} written");
    }
}

#[test]
fn bad_shard_forms_and_missing_indexes_exit_2_before_anything_runs() {
    let dir = temp_dir("shard-bad");
    let quickstart = scenario_path("quickstart");
    let q = quickstart.to_str().unwrap();
    for shard in ["3/2", "0/0", "2/2", "x/2", "1/0", "2"] {
        let out = finish_any(start(
            &["load", q, "--rate", "10", "--no-link", "--shard", shard],
            &dir,
            None,
        ));
        refused(&out, &format!("--shard {shard}: write K/N"));
        let out = finish_any(start(
            &[
                "sweep",
                q,
                "--vary",
                "server.think=1ms,2ms",
                "--no-link",
                "--shard",
                shard,
            ],
            &dir,
            None,
        ));
        refused(&out, &format!("--shard {shard}: write K/N"));
    }
    let auto = ["load", q, "--rate", "10", "--no-link", "--shard", "auto/2"];
    refused(
        &finish_any(start(&auto, &dir, None)),
        "neither JOB_COMPLETION_INDEX",
    );
    refused(
        &finish_any(start(&auto, &dir, Some("2"))),
        "JOB_COMPLETION_INDEX=2 is not an index from 0 to 1",
    );
    refused(
        &finish_any(start(
            &["load", q, "--users", "1", "--no-link", "--shard", "1/2"],
            &dir,
            None,
        )),
        "this shard would have no users",
    );
    assert!(!dir.join("reports").exists(), "nothing written");
}

fn finish_any(child: Child) -> Output {
    child.wait_with_output().expect("httplab ends")
}

#[test]
fn sweep_shards_merge_into_the_unsharded_sweeps_points() {
    let dir = temp_dir("shard-sweep");
    let quickstart = scenario_path("quickstart");
    let q = quickstart.to_str().unwrap();
    let sweep = |out: &'static str, shard: Option<&'static str>| -> Vec<&str> {
        let mut args = vec![
            "sweep",
            q,
            "--vary",
            "server.think=1ms,2ms,3ms",
            "--no-link",
            "--repeat",
            "1",
            "--protocols",
            "http1.1",
            "--quiet",
            "--out",
            out,
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        args
    };
    finish(start(&sweep("whole", None), &dir, None));
    let shard0 = start(&sweep("s0", Some("0/2")), &dir, None);
    let shard1 = start(&sweep("s1", Some("1/2")), &dir, None);
    finish(shard0);
    finish(shard1);
    let points = |path: &str| -> Vec<String> {
        json(&dir.join(path))["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(points("s0/shard.json"), ["1ms", "3ms"]);
    assert_eq!(points("s1/shard.json"), ["2ms"]);
    let out = httplab(&["merge", "s0", "s1", "--out", "merged", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));

    let whole = json(&dir.join("whole/sweep.json"));
    let merged = json(&dir.join("merged/sweep.json"));
    let of = |doc: &Value, field: &str| -> Vec<Value> {
        doc["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[field].clone())
            .collect()
    };
    assert_eq!(merged["complete"], true);
    assert_eq!(merged["key"], whole["key"]);
    assert_eq!(of(&merged, "value"), of(&whole, "value"));
    assert_eq!(of(&merged, "folder"), of(&whole, "folder"));
    assert_eq!(of(&merged, "value"), ["1ms", "2ms", "3ms"]);
    for folder in of(&whole, "folder") {
        let folder = folder.as_str().unwrap();
        let runs = |root: &str| {
            json(&dir.join(root).join(folder).join("results.json"))["runs"]
                .as_array()
                .map(Vec::len)
        };
        assert_eq!(runs("merged"), runs("whole"), "{folder}");
        assert_eq!(runs("merged"), Some(1), "{folder}");
        assert!(dir.join("merged").join(folder).join("report.md").is_file());
    }
    assert!(dir.join("merged/sweep.md").is_file() && dir.join("merged/sweep.html").is_file());

    refused(
        &httplab(&["merge", "s0", "--out", "m1"], &dir),
        "shard 1 of 2 is missing",
    );
    std::fs::rename(dir.join("s1/server.think=2ms"), dir.join("s1-point-aside")).unwrap();
    refused(
        &httplab(&["merge", "s0", "s1", "--out", "m2"], &dir),
        "server.think=2ms (shard 1 of 2) is missing from s1",
    );
    refused(
        &httplab(&["merge", "s0", "whole", "--out", "m3"], &dir),
        "whole: holds neither load.json",
    );
}

#[test]
fn closed_model_shards_run_their_users_and_merge_into_all_of_them() {
    let dir = temp_dir("shard-closed");
    let quickstart = scenario_path("quickstart");
    let q = quickstart.to_str().unwrap();
    let load = |out: &'static str, shard: &'static str| {
        start(
            &[
                "load",
                q,
                "--users",
                "5",
                "--duration",
                "1s",
                "--no-link",
                "--protocols",
                "h2",
                "--quiet",
                "--shard",
                shard,
                "--out",
                out,
            ],
            &dir,
            None,
        )
    };
    let (a, b) = (load("s0", "0/2"), load("s1", "1/2"));
    finish(a);
    finish(b);
    let out = httplab(&["merge", "s1", "s0", "--out", "merged", "--quiet"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    // Users 0, 2, 4 in shard 0 and 1, 3 in shard 1: one h2 connection each, kept from page
    // to page.
    let connections = |d: &str| {
        json(&dir.join(d).join("load.json"))["protocols"][0]["client_connections"].as_u64()
    };
    assert_eq!(connections("s0"), Some(3));
    assert_eq!(connections("s1"), Some(2));
    assert_eq!(connections("merged"), Some(5));
    let doc = json(&dir.join("merged/load.json"));
    assert_eq!(doc["protocols"][0]["arrival"]["users"], 5);
    let md = std::fs::read_to_string(dir.join("s1/load.md")).unwrap();
    assert!(
        md.contains("the 2 of the 5 users whose number mod 2 is 1"),
        "{md}"
    );
}
