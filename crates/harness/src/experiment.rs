//! One experiment: a scenario's configurations (protocols, pipelining models, client
//! variants), each run `repeat` times on a lab of its own, on loopback or the emulated link.
//! `httplab run` is one experiment and each point of a sweep is another; both go through
//! [`run_experiment`]. It returns the runs and the facts of where they ran; it reads no files
//! and formats nothing.

use crate::{HarnessError, HostFacts, Lab, LabOptions, Progress};
use httplab_core::{RunRecord, Scenario};
use std::sync::Arc;

/// What an experiment produced.
#[derive(Debug)]
pub struct Experiment {
    /// Every run, configuration by configuration, repetition by repetition.
    pub runs: Vec<RunRecord>,
    /// Why the runs crossed plain loopback although the scenario has a `[network]` table
    /// (`Lab::network_note`), if they did.
    pub network_note: Option<String>,
    /// The host the runs happened on.
    pub host: HostFacts,
}

/// Runs every configuration of `scenario` `scenario.repeat` times on a lab of its own,
/// reporting progress after each run, then shuts the lab down whatever happened.
pub async fn run_experiment(
    scenario: Arc<Scenario>,
    options: LabOptions,
    progress: impl FnMut(Progress),
) -> Result<Experiment, HarnessError> {
    let lab = Lab::start(scenario.clone(), options).await?;
    let network_note = lab.network_note().map(str::to_string);
    let result = lab
        .run_all(&scenario.protocols, scenario.repeat, progress)
        .await;
    lab.shutdown().await;
    Ok(Experiment {
        runs: result?,
        network_note,
        host: HostFacts::read(),
    })
}
