//! Loss: retransmissions by kind (fast, timeout, tail loss probe), spurious ones, SYNs the
//! link dropped, and the receive window (zero windows, probes, window-full time).

use super::*;
use httplab_core::tcp_trace::{RetransmissionKind, WireOutcome, WireRetransmission, ZeroWindow};

/// Ten segments, the third lost; the client acknowledges the first two, then answers each of
/// the next `later` segments with a duplicate ACK (with SACK blocks if `sack`); the server
/// sends the third again 20 ms after the last of them.
fn one_loss(later: u32, sack: bool) -> WireRetransmission {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    for i in 0..(3 + later) {
        let at = ms(100) + us(10 * u64::from(i));
        if i == 2 {
            w.down_lost(at, s_data(i));
        } else {
            w.down(at, s_data(i));
        }
    }
    w.up(ms(120) + us(15), c_ack(2 * MSS));
    let mut last = ms(120);
    for i in 3..(3 + later) {
        last = ms(120) + us(10 * u64::from(i) + 5);
        let blocks = [(s_seq(3 * MSS), s_seq((i + 1) * MSS))];
        let dup = c_ack(2 * MSS).sack(if sack { &blocks } else { &[] });
        w.up(last, dup);
    }
    w.down(last + ms(20), s_data(2));
    w.up(last + ms(40), c_ack((3 + later) * MSS));
    let c = w.connection();
    let d = c.server_to_client;
    assert_eq!((d.retransmitted_segments, d.retransmitted_bytes), (1, 1448));
    assert_eq!((d.dropped, d.spurious_retransmits), (1, 0));
    assert_eq!(d.new_payload_bytes, u64::from((3 + later) * MSS));
    d.retransmissions[0].clone()
}

#[test]
fn a_loss_repaired_after_three_duplicate_acks_is_a_fast_retransmission() {
    let r = one_loss(3, false);
    assert_eq!(
        r,
        WireRetransmission {
            at: ms(120) + us(55) + ms(20),
            original_at: ms(100) + us(20),
            offset: 2 * 1448,
            length: 1448,
            syn: false,
            fin: false,
            original_dropped: true,
            kind: RetransmissionKind::Fast,
        }
    );
    // A SACK block above the hole is evidence enough on its own.
    assert_eq!(one_loss(1, true).kind, RetransmissionKind::Fast);
    // Two duplicate ACKs without SACK are not: a probe, 20 ms after the last send.
    assert_eq!(one_loss(2, false).kind, RetransmissionKind::TailLossProbe);
}

#[test]
fn a_lost_tail_is_probed_and_a_silence_of_200_ms_is_a_timeout() {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    // Five segments; the last is lost, so no duplicate ACK can come.
    for i in 0..5 {
        let at = ms(100) + us(10 * u64::from(i));
        if i == 4 {
            w.down_lost(at, s_data(i));
        } else {
            w.down(at, s_data(i));
        }
    }
    w.up(ms(120) + us(15), c_ack(2 * MSS));
    w.up(ms(120) + us(35), c_ack(4 * MSS));
    // The tail loss probe, two round trips after the last send.
    w.down(ms(180), s_data(4));
    w.up(ms(200), c_ack(5 * MSS));
    // Later two more segments, both lost; 300 ms of silence, then the timeout.
    w.down_lost(ms(1000), s_data(5));
    w.down_lost(ms(1000) + us(10), s_data(6));
    w.down(ms(1300), s_data(5));
    w.up(ms(1320), c_ack(6 * MSS));
    // The rest of the timeout's recovery: no evidence of its own, a short silence.
    w.down(ms(1340), s_data(6));
    w.up(ms(1360), c_ack(7 * MSS));
    let d = w.connection().server_to_client;
    let kinds: Vec<_> = d
        .retransmissions
        .iter()
        .map(|r| (r.at, r.offset, r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (ms(180), 4 * 1448, RetransmissionKind::TailLossProbe),
            (ms(1300), 5 * 1448, RetransmissionKind::Rto),
            (ms(1340), 6 * 1448, RetransmissionKind::Rto),
        ]
    );
    assert_eq!(
        (d.tail_loss_probes, d.rto_retransmits, d.fast_retransmits),
        (1, 2, 0)
    );
    assert_eq!(
        (d.retransmitted_segments, d.retransmitted_bytes),
        (3, 3 * 1448)
    );
    assert!(d.retransmissions.iter().all(|r| r.original_dropped));
    assert_eq!(d.retransmissions[1].original_at, ms(1000));
    assert_eq!(d.dropped, 3);
    // Rounds: the first flight, the probe sends no new data, the later flight.
    assert_eq!(d.round_count, 2);
}

#[test]
fn a_retransmission_of_a_delivered_segment_is_spurious() {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    w.down(ms(100), s_data(0));
    // The ACK is lost: the server never learns, and times out.
    w.up_lost(ms(120), c_ack(MSS));
    w.down(ms(400), s_data(0));
    w.up(ms(420), c_ack(MSS));
    let c = w.connection();
    let d = &c.server_to_client;
    assert_eq!(d.retransmitted_segments, 1);
    assert_eq!(d.spurious_retransmits, 1);
    let r = &d.retransmissions[0];
    assert!(!r.original_dropped);
    assert_eq!((r.kind, r.original_at), (RetransmissionKind::Rto, ms(100)));
    assert_eq!(c.client_to_server.dropped, 1);
    // The lost ACK is still the client's pure ACK.
    assert_eq!(c.client_to_server.pure_acks, 3);
}

#[test]
fn a_zero_window_is_timed_and_probes_are_not_retransmissions() {
    let mut w = Wire::new();
    // No window scaling: the client's SYN offers none. One MSS is 1000.
    w.up(ms(0), seg(CISN, SYN).syn_options(1000, None).window(4000));
    w.down(
        ms(20),
        seg(SISN, SYN | ACK)
            .ack(CISN + 1)
            .syn_options(1000, Some(7)),
    );
    w.up(ms(40), c_ack(0).window(4000));
    let data = |off: u32| seg(s_seq(off), ACK).ack(CISN + 1).len(1000);
    // Four segments fill the 4000-byte window at the fourth.
    for i in 0..4 {
        w.down(ms(100) + us(10 * u64::from(i)), data(i * 1000));
    }
    // The client's application stops reading: window 0.
    w.up(ms(120) + us(30), c_ack(4000).window(0));
    // A zero-window probe (one below the next byte), answered with the same zero window.
    w.down(ms(320), seg(s_seq(3999), ACK).ack(CISN + 1));
    w.up(ms(340), c_ack(4000).window(0));
    // The window opens.
    w.up(ms(500), c_ack(4000).window(4000));
    w.down(ms(520), data(4000));
    w.up(ms(540), c_ack(5000).window(0));
    w.down(ms(740), seg(s_seq(4999), ACK).ack(CISN + 1));
    let c = w.connection();
    let d = &c.server_to_client;
    assert_eq!(d.zero_window_count, 2);
    assert_eq!(
        d.zero_windows,
        [
            ZeroWindow {
                start: ms(120) + us(30),
                end: Some(ms(500))
            },
            ZeroWindow {
                start: ms(540),
                end: None
            },
        ]
    );
    assert_eq!(d.zero_window, ms(500) - ms(120) - us(30) + ms(200));
    // Full from the fourth segment (100.03 ms) to the window's opening, and from the last
    // ACK to the last packet.
    assert_eq!(
        d.receive_window_full,
        Some(ms(500) - ms(100) - us(30) + ms(200))
    );
    assert_eq!((d.probes, d.retransmitted_segments, d.pure_acks), (2, 0, 0));
    assert_eq!(d.new_payload_bytes, 5000);
    assert_eq!(c.handshake.client_window_scale, None);
    assert_eq!(c.outcome, WireOutcome::Open);
}

#[test]
fn a_link_that_drops_every_syn_leaves_a_handshake_unfinished() {
    let mut w = Wire::new();
    let syn = seg(CISN, SYN).syn_options(1460, Some(7));
    for at in [ms(0), ms(1000), ms(3000)] {
        w.up_lost(at, syn.clone());
    }
    let c = w.connection();
    assert_eq!(c.outcome, WireOutcome::HandshakeUnfinished);
    let h = &c.handshake;
    assert_eq!((h.syn_at, h.syn_ack_at, h.rtt), (Some(ms(0)), None, None));
    assert_eq!(h.syn_retransmissions, 2);
    let d = &c.client_to_server;
    // SYN retransmissions count as the socket's total_retrans counts them.
    assert_eq!(
        (d.retransmitted_segments, d.rto_retransmits, d.dropped),
        (2, 2, 3)
    );
    assert!(d
        .retransmissions
        .iter()
        .all(|r| r.syn && r.original_dropped && r.offset == 0 && r.length == 0));
    assert_eq!(d.retransmissions[1].original_at, ms(0));
    assert_eq!(d.receive_window_full, None);
    assert!(
        c.notes.iter().any(|n| n.contains("dropped every packet")),
        "{:?}",
        c.notes
    );
}
