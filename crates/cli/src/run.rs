//! `httplab run` and `httplab sweep`: a scenario becomes one experiment, or one experiment per
//! value of a key, whose runs are analysed once and written as report folders. This module
//! wires the command line to the harness (`run_experiment`, `SweepPlan`) and the report crate
//! (`Analysis`, `write_all`, `write_sweep`), parses `--vary`, and prints what was written.

use crate::scenario_args::{ids, load, overrides, read_source, Choices};
use crate::{paths, ProgressBar, RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_core::units;
use httplab_harness::{
    available_congestion_controls, planned_runs, run_experiment, Experiment, HostFacts, LabOptions,
    LinkMode, SweepPlan,
};
use httplab_report::{Analysis, Environment, SweepPoint};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `httplab run SCENARIO`: every configuration `repeat` times, then the reports.
pub(crate) async fn run(path: &Path, args: &RunArgs, pcap: Option<PathBuf>) -> Result<()> {
    let mut scenario = load(path, &args.set)?;
    Choices::read(args.protocols.as_deref(), args.repeat)?.apply(&mut scenario);
    crate::budget::enforce(&[&scenario], args.repeat, args.force)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    if pcap.is_some() && (scenario.network.is_none() || args.no_link) {
        return Err(UsageError(
            "--pcap records the emulated link's packets: the scenario needs a [network] table \
             (e.g. --set network.rtt=40ms), and --no-link switches the link off"
                .into(),
        )
        .into());
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
        ..lab_options(args)
    };
    let experiment = run_experiment(scenario.clone(), options, |p| {
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
    let experiment = experiment?;
    let env = environment(&experiment);
    let analysis = Analysis::new(&scenario, &experiment.runs, &env);
    let written = httplab_report::write_all(&out, &analysis)
        .with_context(|| format!("writing the reports into {}", out.display()))?;
    if args.quiet {
        return Ok(());
    }
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
    Ok(())
}

/// `httplab sweep SCENARIO --vary KEY=V1,V2,...`: plans every value (refusing a bad one before
/// anything runs), runs each as an experiment of its own, writes each value's report folder as
/// it finishes, then sweep.json, sweep.md and sweep.html.
pub(crate) async fn sweep(path: &Path, vary: &str, args: &RunArgs) -> Result<()> {
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
        choices.apply(&mut point.scenario);
    }
    let scenarios: Vec<_> = plan.points.iter().map(|p| &p.scenario).collect();
    crate::budget::enforce(&scenarios, args.repeat, args.force)?;
    let name = plan
        .points
        .first()
        .map_or_else(String::new, |p| p.scenario.name.clone());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("{name}-sweep-{key}")));
    let total: usize = plan.points.iter().map(|p| planned_runs(&p.scenario)).sum();
    let bar = ProgressBar::new(args.quiet, total);
    let count = plan.points.len();
    let mut points: Vec<SweepPoint> = Vec::with_capacity(count);
    // One line per point for the terminal, from the analysis its reports were written from.
    let mut lines: Vec<String> = Vec::with_capacity(count);
    let mut done_before = 0;
    for (i, planned) in plan.points.into_iter().enumerate() {
        let scenario = Arc::new(planned.scenario);
        bar.message(format!("{key}={} ({}/{count})", planned.value, i + 1));
        let experiment = run_experiment(scenario.clone(), lab_options(args), |p| {
            bar.note_once(p.network_note.as_deref());
            bar.position(done_before + p.done, total);
        })
        .await?;
        done_before += planned_runs(&scenario);
        let env = environment(&experiment);
        let dir = out.join(httplab_report::point_folder(&key, &planned.value));
        let analysis = Analysis::new(&scenario, &experiment.runs, &env);
        httplab_report::write_all(&dir, &analysis)
            .with_context(|| format!("writing the reports into {}", dir.display()))?;
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
        points.push(SweepPoint {
            value: planned.value,
            scenario: Arc::unwrap_or_clone(scenario),
            runs: experiment.runs,
            env,
        });
    }
    bar.finish();
    let written = httplab_report::write_sweep(&out, &key, &points)
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
    Ok(())
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

/// The environment the reports show: the host's facts, this command line and the experiment's
/// network note.
fn environment(experiment: &Experiment) -> Environment {
    let host: &HostFacts = &experiment.host;
    let mut notes = vec![
        format!(
            "host tcp_slow_start_after_idle = {}",
            host.slow_start_after_idle
        ),
        format!("cpus = {}", host.cpus),
    ];
    notes.extend(experiment.network_note.clone());
    Environment {
        httplab_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: host.hostname.clone(),
        kernel: host.kernel.clone(),
        congestion_control: host.congestion_control.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        notes,
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
