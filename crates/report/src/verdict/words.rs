//! The verdict's sentences: every finding of a [`Verdict`] said once, in Markdown (bold names,
//! `code`), which report.md prints as is and report.html turns into paragraphs. It owns the
//! words and the way numbers are written in them (counts, ratios, p-values); it decides
//! nothing: what is said comes from the findings.

use super::{
    CauseFinding, Comparison, Evidence, Explanation, Handshakes, HolFinding, Outcome, Untested,
    Verdict, MEANINGFUL,
};
use crate::hol::Cause as Wait;
use crate::summary::ProtocolSummary;
use httplab_core::analytical::INITIAL_WINDOW_SEGMENTS;
use httplab_core::stats::{self, ALPHA};
use httplab_core::units::format_duration;

impl Verdict<'_> {
    /// The verdict paragraph(s), Markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut out: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let s = f.summary;
                format!(
                    "**{}**: {} of {} requests failed across {} (see `error` in results.json); \
                 its page times describe loads that did not complete and do not compare fairly.",
                    s.label,
                    s.failed_requests,
                    count(f.requests),
                    plural(s.repetitions as f64, "repetition", "repetitions"),
                )
            })
            .collect();
        match &self.comparison {
            Comparison::NoRuns => {
                return "No runs were recorded, so there is nothing to compare.".to_string();
            }
            Comparison::Alone { only, requests } => out.push(format!(
                "**{}** loaded the page in {} (median of {}, p95 {}). It opened {} for {} and paid \
                 {}; mean blocked {}, mean TTFB {}. Only one protocol ran, so there is nothing to \
                 compare it with.",
                only.label,
                format_duration(only.page_time_median),
                only.repetitions,
                format_duration(only.page_time_p95),
                plural(only.connections_opened, "connection", "connections"),
                plural(*requests, "request", "requests"),
                handshakes(only),
                format_duration(only.mean_blocked),
                format_duration(only.mean_ttfb),
            )),
            Comparison::Alike {
                fastest,
                others,
                other_handshakes,
            } => {
                out.push(alike(fastest, others));
                for s in other_handshakes {
                    out.push(format!(
                        "{} paid {} and {} paid {}, yet the page times did not differ beyond noise.",
                        fastest.label,
                        handshakes(fastest),
                        s.label,
                        handshakes(s)
                    ));
                }
            }
            Comparison::Fastest {
                fastest,
                others,
                why,
            } => {
                let mut lead = lead(fastest, others);
                for explanation in why {
                    lead.push(' ');
                    lead.push_str(&explanation.sentence());
                }
                out.push(lead);
            }
        }
        if let Some(untested) = &self.untested {
            out.push(untested.sentence());
        }
        out.extend(self.hol.iter().map(HolFinding::sentence));
        out.extend(self.quic.iter().map(super::QuicLoss::sentence));
        out.join("\n\n")
    }
}

/// No configuration measurably faster: the medians, tested or within noise.
fn alike(fastest: &ProtocolSummary, others: &[(&ProtocolSummary, Outcome)]) -> String {
    let medians: Vec<String> = std::iter::once(format!(
        "**{}** {}",
        fastest.label,
        format_duration(fastest.page_time_median)
    ))
    .chain(others.iter().map(|(s, o)| {
        let qualifier = match o {
            Outcome::NoDifference(p) => format!(" ({})", p_value(*p)),
            _ => String::new(),
        };
        format!(
            "**{}** {}{qualifier}",
            s.label,
            format_duration(s.page_time_median)
        )
    }))
    .collect();
    if others
        .iter()
        .all(|(_, o)| matches!(o, Outcome::NoDifference(_)))
    {
        format!(
            "No significant difference in page load time (Mann–Whitney U, α = {ALPHA}): \
             medians {}.",
            join_and(&medians)
        )
    } else {
        format!(
            "All protocols loaded the page in about the same time, within run-to-run noise \
             (medians: {}).",
            medians.join(", ")
        )
    }
}

/// The fastest's time, then the configurations it beat, those it did not measurably beat and
/// those within noise.
fn lead(fastest: &ProtocolSummary, others: &[(&ProtocolSummary, Outcome)]) -> String {
    let mut faster: Vec<String> = Vec::new();
    let mut no_difference: Vec<String> = Vec::new();
    let mut noise: Vec<String> = Vec::new();
    for (s, o) in others {
        let median = format_duration(s.page_time_median);
        match o {
            Outcome::Faster { ratio, ci, p } => {
                let ci = ci.map_or_else(String::new, |ci| {
                    format!(
                        "95% CI {}–{}, ",
                        ratio_number(ci.low, *ratio),
                        times(ci.high, *ratio)
                    )
                });
                faster.push(format!(
                    "{} faster than {} ({median}; {ci}{})",
                    times(*ratio, *ratio),
                    s.label,
                    p_value(*p)
                ));
            }
            Outcome::UntestedFaster(ratio) => faster.push(format!(
                "{} faster than {} ({median})",
                times(*ratio, *ratio),
                s.label
            )),
            Outcome::NoDifference(p) => {
                no_difference.push(format!("{} ({median}, {})", s.label, p_value(*p)))
            }
            Outcome::UntestedSame => noise.push(format!("{} ({median})", s.label)),
        }
    }
    let mut comparisons = vec![join_and(&faster)];
    if !no_difference.is_empty() {
        comparisons.push(format!(
            "no significant difference from {}",
            join_with(&no_difference, "or")
        ));
    }
    if !noise.is_empty() {
        comparisons.push(format!(
            "about the same as {}, within run-to-run noise",
            join_and(&noise)
        ));
    }
    format!(
        "**{}** loaded the page in {} (median of {}{}), {}.",
        fastest.label,
        format_duration(fastest.page_time_median),
        fastest.repetitions,
        if fastest.failed_requests > 0 {
            format!(
                ", with {}",
                plural(
                    fastest.failed_requests as f64,
                    "failed request",
                    "failed requests"
                )
            )
        } else {
            String::new()
        },
        comparisons.join("; ")
    )
}

impl Explanation<'_> {
    fn sentence(&self) -> String {
        let (fast, slow) = (self.fast, self.slow);
        let mut s = match self.handshakes {
            Handshakes::SlowPaidMore {
                one_per_request,
                reused,
            } => {
                let mut s = format!(
                    "{} opened {} and paid {}",
                    slow.label,
                    plural(slow.connections_opened, "connection", "connections"),
                    handshakes(slow)
                );
                if one_per_request {
                    s.push_str(", one per request");
                }
                s.push_str(&format!(
                    "; {} opened {}",
                    fast.label,
                    count(fast.connections_opened)
                ));
                if reused >= 0.05 {
                    s.push_str(&format!(
                        " and reused them for {}",
                        plural(reused, "more request", "more requests")
                    ));
                }
                s.push('.');
                s
            }
            Handshakes::FastPaidMore => format!(
                "{} was faster despite paying more handshakes ({} against {}'s {}).",
                fast.label,
                handshakes(fast),
                slow.label,
                handshakes(slow)
            ),
            Handshakes::Same => format!("Both paid the same handshakes ({}).", handshakes(fast)),
            Handshakes::OtherTls => format!(
                "Both opened the same connections, but {} paid {} and {} paid {}.",
                fast.label,
                handshakes(fast),
                slow.label,
                handshakes(slow)
            ),
        };
        match &self.top {
            Some(top) => {
                s.push(' ');
                s.push_str(&top.sentence(fast, slow));
            }
            None if !matches!(self.handshakes, Handshakes::SlowPaidMore { .. }) => s.push_str(
                " No one cause of the page's critical path accounts for the difference beyond \
                 noise; compare the per-request tables below.",
            ),
            None => {}
        }
        s
    }
}

impl CauseFinding {
    fn sentence(&self, fast: &ProtocolSummary, slow: &ProtocolSummary) -> String {
        let mut s = format!(
            "Most of the difference is {}: {} spent {} on it along the page's critical path, \
             {} {}",
            self.cause.label(),
            slow.label,
            format_duration(self.slow_time),
            fast.label,
            format_duration(self.fast_time)
        );
        match &self.evidence {
            Evidence::Nothing => s.push('.'),
            Evidence::Queued { ids, mean } => s.push_str(&format!(
                "; {}'s {} queued {} for a connection or stream slot on average.",
                slow.label,
                requests_named(ids),
                format_duration(*mean)
            )),
            Evidence::Path { slow: n, fast: m } => s.push_str(&format!(
                "; {}'s critical path ran through {} one after another, {}'s through {}.",
                slow.label,
                plural(*n as f64, "request", "requests"),
                fast.label,
                count(*m as f64)
            )),
            Evidence::Window {
                segments,
                rounds,
                connections,
            } => s.push_str(&format!(
                "; its server sent {} per connection ({} of them) in {} of its congestion \
                 window, which starts at {} segments (RFC 6928) and waits a round trip for \
                 ACKs each time it is full.",
                plural(segments.round(), "segment", "segments"),
                count(*connections),
                plural(rounds.round(), "round trip", "round trips"),
                INITIAL_WINDOW_SEGMENTS
            )),
            Evidence::Loss {
                slow_retransmitted,
                fast_retransmitted,
                slow_connections,
                fast_connections,
                loss,
                per_connection_bps,
                link_bps,
            } => {
                s.push_str(&format!(
                    "; {}'s {} retransmitted {} per page load, {}'s {} {}",
                    slow.label,
                    plural(*slow_connections, "connection", "connections"),
                    plural(slow_retransmitted.round(), "segment", "segments"),
                    fast.label,
                    count(*fast_connections),
                    count(fast_retransmitted.round())
                ));
                if let Some(bps) = per_connection_bps {
                    let link = link_bps.map(|l| l as f64).unwrap_or(f64::INFINITY);
                    let hold = |n: f64| format_rate((bps * n).min(link));
                    s.push_str(&format!(
                        ". At {} loss one connection holds about {} (Mathis et al.: \
                         1.22·MSS/(RTT·√p), an estimate), so {}'s {} about {} and {}'s {} \
                         about {}",
                        percent(*loss),
                        format_rate(*bps),
                        slow.label,
                        plural(*slow_connections, "connection holds", "connections hold"),
                        hold(*slow_connections),
                        fast.label,
                        count(*fast_connections),
                        hold(*fast_connections)
                    ));
                    if let Some(l) = link_bps {
                        s.push_str(&format!(" of the link's {}", format_rate(*l as f64)));
                    }
                }
                s.push('.');
            }
        }
        s
    }
}

/// "requests 7–13", "requests 2, 5 and 9", "request 4", "12 requests (3–20)".
fn requests_named(ids: &[u32]) -> String {
    match ids {
        [] => "no requests".to_string(),
        [one] => format!("request {one}"),
        _ => {
            let contiguous = ids.windows(2).all(|w| w[1] == w[0] + 1);
            let (first, last) = (ids[0], ids[ids.len() - 1]);
            if contiguous {
                format!("requests {first}–{last}")
            } else if ids.len() <= 5 {
                let named: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                format!("requests {}", join_and(&named))
            } else {
                format!("{} requests (between {first} and {last})", ids.len())
            }
        }
    }
}

/// A fraction as a percentage: 0.02 → "2%", 0.005 → "0.5%".
fn percent(p: f64) -> String {
    let text = format!("{:.2}", p * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// A rate in bits per second, as the scenario files write it.
fn format_rate(bps: f64) -> String {
    httplab_core::units::format_rate(bps.max(0.0).round() as u64)
}

impl Untested {
    /// Why the differences were not tested, and how to make them testable.
    fn sentence(&self) -> String {
        let reps: Vec<usize> = self.repetitions.iter().map(|(_, n)| *n).collect();
        let fewest = reps.iter().copied().min().unwrap_or(0);
        let with = if reps.iter().all(|&n| n == fewest) {
            format!(
                "With {} of each protocol",
                plural(fewest as f64, "repetition", "repetitions")
            )
        } else {
            let each: Vec<String> = self
                .repetitions
                .iter()
                .map(|(label, n)| format!("{n} of {label}"))
                .collect();
            format!("With {} repetitions", join_and(&each))
        };
        let why = match self.best_p {
            None => format!("the test needs at least {} of each", stats::MIN_REPETITIONS),
            Some(best) => format!(
                "even if every run of one were faster than every run of the other, the \
                 Mann–Whitney U test could not reach p < {ALPHA} (at best {})",
                p_value(best)
            ),
        };
        format!(
            "{with}, the differences above cannot be tested for significance: {why}. Run with \
             `--repeat 5` or more to test them."
        )
    }
}

impl HolFinding<'_> {
    fn sentence(&self) -> String {
        match self {
            HolFinding::Behind {
                summary: s,
                group: g,
            } => {
                let range = if g.max - g.min < MEANINGFUL {
                    format_duration(g.max)
                } else {
                    format!("{}–{}", format_duration(g.min), format_duration(g.max))
                };
                let where_ = match g.cause {
                    Wait::Hol => format!(
                        "they were ready at the server early but could not be written before {} \
                         (head-of-line blocking: the `hol` column)",
                        g.blocker
                    ),
                    Wait::Queue => format!(
                        "the server handles one request at a time, so it did not start them until \
                         {} was answered (the server's queue); a parallel server would move that \
                         wait into head-of-line time, since responses must leave in request order",
                        g.blocker
                    ),
                };
                format!(
                    "On {}, the {} behind {} on the same connection waited {} after it ({} took \
                     {} at the server): {}.",
                    s.label,
                    plural(g.count as f64, "response", "responses"),
                    g.blocker,
                    range,
                    g.blocker,
                    format_duration(g.blocker_think),
                    where_
                )
            }
            HolFinding::Mean {
                summary: s,
                requests,
                mean,
            } => format!(
                "On {}, {} over {} had a response ready but queued behind earlier ones on the \
                 same connection (head-of-line blocking, mean {}).",
                s.label,
                plural(*requests as f64, "request", "requests"),
                plural(s.repetitions as f64, "repetition", "repetitions"),
                format_duration(*mean)
            ),
        }
    }
}

/// A per-repetition mean as people say it: "13", or "6.5" when repetitions differ.
pub(crate) fn count(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

fn plural(x: f64, one: &str, many: &str) -> String {
    if count(x) == "1" {
        format!("1 {one}")
    } else {
        format!("{} {many}", count(x))
    }
}

fn handshakes(s: &ProtocolSummary) -> String {
    let suffix = |x: f64| if count(x) == "1" { "" } else { "s" };
    if s.tls_handshakes < 0.05 {
        format!(
            "{} TCP handshake{}",
            count(s.tcp_handshakes),
            suffix(s.tcp_handshakes)
        )
    } else {
        format!(
            "{} TCP and {} TLS handshake{}",
            count(s.tcp_handshakes),
            count(s.tls_handshakes),
            suffix(s.tls_handshakes)
        )
    }
}

/// A speed ratio as people say it: `2.1×`, or `1.04×` below 1.1 where one decimal hides it.
/// `like` picks the precision, so an interval is written as its point estimate is.
pub(super) fn times(x: f64, like: f64) -> String {
    format!("{}×", ratio_number(x, like))
}

/// A ratio as printed: two decimals when it is near 1 (`1.08`), else one (`1.9`); `like` is
/// the ratio whose size decides, so an interval's ends print like its middle.
pub(crate) fn ratio_number(x: f64, like: f64) -> String {
    if like < 1.095 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// A p-value as printed: `p = 0.008`, `p = 0.4`, `p < 0.001`.
pub(crate) fn p_value(p: f64) -> String {
    if p < 0.001 {
        return "p < 0.001".to_string();
    }
    let digits = if p < 0.01 { 3 } else { 2 };
    let s = format!("{p:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p = {s}")
}

fn join_and(parts: &[String]) -> String {
    join_with(parts, "and")
}

fn join_with(parts: &[String], word: &str) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {}", rest.join(", "), last),
    }
}
