//! The run budget at the command line: `check` prints it, and `check`, `run` and `sweep` refuse
//! a scenario over it before anything runs (exit status 2, located at the key that drives it),
//! unless `--force`, which goes ahead and says which limit it crossed. A run estimated to take
//! more than an hour is warned of, never refused. The arithmetic and the limits are core's
//! (`httplab_core::scenario::budget`); this module only prints.

use crate::UsageError;
use anyhow::Result;
use httplab_core::scenario::{refusal, Budget};
use httplab_core::Scenario;

/// Checks the budget of `scenarios` (one, or a sweep's points, whose records are all held at
/// once) as they will run. `repeat_flag`: `--repeat`, which then drives instead of the file's
/// `repeat`. Returns the budget for the caller to print.
pub(crate) fn enforce(
    scenarios: &[&Scenario],
    repeat_flag: Option<u32>,
    force: bool,
) -> Result<Budget> {
    let budget = Budget::of_all(scenarios.iter().copied());
    if let Some(refused) = refusal(scenarios, repeat_flag) {
        if !force {
            return Err(UsageError(refused.to_string()).into());
        }
        for limit in budget.crossed() {
            eprintln!(
                "warning: --force: going ahead over the run budget: {}",
                limit.sentence(&budget)
            );
        }
    }
    if let Some(warning) = budget.wall_warning() {
        eprintln!("warning: {warning}");
    }
    Ok(budget)
}
