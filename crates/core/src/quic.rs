//! A QUIC connection's own account, as its endpoint keeps it (quinn's path and UDP counters):
//! the transport's RTT estimate, congestion window and controller, packets sent and lost, and
//! the datagrams and bytes each way. QUIC runs its congestion control in user space, so this
//! is the QUIC connection's counterpart of a TCP socket's `TCP_INFO`
//! ([`TcpInfo`](crate::TcpInfo)); it is read as the connection closes (or when the records are
//! taken, if it is still open).

use crate::serde_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// QUIC version 1 (RFC 9000), the only one the lab speaks.
pub const QUIC_V1: u32 = 0x0000_0001;

/// One reading of a QUIC connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuicInfo {
    /// When it was read, on the run's clock.
    #[serde(rename = "at_ms", with = "serde_ms")]
    pub at: Duration,
    /// The QUIC version in use, e.g. "0x00000001".
    pub version: String,
    /// The congestion controller: "cubic" (the default, as the kernel TCP the other
    /// protocols use), "newreno" or "bbr".
    pub congestion_control: String,
    /// The smoothed RTT estimate.
    #[serde(rename = "rtt_ms", with = "serde_ms")]
    pub rtt: Duration,
    /// The congestion window, in bytes.
    pub cwnd: u64,
    /// The path's maximum UDP payload, in bytes.
    pub mtu: u16,
    /// Congestion events (each a window cut by loss or ECN).
    pub congestion_events: u64,
    /// Packets sent, and those declared lost (each carried again in a new packet, QUIC never
    /// resends a packet number), with their bytes.
    pub sent_packets: u64,
    pub lost_packets: u64,
    pub lost_bytes: u64,
    /// UDP datagrams and their payload bytes, each way.
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// The version as outputs write it.
pub fn version_name(version: u32) -> String {
    format!("{version:#010x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_reads_as_its_wire_value() {
        assert_eq!(version_name(QUIC_V1), "0x00000001");
    }

    #[test]
    fn a_reading_round_trips_through_json() {
        let info = QuicInfo {
            at: Duration::from_millis(12),
            version: version_name(QUIC_V1),
            congestion_control: "cubic".into(),
            rtt: Duration::from_micros(40_250),
            cwnd: 14_720,
            mtu: 1452,
            congestion_events: 1,
            sent_packets: 40,
            lost_packets: 2,
            lost_bytes: 2_400,
            datagrams_sent: 40,
            datagrams_received: 60,
            bytes_sent: 9_000,
            bytes_received: 70_000,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["rtt_ms"], 40.25);
        assert_eq!(serde_json::from_value::<QuicInfo>(json).unwrap(), info);
    }
}
