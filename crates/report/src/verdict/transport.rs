//! What the transport did with loss, for a configuration over QUIC (HTTP/3) beside one over a
//! single TCP connection (HTTP/2): each side's own count of what it sent again. QUIC's server
//! counts its lost packets (quinn's account, `server_connections[].quic`); TCP's
//! retransmissions are counted on the wire. The difference the sentence draws is the
//! protocols': QUIC delivers each stream on its own, so a lost packet stalls only the streams
//! whose bytes it carried, where a lost TCP segment stalls every HTTP/2 stream behind it. It
//! measures no stall per stream (QUIC's packets are encrypted on the wire, and quinn does not
//! say which streams a lost packet carried); it says only what the counts and the protocols
//! show.

use super::words::count;
use crate::summary::{runs_of, ProtocolSummary};
use httplab_core::{Protocol, RunRecord};

/// Loss met by a QUIC configuration, with a TCP one's beside it.
#[derive(Debug)]
pub(crate) struct QuicLoss<'a> {
    pub summary: &'a ProtocolSummary,
    /// Packets the server's QUIC declared lost, mean per page load.
    pub lost: f64,
    /// Its congestion window cuts, mean per page load, and its controller.
    pub congestion_events: f64,
    pub controller: String,
    /// A configuration on one TCP connection per origin (HTTP/2) and its retransmitted
    /// segments per page load, from the wire.
    pub tcp: Option<(&'a ProtocolSummary, f64)>,
}

/// The QUIC configurations whose servers lost packets.
pub(crate) fn quic_losses<'a>(
    summaries: &'a [ProtocolSummary],
    runs: &[RunRecord],
) -> Vec<QuicLoss<'a>> {
    let tcp = summaries
        .iter()
        .find(|s| matches!(s.protocol, Protocol::H2 | Protocol::H2c))
        .map(|s| (s, retransmitted(&runs_of(runs, &s.label))))
        .filter(|(_, n)| *n > 0.0);
    summaries
        .iter()
        .filter(|s| s.protocol.is_quic())
        .filter_map(|s| {
            let mine = runs_of(runs, &s.label);
            let n = mine.len().max(1) as f64;
            let readings = || {
                mine.iter()
                    .flat_map(|r| r.server_connections.iter())
                    .filter_map(|c| c.quic.as_ref())
            };
            let lost = readings().map(|q| q.lost_packets).sum::<u64>() as f64 / n;
            if lost == 0.0 {
                return None;
            }
            Some(QuicLoss {
                summary: s,
                lost,
                congestion_events: readings().map(|q| q.congestion_events).sum::<u64>() as f64 / n,
                controller: readings()
                    .next()
                    .map(|q| q.congestion_control.clone())
                    .unwrap_or_default(),
                tcp,
            })
        })
        .collect()
}

/// Segments retransmitted on the wire, both ways, mean per run.
fn retransmitted(runs: &[&RunRecord]) -> f64 {
    let total: u64 = runs
        .iter()
        .filter_map(|r| r.wire.as_ref())
        .flat_map(|w| w.connections.iter())
        .map(|w| {
            w.server_to_client.retransmitted_segments + w.client_to_server.retransmitted_segments
        })
        .sum();
    total as f64 / runs.len().max(1) as f64
}

impl QuicLoss<'_> {
    pub(crate) fn sentence(&self) -> String {
        let mut s = format!(
            "{}'s server lost {} {} per page load (its QUIC's own count; {} cut the window {} \
             {}); QUIC delivers each stream on its own, so each loss stalled only the streams \
             whose bytes it carried",
            self.summary.label,
            count(self.lost.round()),
            if self.lost.round() == 1.0 {
                "packet"
            } else {
                "packets"
            },
            self.controller,
            count(self.congestion_events.round()),
            if self.congestion_events.round() == 1.0 {
                "time"
            } else {
                "times"
            },
        );
        match self.tcp {
            Some((tcp, segments)) => {
                s.push_str(&format!(
                ", where each of {}'s {} retransmitted {} stalled every stream behind it on its \
                 TCP connection.",
                tcp.label,
                count(segments.round()),
                if segments.round() == 1.0 { "segment" } else { "segments" },
            ))
            }
            None => s.push('.'),
        }
        s
    }
}
