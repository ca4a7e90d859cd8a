//! The wire analysis driven by packets built as bytes (IPv4 + TCP with options) and stamps
//! chosen by the test: each test scripts a conversation as the link would see it, with a 40 ms
//! round trip (20 ms each way), and asserts what the analysis must make of it. This module holds
//! the builder of packets and the scripted capture; the tests are grouped by concern:
//! `segment` (parsing and recording), `connection` (handshakes, outcomes, rounds, offsets) and
//! `loss` (retransmissions and their kinds, windows).

mod connection;
mod loss;
mod segment;

use super::*;
use httplab_core::tcp_trace::WireConnection;

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
