//! `httplab compare DIR_A DIR_B`: two finished runs side by side — the same scenario under two
//! conditions, or against two versions of a server. It owns reading a run folder's
//! `results.json` back (rejecting, with the file named, anything that is not one), matching the
//! two sides' configurations by label, the change per label (ratio of medians B/A with its
//! bootstrap interval, the difference in milliseconds, the Mann–Whitney test) and its wording,
//! and `compare.md`. The statistics are `httplab_core::stats`'; the network and link
//! self-check sentences are `network`'s; `compare.html` is `html::compare`'s. It runs nothing.

use crate::journal::{self, JournalError, JOURNAL_FILE};
use crate::network::{link_check, network_sentence};
use crate::summary::{summarize, ProtocolSummary};
use crate::verdict::{p_value, ratio_number};
use crate::{write_file, Environment, ReportError, SCHEMA};
use httplab_core::stats::{self, MedianComparison};
use httplab_core::units::format_duration;
use httplab_core::{LossModel, NetworkSettings, RunRecord, Scenario};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A finished run read back from its folder: what `compare` needs of `results.json`.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder as the user named it.
    pub dir: PathBuf,
    pub scenario_name: String,
    pub scenario_description: String,
    /// The scenario's `[network]` table as run; `None`: plain loopback.
    pub network: Option<NetworkSettings>,
    pub env: Environment,
    pub runs: Vec<RunRecord>,
    /// Whether the run finished every planned repetition (`false`: interrupted, and only the
    /// repetitions that finished are here).
    pub complete: bool,
}

/// Why a folder could not be read as a run; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error("{0}: no such folder (name a folder `httplab run` wrote, e.g. reports/quickstart)")]
    NoFolder(PathBuf),
    #[error(
        "{0}: not found — is the folder one `httplab run` wrote? (it holds results.json beside \
         report.md)"
    )]
    NoResults(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a run journal httplab can read back: {why}")]
    Journal { path: PathBuf, why: String },
    #[error("{path}: not a results.json (not JSON: {source})")]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path}: not a results.json written by httplab (schema {found}; this httplab reads \
         `{SCHEMA}`) — rerun the scenario with this version"
    )]
    Schema { path: PathBuf, found: String },
    #[error("{path}: does not match schema `{SCHEMA}`: {source} (see docs/results-schema.md)")]
    Mismatch {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The parts of results.json `compare` reads; the rest is ignored, as the schema allows.
#[derive(Deserialize)]
struct Document {
    /// Absent in files written before runs could be interrupted: those were complete.
    #[serde(default = "complete_by_default")]
    complete: bool,
    scenario: ScenarioPart,
    #[serde(default)]
    environment: Environment,
    runs: Vec<RunRecord>,
}

fn complete_by_default() -> bool {
    true
}

#[derive(Deserialize)]
struct ScenarioPart {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    network: Option<NetworkPart>,
}

/// `scenario.network` as results.json writes `NetworkSettings` (docs/results-schema.md).
#[derive(Deserialize)]
struct NetworkPart {
    rtt_ms: f64,
    bandwidth_bps: Option<u64>,
    uplink_bps: Option<u64>,
    loss: f64,
    loss_model: LossModelPart,
    #[serde(default)]
    jitter_ms: f64,
    downlink_queue_bytes: Option<u64>,
    uplink_queue_bytes: Option<u64>,
    #[serde(default)]
    seed: u64,
    congestion_control: Option<String>,
    slow_start_after_idle: Option<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum LossModelPart {
    Random,
    GilbertElliott { burst: f64 },
}

/// Milliseconds from a file, refusing what is not a duration rather than panicking.
fn ms(value: f64, field: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value / 1e3)
        .map_err(|_| format!("scenario.network.{field} = {value} is not a duration in ms"))
}

impl NetworkPart {
    fn settings(self) -> Result<NetworkSettings, String> {
        Ok(NetworkSettings {
            rtt: ms(self.rtt_ms, "rtt_ms")?,
            bandwidth: self.bandwidth_bps,
            uplink: self.uplink_bps,
            loss: self.loss,
            loss_model: match self.loss_model {
                LossModelPart::Random => LossModel::Random,
                LossModelPart::GilbertElliott { burst } => LossModel::GilbertElliott { burst },
            },
            jitter: ms(self.jitter_ms, "jitter_ms")?,
            downlink_queue: self.downlink_queue_bytes,
            uplink_queue: self.uplink_queue_bytes,
            seed: self.seed,
            congestion_control: self.congestion_control,
            slow_start_after_idle: self.slow_start_after_idle,
        })
    }
}

impl RunFolder {
    /// Reads `dir/results.json`, or, where a run was killed before writing it, the run
    /// journal (`runs.jsonl`) with every repetition that finished.
    pub fn load(dir: &Path) -> Result<RunFolder, RunFolderError> {
        if !dir.is_dir() {
            return Err(RunFolderError::NoFolder(dir.to_path_buf()));
        }
        let path = dir.join("results.json");
        let journal = dir.join(JOURNAL_FILE);
        if !path.is_file() && journal.is_file() {
            let value = journal::read(&journal).map_err(|e| match e {
                JournalError::Io(source) => RunFolderError::Read {
                    path: journal.clone(),
                    source,
                },
                JournalError::Header(why) => RunFolderError::Journal {
                    path: journal.clone(),
                    why,
                },
            })?;
            return Self::from_value(dir, &journal, value);
        }
        if !path.is_file() {
            return Err(RunFolderError::NoResults(path));
        }
        let bytes = std::fs::read(&path).map_err(|source| RunFolderError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(dir, &path, &bytes)
    }

    /// Parses the bytes of `path` (results.json of `dir`).
    fn parse(dir: &Path, path: &Path, bytes: &[u8]) -> Result<RunFolder, RunFolderError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|source| RunFolderError::NotJson {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_value(dir, path, value)
    }

    /// A results.json-shaped document (read from `path` of `dir`) as a run folder.
    fn from_value(
        dir: &Path,
        path: &Path,
        value: serde_json::Value,
    ) -> Result<RunFolder, RunFolderError> {
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            found => {
                return Err(RunFolderError::Schema {
                    path: path.to_path_buf(),
                    found: found.map_or_else(|| "missing".to_string(), |s| format!("`{s}`")),
                })
            }
        }
        let mismatch = |source| RunFolderError::Mismatch {
            path: path.to_path_buf(),
            source,
        };
        let doc: Document = serde_json::from_value(value).map_err(mismatch)?;
        let network = doc
            .scenario
            .network
            .map(NetworkPart::settings)
            .transpose()
            .map_err(|e| mismatch(serde::de::Error::custom(e)))?;
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            scenario_name: doc.scenario.name,
            scenario_description: doc.scenario.description,
            network,
            env: doc.environment,
            runs: doc.runs,
            complete: doc.complete,
        })
    }

    /// The network this side crossed, in `network`'s words.
    pub(crate) fn network_sentence(&self) -> String {
        match self.conditions_scenario() {
            Some(s) => network_sentence(&s, &self.runs, &self.env),
            None => "not recorded".to_string(),
        }
    }

    /// The link's self-check in one sentence, or why there is none.
    pub(crate) fn link_sentence(&self) -> String {
        link_check(&self.runs).map_or_else(
            || "no emulated link, nothing to check".to_string(),
            |c| c.sentence(),
        )
    }

    /// Whether the link's self-check failed on this side.
    pub(crate) fn untrustworthy(&self) -> bool {
        link_check(&self.runs).is_some_and(|c| !c.trustworthy())
    }

    /// A scenario carrying only what `network_sentence` reads (name, description, network):
    /// results.json does not hold the whole scenario, and only these parts are shown. `None`
    /// only if core stopped accepting the constant stub.
    fn conditions_scenario(&self) -> Option<Scenario> {
        const STUB: &str = "name = \"x\"\n[[resource]]\npath = \"/\"\n";
        let mut s = Scenario::parse(STUB, "compare").ok()?;
        s.name = self.scenario_name.clone();
        s.description = self.scenario_description.clone();
        s.network = self.network.clone();
        Some(s)
    }

    /// The folder's last component, for the default output folder `compare-vs-<name>`.
    pub fn name(&self) -> String {
        let absolute = self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone());
        absolute
            .file_name()
            .map_or_else(|| "a".to_string(), |n| n.to_string_lossy().into_owned())
    }
}

/// One configuration present on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelChange {
    pub label: String,
    pub a: ProtocolSummary,
    pub b: ProtocolSummary,
    /// B against A (`ratio` = median B / median A); `None` when a side has no page times.
    pub change: Option<MedianComparison>,
}

/// The two sides matched by configuration label.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Labels on both sides, in A's order.
    pub matched: Vec<LabelChange>,
    /// Labels only A ran, and only B ran.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    /// Each side's summary per configuration, in its own order.
    pub summaries_a: Vec<ProtocolSummary>,
    pub summaries_b: Vec<ProtocolSummary>,
}

/// Matches `a`'s and `b`'s configurations by label and compares each pair's page times.
pub fn compare(a: &[RunRecord], b: &[RunRecord]) -> Comparison {
    let (sa, sb) = (summarize(a), summarize(b));
    let matched = sa
        .iter()
        .filter_map(|x| {
            let y = sb.iter().find(|y| y.label == x.label)?;
            Some(LabelChange {
                label: x.label.clone(),
                a: x.clone(),
                b: y.clone(),
                change: stats::compare_medians(&x.page_times, &y.page_times),
            })
        })
        .collect();
    let missing = |from: &[ProtocolSummary], other: &[ProtocolSummary]| {
        from.iter()
            .filter(|x| !other.iter().any(|y| y.label == x.label))
            .map(|x| x.label.clone())
            .collect()
    };
    Comparison {
        matched,
        only_a: missing(&sa, &sb),
        only_b: missing(&sb, &sa),
        summaries_a: sa,
        summaries_b: sb,
    }
}

/// B − A as a signed duration: `+18.4ms`, `-3.0ms`.
fn signed_difference(a: Duration, b: Duration) -> String {
    if b >= a {
        format!("+{}", format_duration(b - a))
    } else {
        format!("-{}", format_duration(a - b))
    }
}

/// The change in words, Markdown: "**h2**: 1.8× slower under B (95% CI 1.6–2.0×, p = 0.008)",
/// "**h2**: no significant difference (p = 0.4)", or an untested difference with the reason.
pub fn change_sentence(c: &LabelChange) -> String {
    let label = format!("**{}**", c.label);
    let medians = format!(
        "median {} → {}",
        format_duration(c.a.page_time_median),
        format_duration(c.b.page_time_median)
    );
    let Some(change) = c.change else {
        return format!("{label}: no page times to compare");
    };
    if !usable_ratio(change.ratio) {
        // A median of zero (a page that took no measurable time) has no ratio to the other.
        let p = change
            .test
            .map_or_else(String::new, |t| format!(" ({})", p_value(t.p)));
        return format!(
            "{label}: a median page time of 0 on one side, so no ratio to give; {} \
             difference{p}; {medians}",
            signed_difference(c.a.page_time_median, c.b.page_time_median)
        );
    }
    let slower = change.ratio >= 1.0;
    // Said as "k× slower" or "k× faster", k ≥ 1 either way.
    let k = if slower {
        change.ratio
    } else {
        1.0 / change.ratio
    };
    let direction = if slower { "slower" } else { "faster" };
    match change.test {
        Some(t) if change.significant() => {
            let ci = change
                .ratio_ci
                .filter(|ci| usable_ratio(ci.low) && usable_ratio(ci.high));
            let ci = ci.map_or_else(String::new, |ci| {
                let (lo, hi) = if slower {
                    (ci.low, ci.high)
                } else {
                    (1.0 / ci.high, 1.0 / ci.low)
                };
                format!("95% CI {}–{}×, ", ratio_number(lo, k), ratio_number(hi, k))
            });
            format!(
                "{label}: {}× {direction} under B ({ci}{}); {medians}",
                ratio_number(k, k),
                p_value(t.p)
            )
        }
        Some(t) => format!(
            "{label}: no significant difference ({}); {medians}",
            p_value(t.p)
        ),
        None => {
            let why = if c.a.repetitions.min(c.b.repetitions) < stats::MIN_REPETITIONS {
                format!(
                    "the test needs at least {} repetitions on each side",
                    stats::MIN_REPETITIONS
                )
            } else {
                format!(
                    "with {} and {} repetitions even a complete separation could not reach \
                     p < {} (at best {}); rerun with --repeat 5",
                    c.a.repetitions,
                    c.b.repetitions,
                    stats::ALPHA,
                    p_value(change.smallest_p)
                )
            };
            format!(
                "{label}: {}× {direction} under B, not tested for significance ({why}); {medians}",
                ratio_number(k, k)
            )
        }
    }
}

/// `compare.md`.
pub fn compare_markdown(a: &RunFolder, b: &RunFolder, c: &Comparison) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# httplab compare: {} → {}\n",
        a.scenario_name, b.scenario_name
    );
    let _ = writeln!(
        md,
        "**A** is `{}` ({}), **B** is `{}` ({}). Each change below is B against A: the ratio of \
         median page load times B / A with its bootstrap 95% interval, and a two-sided \
         Mann–Whitney U test (α = {}).\n",
        a.dir.display(),
        runs_word(&a.runs),
        b.dir.display(),
        runs_word(&b.runs),
        stats::ALPHA
    );
    if a.scenario_name != b.scenario_name {
        let _ = writeln!(
            md,
            "A and B ran different scenarios (`{}` and `{}`): the change includes the difference \
             between them.\n",
            a.scenario_name, b.scenario_name
        );
    }
    for (side, f) in [("A", a), ("B", b)] {
        if !f.complete {
            let _ = writeln!(
                md,
                "> **{side} is an incomplete run: it was interrupted, and holds only the \
                 repetitions that finished ({}).**\n",
                runs_word(&f.runs)
            );
        }
        if f.untrustworthy() {
            let _ = writeln!(md, "> **{side}: {}**\n", f.link_sentence());
        }
    }

    md.push_str("## Verdict\n\n");
    if c.matched.is_empty() {
        md.push_str("No configuration ran on both sides, so there is nothing to compare.\n");
    }
    for m in &c.matched {
        let _ = writeln!(md, "- {}.", change_sentence(m));
    }
    for (side, labels) in [("A", &c.only_a), ("B", &c.only_b)] {
        if !labels.is_empty() {
            let _ = writeln!(
                md,
                "- Only in {side}: {} (nothing to compare with).",
                labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    md.push('\n');

    if !c.matched.is_empty() {
        md.push_str("## Page load time per configuration\n\n");
        let _ = writeln!(
            md,
            "| {} |\n|---|{}",
            CHANGE_COLUMNS.join(" | "),
            "---:|".repeat(CHANGE_COLUMNS.len() - 1)
        );
        for (label, cells) in change_rows(c) {
            let _ = writeln!(md, "| `{label}` | {} |", cells.join(" | "));
        }
        let _ = writeln!(md, "\n{CHANGE_NOTE}\n");
    }

    md.push_str("## Conditions\n\n| | A | B |\n|---|---|---|\n");
    for (name, cell) in conditions(a, b, c) {
        let _ = writeln!(md, "| {name} | {} | {} |", cell.0, cell.1);
    }
    md.push_str(
        "\nEach side's full report (waterfalls, connections, every request) is `report.md` and \
         `report.html` in its folder.\n",
    );
    md
}

/// The columns of the table of changes, one row per configuration both sides ran.
pub(crate) const CHANGE_COLUMNS: [&str; 7] = [
    "configuration",
    "median A",
    "median B",
    "B − A",
    "B / A (95% CI)",
    "Mann–Whitney",
    "repetitions A / B",
];

/// What the table of changes' numbers are.
pub(crate) const CHANGE_NOTE: &str = "B / A is the ratio of median page load times with its \
    bootstrap 95% interval (2,000 resamples, fixed seed); the p-value is a two-sided \
    Mann–Whitney U test, significant below 0.05.";

/// The table of changes: per configuration both sides ran, its label and the other columns'
/// cells as words.
pub(crate) fn change_rows(c: &Comparison) -> Vec<(&str, [String; 6])> {
    c.matched
        .iter()
        .map(|m| {
            (
                m.label.as_str(),
                [
                    format_duration(m.a.page_time_median),
                    format_duration(m.b.page_time_median),
                    signed_difference(m.a.page_time_median, m.b.page_time_median),
                    ratio_cell(m.change.as_ref()),
                    p_cell(m.change.as_ref()),
                    format!("{} / {}", m.a.repetitions, m.b.repetitions),
                ],
            )
        })
        .collect()
}

fn runs_word(runs: &[RunRecord]) -> String {
    format!(
        "{} run{}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    )
}

/// Whether a ratio of medians (or a bound of its interval) can be said as "k× slower/faster":
/// finite and above zero, which a median of zero on either side is not.
fn usable_ratio(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// `1.82× (1.61–2.04)`, or the ratio alone when it was not tested.
fn ratio_cell(c: Option<&MedianComparison>) -> String {
    match c {
        None => "–".to_string(),
        Some(c) if !usable_ratio(c.ratio) => "– (a median of 0)".to_string(),
        Some(c) => match c.ratio_ci {
            Some(ci) if usable_ratio(ci.low) && usable_ratio(ci.high) => {
                format!("{:.2}× ({:.2}–{:.2})", c.ratio, ci.low, ci.high)
            }
            _ => format!("{:.2}×", c.ratio),
        },
    }
}

/// `p = 0.008`, or why there is no p-value.
fn p_cell(c: Option<&MedianComparison>) -> String {
    match c.and_then(|c| c.test) {
        Some(t) => p_value(t.p),
        None => "not tested".to_string(),
    }
}

/// The conditions table's rows: (name, (A's cell, B's cell)), plain text with `code` marks.
pub(crate) fn conditions(
    a: &RunFolder,
    b: &RunFolder,
    c: &Comparison,
) -> Vec<(&'static str, (String, String))> {
    let row = |f: &dyn Fn(&RunFolder) -> String| (f(a), f(b));
    let configurations = |summaries: &[ProtocolSummary]| {
        summaries
            .iter()
            .map(|s| format!("`{}` × {}", s.label, s.repetitions))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        ("folder", row(&|f| format!("`{}`", f.dir.display()))),
        (
            "scenario",
            row(&|f| {
                if f.scenario_description.trim().is_empty() {
                    format!("`{}`", f.scenario_name)
                } else {
                    format!("`{}` — {}", f.scenario_name, f.scenario_description.trim())
                }
            }),
        ),
        (
            "configurations",
            (
                configurations(&c.summaries_a),
                configurations(&c.summaries_b),
            ),
        ),
        ("network", row(&|f| f.network_sentence())),
        ("link self-check", row(&|f| f.link_sentence())),
        ("httplab", row(&|f| or_unknown(&f.env.httplab_version))),
        (
            "machine",
            row(&|f| {
                format!(
                    "{}, kernel {}, congestion control {}",
                    or_unknown(&f.env.hostname),
                    or_unknown(&f.env.kernel),
                    or_unknown(&f.env.congestion_control)
                )
            }),
        ),
        (
            "command",
            row(&|f| {
                if f.env.command_line.is_empty() {
                    "unknown".to_string()
                } else {
                    format!("`{}`", f.env.command_line)
                }
            }),
        ),
    ]
}

/// Writes `compare.md` and `compare.html` of `c`, the comparison of `a` and `b`, into `out`
/// (created if needed); returns their paths.
pub fn write_compare(
    out: &Path,
    a: &RunFolder,
    b: &RunFolder,
    c: &Comparison,
    version: &str,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let md = out.join("compare.md");
    write_file(&md, compare_markdown(a, b, c).as_bytes())?;
    let html = out.join("compare.html");
    write_file(
        &html,
        crate::html::compare::compare_html(a, b, c, version).as_bytes(),
    )?;
    Ok(vec![md, html])
}

#[cfg(test)]
mod tests;
