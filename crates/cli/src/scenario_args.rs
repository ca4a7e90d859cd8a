//! What the command line says about a scenario: the file and its `--set` overrides, checked
//! against this host's TCP congestion controls, and `--protocols` and `--repeat` checked
//! against the scenario's bounds. Every mistake here is the user's to fix: a [`UsageError`]
//! (exit status 2) with the file, line and column where there is one.

use crate::UsageError;
use anyhow::Result;
use httplab_core::{Override, Protocol, Scenario};
use httplab_harness::available_congestion_controls;
use std::path::Path;

/// The scenario file's text, or why it cannot be read.
pub(crate) fn read_source(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "{}: cannot read the scenario file: {e}",
            path.display()
        ))
        .into()
    })
}

/// `--set KEY=VALUE` arguments as overrides.
pub(crate) fn overrides(set: &[String]) -> Result<Vec<Override>> {
    set.iter()
        .map(|arg| arg.parse::<Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(e.to_string()).into())
}

/// Loads a scenario with `--set KEY=VALUE` overrides applied to its text, and checks its TCP
/// congestion control against this host's kernel (where the kernel's list can be read).
pub(crate) fn load(path: &Path, set: &[String]) -> Result<Scenario> {
    load_with_source(path, set).map(|(scenario, _)| scenario)
}

/// Like `load`, with the file's text as read.
pub(crate) fn load_with_source(path: &Path, set: &[String]) -> Result<(Scenario, String)> {
    let source = read_source(path)?;
    let scenario = parse(&source, &path.display().to_string(), set)?;
    Ok((scenario, source))
}

/// A scenario's text with `--set KEY=VALUE` overrides applied, checked against this host's
/// congestion controls like `load`'s; `file` names it in errors.
pub(crate) fn parse(source: &str, file: &str, set: &[String]) -> Result<Scenario> {
    let overrides = overrides(set)?;
    let scenario = Scenario::parse_with_overrides(source, file, &overrides)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(available) = available_congestion_controls() {
        scenario
            .congestion_control
            .check(&available)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    Ok(scenario)
}

/// `--protocols` and `--repeat`, checked, to apply to each scenario a command runs.
pub(crate) struct Choices {
    protocols: Option<Vec<Protocol>>,
    repeat: Option<u32>,
}

impl Choices {
    pub(crate) fn read(protocols: Option<&[String]>, repeat: Option<u32>) -> Result<Self> {
        Ok(Self {
            protocols: protocols.map(chosen_protocols).transpose()?,
            repeat: repeat.map(checked_repeat).transpose()?,
        })
    }

    /// Applies the choices, then checks what depends on the protocols chosen (h3's congestion
    /// control).
    pub(crate) fn apply(&self, scenario: &mut Scenario) -> Result<()> {
        if let Some(p) = &self.protocols {
            scenario.protocols = p.clone();
        }
        if let Some(n) = self.repeat {
            scenario.repeat = n;
        }
        scenario
            .check_quic()
            .map_err(|e| UsageError(e.to_string()).into())
    }
}

/// `--protocols` as protocol ids, each once, at least one.
fn chosen_protocols(list: &[String]) -> Result<Vec<Protocol>> {
    let mut chosen = Vec::new();
    for id in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let p: Protocol = id
            .parse()
            .map_err(|e| UsageError(format!("--protocols: {e}")))?;
        if !chosen.contains(&p) {
            chosen.push(p);
        }
    }
    if chosen.is_empty() {
        return Err(UsageError("--protocols: name at least one protocol".into()).into());
    }
    Ok(chosen)
}

/// `--repeat`, within the scenario's bounds.
fn checked_repeat(n: u32) -> Result<u32> {
    if !(1..=httplab_core::scenario::MAX_REPEAT).contains(&n) {
        return Err(UsageError(format!(
            "--repeat must be between 1 and {}",
            httplab_core::scenario::MAX_REPEAT
        ))
        .into());
    }
    Ok(n)
}

/// Protocol ids as a list: `http1.0, h2`.
pub(crate) fn ids(protocols: &[Protocol]) -> String {
    protocols
        .iter()
        .map(|p| p.id())
        .collect::<Vec<_>>()
        .join(", ")
}
