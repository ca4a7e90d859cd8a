//! Connections: the handshake, a clean transfer's rounds, how connections end and begin on one
//! 4-tuple, offsets across wraparound and from mid-stream, and observations out of order.

use super::*;
use httplab_core::tcp_trace::{RetransmissionKind, WireOutcome, WireSide};

#[test]
fn a_handshake_is_timed_and_its_options_read() {
    let mut w = Wire::new();
    w.handshake(ms(5), Some(7));
    let c = w.connection();
    assert_eq!(
        (c.client.as_str(), c.server.as_str()),
        ("10.77.0.1:40000", "10.77.0.2:8080")
    );
    let h = &c.handshake;
    assert_eq!(
        (h.syn_at, h.syn_ack_at, h.ack_at, h.rtt),
        (Some(ms(5)), Some(ms(25)), Some(ms(45)), Some(ms(40)))
    );
    assert_eq!((h.client_mss, h.server_mss), (Some(1460), Some(1460)));
    assert_eq!(
        (h.client_window_scale, h.server_window_scale),
        (Some(7), Some(7))
    );
    assert!(h.sack_permitted);
    assert_eq!((h.syn_retransmissions, h.syn_ack_retransmissions), (0, 0));
    assert_eq!(c.outcome, WireOutcome::Open);
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    assert_eq!((c.first_packet_at, c.last_packet_at), (ms(5), ms(45)));
    // The SYN-ACK is no pure ACK; the handshake's last ACK is.
    assert_eq!(c.client_to_server.pure_acks, 1);
    assert_eq!(c.server_to_client.pure_acks, 0);
    assert_eq!(c.client_to_server.retransmitted_segments, 0);
    assert_eq!(c.client_to_server.receive_window_full, Some(Duration::ZERO));
}

/// The server sends 20 segments with an initial window of 10, the client acknowledging every
/// second segment, each ACK releasing two more; then both sides close.
#[test]
fn a_clean_transfer_of_20_segments_with_an_initial_window_of_10_takes_2_rounds() {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    for i in 0..10 {
        w.down(ms(40) + us(10 * u64::from(i)), s_data(i));
    }
    let mut next = 10;
    for k in 1..=10u32 {
        // The client's ACK of segment 2k (20 ms after it was sent) ...
        let sent = if k <= 5 {
            ms(40) + us(10 * u64::from(2 * k - 1))
        } else {
            ms(100) + us(100 * u64::from(k - 5))
        };
        let acked_at = sent + ms(20) + us(5);
        w.up(acked_at, c_ack(2 * k * MSS));
        // ... releases two more segments 20 ms later.
        if k <= 5 {
            for j in 0..2 {
                w.down(acked_at + ms(20) + us(10 * j), s_data(next));
                next += 1;
            }
        }
    }
    // The server's round-2 segments were sent at 80–81 ms; the ACKs above of round 2 are
    // stamped after them (100 ms on).
    let end = 20 * MSS;
    w.down(ms(200), seg(s_seq(end), FIN | ACK).ack(CISN + 1));
    w.up(ms(220), seg(CISN + 1, FIN | ACK).ack(s_seq(end + 1)));
    w.down(ms(240), seg(s_seq(end + 1), ACK).ack(CISN + 2));
    let c = w.connection();
    let d = &c.server_to_client;
    assert_eq!(d.round_count, 2, "{:#?}", d.rounds);
    let r = &d.rounds;
    assert_eq!((r[0].index, r[0].start, r[0].end), (1, 0, 14_480));
    assert_eq!((r[0].segments, r[0].bytes), (10, 14_480));
    assert_eq!(
        (r[0].first_sent_at, r[0].last_sent_at),
        (ms(40), ms(40) + us(90))
    );
    assert_eq!((r[1].index, r[1].start, r[1].end), (2, 14_480, 28_960));
    assert_eq!((r[1].segments, r[1].bytes), (10, 14_480));
    assert_eq!(r[1].first_sent_at, ms(40) + us(10) + ms(40) + us(5));
    assert_eq!(
        (
            d.data_segments,
            d.payload_bytes,
            d.new_data_segments,
            d.new_payload_bytes
        ),
        (20, 28_960, 20, 28_960)
    );
    assert_eq!(d.max_in_flight, 14_480);
    assert_eq!((d.retransmitted_segments, d.dropped), (0, 0));
    assert_eq!(d.fin_at, Some(ms(200)));
    assert_eq!(c.client_to_server.pure_acks, 11);
    assert_eq!(c.client_to_server.round_count, 0);
    assert_eq!(d.receive_window_full, Some(Duration::ZERO));
    assert_eq!(
        c.outcome,
        WireOutcome::Complete {
            both_ways: true,
            at: ms(220)
        }
    );
}

#[test]
fn a_reset_mid_transfer_ends_the_connection() {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    for i in 0..3 {
        w.down(ms(100) + us(10 * u64::from(i)), s_data(i));
    }
    w.up(ms(120), c_ack(2 * MSS));
    w.down(ms(150), seg(s_seq(3 * MSS), RST | ACK).ack(CISN + 1));
    let c = w.connection();
    assert_eq!(
        c.outcome,
        WireOutcome::Reset {
            at: ms(150),
            by: WireSide::Server
        }
    );
    // A RST is neither data nor an ACK.
    assert_eq!(c.server_to_client.pure_acks, 0);
    assert_eq!(c.server_to_client.new_payload_bytes, 3 * 1448);
}

#[test]
fn offsets_run_on_across_sequence_number_wraparound() {
    // The client's ISN is 1,500 below 2^32: its third segment crosses the wrap.
    let isn = u32::MAX - 1500;
    let c_seq = |off: u32| isn.wrapping_add(1).wrapping_add(off);
    let mut w = Wire::new();
    w.up(ms(0), seg(isn, SYN).syn_options(1460, Some(7)));
    w.down(
        ms(20),
        seg(SISN, SYN | ACK)
            .ack(c_seq(0))
            .syn_options(1460, Some(7)),
    );
    w.up(ms(40), seg(c_seq(0), ACK).ack(s_seq(0)));
    let data = |off: u32| seg(c_seq(off), ACK | PSH).ack(s_seq(0)).len(1000);
    for i in 0..5 {
        let at = ms(50) + us(10 * u64::from(i));
        if i == 2 {
            w.up_lost(at, data(i * 1000));
        } else {
            w.up(at, data(i * 1000));
        }
    }
    let s_ack = |off: u32| seg(s_seq(0), ACK).ack(c_seq(off));
    w.down(ms(70), s_ack(2000));
    for i in 0..3 {
        w.down(ms(70) + us(10 * i + 5), s_ack(2000));
    }
    w.up(ms(90), data(2000));
    w.down(ms(110), s_ack(5000));
    let c = w.connection();
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    let d = &c.client_to_server;
    assert_eq!((d.new_payload_bytes, d.payload_bytes), (5000, 6000));
    assert_eq!(d.round_count, 1);
    assert_eq!((d.rounds[0].start, d.rounds[0].end), (0, 5000));
    assert_eq!(d.retransmitted_segments, 1);
    let r = &d.retransmissions[0];
    assert_eq!(
        (r.offset, r.length, r.kind),
        (2000, 1000, RetransmissionKind::Fast)
    );
    assert!(r.original_dropped);
    assert_eq!(d.max_in_flight, 5000);
}

#[test]
fn observations_in_any_order_and_segments_out_of_order_at_the_entry() {
    let script = |w: &mut Wire| {
        w.handshake(ms(0), Some(7));
        // The second segment enters the link before the first.
        w.down(ms(100), s_data(1));
        w.down(ms(100) + us(10), s_data(0));
        w.down(ms(100) + us(20), s_data(2));
        w.up(ms(120) + us(30), c_ack(3 * MSS));
    };
    let mut w = Wire::new();
    script(&mut w);
    let in_order = w.trace();
    // The same packets handed over in reverse: the analysis sorts them by stamp.
    let mut w = Wire::new();
    script(&mut w);
    w.log.observations.reverse();
    assert_eq!(w.trace(), in_order);
    let c = &in_order.connections[0];
    let d = &c.server_to_client;
    assert_eq!(
        (d.retransmitted_segments, d.new_payload_bytes),
        (0, 3 * 1448)
    );
    assert_eq!(
        (d.round_count, d.rounds[0].start, d.rounds[0].end),
        (1, 0, 3 * 1448)
    );
    assert!(
        c.notes.iter().any(|n| n.contains("out of order")),
        "{:?}",
        c.notes
    );
    // A duplicate of a delivered segment is a (spurious) retransmission.
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    w.down(ms(100), s_data(0));
    w.down(ms(100) + us(1), s_data(0));
    let d = w.connection().server_to_client;
    assert_eq!((d.retransmitted_segments, d.spurious_retransmits), (1, 1));
}

#[test]
fn a_new_isn_after_a_close_is_a_new_connection() {
    let mut w = Wire::new();
    w.handshake(ms(0), Some(7));
    w.up(ms(50), seg(CISN + 1, FIN | ACK).ack(s_seq(0)));
    w.down(ms(70), seg(s_seq(0), FIN | ACK).ack(CISN + 2));
    w.up(ms(90), seg(CISN + 2, ACK).ack(s_seq(1)));
    // The port is reused with a new ISN; its SYN is retransmitted once (same ISN).
    let isn = CISN + 100_000;
    w.up_lost(ms(100), seg(isn, SYN).syn_options(1460, Some(7)));
    w.up(ms(1100), seg(isn, SYN).syn_options(1460, Some(7)));
    w.down(
        ms(1120),
        seg(SISN, SYN | ACK).ack(isn + 1).syn_options(1460, Some(7)),
    );
    w.up(ms(1140), seg(isn + 1, ACK).ack(s_seq(0)));
    // A SYN with yet another ISN while that one is open is left out.
    w.up(ms(1200), seg(isn + 7, SYN).syn_options(1460, Some(7)));
    let trace = w.trace();
    assert_eq!(trace.connections.len(), 2);
    let [first, second] = [&trace.connections[0], &trace.connections[1]];
    assert_eq!(
        first.outcome,
        WireOutcome::Complete {
            both_ways: true,
            at: ms(70)
        }
    );
    assert_eq!(first.last_packet_at, ms(90));
    assert_eq!(second.handshake.syn_retransmissions, 1);
    assert_eq!(second.handshake.rtt, Some(ms(1040)));
    assert_eq!(second.outcome, WireOutcome::Open);
    assert!(
        second.notes.iter().any(|n| n.contains("new ISN")),
        "{:?}",
        second.notes
    );
}

#[test]
fn a_connection_seen_mid_stream_counts_from_its_first_sequence_numbers() {
    let mut w = Wire::new();
    w.down(ms(0), s_data(7));
    w.down(ms(1), s_data(8));
    w.up(ms(20), c_ack(9 * MSS));
    let c = w.connection();
    assert_eq!(c.client, "10.77.0.1:40000");
    assert_eq!(c.handshake.syn_at, None);
    assert_eq!(c.outcome, WireOutcome::Open);
    let d = &c.server_to_client;
    assert_eq!(
        (d.new_payload_bytes, d.rounds[0].start, d.rounds[0].end),
        (2 * 1448, 0, 2 * 1448)
    );
    assert_eq!(d.receive_window_full, None);
    assert!(
        c.notes.iter().any(|n| n.contains("not seen")),
        "{:?}",
        c.notes
    );
}
