//! Head-of-line analysis of one run: which responses waited behind an earlier, slower one on the
//! same connection, for how long, and where the wait happened. It reads the server's own log
//! (queue = arrival → handler start, hol = response ready → its turn to be written), matched to
//! the client's requests, so it needs runs served by the lab's own HTTP/1.1 loop (a scenario with
//! `[server] pipelining`); with hyper's records it finds nothing. It formats nothing.

use httplab_core::{RequestRecord, RunRecord, ServerRequestRecord};
use std::time::Duration;

/// Waits shorter than this are not "blocked behind" anything.
const BLOCKED: Duration = Duration::from_millis(1);

/// Where the waiting happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// In a serial server's queue: not started until the earlier response was sent.
    Queue,
    /// Ready at the server, but its turn to be written had not come (head-of-line blocking).
    Hol,
}

/// Responses that waited behind one earlier response on their connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Behind {
    /// The path of the response they waited behind.
    pub blocker: String,
    /// That response's own server time (think).
    pub blocker_think: Duration,
    /// How many responses waited behind it.
    pub count: usize,
    pub min: Duration,
    pub max: Duration,
    pub cause: Cause,
}

/// Groups of responses that waited behind an earlier one, largest wait first.
pub(crate) fn behind(run: &RunRecord) -> Vec<Behind> {
    let mut groups: Vec<(Behind, Duration, Duration)> = Vec::new();
    for r in run.requests.iter().filter(|r| r.error.is_none()) {
        let Some(s) = run.server_view(r.id) else {
            continue;
        };
        let hol = s.hol().unwrap_or_default();
        let waited = s.queue() + hol;
        if waited < BLOCKED {
            continue;
        }
        let Some((blocker, blocker_server)) = slowest_before(run, r) else {
            continue;
        };
        match groups
            .iter_mut()
            .find(|(g, _, _)| g.blocker == blocker.path)
        {
            Some((g, queue, hols)) => {
                g.count += 1;
                g.min = g.min.min(waited);
                g.max = g.max.max(waited);
                *queue += s.queue();
                *hols += hol;
            }
            None => groups.push((
                Behind {
                    blocker: blocker.path.clone(),
                    blocker_think: blocker_server.think(),
                    count: 1,
                    min: waited,
                    max: waited,
                    cause: Cause::Queue,
                },
                s.queue(),
                hol,
            )),
        }
    }
    let mut out: Vec<Behind> = groups
        .into_iter()
        .map(|(mut g, queue, hol)| {
            g.cause = if hol > queue {
                Cause::Hol
            } else {
                Cause::Queue
            };
            g
        })
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.max));
    out
}

/// The earlier request on the same connection that took the server longest.
fn slowest_before<'a>(
    run: &'a RunRecord,
    r: &RequestRecord,
) -> Option<(&'a RequestRecord, &'a ServerRequestRecord)> {
    run.requests
        .iter()
        .filter(|e| e.id != r.id && e.connection == r.connection && e.sent_at() <= r.sent_at())
        .filter_map(|e| run.server_view(e.id).map(|s| (e, s)))
        .max_by_key(|(_, s)| s.think())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;
    use httplab_core::Protocol;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A pipelined run: request 0 thinks 500 ms, the rest wait behind it in `queue` or `hol`.
    fn pipelined(in_hol: bool) -> RunRecord {
        let mut run = RunBuilder::new(Protocol::Http11Pipelined, 0).build();
        for r in run.requests.iter_mut() {
            r.connection = Some(0);
        }
        let t0 = run.server[0].arrived_at;
        for (i, s) in run.server.iter_mut().enumerate() {
            s.arrived_at = t0;
            if i == 0 {
                s.started_at = t0;
                s.response_ready_at = t0 + ms(500);
                s.turn_at = Some(t0);
            } else if in_hol {
                s.started_at = t0;
                s.response_ready_at = t0 + ms(2);
                s.turn_at = Some(t0 + ms(500) + ms(i as u64));
            } else {
                s.started_at = t0 + ms(500) + ms(i as u64);
                s.response_ready_at = s.started_at + ms(2);
                s.turn_at = Some(s.started_at);
            }
        }
        run
    }

    #[test]
    fn finds_what_waited_behind_the_slow_response_and_where() {
        let n = pipelined(true).requests.len();
        let hol = behind(&pipelined(true));
        assert_eq!(hol.len(), 1, "{hol:?}");
        assert_eq!(hol[0].blocker, pipelined(true).requests[0].path);
        assert_eq!((hol[0].count, hol[0].cause), (n - 1, Cause::Hol));
        assert_eq!((hol[0].min, hol[0].max), (ms(499), ms(497 + n as u64)));
        assert_eq!(hol[0].blocker_think, ms(500));
        let queue = behind(&pipelined(false));
        assert_eq!((queue[0].count, queue[0].cause), (n - 1, Cause::Queue));
        assert_eq!(queue[0].min, ms(501));
    }

    #[test]
    fn nothing_without_server_waits() {
        assert!(behind(&RunBuilder::http11(0, 10).build()).is_empty());
    }
}
