//! The kernel's `struct tcp_info` into the lab's record, field by field, each only if the
//! kernel's reply reached past its end. Pure: unit tests feed it byte buffers of any length.

use super::sys::RawTcpInfo;
use httplab_core::TcpInfo;
use std::mem::{offset_of, size_of_val};
use std::time::Duration;

/// `Some(raw.$field)` when the kernel's reply of `len` bytes covers the field, else `None`.
macro_rules! field {
    ($raw:expr, $len:expr, $field:ident) => {
        if $len >= offset_of!(libc::tcp_info, $field) + size_of_val(&$raw.$field) {
            Some($raw.$field)
        } else {
            None
        }
    };
}

/// Offset of the byte holding `tcpi_delivery_rate_app_limited` (bit 0), after the seven
/// one-byte fields (`linux/tcp.h`); the libc struct leaves it as padding.
const APP_LIMITED_BYTE: usize = 7;

fn micros(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}

/// `raw` as the kernel wrote its first `len` bytes, read at `at`.
pub(crate) fn from_raw(raw: &RawTcpInfo, len: usize, at: Duration) -> TcpInfo {
    let s = raw.as_struct();
    TcpInfo {
        at,
        congestion_control: None,
        state: field!(s, len, tcpi_state).map(|v| state_name(v).to_string()),
        ca_state: field!(s, len, tcpi_ca_state).map(|v| ca_state_name(v).to_string()),
        snd_cwnd: field!(s, len, tcpi_snd_cwnd),
        snd_ssthresh: field!(s, len, tcpi_snd_ssthresh),
        srtt: field!(s, len, tcpi_rtt).map(micros),
        rttvar: field!(s, len, tcpi_rttvar).map(micros),
        // 0 means "no sample yet" for min_rtt (the kernel starts it at ~0U, reported as is).
        min_rtt: field!(s, len, tcpi_min_rtt)
            .filter(|&v| v != u32::MAX)
            .map(micros),
        rto: field!(s, len, tcpi_rto).map(micros),
        snd_mss: field!(s, len, tcpi_snd_mss),
        retransmits: field!(s, len, tcpi_retransmits),
        total_retrans: field!(s, len, tcpi_total_retrans),
        lost: field!(s, len, tcpi_lost),
        unacked: field!(s, len, tcpi_unacked),
        total_rto: field!(s, len, tcpi_total_rto),
        segs_out: field!(s, len, tcpi_segs_out),
        data_segs_out: field!(s, len, tcpi_data_segs_out),
        segs_in: field!(s, len, tcpi_segs_in),
        data_segs_in: field!(s, len, tcpi_data_segs_in),
        bytes_sent: field!(s, len, tcpi_bytes_sent),
        bytes_retrans: field!(s, len, tcpi_bytes_retrans),
        bytes_acked: field!(s, len, tcpi_bytes_acked),
        bytes_received: field!(s, len, tcpi_bytes_received),
        delivery_rate: field!(s, len, tcpi_delivery_rate),
        delivery_rate_app_limited: (len > APP_LIMITED_BYTE)
            .then(|| raw.0[APP_LIMITED_BYTE] & 1 == 1),
        pacing_rate: field!(s, len, tcpi_pacing_rate),
        busy_time: field!(s, len, tcpi_busy_time).map(Duration::from_micros),
        rwnd_limited: field!(s, len, tcpi_rwnd_limited).map(Duration::from_micros),
        sndbuf_limited: field!(s, len, tcpi_sndbuf_limited).map(Duration::from_micros),
        delivered: field!(s, len, tcpi_delivered),
        snd_wnd: field!(s, len, tcpi_snd_wnd),
        rcv_wnd: field!(s, len, tcpi_rcv_wnd),
        notsent_bytes: field!(s, len, tcpi_notsent_bytes),
    }
}

/// `tcpi_state` (`include/net/tcp_states.h`).
fn state_name(state: u8) -> &'static str {
    match state {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        12 => "new_syn_recv",
        _ => "unknown",
    }
}

/// `tcpi_ca_state` (`enum tcp_ca_state`).
fn ca_state_name(state: u8) -> &'static str {
    match state {
        0 => "open",
        1 => "disorder",
        2 => "cwr",
        3 => "recovery",
        4 => "loss",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::super::sys::RAW_LEN;
    use super::*;

    fn raw_with(fill: impl FnOnce(&mut libc::tcp_info)) -> RawTcpInfo {
        // SAFETY (test): tcp_info is plain integers; all-zero is a valid value.
        let mut s: libc::tcp_info = unsafe { std::mem::zeroed() };
        fill(&mut s);
        let mut raw = RawTcpInfo([0u8; RAW_LEN]);
        // SAFETY (test): copies the struct's bytes into a buffer at least as large.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&s as *const libc::tcp_info).cast::<u8>(),
                raw.0.as_mut_ptr(),
                std::mem::size_of::<libc::tcp_info>(),
            );
        }
        raw
    }

    #[test]
    fn a_short_reply_leaves_the_later_fields_absent_not_zero() {
        let raw = raw_with(|s| {
            s.tcpi_state = 1;
            s.tcpi_snd_cwnd = 10;
            s.tcpi_total_retrans = 3;
            s.tcpi_bytes_sent = 5000;
        });
        // An old kernel (Linux 4.1's struct ended at tcpi_bytes_received... cut before
        // tcpi_segs_out): cwnd and total_retrans are there, bytes_sent is not.
        let len = offset_of!(libc::tcp_info, tcpi_segs_out);
        let info = from_raw(&raw, len, Duration::ZERO);
        assert_eq!(info.state.as_deref(), Some("established"));
        assert_eq!(info.snd_cwnd, Some(10));
        assert_eq!(info.total_retrans, Some(3));
        assert_eq!(info.bytes_sent, None);
        assert_eq!(info.busy_time, None);
        // A field cut in half is absent too.
        let half = offset_of!(libc::tcp_info, tcpi_bytes_sent) + 4;
        assert_eq!(from_raw(&raw, half, Duration::ZERO).bytes_sent, None);
        // The full reply has it.
        let full = std::mem::size_of::<libc::tcp_info>();
        assert_eq!(from_raw(&raw, full, Duration::ZERO).bytes_sent, Some(5000));
        // Nothing at all.
        let none = from_raw(&raw, 0, Duration::ZERO);
        assert_eq!(none.state, None);
        assert_eq!(none.delivery_rate_app_limited, None);
    }

    #[test]
    fn times_are_microseconds_and_states_have_names() {
        let mut raw = raw_with(|s| {
            s.tcpi_rtt = 40_250;
            s.tcpi_ca_state = 3;
            s.tcpi_busy_time = 1_500;
        });
        raw.0[APP_LIMITED_BYTE] = 1;
        let info = from_raw(&raw, RAW_LEN, Duration::ZERO);
        assert_eq!(info.srtt, Some(Duration::from_micros(40_250)));
        assert_eq!(info.ca_state.as_deref(), Some("recovery"));
        assert_eq!(info.busy_time, Some(Duration::from_micros(1_500)));
        assert_eq!(info.delivery_rate_app_limited, Some(true));
    }
}
