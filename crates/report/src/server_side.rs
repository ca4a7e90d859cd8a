//! The server's side of a connection: when the server accepted each of the client's
//! connections. With `[server] max_connections`, a connection the kernel completed (the client's
//! connect returned) can wait in the listen backlog until the server takes it; the client sees
//! only a slow first response, the server's log shows why. This module matches the two ends by
//! address and says it in words; it measures nothing.

use crate::summary::{median_run, ProtocolSummary};
use httplab_core::units::format_duration;
use httplab_core::{RunRecord, Scenario};
use std::time::Duration;

/// A wait shorter than this is the server's accept loop, not a backlog.
const NOTICEABLE: Duration = Duration::from_millis(2);

/// Per client connection of `run` that the server saw: how long it waited between the
/// server's kernel completing the handshake and the server accepting it. The kernel completes
/// it when the client's ACK arrives, `uplink_delay` after the client's connect returned (half
/// the RTT on an emulated link; nothing on loopback).
pub(crate) fn accept_waits(run: &RunRecord, uplink_delay: Duration) -> Vec<(u32, Duration)> {
    run.connections
        .iter()
        .filter_map(|c| {
            let server = run
                .server_connections
                .iter()
                .find(|s| s.peer_addr == c.local_addr)?;
            let connected = c.opened_at + c.tcp_connect + uplink_delay;
            Some((c.id, server.accepted_at.saturating_sub(connected)))
        })
        .collect()
}

/// One sentence per configuration whose median run had connections wait in the backlog.
pub(crate) fn accept_sentences(
    scenario: &Scenario,
    runs: &[RunRecord],
    summaries: &[ProtocolSummary],
) -> Vec<String> {
    summaries
        .iter()
        .filter_map(|s| {
            let run = median_run(runs, s)?;
            let uplink_delay = match (&run.link, &scenario.network) {
                (Some(_), Some(net)) => net.uplink_delay(),
                _ => Duration::ZERO,
            };
            let waits = accept_waits(run, uplink_delay);
            let waited: Vec<Duration> = waits
                .iter()
                .map(|(_, w)| *w)
                .filter(|w| *w >= NOTICEABLE)
                .collect();
            let longest = waited.iter().max()?;
            let cap = scenario
                .server
                .max_connections
                .map(|m| format!(" (`max_connections = {m}`)"))
                .unwrap_or_default();
            Some(format!(
                "{}: {} of {} connections waited in the server's accept backlog{cap}, up to {}, \
                 before the server took them; until then their requests could not reach it",
                s.label,
                waited.len(),
                waits.len(),
                format_duration(*longest)
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RunBuilder;
    use httplab_core::ServerConnectionRecord;

    #[test]
    fn a_connection_accepted_late_waited_in_the_backlog() {
        let mut run = RunBuilder::http11(0, 200).build();
        let server = |i: usize, accepted: Duration| ServerConnectionRecord {
            connection: i as u64,
            peer_addr: run.connections[i].local_addr.clone(),
            accepted_at: accepted,
            first_request_at: None,
            requests: 1,
            closed_at: None,
            tcp_info: Default::default(),
            quic: None,
        };
        let c0 = &run.connections[0];
        let on_time = c0.opened_at + c0.tcp_connect + Duration::from_micros(100);
        let c1 = &run.connections[1];
        let late = c1.opened_at + c1.tcp_connect + Duration::from_millis(500);
        run.server_connections = vec![server(0, on_time), server(1, late)];
        let waits = accept_waits(&run, Duration::ZERO);
        assert_eq!(waits.len(), 2);
        assert_eq!(
            waits[0],
            (run.connections[0].id, Duration::from_micros(100))
        );
        assert_eq!(
            waits[1],
            (run.connections[1].id, Duration::from_millis(500))
        );
        let summaries = crate::summarize(std::slice::from_ref(&run));
        let lines = accept_sentences(&crate::fixtures::scenario(), &[run], &summaries);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("1 of 2 connections waited"), "{lines:?}");
        assert!(lines[0].contains("500"), "{lines:?}");
    }
}
