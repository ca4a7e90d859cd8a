//! `runs.jsonl`: the run journal, so a run that is interrupted keeps every repetition that
//! finished. `httplab run` opens it before the first repetition and appends each finished run
//! as one JSON line, flushed to disk, so even SIGKILL loses at most the run in flight. When the
//! reports are written at the end, results.json holds everything and the journal is removed.
//!
//! The first line is a header: the journal schema, and the scenario and environment sections
//! as results.json writes them. Every further line is one `RunRecord` exactly as core's serde
//! derives it. `read` turns a journal back into a results.json-shaped document (marked
//! `"complete": false`) for `RunFolder`, skipping a last line cut short by the interruption.
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
    pub fn create(
        dir: &Path,
        scenario: &Scenario,
        env: &Environment,
        runs_planned: usize,
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
#[derive(Debug)]
pub(crate) enum JournalError {
    Io(std::io::Error),
    /// The header line is missing, not JSON, or not a journal this httplab reads.
    Header(String),
}

/// Reads `path` back as a results.json-shaped document: `"complete": false`, the header's
/// scenario and environment, and every run line that parses. A last line that does not parse
/// (cut short by SIGKILL mid-append) is skipped; a bad line before the last is an error, since
/// it is not an interruption's doing.
pub(crate) fn read(path: &Path) -> Result<Value, JournalError> {
    let file = File::open(path).map_err(JournalError::Io)?;
    let mut lines = BufReader::new(file).lines();
    let header: Value = match lines.next() {
        Some(line) => serde_json::from_str(&line.map_err(JournalError::Io)?)
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
        let line = line.map_err(JournalError::Io)?;
        if let Some((n, e)) = bad.take() {
            return Err(JournalError::Header(format!("line {n}: {e}")));
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(run) => runs.push(run),
            Err(e) => bad = Some((i + 2, e.to_string())),
        }
    }
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
