//! Parsing and recording: what is skipped, what survives any prefix or corrupted byte, how
//! options are read, and the recorder's bound.

use super::*;

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
