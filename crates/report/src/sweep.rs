//! `httplab sweep`'s summary: page load time per configuration against the value of one varied
//! scenario key (`network.rtt`, `network.loss`, `server.think`…), across the report folders of
//! its points. It owns where each value sits on the x axis (durations, rates, sizes and
//! fractions are parsed with core's units so 20, 50 and 200 ms are spaced as numbers; anything
//! else is a category in the order given), which configuration won at each value and whether
//! that is significant, each point's folder name, and `sweep.json` and `sweep.md`; the chart
//! and page are `html::sweep`'s and `html::line_chart`'s. Each point's own report folder is
//! `write_all`'s. It runs nothing: the points arrive with their runs.

use crate::network::{link_check, network_sentence};
use crate::summary::{summarize, ProtocolSummary};
use crate::verdict::p_value;
use crate::{write_file, write_json, Environment, ReportError};
use httplab_core::serde_ms::round_ms;
use httplab_core::stats;
use httplab_core::units::{
    format_duration, parse_duration, parse_fraction, parse_rate, parse_size,
};
use httplab_core::{RunRecord, Scenario};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The schema id at the top of every sweep.json; bumped on incompatible changes.
pub const SWEEP_SCHEMA: &str = "httplab-sweep/1";

/// Page times within this fraction of each other are "about the same" when untested (as the
/// run report's verdict says).
const NOISE: f64 = 0.05;

/// One value of the varied key, with what ran under it.
#[derive(Debug, Clone)]
pub struct SweepPoint {
    /// The value as the user wrote it, e.g. `20ms`.
    pub value: String,
    /// The scenario with the value applied.
    pub scenario: Scenario,
    pub runs: Vec<RunRecord>,
    /// The environment its report folder records (notes say why a run was on loopback).
    pub env: Environment,
}

/// What the varied values are, as far as spacing them goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    /// `20ms`, `1.5s`: positions in milliseconds.
    Duration,
    /// `10mbit`: positions in bits per second.
    Rate,
    /// `14kb`: positions in bytes.
    Size,
    /// `2%`, or a mix of percentages and plain numbers: positions as fractions.
    Fraction,
    /// Plain numbers (`count`, `max_connections_per_host`).
    Number,
    /// Anything else (`ie7`, `true`): evenly spaced in the order given.
    Categorical,
}

impl AxisKind {
    /// The id sweep.json writes.
    pub fn id(self) -> &'static str {
        match self {
            AxisKind::Duration => "duration",
            AxisKind::Rate => "rate",
            AxisKind::Size => "size",
            AxisKind::Fraction => "fraction",
            AxisKind::Number => "number",
            AxisKind::Categorical => "categorical",
        }
    }

    /// The unit of `numbers`' values, `None` for categories.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            AxisKind::Duration => Some("ms"),
            AxisKind::Rate => Some("bit/s"),
            AxisKind::Size => Some("bytes"),
            AxisKind::Fraction => Some("fraction"),
            AxisKind::Number => Some("number"),
            AxisKind::Categorical => None,
        }
    }
}

/// The values on the x axis: their kind, each one's number (in `kind.unit()`; empty for
/// categories), and where each sits from 0 (left) to 1 (right).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub kind: AxisKind,
    pub numbers: Vec<f64>,
    pub positions: Vec<f64>,
    /// Whether positions are logarithmic (positive values spanning a factor of 50 or more).
    pub log: bool,
    /// Whether the axis starts at zero (then a `0` tick is drawn).
    pub from_zero: bool,
}

/// A spread this wide of positive values is drawn on a log scale, so the small ones do not
/// crowd at the left (1, 10, 100 Mbit/s).
const LOG_SPAN: f64 = 50.0;

/// Reads the values as numbers where they all share one kind, and places them.
pub(crate) fn axis(values: &[String]) -> Axis {
    let all = |f: &dyn Fn(&str) -> Option<f64>| -> Option<Vec<f64>> {
        values.iter().map(|v| f(v.trim())).collect()
    };
    let bare = all(&|v| v.parse::<f64>().ok().filter(|x| x.is_finite()));
    let parsed = bare
        .map(|n| (AxisKind::Number, n))
        .or_else(|| {
            all(&|v| parse_duration(v).ok().map(|d| d.as_secs_f64() * 1e3))
                .map(|n| (AxisKind::Duration, n))
        })
        .or_else(|| all(&|v| parse_rate(v).ok().map(|r| r as f64)).map(|n| (AxisKind::Rate, n)))
        .or_else(|| all(&|v| parse_fraction(v).ok()).map(|n| (AxisKind::Fraction, n)))
        .or_else(|| all(&|v| parse_size(v).ok().map(|s| s as f64)).map(|n| (AxisKind::Size, n)));
    let Some((kind, numbers)) = parsed.filter(|_| !values.is_empty()) else {
        let n = values.len();
        return Axis {
            kind: AxisKind::Categorical,
            numbers: Vec::new(),
            positions: (0..n)
                .map(|i| {
                    if n == 1 {
                        0.5
                    } else {
                        i as f64 / (n - 1) as f64
                    }
                })
                .collect(),
            log: false,
            from_zero: false,
        };
    };
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log = min > 0.0 && max / min >= LOG_SPAN;
    // From zero unless zero is far below the values (they would crowd at the right).
    let from_zero = !log && min >= 0.0 && min < 0.5 * max;
    let positions = numbers
        .iter()
        .map(|&v| {
            let (v, lo, hi) = if log {
                (v.ln(), min.ln(), max.ln())
            } else if from_zero {
                (v, 0.0, max)
            } else {
                (v, min, max)
            };
            if hi > lo {
                (v - lo) / (hi - lo)
            } else {
                0.5
            }
        })
        .collect();
    Axis {
        kind,
        numbers,
        positions,
        log,
        from_zero,
    }
}

/// The folder of one point inside the sweep's folder: `KEY=VALUE`, with characters a path
/// cannot hold (`/`, `\`, control characters) as `_`.
pub fn point_folder(key: &str, value: &str) -> String {
    format!("{key}={value}")
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Which configuration won at one value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PointVerdict {
    /// Lowest median page time.
    pub fastest: Option<String>,
    /// The fastest one, when it beat the runner-up significantly (or, untested, by more than
    /// noise).
    pub winner: Option<String>,
    /// Mann–Whitney p of the fastest against the runner-up, when tested.
    pub p: Option<f64>,
    /// In words, plain text: "h2: 1.8× faster than http1.1 (p = 0.008)".
    pub sentence: String,
}

/// Compares the fastest configuration with the runner-up.
pub(crate) fn point_verdict(summaries: &[ProtocolSummary]) -> PointVerdict {
    let mut by_time: Vec<&ProtocolSummary> = summaries.iter().collect();
    by_time.sort_by_key(|s| s.page_time_median);
    let none = |sentence: String| PointVerdict {
        fastest: by_time.first().map(|s| s.label.clone()),
        winner: None,
        p: None,
        sentence,
    };
    let (fast, runner) = match by_time.as_slice() {
        [] => return none("no runs".to_string()),
        [only] => return none(format!("only {} ran", only.label)),
        [fast, runner, ..] => (*fast, *runner),
    };
    let Some(c) = stats::compare_medians(&fast.page_times, &runner.page_times) else {
        return none("no page times".to_string());
    };
    let times = if c.ratio < 1.095 {
        format!("{:.2}×", c.ratio)
    } else {
        format!("{:.1}×", c.ratio)
    };
    let won = |p: Option<f64>, note: String| PointVerdict {
        fastest: Some(fast.label.clone()),
        winner: Some(fast.label.clone()),
        p,
        sentence: format!(
            "{}: {times} faster than {} ({note})",
            fast.label, runner.label
        ),
    };
    match c.test {
        Some(t) if c.significant() => won(Some(t.p), p_value(t.p)),
        Some(t) => PointVerdict {
            p: Some(t.p),
            ..none(format!(
                "no significant difference between {} and {} ({})",
                fast.label,
                runner.label,
                p_value(t.p)
            ))
        },
        None if c.ratio > 1.0 + NOISE => won(None, "not tested".to_string()),
        None => none(format!(
            "{} and {} within {:.0}% (not tested)",
            fast.label,
            runner.label,
            NOISE * 100.0
        )),
    }
}

/// One point with its summaries, where the reports put it.
pub(crate) struct Placed<'a> {
    pub point: &'a SweepPoint,
    pub summaries: Vec<ProtocolSummary>,
    /// Index into the points as given (and into `Axis::numbers` and `Axis::positions`).
    pub index: usize,
}

/// A sweep, analysed once for sweep.json, sweep.md and sweep.html: the points in x order
/// (numeric axes) or as given (categories), each with its summaries, the axis over the values
/// as given and every configuration label in order of first appearance.
pub struct SweepAnalysis<'a> {
    pub(crate) key: &'a str,
    /// The points as given.
    pub(crate) given: &'a [SweepPoint],
    pub(crate) axis: Axis,
    pub(crate) points: Vec<Placed<'a>>,
    pub(crate) labels: Vec<String>,
    /// Values the sweep planned but did not finish (it was interrupted), in plan order.
    pub(crate) unfinished: Vec<String>,
}

impl<'a> SweepAnalysis<'a> {
    /// Analyses the sweep of `key` over `points`.
    pub fn new(key: &'a str, points: &'a [SweepPoint]) -> Self {
        let Ordered {
            axis,
            points: placed,
            labels,
        } = ordered(points);
        Self {
            key,
            given: points,
            axis,
            points: placed,
            labels,
            unfinished: Vec::new(),
        }
    }

    /// Marks the sweep interrupted before `values` finished: sweep.json says
    /// `"complete": false` and lists them, and sweep.md and sweep.html say so at the top.
    pub fn unfinished(mut self, values: &[String]) -> Self {
        self.unfinished = values.to_vec();
        self
    }

    /// The incomplete-sweep sentence, if values did not finish.
    pub(crate) fn unfinished_sentence(&self) -> Option<String> {
        (!self.unfinished.is_empty()).then(|| {
            format!(
                "Incomplete sweep: it was interrupted; {}={} did not finish (a point's own \
                 folder holds the repetitions that did).",
                self.key,
                self.unfinished.join(", ")
            )
        })
    }
}

struct Ordered<'a> {
    axis: Axis,
    points: Vec<Placed<'a>>,
    labels: Vec<String>,
}

fn ordered(points: &[SweepPoint]) -> Ordered<'_> {
    let values: Vec<String> = points.iter().map(|p| p.value.clone()).collect();
    let axis = axis(&values);
    let mut order: Vec<usize> = (0..points.len()).collect();
    if axis.kind != AxisKind::Categorical {
        order.sort_by(|&a, &b| axis.numbers[a].total_cmp(&axis.numbers[b]));
    }
    let placed: Vec<Placed> = order
        .into_iter()
        .map(|index| Placed {
            point: &points[index],
            summaries: summarize(&points[index].runs),
            index,
        })
        .collect();
    let mut labels: Vec<String> = Vec::new();
    for s in placed.iter().flat_map(|p| p.summaries.iter()) {
        if !labels.contains(&s.label) {
            labels.push(s.label.clone());
        }
    }
    Ordered {
        axis,
        points: placed,
        labels,
    }
}

/// `sweep.json`: every point's per-configuration medians with their intervals, and the winner.
pub fn sweep_json(o: &SweepAnalysis<'_>) -> Value {
    let (key, points) = (o.key, o.given);
    let ms = |d: Option<std::time::Duration>| d.map(round_ms);
    json!({
        "schema": SWEEP_SCHEMA,
        "complete": o.unfinished.is_empty(),
        "unfinished": o.unfinished,
        "scenario": points.first().map(|p| p.scenario.name.clone()),
        "key": key,
        "axis": {
            "kind": o.axis.kind.id(),
            "unit": o.axis.kind.unit(),
            "log": o.axis.log,
        },
        "labels": o.labels,
        "points": o.points.iter().map(|placed| {
            let (p, summaries) = (placed.point, &placed.summaries);
            let v = point_verdict(summaries);
            json!({
                "value": p.value,
                "x": o.axis.numbers.get(placed.index),
                "folder": point_folder(key, &p.value),
                "results": summaries.iter().map(|s| json!({
                    "label": s.label,
                    "protocol": s.protocol.id(),
                    "repetitions": s.repetitions,
                    "page_time_median_ms": round_ms(s.page_time_median),
                    "page_time_median_ci_low_ms": ms(s.page_time_median_ci.map(|c| c.low)),
                    "page_time_median_ci_high_ms": ms(s.page_time_median_ci.map(|c| c.high)),
                    "page_time_min_ms": round_ms(s.page_time_min),
                    "page_time_max_ms": round_ms(s.page_time_max),
                    "failed_requests": s.failed_requests,
                })).collect::<Vec<_>>(),
                "fastest": v.fastest,
                "winner": v.winner,
                "p": v.p,
                "verdict": v.sentence,
                "link_trustworthy": link_check(&p.runs).map(|c| c.trustworthy()),
            })
        }).collect::<Vec<_>>(),
    })
}

/// A median with its interval, for tables: `41.2ms (39.8–43.0)`.
pub(crate) fn median_cell(s: &ProtocolSummary) -> String {
    match s.page_time_median_ci {
        Some(ci) => format!(
            "{} ({}–{})",
            format_duration(s.page_time_median),
            format_duration(ci.low),
            format_duration(ci.high)
        ),
        None => format_duration(s.page_time_median),
    }
}

/// One sentence on what was varied and how often each configuration ran.
pub(crate) fn intro(o: &SweepAnalysis<'_>) -> String {
    let key = o.key;
    let values: Vec<&str> = o.given.iter().map(|p| p.value.as_str()).collect();
    let reps: Vec<usize> = o
        .points
        .iter()
        .flat_map(|p| p.summaries.iter().map(|s| s.repetitions))
        .collect();
    let reps = match (reps.iter().min(), reps.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} repetition{}", plural(*lo)),
        (Some(lo), Some(hi)) => format!("{lo} to {hi} repetitions"),
        _ => "no runs".to_string(),
    };
    format!(
        "{key} varied over {} ({} value{}), every other key as the scenario file and --set say; \
         {reps} of each configuration at each value.",
        values.join(", "),
        values.len(),
        plural(values.len())
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Where the sweep ran, in one sentence (Markdown: the command in `code`).
pub(crate) fn environment_sentence(env: &Environment) -> String {
    let or_unknown = |s: &str| {
        if s.trim().is_empty() {
            "unknown".to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "httplab {}, host {}, kernel {}, congestion control {}. Command: `{}`.",
        or_unknown(&env.httplab_version),
        or_unknown(&env.hostname),
        or_unknown(&env.kernel),
        or_unknown(&env.congestion_control),
        or_unknown(&env.command_line)
    )
}

/// `sweep.md`.
pub fn sweep_markdown(o: &SweepAnalysis<'_>) -> String {
    let (key, points) = (o.key, o.given);
    let mut md = String::new();
    let name = points.first().map_or("", |p| p.scenario.name.as_str());
    let _ = writeln!(md, "# httplab sweep: {name} over {key}\n");
    if let Some(sentence) = o.unfinished_sentence() {
        let _ = writeln!(md, "> **{sentence}**\n");
    }
    let _ = writeln!(md, "{}\n", intro(o));
    for p in o.points.iter().map(|p| p.point) {
        if let Some(check) = link_check(&p.runs).filter(|c| !c.trustworthy()) {
            let _ = writeln!(md, "> **{key}={}: {}**\n", p.value, check.sentence());
        }
    }
    md.push_str(
        "## Page load time, median (bootstrap 95% interval)\n\nThe chart is in \
         [sweep.html](sweep.html); the winner is the fastest configuration when a two-sided \
         Mann–Whitney U test against the runner-up finds p < 0.05.\n\n",
    );
    let _ = write!(md, "| {key} |");
    for l in &o.labels {
        let _ = write!(md, " `{l}` |");
    }
    md.push_str(" winner |\n|---|");
    for _ in &o.labels {
        md.push_str("---:|");
    }
    md.push_str("---|\n");
    for Placed {
        point: p,
        summaries,
        ..
    } in &o.points
    {
        let _ = write!(md, "| {} |", p.value);
        for l in &o.labels {
            let cell = summaries
                .iter()
                .find(|s| &s.label == l)
                .map_or_else(|| "–".to_string(), median_cell);
            let _ = write!(md, " {cell} |");
        }
        let _ = writeln!(md, " {} |", point_verdict(summaries).sentence);
    }
    md.push_str("\n## Each value's report\n\n");
    for p in o.points.iter().map(|p| p.point) {
        let folder = point_folder(key, &p.value);
        let _ = writeln!(
            md,
            "- `{key}={}`: [report.md](<{folder}/report.md>), [report.html](<{folder}/report.html>) \
             — network: {}",
            p.value,
            network_sentence(&p.scenario, &p.runs, &p.env)
        );
    }
    if let Some(env) = points.first().map(|p| &p.env) {
        let _ = writeln!(md, "\n## Environment\n\n{}", environment_sentence(env));
    }
    md
}

/// Writes sweep.json, sweep.md and sweep.html into `dir` (created if needed); returns their
/// paths. Each point's own report folder is `write_all`'s, into `dir/point_folder(…)`.
pub fn write_sweep(
    dir: &Path,
    key: &str,
    points: &[SweepPoint],
    unfinished: &[String],
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let analysis = SweepAnalysis::new(key, points).unfinished(unfinished);
    let json_path = dir.join("sweep.json");
    write_json(&json_path, &sweep_json(&analysis))?;
    let md = dir.join("sweep.md");
    write_file(&md, sweep_markdown(&analysis).as_bytes())?;
    let html = dir.join("sweep.html");
    write_file(&html, crate::html::sweep::sweep_html(&analysis).as_bytes())?;
    Ok(vec![json_path, md, html])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn durations_rates_sizes_and_fractions_are_spaced_as_numbers() {
        let a = axis(&values(&["20ms", "50ms", "100ms", "200ms"]));
        assert_eq!(a.kind, AxisKind::Duration);
        assert_eq!(a.numbers, [20.0, 50.0, 100.0, 200.0]);
        assert_eq!(a.positions, [0.1, 0.25, 0.5, 1.0]);
        assert!(a.from_zero && !a.log);
        let a = axis(&values(&["1s", "500ms"]));
        assert_eq!(
            (a.kind, a.numbers.clone()),
            (AxisKind::Duration, vec![1000.0, 500.0])
        );
        // Close together far from zero: the axis spans the values only.
        assert_eq!(a.positions, [1.0, 0.0]);
        assert!(!a.from_zero);
        let a = axis(&values(&["1mbit", "10mbit", "100mbit"]));
        assert_eq!(a.kind, AxisKind::Rate);
        assert!(a.log);
        assert_eq!(a.positions[0], 0.0);
        assert!((a.positions[1] - 0.5).abs() < 1e-12 && a.positions[2] == 1.0);
        let a = axis(&values(&["0%", "1%", "2%"]));
        assert_eq!(a.kind, AxisKind::Fraction);
        assert_eq!(a.numbers, [0.0, 0.01, 0.02]);
        assert_eq!(a.positions, [0.0, 0.5, 1.0]);
        let a = axis(&values(&["10kb", "100kb"]));
        assert_eq!(
            (a.kind, a.numbers.clone()),
            (AxisKind::Size, vec![1e4, 1e5])
        );
        let a = axis(&values(&["2", "6", "13"]));
        assert_eq!(a.kind, AxisKind::Number);
        assert!(a.from_zero);
    }

    #[test]
    fn anything_else_is_categorical_in_the_order_given() {
        let a = axis(&values(&["ie7", "chrome", "ie11"]));
        assert_eq!(a.kind, AxisKind::Categorical);
        assert_eq!(a.positions, [0.0, 0.5, 1.0]);
        assert!(a.numbers.is_empty());
        // One duration among words: categories.
        assert_eq!(axis(&values(&["20ms", "fast"])).kind, AxisKind::Categorical);
        assert_eq!(axis(&values(&["uniform(5ms,50ms)"])).positions, [0.5]);
    }

    #[test]
    fn folder_names_hold_no_path_separators() {
        assert_eq!(point_folder("network.rtt", "20ms"), "network.rtt=20ms");
        assert_eq!(
            point_folder("server.think", "a/b\\c\n"),
            "server.think=a_b_c_"
        );
    }

    fn summaries(a: &[u64], b: &[u64]) -> Vec<ProtocolSummary> {
        let runs: Vec<RunRecord> = a
            .iter()
            .enumerate()
            .map(|(i, &t)| RunBuilder::http11(i as u32, t).build())
            .chain(
                b.iter()
                    .enumerate()
                    .map(|(i, &t)| RunBuilder::h2(i as u32, t).build()),
            )
            .collect();
        summarize(&runs)
    }

    #[test]
    fn the_winner_needs_a_significant_or_untested_but_clear_lead() {
        let v = point_verdict(&summaries(&[40, 41, 42, 43, 44], &[20, 21, 22, 23, 24]));
        assert_eq!(v.sentence, "h2: 1.9× faster than http1.1 (p = 0.008)");
        assert_eq!(v.winner.as_deref(), Some("h2"));
        let v = point_verdict(&summaries(&[20, 22, 24, 26, 28], &[21, 23, 25, 27, 29]));
        assert_eq!(
            v.sentence,
            "no significant difference between http1.1 and h2 (p = 0.69)"
        );
        assert_eq!((v.fastest.as_deref(), v.winner), (Some("http1.1"), None));
        let v = point_verdict(&summaries(&[40, 41, 42], &[20, 21, 22]));
        assert_eq!(v.sentence, "h2: 2.0× faster than http1.1 (not tested)");
        assert_eq!(v.p, None);
        let v = point_verdict(&summaries(&[100, 101, 102], &[99, 100, 101]));
        assert_eq!(v.sentence, "h2 and http1.1 within 5% (not tested)");
        assert_eq!(v.winner, None);
        assert_eq!(
            point_verdict(&summaries(&[1], &[])).sentence,
            "only http1.1 ran"
        );
    }

    fn point(value: &str, http11: &[u64], h2: &[u64]) -> SweepPoint {
        let runs = http11
            .iter()
            .enumerate()
            .map(|(i, &t)| RunBuilder::http11(i as u32, t).build())
            .chain(
                h2.iter()
                    .enumerate()
                    .map(|(i, &t)| RunBuilder::h2(i as u32, t).build()),
            )
            .collect();
        SweepPoint {
            value: value.into(),
            scenario: scenario(),
            runs,
            env: Environment::default(),
        }
    }

    #[test]
    fn json_and_markdown_in_x_order() {
        // Given out of order: reported by value.
        let points = vec![
            point("40ms", &[90, 91, 92], &[50, 51, 52]),
            point("1ms", &[10, 11, 12], &[8, 9, 10]),
            point("20ms", &[50, 51, 52], &[30, 31, 32]),
        ];
        let doc = sweep_json(&SweepAnalysis::new("server.think", &points));
        assert_eq!(doc["schema"], "httplab-sweep/1");
        assert_eq!(doc["axis"]["kind"], "duration");
        assert_eq!(doc["labels"], json!(["http1.1", "h2"]));
        let p = &doc["points"];
        assert_eq!(p[0]["value"], "1ms");
        assert_eq!(p[0]["x"], 1.0);
        assert_eq!(p[2]["x"], 40.0);
        assert_eq!(p[1]["folder"], "server.think=20ms");
        assert_eq!(p[1]["results"][1]["label"], "h2");
        assert_eq!(p[1]["results"][1]["page_time_median_ms"], 31.0);
        assert_eq!(p[2]["results"][0]["page_time_median_ms"], 91.0);
        assert_eq!(p[2]["fastest"], "h2");
        let md = sweep_markdown(&SweepAnalysis::new("server.think", &points));
        assert!(md.starts_with("# httplab sweep: four-objects over server.think\n"));
        assert!(
            md.contains("| server.think | `http1.1` | `h2` | winner |"),
            "{md}"
        );
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert!(rows[1].starts_with("| 1ms | 11.0ms ("), "{md}");
        assert!(rows[3].starts_with("| 40ms | 91.0ms ("), "{md}");
        assert!(
            rows[3].ends_with("| h2: 1.8× faster than http1.1 (not tested) |"),
            "{md}"
        );
        assert!(md.contains("[report.html](<server.think=20ms/report.html>)"));
    }
}
