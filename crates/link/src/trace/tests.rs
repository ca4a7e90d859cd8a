//! The wire analysis driven by packets built as bytes (IPv4 + TCP with options) and stamps
//! chosen by the test: each test scripts a conversation as the link would see it, with a 40 ms
//! round trip (20 ms each way), and asserts what the analysis must make of it.

use super::*;
use httplab_core::tcp_trace::{
    RetransmissionKind, WireConnection, WireOutcome, WireRetransmission, WireSide, ZeroWindow,
};

const CLIENT: ([u8; 4], u16) = ([10, 77, 0, 1], 40_000);
const SERVER: ([u8; 4], u16) = ([10, 77, 0, 2], 8080);
/// The ISNs of the usual conversation.
const CISN: u32 = 1_000;
const SISN: u32 = 5_000_000;
const MSS: u32 = 1448;
/// The usual raw window: 512 << 7 = 64 KiB.
const WINDOW: u16 = 512;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// One TCP segment to build.
#[derive(Clone, Debug)]
struct Seg {
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    len: u16,
    mss: Option<u16>,
    ws: Option<u8>,
    sack_ok: bool,
    sacks: Vec<(u32, u32)>,
}

fn seg(seq: u32, flags: u8) -> Seg {
    Seg {
        seq,
        ack: 0,
        flags,
        window: WINDOW,
        len: 0,
        mss: None,
        ws: None,
        sack_ok: false,
        sacks: Vec::new(),
    }
}

impl Seg {
    fn ack(mut self, ack: u32) -> Self {
        self.ack = ack;
        self
    }
    fn len(mut self, len: u32) -> Self {
        self.len = u16::try_from(len).expect("a segment's length");
        self
    }
    fn window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }
    fn syn_options(mut self, mss: u16, ws: Option<u8>) -> Self {
        self.mss = Some(mss);
        self.ws = ws;
        self.sack_ok = true;
        self
    }
    fn sack(mut self, blocks: &[(u32, u32)]) -> Self {
        self.sacks = blocks.to_vec();
        self
    }

    /// The IPv4 packet carrying it from `src` to `dst`.
    fn packet(&self, src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Vec<u8> {
        let mut opts = Vec::new();
        if let Some(mss) = self.mss {
            opts.extend([2, 4]);
            opts.extend(mss.to_be_bytes());
        }
        if self.sack_ok {
            opts.extend([4, 2]);
        }
        if let Some(ws) = self.ws {
            opts.extend([1, 3, 3, ws]);
        }
        if !self.sacks.is_empty() {
            opts.extend([1, 1, 5, 2 + 8 * self.sacks.len() as u8]);
            for (left, right) in &self.sacks {
                opts.extend(left.to_be_bytes());
                opts.extend(right.to_be_bytes());
            }
        }
        while opts.len() % 4 != 0 {
            opts.push(0);
        }
        let tcp_len = 20 + opts.len();
        let total = 20 + tcp_len + usize::from(self.len);
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&src.0);
        p[16..20].copy_from_slice(&dst.0);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&src.1.to_be_bytes());
        t[2..4].copy_from_slice(&dst.1.to_be_bytes());
        t[4..8].copy_from_slice(&self.seq.to_be_bytes());
        t[8..12].copy_from_slice(&self.ack.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = self.flags;
        t[14..16].copy_from_slice(&self.window.to_be_bytes());
        t[20..tcp_len].copy_from_slice(&opts);
        for (i, b) in t[tcp_len..].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }
}

/// A capture being scripted: packets go through the recorder as the relay's readers do.
struct Wire {
    batch: Batch,
    log: TraceLog,
}

impl Wire {
    fn new() -> Self {
        Self::with_log(TraceLog::new())
    }

    fn with_log(log: TraceLog) -> Self {
        Self {
            batch: Batch::new(),
            log,
        }
    }

    fn packet(&mut self, at: Duration, way: Way, dropped: bool, packet: &[u8]) {
        self.batch.record(at, way, dropped, packet);
        self.log.append(&mut self.batch);
    }

    /// The client sends `s`, which the link delivers.
    fn up(&mut self, at: Duration, s: Seg) {
        self.packet(at, Way::Up, false, &s.packet(CLIENT, SERVER));
    }
    /// The client sends `s`, which the link drops.
    fn up_lost(&mut self, at: Duration, s: Seg) {
        self.packet(at, Way::Up, true, &s.packet(CLIENT, SERVER));
    }
    fn down(&mut self, at: Duration, s: Seg) {
        self.packet(at, Way::Down, false, &s.packet(SERVER, CLIENT));
    }
    fn down_lost(&mut self, at: Duration, s: Seg) {
        self.packet(at, Way::Down, true, &s.packet(SERVER, CLIENT));
    }

    /// SYN at `t0`, SYN-ACK 20 ms later, ACK 40 ms after the SYN; window scale `ws` both ways.
    fn handshake(&mut self, t0: Duration, ws: Option<u8>) {
        self.up(t0, seg(CISN, SYN).syn_options(1460, ws).window(64_240));
        self.down(
            t0 + ms(20),
            seg(SISN, SYN | ACK)
                .ack(CISN + 1)
                .syn_options(1460, ws)
                .window(65_160),
        );
        self.up(t0 + ms(40), c_ack(0));
    }

    fn trace(self) -> WireTrace {
        analyze_logs([self.log])
    }

    /// The trace's only connection.
    fn connection(self) -> WireConnection {
        let mut trace = self.trace();
        assert_eq!(trace.connections.len(), 1, "{trace:#?}");
        trace.connections.remove(0)
    }
}

/// The server's sequence number at offset `off`.
fn s_seq(off: u32) -> u32 {
    SISN.wrapping_add(1).wrapping_add(off)
}

/// The server's full-sized data segment number `i` (offset `i × MSS`).
fn s_data(i: u32) -> Seg {
    seg(s_seq(i * MSS), ACK | PSH).ack(CISN + 1).len(MSS)
}

/// The client's pure ACK of the server's bytes up to offset `off`.
fn c_ack(off: u32) -> Seg {
    seg(CISN + 1, ACK).ack(s_seq(off))
}

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

#[test]
fn a_trace_past_its_bound_is_truncated_and_says_so() {
    let mut w = Wire::with_log(TraceLog::with_limit(5));
    w.handshake(ms(0), Some(7));
    for i in 0..5 {
        w.down(ms(100) + us(10 * u64::from(i)), s_data(i));
    }
    assert!(w.log.truncated());
    assert_eq!(w.log.len(), 5);
    let trace = w.trace();
    assert!(trace.truncated);
    assert_eq!(trace.observations, 5);
    let c = &trace.connections[0];
    assert_eq!(c.server_to_client.new_payload_bytes, 2 * 1448);
    assert!(
        c.notes.iter().any(|n| n.contains("reached its bound")),
        "{:?}",
        c.notes
    );
    // Clearing keeps the bound and forgets the truncation.
    let mut log = TraceLog::with_limit(5);
    let mut batch = Batch::new();
    for i in 0..7 {
        batch.record(us(i), Way::Up, false, &c_ack(0).packet(CLIENT, SERVER));
    }
    log.append(&mut batch);
    assert!(log.truncated() && batch.is_empty());
    log.clear();
    assert!(!log.truncated() && log.is_empty());
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
fn garbage_and_packets_other_than_ipv4_tcp_are_skipped() {
    let mut w = Wire::new();
    let good = s_data(0).packet(SERVER, CLIENT);
    let mut udp = good.clone();
    udp[9] = 17;
    let mut v6 = good.clone();
    v6[0] = 0x60;
    let mut fragment = good.clone();
    fragment[6] = 0x20; // more fragments
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&30u16.to_be_bytes());
    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&(good.len() as u16 + 1).to_be_bytes());
    let mut bad_offset = good.clone();
    bad_offset[32] = 0xf0; // a 60-byte TCP header in a 40-byte packet... and payload
    bad_offset.truncate(50);
    bad_offset[2..4].copy_from_slice(&50u16.to_be_bytes());
    for p in [
        &[][..],
        &[0x45],
        &udp,
        &v6,
        &fragment,
        &short_total,
        &long_total,
        &bad_offset,
        &good[..39],
    ] {
        w.packet(ms(1), Way::Down, false, p);
    }
    // Trailing bytes beyond the IP total length (padding) are not payload.
    let mut padded = c_ack(0).packet(CLIENT, SERVER);
    padded.extend([0u8; 6]);
    w.packet(ms(2), Way::Up, false, &padded);
    let trace = w.trace();
    assert_eq!((trace.skipped, trace.observations), (9, 1));
    assert_eq!(trace.connections[0].client_to_server.pure_acks, 1);
    // Random TCP segments between the two ends: whatever they say, no panic.
    let mut w = Wire::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000u64 {
        let r = next();
        let flags = (r & 0x1f) as u8;
        let base = if r & 0x20 != 0 { CISN } else { u32::MAX - 3000 };
        let s = seg(base.wrapping_add((next() % 10_000) as u32), flags)
            .ack(SISN.wrapping_add((next() % 10_000) as u32))
            .len((next() % 1500) as u32)
            .window((next() % 3) as u16)
            .sack(&[(next() as u32, next() as u32)]);
        let s = if r & 0x40 != 0 {
            s.syn_options(1460, Some((r >> 8) as u8))
        } else {
            s
        };
        let way = if r & 0x80 != 0 { Way::Up } else { Way::Down };
        let (src, dst) = if way == Way::Up {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        w.packet(
            us(next() % 1_000_000 + i),
            way,
            r & 0x100 != 0,
            &s.packet(src, dst),
        );
    }
    let trace = w.trace();
    assert_eq!(trace.observations, 20_000);
    assert!(!trace.connections.is_empty());
}

#[test]
fn parsing_never_panics_on_any_prefix_or_any_byte_of_a_packet() {
    let packets = [
        seg(CISN, SYN)
            .syn_options(1460, Some(7))
            .packet(CLIENT, SERVER),
        c_ack(0)
            .sack(&[(1, 2), (3, 4), (5, 6), (7, 8)])
            .packet(CLIENT, SERVER),
        s_data(3).packet(SERVER, CLIENT),
    ];
    for p in &packets {
        let whole = TcpHeader::parse(p).expect("the whole packet parses");
        for n in 0..p.len() {
            assert_eq!(TcpHeader::parse(&p[..n]), None, "a {n}-byte prefix");
        }
        for i in 0..p.len().min(80) {
            for v in [0u8, 1, 2, 3, 4, 5, 0x0f, 0x44, 0x46, 0x4f, 0x80, 0xff] {
                let mut q = p.clone();
                q[i] = v;
                let _ = TcpHeader::parse(&q);
            }
        }
        assert_eq!(whole.src_port, u16::from_be_bytes([p[20], p[21]]));
    }
}

#[test]
fn options_are_read_as_linux_reads_them() {
    let syn = TcpHeader::parse(
        &seg(CISN, SYN)
            .syn_options(1460, Some(9))
            .packet(CLIENT, SERVER),
    )
    .expect("tcp");
    assert_eq!(
        (syn.mss, syn.window_scale, syn.sack_permitted),
        (Some(1460), Some(9), true)
    );
    assert!(syn.syn() && !syn.has_ack() && syn.seq_len() == 1);
    // A shift above 14 is taken as 14.
    let big = TcpHeader::parse(
        &seg(CISN, SYN)
            .syn_options(1460, Some(15))
            .packet(CLIENT, SERVER),
    )
    .expect("tcp");
    assert_eq!(big.window_scale, Some(14));
    let sacked = TcpHeader::parse(
        &c_ack(0)
            .sack(&[(10, 20), (30, 40), (50, 60)])
            .packet(CLIENT, SERVER),
    )
    .expect("tcp");
    assert_eq!(sacked.sack_blocks(), [(10, 20), (30, 40), (50, 60)]);
    assert_eq!(sacked.payload_len, 0);
    // A malformed option ends the list; the segment still counts.
    let mut p = seg(CISN, SYN)
        .syn_options(1460, Some(7))
        .packet(CLIENT, SERVER);
    p[40 + 1] = 1; // the MSS option's length byte: 1 is too short
    let h = TcpHeader::parse(&p).expect("tcp");
    assert_eq!(
        (h.mss, h.window_scale, h.sack_permitted),
        (None, None, false)
    );
    let data = TcpHeader::parse(&s_data(2).packet(SERVER, CLIENT)).expect("tcp");
    assert_eq!(
        (data.payload_len, data.seq, data.ack),
        (1448, s_seq(2 * MSS), CISN + 1)
    );
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
