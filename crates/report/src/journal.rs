//! `runs.jsonl`: the run journal, so a run that is interrupted keeps every repetition that
//! finished. `httplab run` opens it before the first repetition and appends each finished run
//! as one JSON line, flushed to disk, so even SIGKILL loses at most the run in flight. When the
//! reports are written at the end, results.json holds everything and the journal is removed.
//!
//! The first line is a header: the journal schema, and the scenario and environment sections
//! as results.json writes them. Every further line is one `RunRecord` exactly as core's serde
//! derives it. `read` turns a journal back into a results.json-shaped document (marked
//! `"complete": false`) for `RunFolder`, skipping a last line cut short by the interruption.
//! `read_journal` gives the runs back with the header's `recipe`, from which `httplab report`
//! rebuilds the scenario and writes the reports of a killed run.
//! It owns the file format only: it decides nothing about when to write or what to do with a
//! folder that holds another run (that is the cli's).

use crate::results_json::scenario_json;
use crate::{Environment, ReportError, SCHEMA};
use httplab_core::{RunRecord, Scenario};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The journal's file name inside a run folder.
pub const JOURNAL_FILE: &str = "runs.jsonl";
/// The schema id on the journal's first line.
pub const JOURNAL_SCHEMA: &str = "httplab-runs/1";

/// An open run journal.
#[derive(Debug)]
pub struct RunJournal {
    path: PathBuf,
    file: File,
}

impl RunJournal {
    /// Creates `dir/runs.jsonl` (replacing one left there) and writes its header.
    /// `recipe` is how `httplab report` can rebuild the scenario from the journal alone (the
    /// cli's to define: the scenario file's text and the command line's choices).
    pub fn create(
        dir: &Path,
        scenario: &Scenario,
        env: &Environment,
        runs_planned: usize,
        recipe: &Value,
    ) -> Result<RunJournal, ReportError> {
        let path = dir.join(JOURNAL_FILE);
        let file = File::create(&path).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        let mut journal = RunJournal { path, file };
        journal.line(&json!({
            "schema": JOURNAL_SCHEMA,
            "results_schema": SCHEMA,
            "runs_planned": runs_planned,
            "scenario": scenario_json(scenario),
            "environment": env,
            "recipe": recipe,
        }))?;
        Ok(journal)
    }

    /// Appends one finished run, on disk before this returns.
    pub fn append(&mut self, run: &RunRecord) -> Result<(), ReportError> {
        let value = serde_json::to_value(run).map_err(|source| ReportError::Json {
            path: self.path.clone(),
            source,
        })?;
        self.line(&value)
    }

    fn line(&mut self, value: &Value) -> Result<(), ReportError> {
        let mut bytes = serde_json::to_vec(value).map_err(|source| ReportError::Json {
            path: self.path.clone(),
            source,
        })?;
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| ReportError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Removes the journal: results.json, written complete, now holds every run.
    pub fn remove(self) -> Result<(), ReportError> {
        std::fs::remove_file(&self.path).map_err(|source| ReportError::Io {
            path: self.path,
            source,
        })
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    /// The header line is missing, not JSON, or not a journal this httplab reads; or a line
    /// before the last is not a run.
    #[error("{0}")]
    Header(String),
}

/// A journal read back: its header's facts and every run that parses.
#[derive(Debug)]
pub struct Journal {
    /// How to rebuild the scenario (`RunJournal::create`'s `recipe`), if the header has one.
    pub recipe: Option<Value>,
    pub runs_planned: usize,
    pub environment: Environment,
    pub runs: Vec<RunRecord>,
}

/// The header and the run lines of a journal.
struct Lines {
    header: Value,
    runs: Vec<Value>,
}

/// Reads the header and every run line; a last line that does not parse (cut short by
/// SIGKILL mid-append) is skipped, a bad line before the last is an error, since it is not an
/// interruption's doing.
fn read_lines(path: &Path) -> Result<Lines, JournalError> {
    let file = File::open(path)?;
    let mut lines = BufReader::new(file).lines();
    let header: Value = match lines.next() {
        Some(line) => serde_json::from_str(&line?)
            .map_err(|e| JournalError::Header(format!("first line is not JSON ({e})")))?,
        None => return Err(JournalError::Header("empty".into())),
    };
    if header.get("schema").and_then(Value::as_str) != Some(JOURNAL_SCHEMA) {
        return Err(JournalError::Header(format!(
            "not a run journal this httplab reads (schema `{JOURNAL_SCHEMA}`)"
        )));
    }
    let mut runs = Vec::new();
    let mut bad: Option<(usize, String)> = None;
    for (i, line) in lines.enumerate() {
        let line = line?;
        if let Some((n, e)) = bad.take() {
            return Err(JournalError::Header(format!("line {n}: {e}")));
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(run) => runs.push(run),
            Err(e) => bad = Some((i + 2, e.to_string())),
        }
    }
    Ok(Lines { header, runs })
}

/// Reads `path` back as a results.json-shaped document: `"complete": false`, the header's
/// scenario and environment, and every run line that parses.
pub(crate) fn read(path: &Path) -> Result<Value, JournalError> {
    let Lines { header, runs } = read_lines(path)?;
    Ok(json!({
        "schema": header.get("results_schema").cloned().unwrap_or(Value::Null),
        "complete": false,
        "interrupted": {
            "reason": "interrupted before its reports were written (read from its run journal)",
            "runs_planned": header.get("runs_planned").cloned().unwrap_or(Value::Null),
            "runs_finished": runs.len(),
        },
        "scenario": header.get("scenario").cloned().unwrap_or(Value::Null),
        "environment": header.get("environment").cloned().unwrap_or_else(|| json!({})),
        "runs": runs,
    }))
}

/// Reads the journal at `path` for rebuilding its reports.
pub fn read_journal(path: &Path) -> Result<Journal, JournalError> {
    let Lines { header, runs } = read_lines(path)?;
    let runs = runs
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<RunRecord>, _>>()
        .map_err(|e| JournalError::Header(format!("a run does not match its schema: {e}")))?;
    let environment = header
        .get("environment")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| JournalError::Header(format!("environment: {e}")))?
        .unwrap_or_default();
    Ok(Journal {
        recipe: header.get("recipe").filter(|r| !r.is_null()).cloned(),
        runs_planned: header
            .get("runs_planned")
            .and_then(Value::as_u64)
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
        environment,
        runs,
    })
}
