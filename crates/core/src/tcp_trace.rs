//! TCP as the wire saw it: the records of the link's per-connection analysis of every TCP
//! packet it carried during a run (`httplab_link::trace` computes them). They go into
//! `results.json` as `runs[].wire` (docs/results-schema.md), so every field says exactly how it
//! is defined.
//!
//! Conventions shared by every type here:
//! - **Stamps** are offsets from the run's clock epoch, taken where a packet *entered* the link
//!   (the relay's arrival stamp), before the link delayed or dropped it. A packet the link
//!   dropped was still sent, and is counted as sent.
//! - **Offsets** are relative sequence numbers: per direction, offset 0 is the first byte after
//!   the SYN (the sender's ISN + 1), so offset `n` is the `n`-th byte the sending application
//!   wrote into its socket (TLS records included) — the same count as
//!   `ConnectionRecord::bytes_sent` / `bytes_received`. Sequence numbers wrap at 2^32; offsets do
//!   not. When the handshake was not seen, offsets count from the first sequence number seen in
//!   that direction instead (the connection's notes say so).
//! - **What the sender knew**: acknowledgements, advertised windows and SACK blocks count only
//!   when the link delivered the segment that carried them (a dropped ACK never reached the
//!   sender).
//!
//! This module owns the shapes and their meaning; it computes nothing (the link crate does).

use crate::serde_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The wire's account of one run: every TCP connection that crossed the link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTrace {
    /// Every connection seen, in order of its first packet. A 4-tuple that carries a new SYN
    /// (a new ISN) after a FIN or RST, or after a handshake that never finished, starts a new
    /// connection. A run's trace covers the time from its start to its record: a connection
    /// still closing then shows its last packets in the next run's trace, without a handshake.
    pub connections: Vec<WireConnection>,
    /// TCP packets analysed, both ways, the ones the link dropped included.
    pub observations: u64,
    /// Packets not analysed: not IPv4, not TCP, IP fragments, or headers too short for the
    /// lengths they claim.
    pub skipped: u64,
    /// The recorder reached its bound (1,000,000 packets per direction per run) and stopped:
    /// later packets are missing and every count ends there.
    pub truncated: bool,
}

/// Which end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSide {
    /// The side that sent the SYN (or, without a SYN seen, the one in the client's namespace).
    Client,
    /// The other side.
    Server,
}

/// One TCP connection as the link saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireConnection {
    /// The client's address, `ip:port`: the side that sent the SYN; when no SYN was seen, the
    /// address in the client's namespace.
    pub client: String,
    /// The server's address, `ip:port`.
    pub server: String,
    /// The stamp of the connection's first packet, either way.
    #[serde(rename = "first_packet_at_ms", with = "serde_ms")]
    pub first_packet_at: Duration,
    /// The stamp of its last packet, either way; durations still running at the end of the
    /// trace (a zero window, a full receive window) end here.
    #[serde(rename = "last_packet_at_ms", with = "serde_ms")]
    pub last_packet_at: Duration,
    pub handshake: WireHandshake,
    pub outcome: WireOutcome,
    /// Anything odd about the connection or its capture, in plain words (a handshake not seen,
    /// segments out of order, an acknowledgement of bytes never sent, a truncated trace).
    pub notes: Vec<String>,
    /// What the client sent.
    pub client_to_server: WireDirection,
    /// What the server sent.
    pub server_to_client: WireDirection,
}

/// The three-way handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHandshake {
    /// The first SYN's stamp; null when no SYN was seen (the connection began before the trace).
    #[serde(rename = "syn_at_ms", with = "serde_ms::option")]
    pub syn_at: Option<Duration>,
    /// The first SYN-ACK's stamp.
    #[serde(rename = "syn_ack_at_ms", with = "serde_ms::option")]
    pub syn_ack_at: Option<Duration>,
    /// The stamp of the client's first ACK after a SYN-ACK (a pure ACK, or the first data):
    /// the handshake finished, as far as the client knew.
    #[serde(rename = "ack_at_ms", with = "serde_ms::option")]
    pub ack_at: Option<Duration>,
    /// `ack_at − syn_at`: the handshake's round trip from the first SYN, so it includes the
    /// timeouts of any SYN or SYN-ACK retransmission (as the client's connect waited them);
    /// null unless both were seen.
    #[serde(rename = "rtt_ms", with = "serde_ms::option")]
    pub rtt: Option<Duration>,
    /// SYNs sent again (same ISN) after the first.
    pub syn_retransmissions: u32,
    /// SYN-ACKs sent again after the first.
    pub syn_ack_retransmissions: u32,
    /// The MSS option of the client's SYN: the largest segment the client would receive.
    pub client_mss: Option<u16>,
    /// The MSS option of the server's SYN-ACK: the largest segment the server would receive.
    pub server_mss: Option<u16>,
    /// The window scale (shift count) the client's SYN offered, applied to the windows the
    /// client advertises when the SYN-ACK offered one too; at most 14.
    pub client_window_scale: Option<u8>,
    /// The window scale the server's SYN-ACK offered.
    pub server_window_scale: Option<u8>,
    /// Both the SYN and the SYN-ACK carried SACK-permitted.
    pub sack_permitted: bool,
}

/// How a connection ended, as far as the trace shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum WireOutcome {
    /// A FIN was sent (and no RST): by both sides, or by one (`both_ways` false: the other
    /// side's FIN was not seen before the trace ended).
    Complete {
        both_ways: bool,
        /// The stamp of the later side's first FIN (the only one's, one way).
        #[serde(rename = "at_ms", with = "serde_ms")]
        at: Duration,
    },
    /// A RST was sent (whether or not the link delivered it); it overrides any FIN.
    Reset {
        /// The first RST's stamp.
        #[serde(rename = "at_ms", with = "serde_ms")]
        at: Duration,
        /// Who sent it.
        by: WireSide,
    },
    /// A SYN was seen but the client never acknowledged a SYN-ACK (none came, or the link
    /// dropped every one), and no RST ended it.
    HandshakeUnfinished,
    /// Neither FIN nor RST before the trace ended.
    Open,
}

/// Why a segment was sent again (see [`WireRetransmission::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetransmissionKind {
    /// Recovery triggered by the receiver's acknowledgements, as Linux's SACK/RACK recovery
    /// does: since the offset's previous transmission the receiver sent (and the link
    /// delivered) three or more duplicate ACKs at or below the offset, or a SACK block whose
    /// left edge lies above it. A retransmission without such evidence of its own, sent while
    /// an earlier `fast` retransmission's recovery is still running (the receiver has not yet
    /// acknowledged everything sent before it began), is `fast` too.
    Fast,
    /// A retransmission timeout: no such evidence, and at least 200 ms (Linux's minimum RTO)
    /// since the sender last sent anything that takes sequence space (data, SYN or FIN); or a
    /// retransmission without evidence inside the recovery an `rto` one began.
    Rto,
    /// No evidence and a shorter silence: a tail loss probe (Linux's TLP, about two smoothed
    /// round trips after the last send). On paths whose round trip exceeds about 100 ms the
    /// probe timeout reaches 200 ms and such probes count as `rto`.
    TailLossProbe,
}

/// One segment sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRetransmission {
    /// Its stamp.
    #[serde(rename = "at_ms", with = "serde_ms")]
    pub at: Duration,
    /// The stamp of the first transmission of its first previously sent sequence number.
    #[serde(rename = "original_at_ms", with = "serde_ms")]
    pub original_at: Duration,
    /// The offset of its first sequence number (a SYN's is 0: it takes the sequence number
    /// just before offset 0).
    pub offset: u64,
    /// Its payload bytes (0 for a SYN or a bare FIN).
    pub length: u64,
    /// It is a SYN or SYN-ACK.
    pub syn: bool,
    /// It carries a FIN.
    pub fin: bool,
    /// The link had dropped every earlier transmission of at least one of its previously sent
    /// sequence numbers: the receiver needed it. False means spurious: every byte it carried
    /// again had already been delivered once.
    pub original_dropped: bool,
    pub kind: RetransmissionKind,
}

/// One round trip in which the sender sent new data.
///
/// A round starts when the sender sends new data (payload beyond everything it sent before)
/// after an ACK it was delivered has acknowledged at least the first byte of the current
/// round; the first new data starts round 1. So a round is one flight: with ACK clocking each
/// round trip of a transfer is one round, and new data after an idle period starts a new one.
/// Retransmissions belong to no round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRound {
    /// From 1.
    pub index: u64,
    /// The stamp of its first segment carrying new data.
    #[serde(rename = "first_sent_at_ms", with = "serde_ms")]
    pub first_sent_at: Duration,
    /// The stamp of its last segment carrying new data.
    #[serde(rename = "last_sent_at_ms", with = "serde_ms")]
    pub last_sent_at: Duration,
    /// The offset of its first new byte.
    pub start: u64,
    /// One past the offset of its last new byte.
    pub end: u64,
    /// Segments that carried new data in it.
    pub segments: u64,
    /// New payload bytes sent in it.
    pub bytes: u64,
}

/// A time during which the receiver advertised a zero window to this direction's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroWindow {
    /// The stamp of the first ACK advertising a window of 0.
    #[serde(rename = "start_ms", with = "serde_ms")]
    pub start: Duration,
    /// The stamp of the next ACK advertising a nonzero window; null if none came before the
    /// trace ended (the episode then counts until the connection's last packet).
    #[serde(rename = "end_ms", with = "serde_ms::option")]
    pub end: Option<Duration>,
}

/// What one side sent, and how its receiver let it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDirection {
    /// Segments with a payload, retransmissions included.
    pub data_segments: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// Segments whose payload included bytes never sent before.
    pub new_data_segments: u64,
    /// Payload bytes sent for the first time: after a complete transfer, the bytes the
    /// application wrote.
    pub new_payload_bytes: u64,
    /// Segments with ACK set, no payload and no SYN, FIN or RST (window probes and keepalives
    /// excepted).
    pub pure_acks: u64,
    /// Zero-window probes and keepalives: segments of 0 or 1 byte at the sequence number just
    /// below the highest the receiver had acknowledged. Neither data nor retransmissions.
    pub probes: u64,
    /// This side's segments of any kind the link dropped (loss model or full queue).
    pub dropped: u64,
    /// The most bytes in flight after any send: highest sequence number sent less highest
    /// acknowledged (sequence numbers, so a SYN or FIN counts one).
    pub max_in_flight: u64,
    /// The stamp of this side's first FIN.
    #[serde(rename = "fin_at_ms", with = "serde_ms::option")]
    pub fin_at: Option<Duration>,
    /// Rounds (see [`WireRound`]).
    pub round_count: u64,
    /// The first 10,000 rounds.
    pub rounds: Vec<WireRound>,
    /// Segments that carried sequence numbers this side had sent before (wholly or partly at
    /// or below the highest already sent), SYN and SYN-ACK retransmissions included — as the
    /// sending socket's `tcpi_total_retrans` counts them (`TcpInfo::total_retrans` in the
    /// records). Probes are excluded.
    pub retransmitted_segments: u64,
    /// Their payload bytes.
    pub retransmitted_bytes: u64,
    /// Of `retransmitted_segments`, those of each [`RetransmissionKind`].
    pub fast_retransmits: u64,
    pub rto_retransmits: u64,
    pub tail_loss_probes: u64,
    /// Of `retransmitted_segments`, the spurious ones (`original_dropped` false).
    pub spurious_retransmits: u64,
    /// The first 10,000 retransmissions.
    pub retransmissions: Vec<WireRetransmission>,
    /// Time during which the receiver's advertised window left less than one MSS for new
    /// data: the right edge of the last window the sender was delivered (its ACK number plus
    /// the window, scaled by the receiver's negotiated window scale; a SYN's window unscaled)
    /// less the highest sequence number sent was under one MSS (the MSS the receiver announced,
    /// else the largest payload seen this way, else 536). Counted from the first stamp it held
    /// to the first it did not, or to the connection's last packet. Null when the handshake
    /// was not seen (the window scale is then unknown).
    #[serde(rename = "receive_window_full_ms", with = "serde_ms::option")]
    pub receive_window_full: Option<Duration>,
    /// Zero-window episodes: from the first ACK advertising a window of 0 to the next
    /// advertising a nonzero window, as delivered to this side.
    pub zero_window_count: u64,
    /// Their total time (an episode still open counts until the connection's last packet).
    #[serde(rename = "zero_window_ms", with = "serde_ms")]
    pub zero_window: Duration,
    /// The first 10,000 episodes.
    pub zero_windows: Vec<ZeroWindow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_reads_back_as_written() {
        let ms = Duration::from_millis;
        let trace = WireTrace {
            connections: vec![WireConnection {
                client: "10.0.0.1:40000".into(),
                server: "10.0.0.2:443".into(),
                first_packet_at: ms(1),
                last_packet_at: ms(900),
                handshake: WireHandshake {
                    syn_at: Some(ms(1)),
                    rtt: Some(ms(40)),
                    client_window_scale: Some(7),
                    ..WireHandshake::default()
                },
                outcome: WireOutcome::Reset {
                    at: ms(900),
                    by: WireSide::Server,
                },
                notes: vec!["odd".into()],
                client_to_server: WireDirection::default(),
                server_to_client: WireDirection {
                    retransmissions: vec![WireRetransmission {
                        at: ms(300),
                        original_at: ms(50),
                        offset: 1448,
                        length: 1448,
                        syn: false,
                        fin: false,
                        original_dropped: true,
                        kind: RetransmissionKind::TailLossProbe,
                    }],
                    zero_windows: vec![ZeroWindow {
                        start: ms(5),
                        end: None,
                    }],
                    receive_window_full: Some(ms(3)),
                    ..WireDirection::default()
                },
            }],
            observations: 12,
            skipped: 1,
            truncated: false,
        };
        let json = serde_json::to_value(&trace).unwrap();
        assert_eq!(json["connections"][0]["outcome"]["kind"], "reset");
        assert_eq!(json["connections"][0]["outcome"]["at_ms"], 900.0);
        assert_eq!(
            json["connections"][0]["server_to_client"]["retransmissions"][0]["kind"],
            "tail_loss_probe"
        );
        let back: WireTrace = serde_json::from_value(json).unwrap();
        assert_eq!(back, trace);
        let complete = WireOutcome::Complete {
            both_ways: true,
            at: ms(2),
        };
        let json = serde_json::to_string(&complete).unwrap();
        assert_eq!(
            serde_json::from_str::<WireOutcome>(&json).unwrap(),
            complete
        );
    }
}
