//! The kernel's own account of a TCP socket (`TCP_INFO`), as a record: what the congestion
//! window, the round-trip estimate and the retransmission counters were at one moment.
//!
//! The lab reads it on every client and every server socket at the end of every response the
//! socket carried and once more as the socket closes (`crates/tcpinfo` does the reading). A
//! field the running kernel does not fill (its `struct tcp_info` is shorter than the one the
//! lab was built against) is absent, never a made-up zero: every field is an `Option` and is
//! left out of the JSON when `None`.
//!
//! Units are the record's, not the kernel's: times are `Duration`s (milliseconds in JSON, as
//! every lab output), windows in segments (Linux counts its congestion window in segments),
//! rates in bytes per second. It owns no I/O.

use crate::serde_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The kernel's "no slow-start threshold yet" (`TCP_INFINITE_SSTHRESH`): the connection has
/// not left its first slow start. `snd_ssthresh` holds it as is.
pub const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// One reading of `TCP_INFO` on one socket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpInfo {
    /// When it was read, on the run's clock.
    #[serde(rename = "at_ms", with = "serde_ms")]
    pub at: Duration,
    /// The congestion control in use (`TCP_CONGESTION`), e.g. "cubic".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub congestion_control: Option<String>,
    /// The TCP state, e.g. "established", "close_wait" (`tcpi_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The congestion-avoidance state: "open", "disorder", "cwr", "recovery" or "loss"
    /// (`tcpi_ca_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_state: Option<String>,
    /// Congestion window, in segments (`tcpi_snd_cwnd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_cwnd: Option<u32>,
    /// Slow-start threshold, in segments; [`INFINITE_SSTHRESH`] while the first slow start
    /// lasts (`tcpi_snd_ssthresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_ssthresh: Option<u32>,
    /// Smoothed round-trip time (`tcpi_rtt`).
    #[serde(
        rename = "srtt_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub srtt: Option<Duration>,
    /// Its mean deviation (`tcpi_rttvar`).
    #[serde(
        rename = "rttvar_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rttvar: Option<Duration>,
    /// The least round trip seen (`tcpi_min_rtt`).
    #[serde(
        rename = "min_rtt_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_rtt: Option<Duration>,
    /// The retransmission timeout in force (`tcpi_rto`).
    #[serde(
        rename = "rto_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rto: Option<Duration>,
    /// Sender's maximum segment size (`tcpi_snd_mss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_mss: Option<u32>,
    /// Timeouts in a row without progress right now (`tcpi_retransmits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmits: Option<u8>,
    /// Segments retransmitted over the connection's life, SYNs included (`tcpi_total_retrans`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_retrans: Option<u32>,
    /// Segments in flight now believed lost (`tcpi_lost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u32>,
    /// Segments sent and not yet acknowledged (`tcpi_unacked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unacked: Option<u32>,
    /// Retransmission timeouts over the connection's life (`tcpi_total_rto`, Linux 6.7+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rto: Option<u16>,
    /// Segments sent, all kinds, and those carrying data (`tcpi_segs_out`,
    /// `tcpi_data_segs_out`); both count retransmissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segs_out: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_segs_out: Option<u32>,
    /// Segments received, all kinds, and those carrying data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segs_in: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_segs_in: Option<u32>,
    /// Payload bytes sent, retransmissions included (`tcpi_bytes_sent`), and those
    /// retransmitted (`tcpi_bytes_retrans`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_retrans: Option<u64>,
    /// Payload bytes the peer acknowledged, and bytes received (`tcpi_bytes_acked`,
    /// `tcpi_bytes_received`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
    /// The most recent delivery-rate sample, bytes per second (`tcpi_delivery_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<u64>,
    /// Whether that sample was limited by the application, not the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_rate_app_limited: Option<bool>,
    /// The pacing rate, bytes per second (`tcpi_pacing_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing_rate: Option<u64>,
    /// Time with data to send (`tcpi_busy_time`), and the parts of it limited by the peer's
    /// receive window (`tcpi_rwnd_limited`) and by the local send buffer
    /// (`tcpi_sndbuf_limited`). Busy less both is time sending or waiting on the congestion
    /// window.
    #[serde(
        rename = "busy_time_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub busy_time: Option<Duration>,
    #[serde(
        rename = "rwnd_limited_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rwnd_limited: Option<Duration>,
    #[serde(
        rename = "sndbuf_limited_ms",
        default,
        with = "serde_ms::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sndbuf_limited: Option<Duration>,
    /// Segments delivered to the peer (`tcpi_delivered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<u32>,
    /// The peer's advertised receive window, bytes (`tcpi_snd_wnd`), and the local one
    /// (`tcpi_rcv_wnd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_wnd: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcv_wnd: Option<u32>,
    /// Bytes written by the application and not yet sent (`tcpi_notsent_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notsent_bytes: Option<u32>,
}

/// One socket's readings over its life.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpInfoLog {
    /// Read at the end of each response the socket carried: on the client when the response's
    /// last byte had been read, on the server when it had been handed to the socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ResponseTcpInfo>,
    /// Read as the socket closed (the last moment the lab held it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_close: Option<TcpInfo>,
    /// Read when the run ended with the socket still open: the peer's FIN had not arrived
    /// within the wait for it (lost, and its retransmission still pending), or a handler never
    /// responded. Server sockets only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_end: Option<TcpInfo>,
    /// Why a reading failed, if one did (the first failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TcpInfoLog {
    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
            && self.at_close.is_none()
            && self.at_end.is_none()
            && self.error.is_none()
    }

    /// Keeps a reading's failure (the first one), or nothing.
    pub fn failed(&mut self, error: String) {
        self.error.get_or_insert(error);
    }

    /// The last reading taken: at close, else at the run's end, else at the last response.
    pub fn last(&self) -> Option<&TcpInfo> {
        self.at_close
            .as_ref()
            .or(self.at_end.as_ref())
            .or_else(|| self.responses.last().map(|r| &r.info))
    }
}

/// A reading taken at the end of one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseTcpInfo {
    /// The request the response answered (`None` on the server for a request without an id).
    pub request_id: Option<u32>,
    /// Bytes the socket had received and sent by then, on the client: the offsets in each
    /// direction's TCP byte stream (TLS included) where the response ended, to join with the
    /// wire's account of the same stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_received: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sent: Option<u64>,
    pub info: TcpInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_field_is_left_out_not_zero() {
        let info = TcpInfo {
            at: Duration::from_millis(3),
            snd_cwnd: Some(10),
            ..TcpInfo::default()
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(json, r#"{"at_ms":3.0,"snd_cwnd":10}"#);
        let back: TcpInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.total_retrans, None);
    }
}
