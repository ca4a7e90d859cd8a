//! The per-connection analysis of a trace: observations in, `WireTrace` out. It sorts the
//! observations by stamp and follows each connection by its 4-tuple (a new SYN after a FIN, a
//! RST or an unfinished handshake starts a new one): which side is the client, the handshake
//! and its options, the scale of each side's windows, the outcome, and the notes. Each
//! direction's sequence space — what was sent, dropped, acknowledged — is a `Flow`
//! (`flow.rs`). Every quantity is defined in `httplab_core::tcp_trace`, whose docs are the
//! schema.
//!
//! Pure code: it reads no clock (each observation carries its stamp) and never panics on any
//! input — garbage, duplicates, reordering, a handshake never finished, every packet dropped.

use super::flow::Flow;
use super::{Observation, TcpHeader};
use crate::handshake::Way;
use httplab_core::tcp_trace::{WireConnection, WireHandshake, WireOutcome, WireSide, WireTrace};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The MSS a sender may assume without an option (RFC 9293).
const DEFAULT_MSS: u64 = 536;

/// One end of a connection: address and port.
type Endpoint = ([u8; 4], u16);
/// A connection's 4-tuple: (the end in the client's namespace, the end in the server's).
type Key = (Endpoint, Endpoint);

/// Index of the client's and the server's direction in [`Connection::flows`].
const CLIENT: usize = 0;
const SERVER: usize = 1;

/// Analyses `observations` (in any order: they are sorted by stamp, stably) into the trace's
/// connections; `skipped` and `truncated` are the recorder's, passed through.
pub fn analyze(mut observations: Vec<Observation>, skipped: u64, truncated: bool) -> WireTrace {
    observations.sort_by_key(|o| o.at);
    let mut tracker = Tracker::default();
    for o in &observations {
        tracker.observe(o);
    }
    WireTrace {
        connections: tracker
            .connections
            .into_iter()
            .map(|c| c.finish(truncated))
            .collect(),
        observations: observations.len() as u64,
        skipped,
        truncated,
    }
}

fn key(o: &Observation) -> Key {
    let h = &o.header;
    let (src, dst) = ((h.src, h.src_port), (h.dst, h.dst_port));
    match o.way {
        Way::Up => (src, dst),
        Way::Down => (dst, src),
    }
}

fn opposite(way: Way) -> Way {
    match way {
        Way::Up => Way::Down,
        Way::Down => Way::Up,
    }
}

fn address((ip, port): Endpoint) -> String {
    SocketAddrV4::new(Ipv4Addr::from(ip), port).to_string()
}

/// The connections seen so far, and the current one of each 4-tuple.
#[derive(Default)]
struct Tracker {
    current: HashMap<Key, usize>,
    connections: Vec<Connection>,
}

impl Tracker {
    fn observe(&mut self, o: &Observation) {
        let key = key(o);
        let i = match self.current.get(&key).copied() {
            None => self.open(key, o),
            Some(i) => match self.connections[i].admits(o) {
                Admit::Yes => i,
                Admit::NewConnection => self.open(key, o),
                Admit::Ignore => {
                    let c = &mut self.connections[i];
                    c.ignored_syns += 1;
                    c.last_at = o.at;
                    return;
                }
            },
        };
        self.connections[i].observe(o);
    }

    fn open(&mut self, key: Key, o: &Observation) -> usize {
        self.connections.push(Connection::new(key, o));
        let i = self.connections.len() - 1;
        self.current.insert(key, i);
        i
    }
}

/// What a SYN on a known 4-tuple means.
enum Admit {
    /// Part of this connection (anything but a SYN with a new ISN).
    Yes,
    /// A new ISN after the connection closed or never finished its handshake.
    NewConnection,
    /// A new ISN while the connection is open: left out, and noted.
    Ignore,
}

/// One connection in progress.
struct Connection {
    key: Key,
    /// The way the client's packets go.
    client_way: Way,
    first_at: Duration,
    last_at: Duration,
    handshake: WireHandshake,
    client_sack_permitted: bool,
    server_sack_permitted: bool,
    /// The first RST: its stamp and who sent it.
    rst: Option<(Duration, WireSide)>,
    /// What the client sent ([`CLIENT`]) and what the server sent ([`SERVER`]).
    flows: [Flow; 2],
    /// Packets the link delivered.
    delivered: u64,
    /// SYNs with a new ISN while it was open.
    ignored_syns: u64,
}

impl Connection {
    fn new(key: Key, o: &Observation) -> Self {
        let h = &o.header;
        let client_way = match (h.syn(), h.has_ack()) {
            (true, false) => o.way,
            (true, true) => opposite(o.way),
            _ => Way::Up,
        };
        Self {
            key,
            client_way,
            first_at: o.at,
            last_at: o.at,
            handshake: WireHandshake::default(),
            client_sack_permitted: false,
            server_sack_permitted: false,
            rst: None,
            flows: [Flow::default(), Flow::default()],
            delivered: 0,
            ignored_syns: 0,
        }
    }

    fn side(&self, way: Way) -> usize {
        if way == self.client_way {
            CLIENT
        } else {
            SERVER
        }
    }

    fn closed(&self) -> bool {
        self.rst.is_some() || self.flows.iter().any(|f| f.out.fin_at.is_some())
    }

    fn admits(&self, o: &Observation) -> Admit {
        let h = &o.header;
        if !h.syn() || h.has_ack() {
            return Admit::Yes;
        }
        let flow = &self.flows[self.side(o.way)];
        if flow.base == Some(h.seq.wrapping_add(1)) {
            return Admit::Yes;
        }
        let unfinished = self.handshake.syn_at.is_some() && self.handshake.ack_at.is_none();
        if self.closed() || unfinished {
            Admit::NewConnection
        } else {
            Admit::Ignore
        }
    }

    /// Whether the windows of non-SYN segments can be scaled: both SYNs were seen.
    fn scale_known(&self) -> bool {
        self.handshake.syn_at.is_some() && self.handshake.syn_ack_at.is_some()
    }

    /// The window side `side` advertised in `h`, in bytes; `None` while the scale is unknown.
    fn window(&self, h: &TcpHeader, side: usize) -> Option<u64> {
        let raw = u64::from(h.window);
        if h.syn() {
            return Some(raw);
        }
        if !self.scale_known() {
            return None;
        }
        let shift = match (
            self.handshake.client_window_scale,
            self.handshake.server_window_scale,
        ) {
            (Some(client), Some(server)) => {
                if side == CLIENT {
                    client
                } else {
                    server
                }
            }
            // Scaling is on only if both SYNs offered it.
            _ => 0,
        };
        Some(raw << shift)
    }

    /// One MSS of the direction `side` sends: what the receiver announced, else the largest
    /// payload seen that way, else the default.
    fn mss(&self, side: usize) -> u64 {
        let announced = if side == CLIENT {
            self.handshake.server_mss
        } else {
            self.handshake.client_mss
        };
        match announced {
            Some(mss) => u64::from(mss),
            None if self.flows[side].max_payload > 0 => self.flows[side].max_payload,
            None => DEFAULT_MSS,
        }
    }

    fn observe(&mut self, o: &Observation) {
        let h = o.header;
        let at = o.at;
        let side = self.side(o.way);
        self.last_at = at;
        if o.dropped {
            self.flows[side].out.dropped += 1;
        } else {
            self.delivered += 1;
        }
        if h.rst() {
            if self.rst.is_none() {
                let by = if side == CLIENT {
                    WireSide::Client
                } else {
                    WireSide::Server
                };
                self.rst = Some((at, by));
            }
            self.track_windows(at);
            return;
        }
        if h.syn() {
            self.on_syn(at, &h, side);
        }

        let flow = &mut self.flows[side];
        let start = flow.unwrap(h.seq);
        let probe = !h.syn()
            && !h.fin()
            && h.payload_len <= 1
            && flow.acked.is_some_and(|a| start == a - 1);
        if probe {
            flow.out.probes += 1;
        } else if h.seq_len() == 0 {
            if h.has_ack() {
                flow.out.pure_acks += 1;
            }
        } else {
            let retransmission = flow.transmit(at, start, &h, o.dropped);
            if retransmission && h.syn() {
                if h.has_ack() {
                    self.handshake.syn_ack_retransmissions += 1;
                } else {
                    self.handshake.syn_retransmissions += 1;
                }
            }
        }
        if h.fin() && self.flows[side].out.fin_at.is_none() {
            self.flows[side].out.fin_at = Some(at);
        }

        if h.has_ack() {
            if side == CLIENT
                && !h.syn()
                && self.handshake.syn_ack_at.is_some()
                && self.handshake.ack_at.is_none()
            {
                self.handshake.ack_at = Some(at);
                self.handshake.rtt = self.handshake.syn_at.map(|syn| at.saturating_sub(syn));
            }
            // Only what the link delivered reached the sender.
            if !o.dropped {
                let window = self.window(&h, side);
                self.flows[1 - side].on_ack(at, &h, window);
            }
        }
        self.track_windows(at);
    }

    fn on_syn(&mut self, at: Duration, h: &TcpHeader, side: usize) {
        let hs = &mut self.handshake;
        if h.has_ack() {
            if hs.syn_ack_at.is_none() {
                hs.syn_ack_at = Some(at);
                hs.server_mss = h.mss;
                hs.server_window_scale = h.window_scale;
                self.server_sack_permitted = h.sack_permitted;
            }
        } else if hs.syn_at.is_none() {
            hs.syn_at = Some(at);
            hs.client_mss = h.mss;
            hs.client_window_scale = h.window_scale;
            self.client_sack_permitted = h.sack_permitted;
        }
        let flow = &mut self.flows[side];
        if flow.base.is_none() {
            flow.base = Some(h.seq.wrapping_add(1));
        }
    }

    /// Brings both directions' receive-window-full time up to `at`.
    fn track_windows(&mut self, at: Duration) {
        for side in [CLIENT, SERVER] {
            let mss = self.mss(side);
            self.flows[side].track_full(at, mss);
        }
    }

    fn finish(mut self, truncated: bool) -> WireConnection {
        self.handshake.sack_permitted = self.client_sack_permitted && self.server_sack_permitted;
        let outcome = self.outcome();
        let mut notes = Vec::new();
        if self.handshake.syn_at.is_none() {
            notes.push(
                "the handshake was not seen (the connection began before the trace): offsets \
                 count from the first sequence number seen each way, and without the window \
                 scale the receive-window-full time is unknown"
                    .to_string(),
            );
        }
        if self.delivered == 0 {
            notes.push("the link dropped every packet of this connection".to_string());
        }
        if self.ignored_syns > 0 {
            notes.push(format!(
                "{} SYN(s) with a new ISN arrived while the connection was open and were left out",
                self.ignored_syns
            ));
        }
        if truncated
            && matches!(
                outcome,
                WireOutcome::Open | WireOutcome::HandshakeUnfinished
            )
        {
            notes.push(
                "the trace reached its bound while this connection was open: its counts end \
                 there"
                    .to_string(),
            );
        }
        let (scale_known, last_at) = (self.scale_known(), self.last_at);
        let client_to_server = self.flows[CLIENT].finish(last_at, scale_known);
        let server_to_client = self.flows[SERVER].finish(last_at, scale_known);
        for (side, name) in [(CLIENT, "client"), (SERVER, "server")] {
            self.flows[side].notes(name, &mut notes);
        }
        WireConnection {
            client: address(if self.client_way == Way::Up {
                self.key.0
            } else {
                self.key.1
            }),
            server: address(if self.client_way == Way::Up {
                self.key.1
            } else {
                self.key.0
            }),
            first_packet_at: self.first_at,
            last_packet_at: last_at,
            handshake: self.handshake,
            outcome,
            notes,
            client_to_server,
            server_to_client,
        }
    }

    fn outcome(&self) -> WireOutcome {
        if let Some((at, by)) = self.rst {
            return WireOutcome::Reset { at, by };
        }
        if self.handshake.syn_at.is_some() && self.handshake.ack_at.is_none() {
            return WireOutcome::HandshakeUnfinished;
        }
        match (self.flows[CLIENT].out.fin_at, self.flows[SERVER].out.fin_at) {
            (Some(a), Some(b)) => WireOutcome::Complete {
                both_ways: true,
                at: a.max(b),
            },
            (Some(at), None) | (None, Some(at)) => WireOutcome::Complete {
                both_ways: false,
                at,
            },
            (None, None) => WireOutcome::Open,
        }
    }
}
