//! `httplab run` and `httplab sweep`: a scenario becomes one experiment, or one experiment per
//! value of a key, whose runs are analysed once and written as report folders. This module
//! wires the command line to the harness (`run_experiment`, `SweepPlan`) and the report crate
//! (`Analysis`, `write_all`, `write_sweep`), parses `--vary`, and prints what was written.

use crate::out_dir::{self, Chosen};
use crate::scenario_args::{ids, load_with_source, overrides, parse, read_source, Choices};
use crate::servers::{external_sentence, prepare_target, suit_external, ServerFacts, TargetArgs};
use crate::signals::{Signal, Signals, Stopped};
use crate::{paths, ProgressBar, RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_core::{units, RequestRecord, Respond, RunRecord, Scenario};
use httplab_harness::{
    available_congestion_controls, planned_runs, run_experiment, Ending, Experiment,
    ExternalOptions, HostFacts, LabOptions, LinkMode, Progress, SweepPlan,
};
use httplab_report::{
    read_journal, Analysis, Environment, Interruption, RunJournal, SweepPoint, JOURNAL_FILE,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `httplab run SCENARIO`: every configuration `repeat` times, then the reports. The output
/// folder is made ready (and its writability checked) before the first repetition, each
/// finished repetition is journalled, and a run stopped by a signal or an error still writes
/// the reports of what finished, marked incomplete.
pub(crate) async fn run(
    path: &Path,
    args: &RunArgs,
    pcap: Option<PathBuf>,
    external: Option<ExternalOptions>,
    target: Option<TargetArgs>,
) -> Result<()> {
    let (mut scenario, source) = load_with_source(path, &args.set)?;
    Choices::read(args.protocols.as_deref(), args.repeat)?.apply(&mut scenario)?;
    if let Some(ext) = &external {
        suit_external(&mut scenario, ext)?;
    }
    let target = match &target {
        Some(t) => Some(prepare_target(t, args, &mut scenario).await?),
        None => None,
    };
    crate::budget::enforce(&[&scenario], args.repeat, args.force)?;
    let recipe = recipe(path, &source, &args.set, &scenario);
    if pcap.is_some() && (scenario.network.is_none() || args.no_link) {
        return Err(UsageError(
            "--pcap records the emulated link's packets: the scenario needs a [network] table \
             (e.g. --set network.rtt=40ms), and --no-link switches the link off"
                .into(),
        )
        .into());
    }
    let (out, chosen) = output_folder(args, || Path::new("reports").join(&scenario.name));
    let moved = out_dir::prepare(&out, chosen, args.force)?;
    let signals = Signals::install().context("installing the SIGINT/SIGTERM handlers")?;
    if let Some(note) = &moved {
        eprintln!("{note}");
    }
    let scenario = Arc::new(scenario);
    let bar = ProgressBar::new(args.quiet, planned_runs(&scenario));
    bar.message(format!(
        "`{}` over {}",
        scenario.name,
        ids(&scenario.protocols)
    ));
    let options = LabOptions {
        pcap: pcap.clone(),
        external: external.clone(),
        target: target.as_ref().map(|t| t.options.clone()),
        ..lab_options(args)
    };
    // Whose server it was goes into the journal's header too, so `httplab report` says it.
    let facts = ServerFacts {
        server: external
            .as_ref()
            .map(external_sentence)
            .or_else(|| target.as_ref().map(|t| t.server.clone())),
        real_network: target.as_ref().map(|t| t.network.clone()),
    };
    let recorded = record(&out, &scenario, &recipe, options, &signals, &facts, |p| {
        bar.note_once(p.network_note.as_deref());
        bar.message(format!(
            "{} repetition {}/{}",
            p.label,
            p.repetition + 1,
            scenario.repeat
        ));
        bar.position(p.done, p.total);
    })
    .await;
    bar.finish();
    let recorded = recorded?;
    let analysis = recorded.analysis(&scenario);
    let written = recorded.write(&out, &analysis)?;
    if !args.quiet {
        for s in analysis.summaries() {
            println!(
                "{:<26} page {:>9} median ({:>9} p95), {:>5.1} connections, mean blocked {:>8}, mean TTFB {:>8}{}",
                s.label,
                units::format_duration(s.page_time_median),
                units::format_duration(s.page_time_p95),
                s.connections_opened,
                units::format_duration(s.mean_blocked),
                units::format_duration(s.mean_ttfb),
                if s.failed_requests > 0 { format!(", {} FAILED requests", s.failed_requests) } else { String::new() },
            );
        }
        for line in analysis.network_lines() {
            println!("{line}");
        }
        println!("wrote {} files to {}:", written.len(), out.display());
        for f in &written {
            println!("  {}", f.display());
        }
        if let Some(pcap) = &pcap {
            println!("  {} (every packet the link carried)", pcap.display());
        }
    }
    recorded.outcome(&scenario, &signals)
}

/// `httplab sweep SCENARIO --vary KEY=V1,V2,...`: plans every value (refusing a bad one before
/// anything runs), runs each as an experiment of its own, writes each value's report folder as
/// it finishes, then sweep.json, sweep.md and sweep.html. A signal stops it after writing the
/// point in flight (marked incomplete) and the sweep of the points that finished. With
/// `--shard K/N` it runs value i where i mod N is K, and says so in `shard.json`.
pub(crate) async fn sweep(
    path: &Path,
    vary: &str,
    shard: Option<&str>,
    args: &RunArgs,
) -> Result<()> {
    let shard = crate::shard::from_arg(shard)?;
    let set = overrides(&args.set)?;
    let source = read_source(path)?;
    let (key, values) = parse_vary(vary).map_err(|e| UsageError(e.to_string()))?;
    let mut plan = SweepPlan::new(&source, &path.display().to_string(), &set, &key, &values)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(available) = available_congestion_controls() {
        plan.check_congestion_control(&available)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let choices = Choices::read(args.protocols.as_deref(), args.repeat)?;
    for point in &mut plan.points {
        choices.apply(&mut point.scenario)?;
    }
    let name = plan
        .points
        .first()
        .map_or_else(String::new, |p| p.scenario.name.clone());
    let record_shard = shard.map(|s| {
        let values: Vec<String> = plan.points.iter().map(|p| p.value.clone()).collect();
        crate::shard::SweepShard::new(s, (path, &source), args, &name, &key, values)
    });
    if let Some(s) = shard {
        plan.points = std::mem::take(&mut plan.points)
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| s.keeps(i as u64).then_some(p))
            .collect();
    }
    let scenarios: Vec<_> = plan.points.iter().map(|p| &p.scenario).collect();
    crate::budget::enforce(&scenarios, args.repeat, args.force)?;
    let (out, chosen) = output_folder(args, || {
        Path::new("reports").join(format!(
            "{name}-sweep-{key}{}",
            crate::shard::folder_suffix(shard)
        ))
    });
    let moved = out_dir::prepare(&out, chosen, args.force)?;
    if let Some(record) = &record_shard {
        record.write(&out)?;
        if plan.points.is_empty() {
            println!(
                "shard {}/{} of a sweep of {} values has no value to run; wrote {}",
                record.shard.index,
                record.shard.count,
                record.values.len(),
                out.join(crate::shard::SHARD_FILE).display()
            );
            return Ok(());
        }
    }
    let signals = Signals::install().context("installing the SIGINT/SIGTERM handlers")?;
    if let Some(note) = &moved {
        eprintln!("{note}");
    }
    let total: usize = plan.points.iter().map(|p| planned_runs(&p.scenario)).sum();
    let bar = ProgressBar::new(args.quiet, total);
    let count = plan.points.len();
    let mut points: Vec<SweepPoint> = Vec::with_capacity(count);
    // One line per point for the terminal, from the analysis its reports were written from.
    let mut lines: Vec<String> = Vec::with_capacity(count);
    let mut done_before = 0;
    let mut stopped: Option<Result<()>> = None;
    let mut unfinished: Vec<String> = plan.points.iter().map(|p| p.value.clone()).collect();
    for (i, planned) in plan.points.into_iter().enumerate() {
        let scenario = Arc::new(planned.scenario);
        bar.message(format!("{key}={} ({}/{count})", planned.value, i + 1));
        let dir = out.join(httplab_report::point_folder(&key, &planned.value));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the point's folder {}", dir.display()))?;
        let mut set = args.set.clone();
        set.push(format!("{key}={}", planned.value));
        let recipe = recipe(path, &source, &set, &scenario);
        let facts = ServerFacts::default();
        let recorded = record(
            &dir,
            &scenario,
            &recipe,
            lab_options(args),
            &signals,
            &facts,
            |p| {
                bar.note_once(p.network_note.as_deref());
                bar.position(done_before + p.done, total);
            },
        )
        .await?;
        done_before += planned_runs(&scenario);
        let analysis = recorded.analysis(&scenario);
        recorded.write(&dir, &analysis)?;
        let medians: Vec<String> = analysis
            .summaries()
            .iter()
            .map(|s| format!("{} {}", s.label, units::format_duration(s.page_time_median)))
            .collect();
        lines.push(format!(
            "{key}={:<12} median page {}",
            planned.value,
            medians.join(", ")
        ));
        drop(analysis);
        if !recorded.experiment.ending.is_finished() {
            // The point in flight is written (marked incomplete) but left out of the sweep.
            stopped = Some(recorded.outcome(&scenario, &signals));
            break;
        }
        unfinished.retain(|v| *v != planned.value);
        points.push(SweepPoint {
            value: planned.value,
            scenario: Arc::unwrap_or_clone(scenario),
            runs: recorded.experiment.runs,
            env: recorded.env,
        });
    }
    bar.finish();
    let written = httplab_report::write_sweep(&out, &key, &points, &unfinished)
        .with_context(|| format!("writing the sweep into {}", out.display()))?;
    if !args.quiet {
        for line in &lines {
            println!("{line}");
        }
        println!(
            "wrote {} and one report folder per value in {}",
            paths(&written),
            out.display()
        );
    }
    match stopped {
        Some(outcome) => outcome,
        None => match signals.received() {
            Some(signal) => Err(Stopped(signal).into()),
            None => Ok(()),
        },
    }
}

/// How `httplab report` rebuilds a scenario from a journal alone: the file's text, the
/// `--set` overrides (a sweep point's value among them), and the protocols and repetitions
/// the command line chose.
#[derive(Serialize, Deserialize)]
struct Recipe {
    file: String,
    source: String,
    set: Vec<String>,
    protocols: Vec<String>,
    repeat: u32,
}

/// `scenario`'s recipe, as the journal's header holds it.
fn recipe(path: &Path, source: &str, set: &[String], scenario: &Scenario) -> Value {
    serde_json::to_value(Recipe {
        file: path.display().to_string(),
        source: source.to_string(),
        set: set.to_vec(),
        protocols: scenario
            .protocols
            .iter()
            .map(|p| p.id().to_string())
            .collect(),
        repeat: scenario.repeat,
    })
    .unwrap_or(Value::Null)
}

/// `httplab report DIR`: the reports of a run killed before it wrote them, from its journal
/// (`runs.jsonl`), marked incomplete; the journal is removed once they are written.
pub(crate) fn report(dir: &Path) -> Result<()> {
    let path = dir.join(JOURNAL_FILE);
    if !path.is_file() {
        let why = if dir.join("results.json").is_file() {
            "its reports are written already (only a run killed before writing them leaves one)"
        } else {
            "is it a folder `httplab run` wrote?"
        };
        return Err(UsageError(format!("{}: no run journal; {why}", path.display())).into());
    }
    let journal =
        read_journal(&path).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
    let unreadable = |why: &str| UsageError(format!("{}: {why}", path.display()));
    let recipe: Recipe = journal
        .recipe
        .clone()
        .and_then(|r| serde_json::from_value(r).ok())
        .ok_or_else(|| unreadable("no recipe to rebuild the scenario from"))?;
    let mut scenario = parse(&recipe.source, &recipe.file, &recipe.set)?;
    Choices::read(Some(&recipe.protocols), Some(recipe.repeat))?.apply(&mut scenario)?;
    if journal.runs.is_empty() {
        return Err(
            unreadable("no repetition finished before the run stopped: nothing to report").into(),
        );
    }
    let analysis =
        Analysis::new(&scenario, &journal.runs, &journal.environment).interrupted(Interruption {
            reason: "killed before it wrote its reports (rebuilt from its run journal)".into(),
            runs_planned: journal.runs_planned,
        });
    let written = httplab_report::write_all(dir, &analysis)
        .with_context(|| format!("writing the reports into {}", dir.display()))?;
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    println!(
        "wrote the reports of {} of {} planned runs: {}",
        journal.runs.len(),
        journal.runs_planned,
        paths(&written)
    );
    Ok(())
}

/// The output folder and whether the user named it.
fn output_folder(args: &RunArgs, default: impl FnOnce() -> PathBuf) -> (PathBuf, Chosen) {
    match &args.out {
        Some(out) => (out.clone(), Chosen::Named),
        None => (default(), Chosen::Default),
    }
}

/// One experiment recorded into a prepared folder: its run journal holds each repetition as it
/// finishes, until the reports replace it.
struct Recorded {
    experiment: Experiment,
    env: Environment,
    /// Taken when the reports replace it (a `Cell`, as the analysis borrows the rest).
    journal: Cell<Option<RunJournal>>,
    runs_planned: usize,
    /// The signal that stopped the runs, if one did.
    signal: Option<Signal>,
}

/// Runs `scenario` with a journal in `dir`, reporting each finished repetition to `progress`,
/// until it ends or a signal stops it.
async fn record(
    dir: &Path,
    scenario: &Arc<Scenario>,
    recipe: &Value,
    options: LabOptions,
    signals: &Signals,
    facts: &ServerFacts,
    mut progress: impl FnMut(&Progress),
) -> Result<Recorded> {
    let runs_planned = planned_runs(scenario);
    let before = facts.apply(Environment {
        notes: Vec::new(),
        ..environment(&HostFacts::read(), None)
    });
    let mut journal = RunJournal::create(dir, scenario, &before, runs_planned, recipe)
        .with_context(|| format!("starting the run journal in {}", dir.display()))?;
    let mut journal_failed = false;
    let experiment = run_experiment(
        scenario.clone(),
        options,
        |p, run| {
            progress(&p);
            if let (Err(e), false) = (journal.append(run), journal_failed) {
                journal_failed = true;
                eprintln!(
                    "warning: {e}; the runs are kept in memory, but a run killed now loses them"
                );
            }
        },
        signals.stopped(),
    )
    .await;
    let experiment = match experiment {
        Ok(experiment) => experiment,
        Err(e) => {
            let _ = journal.remove();
            out_dir::remove_if_empty(dir);
            return Err(e.into());
        }
    };
    let env = facts.apply(environment(
        &experiment.host,
        experiment.network_note.clone(),
    ));
    Ok(Recorded {
        experiment,
        env,
        journal: Cell::new(Some(journal)),
        runs_planned,
        signal: signals.received(),
    })
}

impl Recorded {
    /// The analysis of the runs that finished, marked incomplete if they are not all.
    fn analysis<'a>(&'a self, scenario: &'a Scenario) -> Analysis<'a> {
        let analysis = Analysis::new(scenario, &self.experiment.runs, &self.env);
        let reason = match &self.experiment.ending {
            Ending::Finished => return analysis,
            Ending::Stopped => match self.signal {
                Some(signal) => format!("stopped by {signal}"),
                None => "stopped".to_string(),
            },
            Ending::Failed(e) => format!("stopped by an error ({e})"),
        };
        analysis.interrupted(Interruption {
            reason,
            runs_planned: self.runs_planned,
        })
    }

    /// Writes the reports into `dir`, then removes the journal they replace. A run stopped
    /// before any repetition finished writes nothing.
    fn write(&self, dir: &Path, analysis: &Analysis<'_>) -> Result<Vec<PathBuf>> {
        if self.experiment.runs.is_empty() && !self.experiment.ending.is_finished() {
            if let Some(journal) = self.journal.take() {
                let _ = journal.remove();
            }
            out_dir::remove_if_empty(dir);
            return Ok(Vec::new());
        }
        let written = httplab_report::write_all(dir, analysis)
            .with_context(|| format!("writing the reports into {}", dir.display()))?;
        if let Some(journal) = self.journal.take() {
            journal.remove()?;
        }
        Ok(written)
    }

    /// The command's result once the reports are written: the error or signal that stopped
    /// the runs, requests that failed where the scenario expected answers, or success.
    fn outcome(self, scenario: &Scenario, signals: &Signals) -> Result<()> {
        let finished = self.experiment.runs.len();
        match self.experiment.ending {
            Ending::Failed(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "the runs stopped after {finished} of {}; the reports hold those",
                    self.runs_planned
                )))
            }
            Ending::Stopped | Ending::Finished => {}
        }
        if let Some(signal) = signals.received() {
            return Err(Stopped(signal).into());
        }
        unexpected_failures(scenario, &self.experiment.runs)
    }
}

/// `path` as a message shows it: at most 80 characters, then how long it really is.
fn shortened(path: &str) -> String {
    const SHOWN: usize = 80;
    match path.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}… ({} bytes)", &path[..cut], path.len()),
        None => path.to_string(),
    }
}

/// An error naming the requests that failed although their resource is meant to answer (it
/// neither says `respond = "never"` nor sets a `request_timeout` the server may give up at).
fn unexpected_failures(scenario: &Scenario, runs: &[RunRecord]) -> Result<()> {
    let failed: Vec<(&RunRecord, &RequestRecord)> = runs
        .iter()
        .flat_map(|run| run.requests.iter().map(move |q| (run, q)))
        .filter(|(_, q)| q.error.is_some())
        .filter(|(_, q)| {
            scenario
                .resources
                .get(q.id as usize)
                .is_none_or(|r| r.respond == Respond::Always && r.request_timeout.is_none())
        })
        .collect();
    let Some((run, first)) = failed.first() else {
        return Ok(());
    };
    Err(anyhow::anyhow!(
        "{} request{} failed that the scenario expects answered; the first: {} {} over {} ({}) \
         — see the reports",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        first.method,
        shortened(&first.path),
        run.label(),
        first.error.as_deref().unwrap_or("failed")
    ))
}

/// The lab's options from the shared arguments.
fn lab_options(args: &RunArgs) -> LabOptions {
    LabOptions {
        link: if args.no_link {
            LinkMode::Off
        } else {
            LinkMode::Auto
        },
        ..LabOptions::default()
    }
}

/// The environment the reports show: the host's facts, this command line and the
/// experiment's network note.
fn environment(host: &HostFacts, network_note: Option<String>) -> Environment {
    let mut notes = vec![
        format!(
            "host tcp_slow_start_after_idle = {}",
            host.slow_start_after_idle
        ),
        format!("cpus = {}", host.cpus),
    ];
    notes.extend(network_note);
    Environment {
        httplab_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: host.hostname.clone(),
        kernel: host.kernel.clone(),
        congestion_control: host.congestion_control.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        notes,
        server: None,
        real_network: None,
    }
}

/// Why a `--vary` could not be read; each names the argument and what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum VaryError {
    #[error("--vary `{0}`: write KEY=V1,V2,..., e.g. --vary network.rtt=20ms,50ms,100ms")]
    Syntax(String),
    #[error("--vary {key}={list}: value {position} is empty; write V1,V2,... with no empty items")]
    EmptyValue {
        key: String,
        list: String,
        position: usize,
    },
    #[error("--vary {key}={list}: `{value}` is given twice; each value is one point of the sweep")]
    Duplicate {
        key: String,
        list: String,
        value: String,
    },
}

/// `KEY=V1,V2,...` as the key and its values, distinct and none empty.
pub(crate) fn parse_vary(vary: &str) -> Result<(String, Vec<String>), VaryError> {
    let syntax = || VaryError::Syntax(vary.to_string());
    let parsed: httplab_core::Override = vary.parse().map_err(|_| syntax())?;
    let (key, list) = (parsed.key, parsed.value);
    if list.is_empty() {
        return Err(syntax());
    }
    let mut values: Vec<String> = Vec::new();
    for (i, value) in split_values(&list).into_iter().enumerate() {
        if value.is_empty() {
            return Err(VaryError::EmptyValue {
                key,
                list,
                position: i + 1,
            });
        }
        if values.contains(&value) {
            return Err(VaryError::Duplicate { key, list, value });
        }
        values.push(value);
    }
    Ok((key, values))
}

/// Splits `V1,V2,...` at the commas that are not inside brackets, braces, parentheses or
/// quotes, so a think-time distribution (`uniform(5ms,50ms)`) or a TOML list is one value.
/// Items are trimmed; empty ones are kept (`parse_vary` refuses them with their position).
fn split_values(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut item = String::new();
    for c in list.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                out.push(item.trim().to_string());
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    out.push(item.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(vary: &str) -> Result<(String, Vec<String>), VaryError> {
        parse_vary(vary)
    }

    #[test]
    fn values_split_at_top_level_commas_only() {
        assert_eq!(split_values("20ms, 50ms ,100ms"), ["20ms", "50ms", "100ms"]);
        assert_eq!(
            split_values("uniform(5ms,50ms),2ms"),
            ["uniform(5ms,50ms)", "2ms"]
        );
        assert_eq!(
            split_values("[\"ie7\",\"chrome\"],\"a,b\""),
            ["[\"ie7\",\"chrome\"]", "\"a,b\""]
        );
        assert_eq!(split_values("a,,b"), ["a", "", "b"]);
    }

    #[test]
    fn bad_arguments_and_values_are_refused_before_anything_runs() {
        let e = plan("network.rtt").expect_err("no =").to_string();
        assert!(
            e.starts_with("--vary `network.rtt`: write KEY=V1,V2"),
            "{e}"
        );
        assert!(matches!(plan("network.rtt="), Err(VaryError::Syntax(_))));
        let e = plan("network.rtt=5ms,,10ms")
            .expect_err("empty")
            .to_string();
        assert_eq!(
            e,
            "--vary network.rtt=5ms,,10ms: value 2 is empty; write V1,V2,... with no empty items"
        );
        let e = plan("network.rtt=5ms,5ms").expect_err("twice").to_string();
        assert!(e.contains("`5ms` is given twice"), "{e}");
        assert_eq!(
            plan("network.rtt=5ms, uniform(1ms,2ms)"),
            Ok((
                "network.rtt".to_string(),
                vec!["5ms".to_string(), "uniform(1ms,2ms)".to_string()]
            ))
        );
    }
}
