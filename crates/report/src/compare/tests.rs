//! Unit tests of comparing two run folders.

use super::*;
use crate::fixtures::{scenario, RunBuilder};
use crate::results_json;

fn runs(http11: &[u64], h2: &[u64]) -> Vec<RunRecord> {
    let one = |b: fn(u32, u64) -> RunBuilder, times: &[u64]| -> Vec<RunRecord> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| b(i as u32, t).build())
            .collect()
    };
    let mut out = one(RunBuilder::http11, http11);
    out.extend(one(RunBuilder::h2, h2));
    out
}

fn folder(dir: &str, runs: Vec<RunRecord>) -> RunFolder {
    RunFolder {
        dir: PathBuf::from(dir),
        scenario_name: "four-objects".into(),
        scenario_description: String::new(),
        network: None,
        env: Environment::default(),
        runs,
        complete: true,
    }
}

#[test]
fn labels_are_matched_and_one_sided_ones_listed() {
    let a = runs(&[20, 21, 22], &[10, 11, 12]);
    let mut b = runs(&[30, 31, 32], &[]);
    b.push(RunBuilder::http10(0, 50).build());
    let c = compare(&a, &b);
    assert_eq!(c.matched.len(), 1);
    let m = &c.matched[0];
    assert_eq!(m.label, "http1.1");
    assert_eq!(m.a.page_time_median, Duration::from_millis(21));
    assert_eq!(m.b.page_time_median, Duration::from_millis(31));
    let change = m.change.expect("both sides ran");
    assert!((change.ratio - 31.0 / 21.0).abs() < 1e-12);
    assert_eq!(c.only_a, ["h2"]);
    assert_eq!(c.only_b, ["http1.0"]);
}

#[test]
fn a_separated_slower_b_is_called_slower_with_its_interval_and_p() {
    // Five against five, every B time above every A time: U = 0, exact p = 2/252.
    let c = compare(
        &runs(&[20, 21, 22, 23, 24], &[]),
        &runs(&[40, 41, 42, 43, 44], &[]),
    );
    let s = change_sentence(&c.matched[0]);
    assert!(
        s.starts_with("**http1.1**: 1.9× slower under B (95% CI "),
        "{s}"
    );
    assert!(s.contains("×, p = 0.008); median 22.0ms → 42.0ms"), "{s}");
    let ci = c.matched[0]
        .change
        .and_then(|c| c.ratio_ci)
        .expect("tested");
    assert!(ci.low > 1.0, "{ci:?}");
    // The other way round: faster, the interval inverted so it reads low–high.
    let c = compare(
        &runs(&[40, 41, 42, 43, 44], &[]),
        &runs(&[20, 21, 22, 23, 24], &[]),
    );
    let s = change_sentence(&c.matched[0]);
    assert!(
        s.starts_with("**http1.1**: 1.9× faster under B (95% CI "),
        "{s}"
    );
    let (lo, hi) = s
        .split("95% CI ")
        .nth(1)
        .and_then(|r| r.split('×').next())
        .and_then(|r| r.split_once('–'))
        .expect("an interval");
    let (lo, hi): (f64, f64) = (lo.parse().expect("low"), hi.parse().expect("high"));
    assert!(1.0 < lo && lo <= 1.9 && 1.9 <= hi, "{s}");
}

#[test]
fn overlapping_or_identical_samples_are_no_significant_difference() {
    let c = compare(
        &runs(&[20, 22, 24, 26, 28], &[]),
        &runs(&[21, 23, 25, 27, 29], &[]),
    );
    assert_eq!(
        change_sentence(&c.matched[0]),
        "**http1.1**: no significant difference (p = 0.69); median 24.0ms → 25.0ms"
    );
    let same = runs(&[20, 22, 24, 26, 28], &[]);
    let c = compare(&same, &same);
    assert_eq!(
        change_sentence(&c.matched[0]),
        "**http1.1**: no significant difference (p = 1); median 24.0ms → 24.0ms"
    );
}

#[test]
fn too_few_repetitions_are_not_tested_and_say_why() {
    let c = compare(&runs(&[20, 21, 22], &[]), &runs(&[40, 41, 42], &[]));
    assert_eq!(
        change_sentence(&c.matched[0]),
        "**http1.1**: 2.0× slower under B, not tested for significance (with 3 and 3 \
         repetitions even a complete separation could not reach p < 0.05 (at best p = 0.1); \
         rerun with --repeat 5); median 21.0ms → 41.0ms"
    );
    let c = compare(&runs(&[20], &[]), &runs(&[21], &[]));
    let s = change_sentence(&c.matched[0]);
    assert!(
        s.starts_with("**http1.1**: 1.05× slower under B, not tested"),
        "{s}"
    );
    assert!(
        s.contains("needs at least 3 repetitions on each side"),
        "{s}"
    );
}

#[test]
fn cells_and_differences() {
    assert_eq!(
        signed_difference(Duration::from_millis(20), Duration::from_millis(38)),
        "+18.0ms"
    );
    assert_eq!(
        signed_difference(Duration::from_millis(20), Duration::from_micros(16_500)),
        "-3.5ms"
    );
    assert_eq!(ratio_cell(None), "–");
    assert_eq!(p_cell(None), "not tested");
}

#[test]
fn markdown_has_verdicts_table_and_conditions() {
    let a = folder(
        "reports/a",
        runs(&[20, 21, 22, 23, 24], &[10, 11, 12, 13, 14]),
    );
    let b = folder(
        "reports/b",
        runs(&[40, 41, 42, 43, 44], &[10, 12, 11, 14, 13]),
    );
    let c = compare(&a.runs, &b.runs);
    let md = compare_markdown(&a, &b, &c);
    assert!(md.starts_with("# httplab compare: four-objects → four-objects\n"));
    assert!(
        md.contains("- **http1.1**: 1.9× slower under B (95% CI"),
        "{md}"
    );
    assert!(
        md.contains("- **h2**: no significant difference (p = 1); median 12.0ms → 12.0ms."),
        "{md}"
    );
    assert!(
        md.contains("| `http1.1` | 22.0ms | 42.0ms | +20.0ms | 1.91× ("),
        "{md}"
    );
    assert!(md.contains("| p = 0.008 | 5 / 5 |"), "{md}");
    assert!(
        md.contains("| network | plain loopback, no emulated link"),
        "{md}"
    );
    assert!(
        md.contains("| folder | `reports/a` | `reports/b` |"),
        "{md}"
    );
}

#[test]
fn a_results_json_reads_back_with_its_network_and_environment() {
    let mut s = scenario();
    s.network = Scenario::parse(
        "name = \"n\"\n[[resource]]\npath = \"/a\"\n[network]\nrtt = \"40ms\"\n\
         bandwidth = \"20mbit\"\nloss = \"1%\"\nloss_model = \"gilbert-elliott\"\n",
        "n.toml",
    )
    .expect("valid")
    .network;
    let env = Environment {
        httplab_version: "0.1.0".into(),
        notes: vec!["note".into()],
        ..Environment::default()
    };
    let runs = runs(&[20, 21], &[10]);
    let text =
        serde_json::to_vec(&results_json(&crate::Analysis::new(&s, &runs, &env))).expect("encode");
    let f =
        RunFolder::parse(Path::new("d"), Path::new("d/results.json"), &text).expect("reads back");
    assert_eq!(f.scenario_name, "four-objects");
    assert_eq!(f.network, s.network);
    assert_eq!(f.env.httplab_version, "0.1.0");
    assert_eq!(f.env.notes, ["note"]);
    assert_eq!(f.runs, runs);
}

#[test]
fn what_is_not_a_results_json_is_refused_with_the_file_named() {
    let path = Path::new("x/results.json");
    let err = |bytes: &[u8]| {
        RunFolder::parse(Path::new("x"), path, bytes)
            .expect_err("refused")
            .to_string()
    };
    let e = err(b"<html>");
    assert!(
        e.starts_with("x/results.json: not a results.json (not JSON"),
        "{e}"
    );
    let e = err(br#"{"name": "x"}"#);
    assert!(e.contains("schema missing"), "{e}");
    let e = err(br#"{"schema": "httplab-results/0"}"#);
    assert!(
        e.contains("schema `httplab-results/0`; this httplab reads `httplab-results/1`"),
        "{e}"
    );
    let e = err(br#"{"schema": "httplab-results/1", "scenario": {"name": "x"}}"#);
    assert!(
        e.starts_with(
            "x/results.json: does not match schema `httplab-results/1`: missing field `runs`"
        ),
        "{e}"
    );
    let e = err(
        br#"{"schema": "httplab-results/1", "scenario": {"name": "x", "network":
        {"rtt_ms": -5, "bandwidth_bps": null, "uplink_bps": null, "loss": 0,
        "loss_model": {"kind": "random"}, "downlink_queue_bytes": null,
        "uplink_queue_bytes": null, "congestion_control": null,
        "slow_start_after_idle": null}}, "runs": []}"#,
    );
    assert!(e.contains("rtt_ms = -5 is not a duration"), "{e}");
}

#[test]
fn a_missing_folder_or_file_is_named() {
    let dir = std::env::temp_dir().join(format!("httplab-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let e = RunFolder::load(&dir).expect_err("missing").to_string();
    assert!(
        e.starts_with(&format!("{}: no such folder", dir.display())),
        "{e}"
    );
    std::fs::create_dir_all(&dir).expect("temp dir");
    let e = RunFolder::load(&dir).expect_err("empty").to_string();
    assert!(
        e.starts_with(&format!(
            "{}: not found",
            dir.join("results.json").display()
        )),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn page_times_of_zero_give_no_ratio_rather_than_infinity() {
    let (a, b) = (runs(&[0, 0, 0, 0, 0], &[]), runs(&[5, 6, 7, 8, 9], &[]));
    let c = compare(&a, &b);
    let sentence = change_sentence(&c.matched[0]);
    assert!(sentence.contains("no ratio to give"), "{sentence}");
    let md = compare_markdown(&folder("a", a), &folder("b", b), &c);
    assert!(!md.contains("inf"), "{md}");
    assert!(!md.contains("NaN"), "{md}");
}

#[test]
fn a_killed_runs_journal_is_read_back_as_an_incomplete_folder() {
    let dir = std::env::temp_dir().join(format!("httplab-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let s = scenario();
    let mut journal = crate::RunJournal::create(
        &dir,
        &s,
        &Environment::default(),
        4,
        &serde_json::Value::Null,
    )
    .expect("journal");
    for run in runs(&[10, 11], &[]) {
        journal.append(&run).expect("append");
    }
    // SIGKILL in the middle of an append: a last line cut short.
    let path = dir.join(crate::JOURNAL_FILE);
    let mut text = std::fs::read_to_string(&path).expect("journal");
    text.push_str("{\"protocol\": \"h2\", \"requ");
    std::fs::write(&path, text).expect("cut");
    let folder = RunFolder::load(&dir).expect("loadable");
    assert!(!folder.complete);
    assert_eq!(folder.runs.len(), 2);
    assert_eq!(folder.scenario_name, s.name);
    let _ = std::fs::remove_dir_all(&dir);
}
