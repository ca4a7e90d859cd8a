//! httplab-report: turns the records of a finished run into the files people read.
//!
//! It owns every output format of `httplab run`: `results.json` (everything, schema in
//! docs/results-schema.md), one HAR 1.2 file per protocol (the median repetition, loadable by
//! browser DevTools), `report.md` (the comparison in numbers and words), `report.html` (the
//! same with waterfalls, connection lanes and the distribution of page times, self-contained)
//! and `requests.csv` (every request of every repetition), plus the per-protocol summary those
//! outputs share. It deliberately runs nothing and measures nothing:
//! it reads `RunRecord`s the harness filled and never touches a socket, a clock or the network.
//! Each format lives in its own module; this module only wires them to files.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod analysis;
mod bytes;
mod causes;
mod compare;
mod csv;
mod date;
mod error;
mod glossary;
mod har;
mod hol;
mod html;
mod journal;
mod markdown;
mod network;
mod reason;
mod results_json;
mod server_side;
mod summary;
mod sweep;
mod tables;
mod verdict;

#[cfg(test)]
mod fixtures;

pub use analysis::{Analysis, Interruption};
pub use compare::{
    change_sentence, compare, compare_markdown, write_compare, Comparison, LabelChange, RunFolder,
    RunFolderError,
};
pub use csv::requests_csv;
pub use date::file_stamp;
pub use error::ReportError;
pub use har::har;
pub use html::{html, load_html};
pub use journal::{read_journal, Journal, JournalError, RunJournal, JOURNAL_FILE, JOURNAL_SCHEMA};
pub use markdown::markdown;
pub use results_json::{results_json, SCHEMA};
pub use summary::{summarize, ProtocolSummary};
pub use sweep::{
    point_folder, sweep_json, sweep_markdown, write_sweep, AxisKind, SweepAnalysis, SweepPoint,
    SWEEP_SCHEMA,
};

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Facts about the environment the run happened in, shown in every output.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Environment {
    pub httplab_version: String,
    pub hostname: String,
    pub kernel: String,
    pub congestion_control: String,
    pub command_line: String,
    pub notes: Vec<String>,
    /// The server the runs went to, when it was not the lab's own (`--server-cmd`,
    /// `--target`): what it was, for the reports' headers, which then mark the server-side
    /// timeline absent.
    pub server: Option<String>,
    /// The real path the runs crossed (`run --target`), with no emulated link.
    pub real_network: Option<RealNetwork>,
}

/// A real network path (`run --target`): where to, and its round trip as measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct RealNetwork {
    /// `scheme://host:port` the runs went to.
    pub target: String,
    /// The address it resolved to.
    pub addr: String,
    /// The path's round trip: the least of `probes` TCP connects, in milliseconds.
    pub path_rtt_ms: f64,
    pub probes: u32,
}

impl RealNetwork {
    pub fn path_rtt(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.path_rtt_ms.max(0.0) / 1e3)
    }
}

/// Writes results.json, one `<protocol-id>.har` per protocol present in the runs, report.md,
/// report.html and requests.csv into `dir` (created if needed), each laid out from the one
/// analysis. Returns the paths written, in that order.
pub fn write_all(dir: &Path, a: &Analysis<'_>) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();

    let path = dir.join("results.json");
    write_with(&path, |w| {
        results_json::write_results(w, a).map_err(|source| ReportError::Json {
            path: path.clone(),
            source,
        })
    })?;
    written.push(path);

    for (s, run) in a.medians() {
        let path = dir.join(Analysis::har_file(&s.label));
        write_json(&path, &har(a.scenario, run, a.causes_of(run)))?;
        written.push(path);
    }

    let path = dir.join("report.md");
    write_file(&path, markdown(a).as_bytes())?;
    written.push(path);

    let path = dir.join("report.html");
    write_file(&path, html(a).as_bytes())?;
    written.push(path);

    let path = dir.join("requests.csv");
    write_file(&path, requests_csv(a).as_bytes())?;
    written.push(path);
    Ok(written)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ReportError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| ReportError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    write_file(path, &bytes)
}

/// Writes `bytes` to `path` so that `path` is never seen half-written: into a temporary file
/// beside it, flushed to disk, then renamed over it. An interrupted write leaves the old file
/// (or none) and a stray temporary, never a truncated `path`.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_with(path, |w| {
        w.write_all(bytes).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Like `write_file`, with the bytes written by `fill` through a buffer.
fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().map_or_else(
        || std::ffi::OsString::from("file"),
        std::ffi::OsStr::to_os_string,
    );
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp).map_err(io).and_then(|file| {
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path).map_err(io));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};

    #[test]
    fn write_all_writes_every_file_and_one_har_per_protocol() {
        let dir = std::env::temp_dir().join(format!("httplab-report-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let runs = vec![
            RunBuilder::http10(0, 10).build(),
            RunBuilder::http11(0, 10).build(),
            RunBuilder::http10(1, 12).build(),
        ];
        let written = write_all(
            &dir,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        )
        .expect("writing into a fresh temp dir");
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            names,
            [
                "results.json",
                "http1.0.har",
                "http1.1.har",
                "report.md",
                "report.html",
                "requests.csv"
            ]
        );
        for p in &written {
            assert!(std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false));
        }
        let har: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("http1.0.har")).expect("read har"))
                .expect("har is JSON");
        assert_eq!(har["log"]["pages"][0]["id"], "page_http1.0");
        // The streamed results.json is the document `results_json` builds in memory.
        let env = Environment::default();
        let streamed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("results.json")).expect("read"))
                .expect("results.json is JSON");
        assert_eq!(
            streamed,
            results_json(&Analysis::new(&scenario(), &runs, &env))
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporaries left: {leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);

        // Pipelined runs under two server models are two configurations, each with its HAR.
        let pipelined = |rep, model| {
            let mut run = RunBuilder::new(httplab_core::Protocol::Http11Pipelined, rep).build();
            run.server_pipelining = Some(model);
            run
        };
        use httplab_core::PipeliningModel::{Parallel, Serial};
        let runs = vec![
            pipelined(0, Serial),
            pipelined(0, Parallel),
            pipelined(1, Serial),
        ];
        let summaries = summarize(&runs);
        let labels: Vec<&str> = summaries.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            ["http1.1-pipelined/serial", "http1.1-pipelined/parallel"]
        );
        assert_eq!(summaries[0].repetitions, 2);
        let written = write_all(
            &dir,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        )
        .expect("write");
        assert!(
            written
                .iter()
                .any(|p| p.ends_with("http1.1-pipelined-parallel.har")),
            "{written:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn write_all_names_the_path_it_could_not_create() {
        let file = std::env::temp_dir().join(format!("httplab-report-file-{}", std::process::id()));
        std::fs::write(&file, b"x").expect("temp file");
        let err = write_all(
            &file.join("sub"),
            &Analysis::new(&scenario(), &[], &Environment::default()),
        )
        .expect_err("a file is not a directory");
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
        let _ = std::fs::remove_file(&file);
    }
}

/// Validates HAR files built from fixtures (a failed request, a head-of-line wait) with
/// har-validator, the independent HAR 1.2 schema check `.ci/run` installs.
#[cfg(test)]
mod har_validator {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use std::time::Duration;

    #[test]
    fn har_files_pass_har_validator() {
        let dir = httplab_testkit::temp_dir("harv");
        let runs = vec![
            RunBuilder::http10(0, 44).fail(2, "reset").build(),
            RunBuilder::http11(0, 23)
                .hol(3, Duration::from_micros(700))
                .build(),
        ];
        let written = write_all(
            &dir,
            &Analysis::new(&scenario(), &runs, &Environment::default()),
        )
        .expect("write into a temp dir");
        let hars: Vec<PathBuf> = written
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "har"))
            .collect();
        assert_eq!(hars.len(), 2);
        httplab_testkit::validate_har_files("har_files_pass_har_validator", &hars);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
