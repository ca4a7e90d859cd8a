//! The verdict: which protocol loaded the page fastest, by how much, whether the difference is
//! real, and what the records show about why (handshakes paid, time blocked waiting for a
//! connection, time to first byte, slow start, head-of-line blocking). It claims nothing the
//! numbers do not show: with enough repetitions a difference is stated with its bootstrap 95%
//! interval and its Mann–Whitney p-value, or called no significant difference (α = 0.05); with
//! too few to test, differences within 5% are called noise and the reader is told the rest was
//! not tested; failed requests are named before anything else.
//!
//! This module finds: [`findings`] turns the summaries and runs into a [`Verdict`], each
//! finding a typed value with its numbers. `words.rs` says them, once, for every view. It
//! deliberately does not model or predict (that is the analytical model's job) and formats
//! no tables.

mod words;

use crate::hol::{behind, Behind};
use crate::summary::{median_run, runs_of, ProtocolSummary};
use httplab_core::stats::{self, Interval};
use httplab_core::RunRecord;
use std::time::Duration;

pub(crate) use words::{count, p_value, ratio_number};

/// Page times within this fraction of each other are "about the same".
const NOISE: f64 = 0.05;
/// Phase differences smaller than this are not worth a sentence.
const MEANINGFUL: Duration = Duration::from_micros(100);

/// The verdict in words, Markdown paragraphs.
pub(crate) fn verdict(summaries: &[ProtocolSummary], runs: &[RunRecord]) -> String {
    findings(summaries, runs).markdown()
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

/// Why `slow` took longer than `fast`, in the terms the records measure.
#[derive(Debug)]
pub(crate) enum Explanation<'a> {
    /// The slower one opened more connections and paid their handshakes.
    MoreHandshakes {
        fast: &'a ProtocolSummary,
        slow: &'a ProtocolSummary,
        /// It opened one connection per request.
        one_per_request: bool,
        reuse: Reuse,
        /// Mean TTFB differed beyond noise.
        ttfb_differs: bool,
    },
    /// Not the handshakes: where the time went.
    Elsewhere {
        fast: &'a ProtocolSummary,
        slow: &'a ProtocolSummary,
        handshakes: Handshakes,
        /// Empty when neither blocked nor TTFB nor slow start accounts for the difference.
        causes: Vec<Cause>,
    },
}

/// How the faster one used the connections it opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reuse {
    /// It did not reuse them.
    None,
    /// It reused them, and `requests` per repetition waited for a free one.
    Waited { requests: f64, blocked: Duration },
    /// It reused them for `requests` more per repetition without waiting.
    Free { requests: f64 },
}

/// The handshakes of the faster against the slower, when the slower paid no more TCP ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshakes {
    /// The faster paid more.
    FastPaidMore,
    Same,
    /// The same TCP connections, other TLS handshakes (h2 against h2c, say).
    OtherTls,
}

/// A measured cause of the slower one's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cause {
    /// Its requests waited longer for a connection.
    Blocked,
    /// Its first response bytes came later.
    Ttfb,
    /// Fewer connections for the same bytes: more round trips of slow start.
    SlowStart {
        /// The slower one's response bytes per repetition.
        bytes: f64,
        slow_flights: u32,
        fast_flights: u32,
    },
}

/// Why some differences were not tested for significance.
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
    /// Mean blocked of those requests (not failed).
    reused_blocked: Duration,
    /// Mean head-of-line time over requests that had any.
    hol: Option<Duration>,
    /// Requests with head-of-line time, over all repetitions.
    hol_requests: usize,
    /// Whether the runs crossed an emulated link (round trips cost real time there).
    linked: bool,
    /// Response bytes (heads and bodies) per run.
    response_bytes: f64,
}

fn detail(runs: &[RunRecord], label: &str) -> Detail {
    let runs = runs_of(runs, label);
    let n = runs.len().max(1) as f64;
    let all = || runs.iter().flat_map(|r| r.requests.iter());
    let reused =
        || all().filter(|q| q.connection.is_some() && !q.opened_connection() && q.error.is_none());
    let reused_blocked: Vec<Duration> = reused().map(|q| q.phases.blocked).collect();
    let hols: Vec<Duration> = all()
        .filter_map(|q| q.phases.hol)
        .filter(|h| !h.is_zero())
        .collect();
    Detail {
        requests: all().count() as f64 / n,
        reused: reused().count() as f64 / n,
        reused_blocked: httplab_core::stats::mean(&reused_blocked).unwrap_or_default(),
        hol: httplab_core::stats::mean(&hols),
        hol_requests: hols.len(),
        linked: !runs.is_empty() && runs.iter().all(|r| r.link.is_some()),
        response_bytes: all()
            .map(|q| (q.response_header_bytes + q.response_body_bytes) as f64)
            .sum::<f64>()
            / n,
    }
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.05
}

fn differs(a: Duration, b: Duration) -> bool {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi - lo >= MEANINGFUL && hi.as_secs_f64() > lo.as_secs_f64() * (1.0 + NOISE)
}

/// What the summaries and runs show, as findings.
pub(crate) fn findings<'a>(summaries: &'a [ProtocolSummary], runs: &[RunRecord]) -> Verdict<'a> {
    let failures = summaries
        .iter()
        .filter(|s| s.failed_requests > 0)
        .map(|s| Failure {
            summary: s,
            requests: detail(runs, &s.label).requests * s.repetitions as f64,
        })
        .collect();
    let hol = hol_findings(summaries, runs);
    let mut by_time: Vec<&ProtocolSummary> = summaries.iter().collect();
    by_time.sort_by_key(|s| s.page_time_median);
    let Some((&fastest, slower)) = by_time.split_first() else {
        return Verdict {
            failures,
            comparison: Comparison::NoRuns,
            untested: None,
            hol,
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
            .map(|(s, _)| explain(fastest, &fd, s, &detail(runs, &s.label)))
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
    if slow.tcp_handshakes > fast.tcp_handshakes + 0.05 {
        let reuse = if fd.reused < 0.05 {
            Reuse::None
        } else if fd.reused_blocked >= MEANINGFUL {
            Reuse::Waited {
                requests: fd.reused,
                blocked: fd.reused_blocked,
            }
        } else {
            Reuse::Free {
                requests: fd.reused,
            }
        };
        return Explanation::MoreHandshakes {
            fast,
            slow,
            one_per_request: same(slow.connections_opened, sd.requests) && sd.requests > 1.0,
            reuse,
            ttfb_differs: differs(fast.mean_ttfb, slow.mean_ttfb),
        };
    }
    let handshakes = if slow.tcp_handshakes + 0.05 < fast.tcp_handshakes {
        Handshakes::FastPaidMore
    } else if same(slow.tls_handshakes, fast.tls_handshakes) {
        Handshakes::Same
    } else {
        Handshakes::OtherTls
    };
    let mut causes = Vec::new();
    if slow.mean_blocked > fast.mean_blocked && differs(fast.mean_blocked, slow.mean_blocked) {
        causes.push(Cause::Blocked);
    }
    if slow.mean_ttfb > fast.mean_ttfb && differs(fast.mean_ttfb, slow.mean_ttfb) {
        causes.push(Cause::Ttfb);
    }
    if let Some(windows) = slow_start(fast, fd, slow, sd) {
        causes.push(windows);
    }
    Explanation::Elsewhere {
        fast,
        slow,
        handshakes,
        causes,
    }
}

/// When the faster protocol spread the page over more connections on a real (emulated) link:
/// each connection starts with its own congestion window of 10 segments, so fewer connections
/// need more round trips of slow start for the same bytes.
fn slow_start(
    fast: &ProtocolSummary,
    fd: &Detail,
    slow: &ProtocolSummary,
    sd: &Detail,
) -> Option<Cause> {
    use httplab_core::analytical::cold_flights;
    if !(fd.linked && sd.linked) || slow.connections_opened + 0.5 >= fast.connections_opened {
        return None;
    }
    let slow_per_conn = sd.response_bytes / slow.connections_opened.max(1.0);
    let fast_per_conn = fd.response_bytes / fast.connections_opened.max(1.0);
    let slow_flights = cold_flights(slow_per_conn as u64);
    let fast_flights = cold_flights(fast_per_conn as u64);
    (slow_flights > fast_flights).then_some(Cause::SlowStart {
        bytes: sd.response_bytes,
        slow_flights,
        fast_flights,
    })
}

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
