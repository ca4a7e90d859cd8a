//! The verdict's sentences: every finding of a [`Verdict`] said once, in Markdown (bold names,
//! `code`), which report.md prints as is and report.html turns into paragraphs. It owns the
//! words and the way numbers are written in them (counts, ratios, p-values); it decides
//! nothing: what is said comes from the findings.

use super::{
    Cause, Comparison, Explanation, Handshakes, HolFinding, Outcome, Reuse, Untested, Verdict,
    MEANINGFUL,
};
use crate::hol::Cause as Wait;
use crate::summary::ProtocolSummary;
use httplab_core::analytical::{INITIAL_WINDOW_SEGMENTS, MSS};
use httplab_core::stats::{self, ALPHA};
use httplab_core::units::{format_duration, format_size};

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
        match self {
            Explanation::MoreHandshakes {
                fast,
                slow,
                one_per_request,
                reuse,
                ttfb_differs,
            } => {
                let mut s = format!(
                    "{} opened {} and paid {}",
                    slow.label,
                    plural(slow.connections_opened, "connection", "connections"),
                    handshakes(slow)
                );
                if *one_per_request {
                    s.push_str(", one per request");
                }
                s.push_str(&format!(
                    "; {} opened {}",
                    fast.label,
                    count(fast.connections_opened)
                ));
                match reuse {
                    Reuse::Waited { requests, blocked } => s.push_str(&format!(
                        " and reused them, so {} waited for a free connection (mean blocked {}) \
                         instead of paying a handshake.",
                        plural(*requests, "request", "requests"),
                        format_duration(*blocked)
                    )),
                    Reuse::Free { requests } => s.push_str(&format!(
                        " and reused them for {} without paying a handshake.",
                        plural(*requests, "more request", "more requests")
                    )),
                    Reuse::None => s.push('.'),
                }
                if *ttfb_differs {
                    s.push_str(&format!(
                        " Mean TTFB was {} for {} and {} for {}.",
                        format_duration(fast.mean_ttfb),
                        fast.label,
                        format_duration(slow.mean_ttfb),
                        slow.label
                    ));
                }
                s
            }
            Explanation::Elsewhere {
                fast,
                slow,
                handshakes: paid,
                causes,
            } => {
                let mut s = match paid {
                    Handshakes::FastPaidMore => format!(
                        "{} was faster despite paying more handshakes ({} against {}'s {})",
                        fast.label,
                        handshakes(fast),
                        slow.label,
                        handshakes(slow)
                    ),
                    Handshakes::Same => {
                        format!("Both paid the same handshakes ({})", handshakes(fast))
                    }
                    Handshakes::OtherTls => format!(
                        "Both opened the same connections, but {} paid {} and {} paid {}",
                        fast.label,
                        handshakes(fast),
                        slow.label,
                        handshakes(slow)
                    ),
                };
                if causes.is_empty() {
                    s.push_str(&format!(
                        ", and mean blocked ({} against {}) and TTFB ({} against {}) do not \
                         account for the difference; compare the per-request tables below.",
                        format_duration(slow.mean_blocked),
                        format_duration(fast.mean_blocked),
                        format_duration(slow.mean_ttfb),
                        format_duration(fast.mean_ttfb)
                    ));
                } else {
                    let said: Vec<String> = causes.iter().map(|c| c.clause(fast, slow)).collect();
                    s.push_str(&format!("; {}.", join_and(&said)));
                }
                s
            }
        }
    }
}

impl Cause {
    fn clause(&self, fast: &ProtocolSummary, slow: &ProtocolSummary) -> String {
        match *self {
            Cause::Blocked => format!(
                "{}'s requests waited longer for a connection (mean blocked {} against {})",
                slow.label,
                format_duration(slow.mean_blocked),
                format_duration(fast.mean_blocked)
            ),
            Cause::Ttfb => format!(
                "{}'s first response bytes came later (mean TTFB {} against {})",
                slow.label,
                format_duration(slow.mean_ttfb),
                format_duration(fast.mean_ttfb)
            ),
            Cause::SlowStart {
                bytes,
                slow_flights,
                fast_flights,
            } => {
                let window = INITIAL_WINDOW_SEGMENTS * MSS;
                format!(
                    "{} carried the page's {} of responses on {}, where TCP slow start begins \
                     from a {}-segment window ({}) per connection: about {} round trips of it, \
                     against about {} for each of {}'s {} ({} of initial windows together)",
                    slow.label,
                    format_size(bytes as u64),
                    plural(slow.connections_opened, "connection", "connections"),
                    INITIAL_WINDOW_SEGMENTS,
                    format_size(window),
                    slow_flights,
                    fast_flights,
                    fast.label,
                    plural(fast.connections_opened, "connection", "connections"),
                    format_size((fast.connections_opened * window as f64) as u64)
                )
            }
        }
    }
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
