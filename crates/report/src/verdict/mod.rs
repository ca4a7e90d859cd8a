//! The verdict: a paragraph in words, derived only from the numbers, saying which protocol
//! loaded the page fastest, by how much, whether the difference is real, and what the records
//! show about why (handshakes paid, time blocked waiting for a connection, time to first byte,
//! head-of-line blocking). It claims nothing the numbers do not show: with enough repetitions a
//! difference is stated with its bootstrap 95% interval and its Mann–Whitney p-value, or called
//! no significant difference (α = 0.05); with too few to test, differences within 5% are called
//! noise and the reader is told the rest was not tested; failed requests are named before
//! anything else. It deliberately does not model or predict (that is the analytical
//! model's job) and does not format tables.

use crate::summary::{runs_of, ProtocolSummary};
use httplab_core::stats::{self, Interval, ALPHA};
use httplab_core::units::format_duration;
use httplab_core::RunRecord;
use std::time::Duration;

/// Page times within this fraction of each other are "about the same".
const NOISE: f64 = 0.05;
/// Phase differences smaller than this are not worth a sentence.
const MEANINGFUL: Duration = Duration::from_micros(100);

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

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.05
}

fn differs(a: Duration, b: Duration) -> bool {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi - lo >= MEANINGFUL && hi.as_secs_f64() > lo.as_secs_f64() * (1.0 + NOISE)
}

/// The verdict paragraph(s), Markdown.
pub(crate) fn verdict(summaries: &[ProtocolSummary], runs: &[RunRecord]) -> String {
    if summaries.is_empty() {
        return "No runs were recorded, so there is nothing to compare.".to_string();
    }
    let mut out: Vec<String> = Vec::new();

    for s in summaries.iter().filter(|s| s.failed_requests > 0) {
        let d = detail(runs, &s.label);
        out.push(format!(
            "**{}**: {} of {} requests failed across {} (see `error` in results.json); \
             its page times describe loads that did not complete and do not compare fairly.",
            s.label,
            s.failed_requests,
            count(d.requests * s.repetitions as f64),
            plural(s.repetitions as f64, "repetition", "repetitions"),
        ));
    }

    let mut by_time: Vec<&ProtocolSummary> = summaries.iter().collect();
    by_time.sort_by_key(|s| s.page_time_median);
    let fast = by_time[0];
    let fd = detail(runs, &fast.label);

    if by_time.len() == 1 {
        out.push(format!(
            "**{}** loaded the page in {} (median of {}, p95 {}). It opened {} for {} and paid {}; \
             mean blocked {}, mean TTFB {}. Only one protocol ran, so there is nothing to compare it with.",
            fast.label,
            format_duration(fast.page_time_median),
            fast.repetitions,
            format_duration(fast.page_time_p95),
            plural(fast.connections_opened, "connection", "connections"),
            plural(fd.requests, "request", "requests"),
            handshakes(fast),
            format_duration(fast.mean_blocked),
            format_duration(fast.mean_ttfb),
        ));
        out.extend(hol_sentences(summaries, runs));
        return out.join("\n\n");
    }

    let slower = &by_time[1..];
    let outcomes: Vec<Outcome> = slower.iter().map(|s| outcome(fast, s)).collect();
    let untested = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::UntestedFaster(_) | Outcome::UntestedSame));

    if outcomes.iter().all(|o| !o.differs()) {
        let medians: Vec<String> = std::iter::once(format!(
            "**{}** {}",
            fast.label,
            format_duration(fast.page_time_median)
        ))
        .chain(slower.iter().zip(&outcomes).map(|(s, o)| {
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
        if outcomes
            .iter()
            .all(|o| matches!(o, Outcome::NoDifference(_)))
        {
            out.push(format!(
                "No significant difference in page load time (Mann–Whitney U, α = {ALPHA}): \
                 medians {}.",
                join_and(&medians)
            ));
        } else {
            out.push(format!(
                "All protocols loaded the page in about the same time, within run-to-run noise \
                 (medians: {}).",
                medians.join(", ")
            ));
        }
        for s in slower {
            if !same(s.tcp_handshakes, fast.tcp_handshakes)
                || !same(s.tls_handshakes, fast.tls_handshakes)
            {
                out.push(format!(
                    "{} paid {} and {} paid {}, yet the page times did not differ beyond noise.",
                    fast.label,
                    handshakes(fast),
                    s.label,
                    handshakes(s)
                ));
            }
        }
        if untested {
            out.push(untested_note(summaries));
        }
        out.extend(hol_sentences(summaries, runs));
        return out.join("\n\n");
    }

    // Faster-than clauses first, then the configurations it did not measurably beat.
    let mut faster: Vec<String> = Vec::new();
    let mut no_difference: Vec<String> = Vec::new();
    let mut noise: Vec<String> = Vec::new();
    for (s, o) in slower.iter().zip(&outcomes) {
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
    let mut lead = format!(
        "**{}** loaded the page in {} (median of {}{}), {}.",
        fast.label,
        format_duration(fast.page_time_median),
        fast.repetitions,
        if fast.failed_requests > 0 {
            format!(
                ", with {}",
                plural(
                    fast.failed_requests as f64,
                    "failed request",
                    "failed requests"
                )
            )
        } else {
            String::new()
        },
        comparisons.join("; ")
    );
    for (s, _) in slower.iter().zip(&outcomes).filter(|(_, o)| o.differs()) {
        lead.push(' ');
        lead.push_str(&explain(fast, &fd, s, &detail(runs, &s.label)));
    }
    out.push(lead);
    if untested {
        out.push(untested_note(summaries));
    }
    out.extend(hol_sentences(summaries, runs));
    out.join("\n\n")
}

/// How a slower configuration's page times compare with the fastest one's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
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

/// Why the differences were not tested, and how to make them testable.
fn untested_note(summaries: &[ProtocolSummary]) -> String {
    let reps: Vec<usize> = summaries.iter().map(|s| s.repetitions).collect();
    let fewest = reps.iter().copied().min().unwrap_or(0);
    let with = if reps.iter().all(|&n| n == fewest) {
        format!(
            "With {} of each protocol",
            plural(fewest as f64, "repetition", "repetitions")
        )
    } else {
        let each: Vec<String> = summaries
            .iter()
            .map(|s| format!("{} of {}", s.repetitions, s.label))
            .collect();
        format!("With {} repetitions", join_and(&each))
    };
    let why = if fewest < stats::MIN_REPETITIONS {
        format!("the test needs at least {} of each", stats::MIN_REPETITIONS)
    } else {
        let mut sorted = reps.clone();
        sorted.sort_unstable();
        let best = stats::mann_whitney::smallest_p(sorted[0], sorted[1]);
        format!(
            "even if every run of one were faster than every run of the other, the Mann–Whitney \
             U test could not reach p < {ALPHA} (at best {})",
            p_value(best)
        )
    };
    format!(
        "{with}, the differences above cannot be tested for significance: {why}. Run with \
         `--repeat 5` or more to test them."
    )
}

/// A speed ratio as people say it: `2.1×`, or `1.04×` below 1.1 where one decimal hides it.
/// `like` picks the precision, so an interval is written as its point estimate is.
fn times(x: f64, like: f64) -> String {
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

/// Why `slow` took longer than `fast`, in the terms the records measure.
fn explain(fast: &ProtocolSummary, fd: &Detail, slow: &ProtocolSummary, sd: &Detail) -> String {
    let mut s = String::new();
    if slow.tcp_handshakes > fast.tcp_handshakes + 0.05 {
        s.push_str(&format!(
            "{} opened {} and paid {}",
            slow.label,
            plural(slow.connections_opened, "connection", "connections"),
            handshakes(slow)
        ));
        if same(slow.connections_opened, sd.requests) && sd.requests > 1.0 {
            s.push_str(", one per request");
        }
        s.push_str(&format!(
            "; {} opened {}",
            fast.label,
            count(fast.connections_opened)
        ));
        if fd.reused >= 0.05 {
            if fd.reused_blocked >= MEANINGFUL {
                s.push_str(&format!(
                    " and reused them, so {} waited for a free connection (mean blocked {}) \
                     instead of paying a handshake.",
                    plural(fd.reused, "request", "requests"),
                    format_duration(fd.reused_blocked)
                ));
            } else {
                s.push_str(&format!(
                    " and reused them for {} without paying a handshake.",
                    plural(fd.reused, "more request", "more requests")
                ));
            }
        } else {
            s.push('.');
        }
        if differs(fast.mean_ttfb, slow.mean_ttfb) {
            s.push_str(&format!(
                " Mean TTFB was {} for {} and {} for {}.",
                format_duration(fast.mean_ttfb),
                fast.label,
                format_duration(slow.mean_ttfb),
                slow.label
            ));
        }
        return s;
    }

    if slow.tcp_handshakes + 0.05 < fast.tcp_handshakes {
        s.push_str(&format!(
            "{} was faster despite paying more handshakes ({} against {}'s {})",
            fast.label,
            handshakes(fast),
            slow.label,
            handshakes(slow)
        ));
    } else if same(slow.tls_handshakes, fast.tls_handshakes) {
        s.push_str(&format!(
            "Both paid the same handshakes ({})",
            handshakes(fast)
        ));
    } else {
        // Same TCP connections, different TLS (h2 against h2c, say).
        s.push_str(&format!(
            "Both opened the same connections, but {} paid {} and {} paid {}",
            fast.label,
            handshakes(fast),
            slow.label,
            handshakes(slow)
        ));
    }
    let mut where_: Vec<String> = Vec::new();
    if slow.mean_blocked > fast.mean_blocked && differs(fast.mean_blocked, slow.mean_blocked) {
        where_.push(format!(
            "{}'s requests waited longer for a connection (mean blocked {} against {})",
            slow.label,
            format_duration(slow.mean_blocked),
            format_duration(fast.mean_blocked)
        ));
    }
    if slow.mean_ttfb > fast.mean_ttfb && differs(fast.mean_ttfb, slow.mean_ttfb) {
        where_.push(format!(
            "{}'s first response bytes came later (mean TTFB {} against {})",
            slow.label,
            format_duration(slow.mean_ttfb),
            format_duration(fast.mean_ttfb)
        ));
    }
    if let Some(windows) = slow_start_sentence(fast, fd, slow, sd) {
        where_.push(windows);
    }
    if where_.is_empty() {
        s.push_str(&format!(
            ", and mean blocked ({} against {}) and TTFB ({} against {}) do not account for \
             the difference; compare the per-request tables below.",
            format_duration(slow.mean_blocked),
            format_duration(fast.mean_blocked),
            format_duration(slow.mean_ttfb),
            format_duration(fast.mean_ttfb)
        ));
    } else {
        s.push_str(&format!("; {}.", join_and(&where_)));
    }
    s
}

/// When the faster protocol spread the page over more connections on a real (emulated) link:
/// each connection starts with its own congestion window of 10 segments, so fewer connections
/// need more round trips of slow start for the same bytes.
fn slow_start_sentence(
    fast: &ProtocolSummary,
    fd: &Detail,
    slow: &ProtocolSummary,
    sd: &Detail,
) -> Option<String> {
    use httplab_core::analytical::{cold_flights, INITIAL_WINDOW_SEGMENTS, MSS};
    if !(fd.linked && sd.linked) || slow.connections_opened + 0.5 >= fast.connections_opened {
        return None;
    }
    let slow_per_conn = sd.response_bytes / slow.connections_opened.max(1.0);
    let fast_per_conn = fd.response_bytes / fast.connections_opened.max(1.0);
    let slow_flights = cold_flights(slow_per_conn as u64);
    let fast_flights = cold_flights(fast_per_conn as u64);
    if slow_flights <= fast_flights {
        return None;
    }
    let window = INITIAL_WINDOW_SEGMENTS * MSS;
    Some(format!(
        "{} carried the page's {} of responses on {}, where TCP slow start begins from a \
         {}-segment window ({}) per connection: about {} round trips of it, against about {} \
         for each of {}'s {} ({} of initial windows together)",
        slow.label,
        httplab_core::units::format_size(sd.response_bytes as u64),
        plural(slow.connections_opened, "connection", "connections"),
        INITIAL_WINDOW_SEGMENTS,
        httplab_core::units::format_size(window),
        slow_flights,
        fast_flights,
        fast.label,
        plural(fast.connections_opened, "connection", "connections"),
        httplab_core::units::format_size((fast.connections_opened * window as f64) as u64)
    ))
}

fn hol_sentences(summaries: &[ProtocolSummary], runs: &[RunRecord]) -> Vec<String> {
    summaries
        .iter()
        .filter_map(|s| {
            if let Some(sentence) = behind_sentence(s, runs) {
                return Some(sentence);
            }
            let d = detail(runs, &s.label);
            let hol = d.hol?;
            Some(format!(
                "On {}, {} over {} had a response ready but queued behind earlier ones \
                 on the same connection (head-of-line blocking, mean {}).",
                s.label,
                plural(d.hol_requests as f64, "request", "requests"),
                plural(s.repetitions as f64, "repetition", "repetitions"),
                format_duration(hol)
            ))
        })
        .collect()
}

/// What waited behind a slow response on one connection in the median run, from the server's
/// own queue and turn times.
fn behind_sentence(s: &ProtocolSummary, runs: &[RunRecord]) -> Option<String> {
    let run = crate::summary::median_run(runs, s)?;
    let groups = crate::hol::behind(run);
    let g = groups.first()?;
    let range = if g.max - g.min < MEANINGFUL {
        format_duration(g.max)
    } else {
        format!("{}–{}", format_duration(g.min), format_duration(g.max))
    };
    let where_ = match g.cause {
        crate::hol::Cause::Hol => format!(
            "they were ready at the server early but could not be written before {} \
             (head-of-line blocking: the `hol` column)",
            g.blocker
        ),
        crate::hol::Cause::Queue => format!(
            "the server handles one request at a time, so it did not start them until {} \
             was answered (the server's queue); a parallel server would move that wait into \
             head-of-line time, since responses must leave in request order",
            g.blocker
        ),
    };
    Some(format!(
        "On {}, the {} behind {} on the same connection waited {} after it ({} took {} at \
         the server): {}.",
        s.label,
        plural(g.count as f64, "response", "responses"),
        g.blocker,
        range,
        g.blocker,
        format_duration(g.blocker_think),
        where_
    ))
}

#[cfg(test)]
mod tests;
