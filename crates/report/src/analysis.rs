//! The analysis of a finished run, computed once: every number and finding the views show,
//! as values. `Analysis::new` is the only place where a run's records become a summary per
//! configuration, a representative run, the network and link facts, the analytical model
//! beside the measurement, the server's accept backlog, the header accounting and the
//! verdict; `report.md`, `report.html`, `results.json`, the HAR files and the terminal lines
//! only lay it out.
//!
//! It is pure: no I/O, no clock, nothing random beyond the seeded bootstrap, so the same
//! records give the same analysis.

use crate::bytes::header_sentences;
use crate::causes::{run_causes, Cause, CauseSplit, RunCauses};
use crate::network::{link_check, model_lines, network_sentence, LinkCheck};
use crate::server_side::accept_sentences;
use crate::summary::{median_run, summarize, ProtocolSummary};
use crate::verdict::{verdict, Inputs};
use crate::Environment;
use httplab_core::stats;
use httplab_core::{Protocol, RunRecord, Scenario};
use std::time::Duration;

/// One run of a scenario (every configuration, every repetition), analysed.
#[derive(Debug)]
pub struct Analysis<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) runs: &'a [RunRecord],
    pub(crate) env: &'a Environment,
    /// One per configuration, in order of first appearance.
    pub(crate) summaries: Vec<ProtocolSummary>,
    /// Each configuration's representative run (the median repetition by page time), in the
    /// order of `summaries`.
    pub(crate) medians: Vec<Option<&'a RunRecord>>,
    /// The network the runs crossed, in one sentence.
    pub(crate) network: String,
    /// The link's self-check over all runs; `None` without a link.
    pub(crate) link_check: Option<LinkCheck>,
    /// Connections that waited in the server's accept backlog, a sentence each.
    pub(crate) accept: Vec<String>,
    /// The analytical model beside the measured medians, a line per configuration.
    pub(crate) model: Vec<String>,
    /// HTTP/2's header bytes against HTTP/1.x's, a sentence per pair.
    pub(crate) headers: Vec<String>,
    /// The verdict, Markdown paragraphs.
    pub(crate) verdict: String,
    /// Protocols the scenario asked for that recorded no run.
    pub(crate) missing: Vec<Protocol>,
    /// Every run's requests and critical path split by cause, in the order of `runs`.
    pub(crate) causes: Vec<RunCauses>,
    /// Each configuration's page time split by cause along its critical path, the mean over
    /// its repetitions, in the order of `summaries`.
    pub(crate) page_causes: Vec<CauseSplit>,
    /// Why the runs are fewer than planned, if they are (`interrupted`).
    pub(crate) interruption: Option<Interruption>,
}

/// Why a run folder holds fewer runs than the scenario planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// What stopped the runs, in words (e.g. "stopped by SIGINT").
    pub reason: String,
    /// Runs the scenario planned (every configuration × `repeat`).
    pub runs_planned: usize,
}

impl Interruption {
    /// One sentence for the reports: what stopped, and how much of the plan finished.
    pub fn sentence(&self, runs_finished: usize) -> String {
        format!(
            "Incomplete run: {}, after {runs_finished} of {} planned runs; every figure here \
             covers only the runs that finished.",
            self.reason, self.runs_planned
        )
    }
}

impl<'a> Analysis<'a> {
    /// Analyses `runs` of `scenario`, run in `env`.
    pub fn new(scenario: &'a Scenario, runs: &'a [RunRecord], env: &'a Environment) -> Self {
        let mut summaries = summarize(runs);
        let causes: Vec<RunCauses> = runs.iter().map(|r| run_causes(scenario, r)).collect();
        for s in &mut summaries {
            let (queued, own): (Vec<Duration>, Vec<Duration>) = runs
                .iter()
                .zip(&causes)
                .filter(|(r, _)| r.label() == s.label)
                .flat_map(|(r, c)| r.requests.iter().zip(&c.requests))
                .filter(|(r, _)| r.error.is_none())
                .map(|(_, c)| (c.split.get(Cause::Queued), c.split.get(Cause::OwnHandshake)))
                .unzip();
            s.mean_queued = stats::mean(&queued).unwrap_or_default();
            s.mean_own_handshake = stats::mean(&own).unwrap_or_default();
        }
        let medians = summaries.iter().map(|s| median_run(runs, s)).collect();
        let page_causes: Vec<CauseSplit> = summaries
            .iter()
            .map(|s| {
                CauseSplit::mean(
                    runs.iter()
                        .zip(&causes)
                        .filter(|(r, _)| r.label() == s.label)
                        .map(|(_, c)| &c.page),
                )
            })
            .collect();
        let missing = scenario
            .protocols
            .iter()
            .filter(|p| !summaries.iter().any(|s| s.protocol == **p))
            .copied()
            .collect();
        Self {
            scenario,
            runs,
            env,
            network: network_sentence(scenario, runs, env),
            link_check: link_check(runs),
            accept: accept_sentences(scenario, runs, &summaries),
            model: match &env.real_network {
                // A real path: the model at its measured round trip.
                Some(real) => {
                    let mut at_rtt = scenario.clone();
                    at_rtt.network = Some(httplab_core::NetworkSettings::with_rtt(real.path_rtt()));
                    model_lines(&at_rtt, runs, &summaries, true)
                }
                None => model_lines(scenario, runs, &summaries, false),
            },
            headers: header_sentences(&summaries),
            verdict: verdict(
                &summaries,
                &Inputs {
                    scenario,
                    runs,
                    causes: &causes,
                    page_causes: &page_causes,
                },
            ),
            medians,
            missing,
            summaries,
            causes,
            page_causes,
            interruption: None,
        }
    }

    /// Marks the runs as fewer than planned: results.json says `"complete": false` and why,
    /// and the reports say so at the top.
    pub fn interrupted(mut self, interruption: Interruption) -> Self {
        self.interruption = Some(interruption);
        self
    }

    /// The incomplete-run sentence, if the runs are fewer than planned.
    pub(crate) fn interruption_sentence(&self) -> Option<String> {
        self.interruption
            .as_ref()
            .map(|i| i.sentence(self.runs.len()))
    }

    /// The causes of `run`, one of this analysis's runs.
    pub(crate) fn causes_of(&self, run: &RunRecord) -> Option<&RunCauses> {
        self.runs
            .iter()
            .position(|r| std::ptr::eq(r, run))
            .and_then(|i| self.causes.get(i))
    }

    /// The summary of each configuration, in order of first appearance.
    pub fn summaries(&self) -> &[ProtocolSummary] {
        &self.summaries
    }

    /// Each configuration's summary beside its representative run, where it has one.
    pub(crate) fn medians(&self) -> impl Iterator<Item = (&ProtocolSummary, &'a RunRecord)> {
        self.summaries
            .iter()
            .zip(&self.medians)
            .filter_map(|(s, r)| r.map(|r| (s, r)))
    }

    /// The network the runs crossed and the link's self-check, as lines for a terminal (the
    /// same words as the reports).
    pub fn network_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("network: {}", self.network)];
        if let Some(check) = &self.link_check {
            lines.push(check.sentence());
        }
        lines
    }

    /// The HAR file name of a configuration's median run.
    pub(crate) fn har_file(label: &str) -> String {
        format!("{}.har", label.replace('/', "-"))
    }
}
