//! The link's check of its own round trips: every TCP handshake that crosses it, timed from
//! the relay's stamps, against what the model said the crossing should cost.
//!
//! The client's kernel sends a SYN (stamped as it enters the link), the server's kernel answers
//! with a SYN-ACK as soon as the SYN is written to its device, and the client's kernel sends the
//! ACK as soon as the SYN-ACK is written to its own. No application runs in between, so the time
//! from the SYN's stamp to the ACK's is the link's round trip as the kernels lived it. Less the
//! delays the model gave the SYN and the SYN-ACK (propagation, jitter, serialization, queueing),
//! what is left is the excess the emulator added to one round trip: its lateness in delivering,
//! and with reader stamping the reader's wake-up too, which the lateness histogram cannot see.
//!
//! A handshake with a lost, dropped or retransmitted SYN or SYN-ACK is left out (the round trip
//! then contains a retransmission timeout, not the link's excess).
//!
//! Pure code: it is given each packet's bytes, its stamp and its fate; it reads no clock.

use std::collections::HashMap;
use std::time::Duration;

/// The most handshakes in progress at once that are tracked; beyond it the oldest is dropped.
const MAX_OPEN: usize = 4096;

/// Which way a packet crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

/// What the model decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered `delay` after its stamp (the model's deadline less the stamp).
    Delivered { delay: Duration },
    /// Lost or dropped.
    Dropped,
}

/// The TCP facts of one IPv4 packet that the check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: [u8; 4],
    pub src_port: u16,
    pub dst: [u8; 4],
    pub dst_port: u16,
    pub syn: bool,
    pub ack: bool,
    pub rst: bool,
}

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

impl Segment {
    /// Reads an IPv4 packet carrying the first fragment of a TCP segment; `None` for anything
    /// else, or anything too short to hold the headers it claims.
    pub fn parse(packet: &[u8]) -> Option<Segment> {
        let version = packet.first()? >> 4;
        if version != 4 || packet.len() < 20 {
            return None;
        }
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        let fragment_offset = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
        if packet[9] != 6 || ihl < 20 || fragment_offset != 0 || packet.len() < ihl + 20 {
            return None;
        }
        let tcp = &packet[ihl..];
        let flags = tcp[13];
        Some(Segment {
            src: [packet[12], packet[13], packet[14], packet[15]],
            dst: [packet[16], packet[17], packet[18], packet[19]],
            src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
            syn: flags & SYN != 0,
            ack: flags & ACK != 0,
            rst: flags & RST != 0,
        })
    }

    /// Whether this segment can concern a handshake in progress (cheap, before locking).
    pub fn interesting(&self, way: Way, open: bool) -> bool {
        self.syn || self.rst || (way == Way::Up && self.ack && open)
    }
}

/// A connection by its client and server ends.
type Key = ([u8; 4], u16, [u8; 4], u16);

/// A handshake in progress.
#[derive(Debug, Clone, Copy)]
struct Open {
    syn_at: Duration,
    syn_delay: Duration,
    syn_ack_delay: Option<Duration>,
    /// A SYN or SYN-ACK was lost, dropped or sent twice: no sample from this one.
    spoiled: bool,
}

/// The handshakes in progress and the excess of those completed.
#[derive(Debug, Default)]
pub struct Handshakes {
    open: HashMap<Key, Open>,
}

impl Handshakes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any handshake is in progress.
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Takes one packet stamped `at`; returns a completed handshake's excess over the model's
    /// round trip.
    pub fn observe(
        &mut self,
        way: Way,
        at: Duration,
        fate: Fate,
        seg: &Segment,
    ) -> Option<Duration> {
        let key = match way {
            Way::Up => (seg.src, seg.src_port, seg.dst, seg.dst_port),
            Way::Down => (seg.dst, seg.dst_port, seg.src, seg.src_port),
        };
        if seg.rst {
            self.open.remove(&key);
            return None;
        }
        match (way, seg.syn, seg.ack) {
            (Way::Up, true, false) => {
                if let Some(open) = self.open.get_mut(&key) {
                    // A retransmitted SYN (or a new connection on a reused port before the
                    // old one completed): not a clean round trip.
                    open.spoiled = true;
                    return None;
                }
                self.make_room();
                let (syn_delay, spoiled) = match fate {
                    Fate::Delivered { delay } => (delay, false),
                    Fate::Dropped => (Duration::ZERO, true),
                };
                self.open.insert(
                    key,
                    Open {
                        syn_at: at,
                        syn_delay,
                        syn_ack_delay: None,
                        spoiled,
                    },
                );
                None
            }
            (Way::Down, true, true) => {
                if let Some(open) = self.open.get_mut(&key) {
                    match (open.syn_ack_delay, fate) {
                        (None, Fate::Delivered { delay }) => open.syn_ack_delay = Some(delay),
                        _ => open.spoiled = true,
                    }
                }
                None
            }
            (Way::Up, false, true) => {
                let open = *self.open.get(&key)?;
                let syn_ack_delay = open.syn_ack_delay?;
                self.open.remove(&key);
                if open.spoiled {
                    return None;
                }
                let model = open.syn_delay + syn_ack_delay;
                Some(at.saturating_sub(open.syn_at).saturating_sub(model))
            }
            _ => None,
        }
    }

    /// Keeps the table bounded: a handshake whose ACK never came (a refused or abandoned
    /// connection) would otherwise stay forever.
    fn make_room(&mut self) {
        if self.open.len() < MAX_OPEN {
            return;
        }
        if let Some(oldest) = self
            .open
            .iter()
            .min_by_key(|(_, o)| o.syn_at)
            .map(|(k, _)| *k)
        {
            self.open.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 4] = [10, 77, 0, 1];
    const SERVER: [u8; 4] = [10, 77, 0, 2];

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// An IPv4 + TCP header (no options) with `flags`, from `src:sport` to `dst:dport`.
    fn packet(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[32] = 0x50;
        p[33] = flags;
        p
    }

    fn up(flags: u8) -> Segment {
        Segment::parse(&packet(CLIENT, 40000, SERVER, 8080, flags)).expect("tcp")
    }

    fn down(flags: u8) -> Segment {
        Segment::parse(&packet(SERVER, 8080, CLIENT, 40000, flags)).expect("tcp")
    }

    fn delivered(delay: Duration) -> Fate {
        Fate::Delivered { delay }
    }

    #[test]
    fn parses_the_tcp_facts_of_an_ipv4_packet() {
        let seg = up(SYN);
        assert_eq!(
            (seg.src, seg.src_port, seg.dst, seg.dst_port),
            (CLIENT, 40000, SERVER, 8080)
        );
        assert!(seg.syn && !seg.ack && !seg.rst);
        assert!(down(SYN | ACK).ack);
        // Not TCP, not IPv4, truncated, or a later fragment: nothing.
        let mut udp = packet(CLIENT, 1, SERVER, 2, 0);
        udp[9] = 17;
        assert_eq!(Segment::parse(&udp), None);
        let mut v6 = packet(CLIENT, 1, SERVER, 2, 0);
        v6[0] = 0x60;
        assert_eq!(Segment::parse(&v6), None);
        assert_eq!(
            Segment::parse(&packet(CLIENT, 1, SERVER, 2, SYN)[..30]),
            None
        );
        assert_eq!(Segment::parse(&[]), None);
        let mut fragment = packet(CLIENT, 1, SERVER, 2, SYN);
        fragment[7] = 1;
        assert_eq!(Segment::parse(&fragment), None);
        let mut bad_ihl = packet(CLIENT, 1, SERVER, 2, SYN);
        bad_ihl[0] = 0x4f;
        assert_eq!(Segment::parse(&bad_ihl), None);
    }

    #[test]
    fn a_handshake_s_excess_is_its_round_trip_less_the_model_s_delays() {
        let mut h = Handshakes::new();
        // SYN at 0 (model: 20 ms each way), SYN-ACK stamped 20.03 ms (the server's kernel
        // answered as the SYN was delivered 30 µs late), ACK at 40.08 ms.
        assert_eq!(
            h.observe(Way::Up, us(0), delivered(us(20_000)), &up(SYN)),
            None
        );
        assert!(h.any_open());
        assert_eq!(
            h.observe(
                Way::Down,
                us(20_030),
                delivered(us(20_000)),
                &down(SYN | ACK)
            ),
            None
        );
        assert_eq!(
            h.observe(Way::Up, us(40_080), delivered(us(20_000)), &up(ACK)),
            Some(us(80))
        );
        assert!(!h.any_open());
        // Later ACKs of the same connection are not handshakes.
        assert_eq!(
            h.observe(Way::Up, us(50_000), delivered(us(20_000)), &up(ACK)),
            None
        );
    }

    #[test]
    fn queueing_and_serialization_the_model_imposed_are_not_excess() {
        let mut h = Handshakes::new();
        h.observe(Way::Up, us(0), delivered(us(20_048)), &up(SYN));
        // The SYN-ACK waited behind data in the downlink queue for 3 ms: the model's own delay.
        h.observe(
            Way::Down,
            us(20_060),
            delivered(us(23_000)),
            &down(SYN | ACK),
        );
        assert_eq!(
            h.observe(Way::Up, us(43_070), delivered(us(20_000)), &up(ACK)),
            Some(us(22))
        );
    }

    #[test]
    fn a_lost_or_repeated_syn_or_syn_ack_gives_no_sample() {
        let mut h = Handshakes::new();
        h.observe(Way::Up, us(0), Fate::Dropped, &up(SYN));
        h.observe(Way::Up, us(1_000_000), delivered(us(20_000)), &up(SYN));
        h.observe(
            Way::Down,
            us(1_020_000),
            delivered(us(20_000)),
            &down(SYN | ACK),
        );
        assert_eq!(
            h.observe(Way::Up, us(1_040_000), delivered(us(20_000)), &up(ACK)),
            None
        );
        assert!(!h.any_open());

        h.observe(Way::Up, us(0), delivered(us(20_000)), &up(SYN));
        h.observe(Way::Down, us(20_000), Fate::Dropped, &down(SYN | ACK));
        h.observe(
            Way::Down,
            us(1_020_000),
            delivered(us(20_000)),
            &down(SYN | ACK),
        );
        assert_eq!(
            h.observe(Way::Up, us(1_040_000), delivered(us(20_000)), &up(ACK)),
            None
        );

        // A reset ends a handshake without a sample.
        h.observe(Way::Up, us(0), delivered(us(20_000)), &up(SYN));
        h.observe(
            Way::Down,
            us(20_000),
            delivered(us(20_000)),
            &down(RST | ACK),
        );
        assert!(!h.any_open());
    }

    #[test]
    fn an_ack_before_any_syn_ack_is_not_a_handshake() {
        let mut h = Handshakes::new();
        h.observe(Way::Up, us(0), delivered(us(20_000)), &up(SYN));
        assert_eq!(
            h.observe(Way::Up, us(100), delivered(us(20_000)), &up(ACK)),
            None
        );
        assert!(h.any_open());
    }

    #[test]
    fn the_table_of_open_handshakes_is_bounded() {
        let mut h = Handshakes::new();
        for port in 0..(MAX_OPEN as u16 + 10) {
            let seg = Segment::parse(&packet(CLIENT, port, SERVER, 8080, SYN)).expect("tcp");
            h.observe(Way::Up, us(u64::from(port)), delivered(us(1)), &seg);
        }
        assert_eq!(h.open.len(), MAX_OPEN);
        // The oldest went first.
        assert!(!h.open.contains_key(&(CLIENT, 0, SERVER, 8080)));
    }
}
