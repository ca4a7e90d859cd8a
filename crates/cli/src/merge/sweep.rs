//! `httplab merge` of sweep shards: each point's report folder is copied from the shard that
//! ran it, in the order of the sweep's values, and `sweep.json`, `sweep.md` and `sweep.html`
//! are written again as `sweep` writes them, from the points' results.json and each point's
//! scenario rebuilt from the recipe in `shard.json`. A point its shard did not finish is
//! refused, naming the shard to rerun. The checks that the folders are one sweep's shards are
//! the parent module's.

use super::{agree, every_shard_once, prepare_out};
use crate::scenario_args::{overrides, Choices};
use crate::shard::{ShardPart, SweepShard, SHARD_FILE};
use crate::UsageError;
use anyhow::{Context, Result};
use httplab_harness::SweepPlan;
use httplab_report::{point_folder, RunFolder, SweepPoint};
use std::path::{Path, PathBuf};

pub(super) fn merge_sweeps(
    dirs: &[PathBuf],
    out: Option<PathBuf>,
    force: bool,
    quiet: bool,
) -> Result<()> {
    let shards: Vec<(PathBuf, SweepShard)> = dirs
        .iter()
        .map(|d| -> Result<(PathBuf, SweepShard)> {
            Ok((d.join(SHARD_FILE), SweepShard::read(d)?))
        })
        .collect::<Result<_>>()?;
    fn file(s: &(PathBuf, SweepShard)) -> &Path {
        &s.0
    }
    agree(&shards, file, |(_, s)| {
        format!("httplab {}", s.httplab_version)
    })?;
    agree(&shards, file, |(_, s)| {
        format!(
            "scenario `{}` (digest {})",
            s.scenario.name, s.scenario.digest
        )
    })?;
    agree(&shards, file, |(_, s)| {
        format!("a sweep of {} over {}", s.key, s.values.join(","))
    })?;
    agree(&shards, file, |(_, s)| {
        let r = &s.recipe;
        format!(
            "--protocols {}, --repeat {}{}",
            r.protocols
                .as_ref()
                .map_or_else(|| "(the scenario's)".into(), |p| p.join(",")),
            r.repeat
                .map_or_else(|| "(the scenario's)".into(), |n| n.to_string()),
            if r.no_link { ", --no-link" } else { "" }
        )
    })?;
    let parts: Vec<(&Path, ShardPart)> =
        shards.iter().map(|(f, s)| (f.as_path(), s.shard)).collect();
    agree(&parts, |p| p.0, |p| format!("one of {} shards", p.1.count))?;
    every_shard_once(&parts)?;

    let first = &shards[0].1;
    let (key, values, recipe) = (&first.key, &first.values, &first.recipe);
    let count = u64::from(first.shard.count);
    // Every point from the shard that ran it, finished.
    let mut folders = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let index = (i as u64 % count) as u32;
        let (dir, shard) = dirs
            .iter()
            .zip(&shards)
            .find(|(_, (_, s))| s.shard.index == index)
            .map(|(d, (_, s))| (d, s))
            .ok_or_else(|| UsageError(format!("shard {index} is missing")))?;
        let folder = dir.join(point_folder(key, value));
        let missing = |why: String| {
            UsageError(format!(
                "{key}={value} (shard {index} of {count}) is missing from {}: {why}; rerun that \
                 shard",
                dir.display()
            ))
        };
        if !shard.points.contains(value) {
            return Err(missing(format!("its {SHARD_FILE} does not list it")).into());
        }
        let run = RunFolder::load(&folder).map_err(|e| missing(e.to_string()))?;
        if !run.complete {
            return Err(missing("the point did not finish (its shard was stopped)".into()).into());
        }
        folders.push((folder, run));
    }
    // Each point's scenario, rebuilt as the sweep planned it.
    let plan = SweepPlan::new(
        &recipe.source,
        &recipe.file,
        &overrides(&recipe.set)?,
        key,
        values,
    )
    .map_err(|e| UsageError(format!("{}: {e}", shards[0].0.display())))?;
    let choices = Choices::read(recipe.protocols.as_deref(), recipe.repeat)?;
    let default = PathBuf::from("reports").join(format!("{}-sweep-{key}", first.scenario.name));
    let out = prepare_out(dirs, out, default, force)?;
    let mut points = Vec::with_capacity(values.len());
    for (planned, (folder, run)) in plan.points.into_iter().zip(folders) {
        let into = out.join(point_folder(key, &planned.value));
        copy_folder(&folder, &into)?;
        let mut scenario = planned.scenario;
        choices.apply(&mut scenario)?;
        points.push(SweepPoint {
            value: planned.value,
            scenario,
            runs: run.runs,
            env: run.env,
        });
    }
    let written = httplab_report::write_sweep(&out, key, &points, &[])
        .with_context(|| format!("writing the sweep into {}", out.display()))?;
    if !quiet {
        println!(
            "merged {} shards: {} points of {key} into {}, and wrote {}",
            shards.len(),
            points.len(),
            out.display(),
            crate::paths(&written)
        );
    }
    Ok(())
}

/// Copies the folder `from` (a point's report folder) to `to`, with what it holds.
fn copy_folder(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_folder(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}
