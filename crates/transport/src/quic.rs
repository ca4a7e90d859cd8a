//! QUIC's transport settings, shared by the lab's HTTP/3 client and server: the congestion
//! controller (QUIC runs its own, in user space), the idle timeout, the stream limit and the
//! receive windows. Kept here so both ends read a scenario the same way.

use httplab_core::quic::{version_name, QUIC_V1};
use httplab_core::QuicInfo;
use quinn::congestion::{BbrConfig, CubicConfig, NewRenoConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use std::sync::Arc;
use std::time::Duration;

pub use httplab_core::network::QUIC_CONGESTION_CONTROLS;

/// What one end of a QUIC connection is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicSettings {
    /// `cubic`, `reno` (QUIC's NewReno) or `bbr`.
    pub congestion_control: String,
    /// The connection closes silently after this long without a packet (the smaller of both
    /// ends' values applies).
    pub idle_timeout: Duration,
    /// Streams the peer may open at once (the server's cap on requests in flight).
    pub max_concurrent_streams: u32,
    /// Bytes the peer may send on one stream, and on the connection, unacknowledged.
    pub stream_window: u32,
    pub connection_window: u32,
}

impl QuicSettings {
    /// The name outputs record for the controller: QUIC's own (`newreno` for `reno`).
    pub fn controller_name(&self) -> &'static str {
        match self.congestion_control.as_str() {
            "reno" => "newreno",
            "bbr" => "bbr",
            _ => "cubic",
        }
    }

    /// quinn's transport configuration for these settings; an unknown congestion control is an
    /// error naming the ones QUIC has.
    pub fn transport(&self) -> Result<Arc<TransportConfig>, String> {
        let mut t = TransportConfig::default();
        match self.congestion_control.as_str() {
            "cubic" => t.congestion_controller_factory(Arc::new(CubicConfig::default())),
            "reno" => t.congestion_controller_factory(Arc::new(NewRenoConfig::default())),
            "bbr" => t.congestion_controller_factory(Arc::new(BbrConfig::default())),
            other => {
                return Err(format!(
                    "QUIC has no congestion control \"{other}\"; it has {}",
                    QUIC_CONGESTION_CONTROLS.join(", ")
                ))
            }
        };
        let idle = IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| format!("a QUIC idle timeout of {:?} is too long", self.idle_timeout))?;
        t.max_idle_timeout(Some(idle))
            .max_concurrent_bidi_streams(VarInt::from_u32(self.max_concurrent_streams))
            .stream_receive_window(VarInt::from_u32(self.stream_window))
            .receive_window(VarInt::from_u32(self.connection_window))
            .send_window(u64::from(self.connection_window));
        Ok(Arc::new(t))
    }
}

/// quinn's account of `connection`, read at `at`; `controller` names its congestion control.
pub fn reading(connection: &quinn::Connection, at: Duration, controller: &str) -> QuicInfo {
    let stats = connection.stats();
    QuicInfo {
        at,
        version: version_name(QUIC_V1),
        congestion_control: controller.to_string(),
        rtt: stats.path.rtt,
        cwnd: stats.path.cwnd,
        mtu: stats.path.current_mtu,
        congestion_events: stats.path.congestion_events,
        sent_packets: stats.path.sent_packets,
        lost_packets: stats.path.lost_packets,
        lost_bytes: stats.path.lost_bytes,
        datagrams_sent: stats.udp_tx.datagrams,
        datagrams_received: stats.udp_rx.datagrams,
        bytes_sent: stats.udp_tx.bytes,
        bytes_received: stats.udp_rx.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(cc: &str) -> QuicSettings {
        QuicSettings {
            congestion_control: cc.into(),
            idle_timeout: Duration::from_secs(30),
            max_concurrent_streams: 100,
            stream_window: 6 << 20,
            connection_window: 15 << 20,
        }
    }

    #[test]
    fn every_named_controller_builds_and_others_are_refused() {
        for cc in QUIC_CONGESTION_CONTROLS {
            assert!(settings(cc).transport().is_ok(), "{cc}");
        }
        assert_eq!(settings("reno").controller_name(), "newreno");
        let err = settings("vegas").transport().unwrap_err();
        assert!(
            err.contains("\"vegas\"") && err.contains("cubic, reno, bbr"),
            "{err}"
        );
    }
}
