//! httplab-import: a HAR 1.2 file, as browser DevTools (Chrome, Edge, Firefox), WebPageTest or
//! sitespeed.io's chrome-har export it, turned into a scenario `httplab check` accepts: one
//! resource per entry a replay can use, with its size, status, method, server think and
//! discovery order (`after`, `delay`), and a header that says where every number came from.
//!
//! It owns the pure mapping, text in and text out: `har.rs` reads and checks the file,
//! `url.rs` turns URLs into scenario paths, `plan.rs` decides what is replayed and how,
//! `write.rs` lays it out as TOML. It deliberately reads and writes no files (the `httplab
//! import` command does) and checks the scenario it wrote with the lab's own parser, so what it
//! returns always loads.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod error;
mod har;
mod plan;
mod url;
mod write;

#[cfg(test)]
mod tests;

pub use error::ImportError;

use httplab_core::Scenario;

/// An imported scenario.
#[derive(Debug)]
pub struct Imported {
    /// The scenario file's text.
    pub toml: String,
    /// The scenario as the lab reads it.
    pub scenario: Scenario,
    /// One line per entry (or origin) left out, saying why.
    pub notes: Vec<String>,
    /// How many entries were left out.
    pub skipped: usize,
}

/// Imports the HAR `text`, read from `file` (used in messages and the scenario's header),
/// into a scenario named `name` (made fit for a report folder's name: letters, digits, '-',
/// '_' and '.').
pub fn import(text: &str, file: &str, name: &str) -> Result<Imported, ImportError> {
    let har = har::read(text, file)?;
    let plan = plan::plan(&har);
    let notes = write::skip_lines(&plan);
    if plan.resources.is_empty() {
        return Err(ImportError::NothingToReplay {
            file: file.to_string(),
            entries: har.entries.len() + har.later_pages,
        });
    }
    let toml = write::scenario(&plan, file, &har.creator, &scenario_name(name));
    let scenario = Scenario::parse(&toml, file).map_err(|e| ImportError::Invalid {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok(Imported {
        toml,
        scenario,
        notes,
        skipped: plan.skipped_entries(),
    })
}

/// `name` with every character a report folder's name may not hold written '-'.
fn scenario_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "imported".into()
    } else {
        cleaned.to_string()
    }
}
