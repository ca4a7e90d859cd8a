//! One experiment: a scenario's configurations (protocols, pipelining models, client
//! variants), each run `repeat` times on a lab of its own, on loopback or the emulated link.
//! `httplab run` is one experiment and each point of a sweep is another; both go through
//! [`run_experiment`]. It returns the runs and the facts of where they ran; it reads no files
//! and formats nothing.

use crate::{Ending, HarnessError, HostFacts, Lab, LabOptions, Progress};
use httplab_core::{RunRecord, Scenario};
use std::future::Future;
use std::sync::Arc;

/// What an experiment produced.
#[derive(Debug)]
pub struct Experiment {
    /// Every run that finished, configuration by configuration, repetition by repetition.
    pub runs: Vec<RunRecord>,
    /// Whether every planned run finished, or why not.
    pub ending: Ending,
    /// Why the runs crossed plain loopback although the scenario has a `[network]` table
    /// (`Lab::network_note`), if they did.
    pub network_note: Option<String>,
    /// The host the runs happened on.
    pub host: HostFacts,
}

/// Runs every configuration of `scenario` `scenario.repeat` times on a lab of its own, handing
/// each finished run to `finished` with the progress so far, until all are done, one fails or
/// `stop` completes; then shuts the lab down whatever happened. Only a lab that could not
/// start is an error: the runs that finished are kept whatever the ending.
pub async fn run_experiment(
    scenario: Arc<Scenario>,
    options: LabOptions,
    finished: impl FnMut(Progress, &RunRecord),
    stop: impl Future<Output = ()>,
) -> Result<Experiment, HarnessError> {
    let lab = Lab::start(scenario.clone(), options).await?;
    let network_note = lab.network_note().map(str::to_string);
    let (runs, ending) = lab
        .run_all(&scenario.protocols, scenario.repeat, finished, stop)
        .await;
    lab.shutdown().await;
    Ok(Experiment {
        runs,
        ending,
        network_note,
        host: HostFacts::read(),
    })
}
