//! `httplab import PAGE.har [--out SCENARIO.toml] [--force]`: reads a HAR file, writes the
//! scenario `httplab_import` makes of it, and prints one note per entry (or origin) left out.
//!
//! It owns the files: the default `--out` (the HAR's file stem + `.toml`, beside it) and the
//! refusal to overwrite an existing file without `--force`. It deliberately holds none of the
//! mapping (the `httplab-import` crate does) and runs nothing.

use crate::UsageError;
use anyhow::{Context, Result};
use httplab_core::units;
use std::path::{Path, PathBuf};

/// `httplab import`.
pub(crate) fn import(har: &Path, out: Option<PathBuf>, force: bool) -> Result<()> {
    let text = std::fs::read_to_string(har)
        .map_err(|e| UsageError(format!("{}: cannot read the HAR file: {e}", har.display())))?;
    let stem = har
        .file_stem()
        .map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
    let out = out.unwrap_or_else(|| har.with_file_name(format!("{stem}.toml")));
    if out.exists() && !force {
        return Err(UsageError(format!(
            "--out {}: the file exists; pass --force to replace it, or name another file",
            out.display()
        ))
        .into());
    }
    let file = har.display().to_string();
    let imported = httplab_import::import(&text, &file, &stem).map_err(|e| {
        if e.is_input() {
            anyhow::Error::new(UsageError(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    for note in &imported.notes {
        eprintln!("{file}: {note}");
    }
    std::fs::write(&out, &imported.toml)
        .with_context(|| format!("could not write {}", out.display()))?;
    let s = &imported.scenario;
    println!(
        "{}: {} resources ({}) from {file}, {} entries skipped; check it with: httplab check {}",
        out.display(),
        s.resources.len(),
        units::format_size(s.page_bytes()),
        imported.skipped,
        out.display()
    );
    Ok(())
}
