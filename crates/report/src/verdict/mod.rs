//! The verdict: which protocol loaded the page fastest, by how much, whether the difference is
//! real, and what the records show about why: the handshakes each paid, and the cause (of the
//! page's critical path, `causes.rs`) that explains most of the difference between the fastest
//! and each slower one, with its numbers (requests queued, segments against the initial
//! window, retransmissions and what one connection holds at the scenario's loss). It claims nothing the
//! numbers do not show: with enough repetitions a difference is stated with its bootstrap 95%
//! interval and its Mann–Whitney p-value, or called no significant difference (α = 0.05); with
//! too few to test, differences within 5% are called noise and the reader is told the rest was
//! not tested; failed requests are named before anything else.
//!
//! This module finds: [`findings`] turns the summaries and runs into a [`Verdict`], each
//! finding a typed value with its numbers. `words.rs` says them, once, for every view. It
//! deliberately does not model or predict (that is the analytical model's job) and formats
//! no tables.

mod transport;
mod words;

use crate::causes::{Cause as Why, CauseSplit, RunCauses};
use crate::hol::{behind, Behind};
use crate::summary::{median_run, runs_of, ProtocolSummary};
use httplab_core::stats::{self, Interval};
use httplab_core::{RunRecord, Scenario};
use std::time::Duration;
pub(crate) use transport::QuicLoss;

pub(crate) use words::{count, p_value, ratio_number};

/// Page times within this fraction of each other are "about the same".
const NOISE: f64 = 0.05;
/// Phase differences smaller than this are not worth a sentence.
const MEANINGFUL: Duration = Duration::from_micros(100);

/// What the verdict reads besides the summaries: the runs, their causes, the scenario.
pub(crate) struct Inputs<'a> {
    pub scenario: &'a Scenario,
    pub runs: &'a [RunRecord],
    /// In the order of `runs`.
    pub causes: &'a [RunCauses],
    /// In the order of the summaries.
    pub page_causes: &'a [CauseSplit],
}

/// The verdict in words, Markdown paragraphs.
pub(crate) fn verdict(summaries: &[ProtocolSummary], inputs: &Inputs<'_>) -> String {
    findings(summaries, inputs).markdown()
}

/// Everything the verdict says, as values.
#[derive(Debug)]
pub(crate) struct Verdict<'a> {
    /// Configurations with failed requests, named before anything else.
    pub failures: Vec<Failure<'a>>,
    pub comparison: Comparison<'a>,
    /// Why the differences above were not tested, when some were not.
    pub untested: Option<Untested>,
    /// Head-of-line waits, per configuration that had any.
    pub hol: Vec<HolFinding<'a>>,
    /// Loss QUIC configurations met, beside a TCP one's.
    pub quic: Vec<QuicLoss<'a>>,
}

/// Requests of a configuration that failed.
#[derive(Debug)]
pub(crate) struct Failure<'a> {
    pub summary: &'a ProtocolSummary,
    /// Requests issued over all repetitions.
    pub requests: f64,
}

/// How the configurations' page times compare.
#[derive(Debug)]
pub(crate) enum Comparison<'a> {
    NoRuns,
    /// One configuration ran.
    Alone {
        only: &'a ProtocolSummary,
        /// Requests per repetition.
        requests: f64,
    },
    /// No configuration was measurably faster than the fastest: each other one is
    /// `NoDifference` or `UntestedSame`.
    Alike {
        fastest: &'a ProtocolSummary,
        others: Vec<(&'a ProtocolSummary, Outcome)>,
        /// Others that paid other handshakes than the fastest, yet did not differ.
        other_handshakes: Vec<&'a ProtocolSummary>,
    },
    /// The fastest beat at least one other.
    Fastest {
        fastest: &'a ProtocolSummary,
        others: Vec<(&'a ProtocolSummary, Outcome)>,
        /// Why it beat each one it beat, in the order of `others`.
        why: Vec<Explanation<'a>>,
    },
}

/// How a slower configuration's page times compare with the fastest one's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// Tested: significantly slower, by `ratio` (median against median).
    Faster {
        ratio: f64,
        ci: Option<Interval<f64>>,
        p: f64,
    },
    /// Tested: no significant difference.
    NoDifference(f64),
    /// Too few repetitions to test; the medians differ by more than noise.
    UntestedFaster(f64),
    /// Too few repetitions to test; the medians are within noise.
    UntestedSame,
}

impl Outcome {
    /// Whether the verdict calls the fast configuration faster than this one.
    fn differs(&self) -> bool {
        matches!(self, Outcome::Faster { .. } | Outcome::UntestedFaster(_))
    }

    fn untested(&self) -> bool {
        matches!(self, Outcome::UntestedFaster(_) | Outcome::UntestedSame)
    }
}

/// Why `slow` took longer than `fast`, in the terms the records measure: the handshakes each
/// paid, and the cause that explains most of the difference.
#[derive(Debug)]
pub(crate) struct Explanation<'a> {
    pub fast: &'a ProtocolSummary,
    pub slow: &'a ProtocolSummary,
    pub handshakes: Handshakes,
    /// The cause of the page's critical path on which the slower one spent the most time
    /// beyond the faster one; `None` when no cause differs by more than noise.
    pub top: Option<CauseFinding>,
}

/// The handshakes, compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Handshakes {
    /// The slower one opened more connections and paid their handshakes; the faster one
    /// reused its connections for `reused` requests per repetition.
    SlowPaidMore {
        one_per_request: bool,
        reused: f64,
    },
    FastPaidMore,
    Same,
    OtherTls,
}

/// What a difference is compared by: the causes one by one, except the handshakes, which
/// count together (a request that paid its connection's TCP and TLS handshakes, and one that
/// waited for its multiplexed connection's, spent the same round trips on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Handshakes,
    /// Waiting for retransmissions, and the rounds of windows the losses cut.
    Loss,
    One(Why),
}

impl Topic {
    /// Every topic, in the order of a request's life.
    fn all() -> Vec<Topic> {
        let mut all = vec![Topic::Handshakes, Topic::Loss];
        all.extend(
            Why::ALL
                .iter()
                .filter(|c| !Topic::is_handshake(**c) && !Topic::is_loss(**c))
                .map(|c| Topic::One(*c)),
        );
        all
    }

    fn is_loss(c: Why) -> bool {
        matches!(c, Why::LossRecovery | Why::LossWindow)
    }

    fn is_handshake(c: Why) -> bool {
        matches!(c, Why::TcpHandshake | Why::TlsHandshake | Why::OwnHandshake)
    }

    /// Its time in `split`.
    fn of(self, split: &CauseSplit) -> Duration {
        match self {
            Topic::Handshakes => split
                .iter()
                .filter(|(c, _)| Topic::is_handshake(*c))
                .map(|(_, d)| d)
                .sum(),
            Topic::Loss => split
                .iter()
                .filter(|(c, _)| Topic::is_loss(*c))
                .map(|(_, d)| d)
                .sum(),
            Topic::One(c) => split.get(c),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Topic::Handshakes => "handshakes (TCP and TLS, paid or waited for)",
            Topic::Loss => "loss (waiting for retransmissions, and rounds of windows cut by it)",
            Topic::One(c) => c.label(),
        }
    }
}

/// The cause that explains most of a difference, with the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CauseFinding {
    pub cause: Topic,
    /// Mean time on the critical path, each side.
    pub fast_time: Duration,
    pub slow_time: Duration,
    pub evidence: Evidence,
}

/// What backs a cause up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Evidence {
    Nothing,
    /// Requests of the slower one's median run that queued a millisecond or more for a
    /// connection or stream slot (ids as in the request tables), and their mean wait.
    Queued {
        ids: Vec<u32>,
        mean: Duration,
    },
    /// Its server's new data segments per connection, and the rounds they took, against the
    /// initial window (median run, from the wire).
    Window {
        segments: f64,
        rounds: f64,
        connections: f64,
    },
    /// Segments retransmitted on the wire, mean per repetition, each side; with the scenario's
    /// loss, Mathis's estimate of what one connection holds.
    Loss {
        slow_retransmitted: f64,
        fast_retransmitted: f64,
        slow_connections: f64,
        fast_connections: f64,
        loss: f64,
        per_connection_bps: Option<f64>,
        link_bps: Option<u64>,
    },
    /// Requests one after another on each side's critical path (median run).
    Path {
        slow: usize,
        fast: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Untested {
    /// Each configuration's label and repetitions.
    pub repetitions: Vec<(String, usize)>,
    /// With enough repetitions to test: the smallest p-value the fewest two could reach.
    pub best_p: Option<f64>,
}

/// Head-of-line waits of one configuration.
#[derive(Debug)]
pub(crate) enum HolFinding<'a> {
    /// In its median run, responses waited behind one slow response on their connection.
    Behind {
        summary: &'a ProtocolSummary,
        group: Behind,
    },
    /// Responses were ready but queued behind earlier ones, on average.
    Mean {
        summary: &'a ProtocolSummary,
        /// Requests with head-of-line time, over all repetitions.
        requests: usize,
        mean: Duration,
    },
}

/// Numbers per protocol the summary does not carry, means per repetition unless named.
struct Detail {
    requests: f64,
    /// Requests carried by a connection an earlier request opened.
    reused: f64,
    /// Mean head-of-line time over requests that had any.
    hol: Option<Duration>,
    /// Requests with head-of-line time, over all repetitions.
    hol_requests: usize,
}

fn detail(runs: &[RunRecord], label: &str) -> Detail {
    let runs = runs_of(runs, label);
    let n = runs.len().max(1) as f64;
    let all = || runs.iter().flat_map(|r| r.requests.iter());
    let reused =
        || all().filter(|q| q.connection.is_some() && !q.opened_connection() && q.error.is_none());
    let hols: Vec<Duration> = all()
        .filter_map(|q| q.phases.hol)
        .filter(|h| !h.is_zero())
        .collect();
    Detail {
        requests: all().count() as f64 / n,
        reused: reused().count() as f64 / n,
        hol: httplab_core::stats::mean(&hols),
        hol_requests: hols.len(),
    }
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.05
}

/// What the summaries and runs show, as findings.
pub(crate) fn findings<'a>(summaries: &'a [ProtocolSummary], inputs: &Inputs<'_>) -> Verdict<'a> {
    let runs = inputs.runs;
    let failures = summaries
        .iter()
        .filter(|s| s.failed_requests > 0)
        .map(|s| Failure {
            summary: s,
            requests: detail(runs, &s.label).requests * s.repetitions as f64,
        })
        .collect();
    let hol = hol_findings(summaries, runs);
    let quic = transport::quic_losses(summaries, runs);
    let mut by_time: Vec<&ProtocolSummary> = summaries.iter().collect();
    by_time.sort_by_key(|s| s.page_time_median);
    let Some((&fastest, slower)) = by_time.split_first() else {
        return Verdict {
            failures,
            comparison: Comparison::NoRuns,
            untested: None,
            hol,
            quic,
        };
    };
    let fd = detail(runs, &fastest.label);
    if slower.is_empty() {
        return Verdict {
            failures,
            comparison: Comparison::Alone {
                only: fastest,
                requests: fd.requests,
            },
            untested: None,
            hol,
            quic,
        };
    }
    let others: Vec<(&ProtocolSummary, Outcome)> =
        slower.iter().map(|&s| (s, outcome(fastest, s))).collect();
    let untested = others
        .iter()
        .any(|(_, o)| o.untested())
        .then(|| untested(summaries));
    let comparison = if others.iter().all(|(_, o)| !o.differs()) {
        let other_handshakes = slower
            .iter()
            .copied()
            .filter(|s| {
                !same(s.tcp_handshakes, fastest.tcp_handshakes)
                    || !same(s.tls_handshakes, fastest.tls_handshakes)
            })
            .collect();
        Comparison::Alike {
            fastest,
            others,
            other_handshakes,
        }
    } else {
        let why = others
            .iter()
            .filter(|(_, o)| o.differs())
            .map(|(s, _)| {
                let mut why = explain(fastest, &fd, s, &detail(runs, &s.label));
                why.top = top_cause(summaries, inputs, fastest, s);
                why
            })
            .collect();
        Comparison::Fastest {
            fastest,
            others,
            why,
        }
    };
    Verdict {
        failures,
        comparison,
        untested,
        hol,
        quic,
    }
}

fn outcome(fast: &ProtocolSummary, slow: &ProtocolSummary) -> Outcome {
    let is_tie =
        slow.page_time_median.as_secs_f64() <= fast.page_time_median.as_secs_f64() * (1.0 + NOISE);
    let Some(c) = stats::compare_medians(&fast.page_times, &slow.page_times) else {
        return Outcome::UntestedSame;
    };
    match c.test {
        Some(t) if c.significant() => Outcome::Faster {
            ratio: c.ratio,
            ci: c.ratio_ci,
            p: t.p,
        },
        Some(t) => Outcome::NoDifference(t.p),
        None if is_tie => Outcome::UntestedSame,
        None => Outcome::UntestedFaster(c.ratio),
    }
}

/// Why the differences were not tested: the repetitions, and the best p they could reach.
fn untested(summaries: &[ProtocolSummary]) -> Untested {
    let repetitions: Vec<(String, usize)> = summaries
        .iter()
        .map(|s| (s.label.clone(), s.repetitions))
        .collect();
    let mut reps: Vec<usize> = repetitions.iter().map(|(_, n)| *n).collect();
    reps.sort_unstable();
    let best_p = (reps[0] >= stats::MIN_REPETITIONS)
        .then(|| stats::mann_whitney::smallest_p(reps[0], reps[1]));
    Untested {
        repetitions,
        best_p,
    }
}

/// Why `slow` took longer than `fast`.
fn explain<'a>(
    fast: &'a ProtocolSummary,
    fd: &Detail,
    slow: &'a ProtocolSummary,
    sd: &Detail,
) -> Explanation<'a> {
    let handshakes = if slow.tcp_handshakes > fast.tcp_handshakes + 0.05 {
        Handshakes::SlowPaidMore {
            one_per_request: same(slow.connections_opened, sd.requests) && sd.requests > 1.0,
            reused: fd.reused,
        }
    } else if slow.tcp_handshakes + 0.05 < fast.tcp_handshakes {
        Handshakes::FastPaidMore
    } else if same(slow.tls_handshakes, fast.tls_handshakes) {
        Handshakes::Same
    } else {
        Handshakes::OtherTls
    };
    Explanation {
        fast,
        slow,
        handshakes,
        top: None,
    }
}

/// The cause on which `slow`'s critical path spent the most beyond `fast`'s, if any differs
/// beyond noise, with its evidence.
fn top_cause(
    summaries: &[ProtocolSummary],
    inputs: &Inputs<'_>,
    fast: &ProtocolSummary,
    slow: &ProtocolSummary,
) -> Option<CauseFinding> {
    let index = |s: &ProtocolSummary| summaries.iter().position(|x| x.label == s.label);
    let fast_split = inputs.page_causes.get(index(fast)?)?;
    let slow_split = inputs.page_causes.get(index(slow)?)?;
    let (cause, gap) = Topic::all()
        .into_iter()
        .map(|t| (t, t.of(slow_split).saturating_sub(t.of(fast_split))))
        .max_by_key(|(_, gap)| *gap)?;
    let page_gap = slow.page_time_median.saturating_sub(fast.page_time_median);
    if gap < MEANINGFUL || gap.as_secs_f64() < NOISE * page_gap.as_secs_f64() {
        return None;
    }
    Some(CauseFinding {
        cause,
        fast_time: cause.of(fast_split),
        slow_time: cause.of(slow_split),
        evidence: match cause {
            Topic::One(c) => evidence(c, inputs, fast, slow),
            Topic::Loss => evidence(Why::LossRecovery, inputs, fast, slow),
            Topic::Handshakes => Evidence::Nothing,
        },
    })
}

/// A run with its causes.
type RunAndCauses<'i> = (&'i RunRecord, &'i RunCauses);

/// The runs and causes of one configuration, with its median run's.
fn of<'i>(
    inputs: &Inputs<'i>,
    s: &ProtocolSummary,
) -> (Vec<RunAndCauses<'i>>, Option<RunAndCauses<'i>>) {
    let all: Vec<(&RunRecord, &RunCauses)> = inputs
        .runs
        .iter()
        .zip(inputs.causes)
        .filter(|(r, _)| r.label() == s.label)
        .collect();
    let median = all.get(s.median_repetition).copied();
    (all, median)
}

fn evidence(
    cause: Why,
    inputs: &Inputs<'_>,
    fast: &ProtocolSummary,
    slow: &ProtocolSummary,
) -> Evidence {
    let (slow_runs, slow_median) = of(inputs, slow);
    let (fast_runs, fast_median) = of(inputs, fast);
    match cause {
        Why::Queued => {
            let Some((_, causes)) = slow_median else {
                return Evidence::Nothing;
            };
            let queued: Vec<(u32, Duration)> = causes
                .requests
                .iter()
                .map(|r| (r.request_id, r.split.get(Why::Queued)))
                .filter(|(_, d)| *d >= QUEUED)
                .collect();
            if queued.is_empty() {
                return Evidence::Nothing;
            }
            let mean = queued.iter().map(|(_, d)| *d).sum::<Duration>() / queued.len() as u32;
            Evidence::Queued {
                ids: queued.iter().map(|(id, _)| *id).collect(),
                mean,
            }
        }
        Why::RoundTrip | Why::ServerThink => match (slow_median, fast_median) {
            (Some((_, s)), Some((_, f))) => Evidence::Path {
                slow: s.critical_path.len(),
                fast: f.critical_path.len(),
            },
            _ => Evidence::Nothing,
        },
        Why::CongestionWindow => {
            let Some((run, _)) = slow_median else {
                return Evidence::Nothing;
            };
            let Some(wire) = &run.wire else {
                return Evidence::Nothing;
            };
            let mine: Vec<_> = wire
                .connections
                .iter()
                .filter(|w| run.connections.iter().any(|c| c.local_addr == w.client))
                .collect();
            if mine.is_empty() {
                return Evidence::Nothing;
            }
            let n = mine.len() as f64;
            Evidence::Window {
                segments: mine
                    .iter()
                    .map(|w| w.server_to_client.new_data_segments as f64)
                    .sum::<f64>()
                    / n,
                rounds: mine
                    .iter()
                    .map(|w| w.server_to_client.round_count as f64)
                    .sum::<f64>()
                    / n,
                connections: n,
            }
        }
        Why::LossRecovery => {
            let retransmitted = |runs: &[(&RunRecord, &RunCauses)]| {
                let total: u64 = runs
                    .iter()
                    .filter_map(|(r, _)| r.wire.as_ref())
                    .flat_map(|w| w.connections.iter())
                    .map(|w| {
                        w.server_to_client.retransmitted_segments
                            + w.client_to_server.retransmitted_segments
                    })
                    .sum();
                total as f64 / runs.len().max(1) as f64
            };
            let net = inputs.scenario.network.as_ref();
            let loss = net.map_or(0.0, |n| n.loss);
            let per_connection_bps =
                net.and_then(|n| httplab_core::analytical::mathis_bps(n.rtt, loss));
            Evidence::Loss {
                slow_retransmitted: retransmitted(&slow_runs),
                fast_retransmitted: retransmitted(&fast_runs),
                slow_connections: slow.connections_opened,
                fast_connections: fast.connections_opened,
                loss,
                per_connection_bps,
                link_bps: net.and_then(|n| n.bandwidth),
            }
        }
        _ => Evidence::Nothing,
    }
}

/// A request queued at least this long is named among those that queued.
const QUEUED: Duration = Duration::from_millis(1);

/// Head-of-line waits: what waited behind a slow response in the median run (from the
/// server's own queue and turn times), else the mean head-of-line time.
fn hol_findings<'a>(summaries: &'a [ProtocolSummary], runs: &[RunRecord]) -> Vec<HolFinding<'a>> {
    summaries
        .iter()
        .filter_map(|s| {
            let group = median_run(runs, s).and_then(|run| behind(run).into_iter().next());
            if let Some(group) = group {
                return Some(HolFinding::Behind { summary: s, group });
            }
            let d = detail(runs, &s.label);
            Some(HolFinding::Mean {
                summary: s,
                requests: d.hol_requests,
                mean: d.hol?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
