//! The header facts of one IPv4 TCP packet that the wire analysis needs, read into a small
//! `Copy` value: addresses, ports, sequence and acknowledgement numbers, flags, the raw window,
//! the payload length, and the options that matter (MSS, window scale and SACK-permitted from
//! SYNs; SACK blocks from any segment).
//!
//! Full recognition before processing: every length the packet claims (IP header, total
//! length, TCP data offset) is checked against the bytes present before any field is read, and
//! anything that fails is refused as a whole (`None`). TCP options are read as Linux reads
//! them: a malformed option ends the option list, the segment itself still counts. Pure code
//! over byte slices; it allocates nothing.

/// TCP flags, as in the header's 13th byte.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// The most SACK blocks one segment can carry (40 option bytes: 2 + 4 × 8 = 34).
pub const MAX_SACK_BLOCKS: usize = 4;
/// The largest window scale shift RFC 7323 allows; larger offers are taken as 14.
pub const MAX_WINDOW_SCALE: u8 = 14;

const IPPROTO_TCP: u8 = 6;
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WINDOW_SCALE: u8 = 3;
const OPT_SACK_PERMITTED: u8 = 4;
const OPT_SACK: u8 = 5;

/// The TCP facts of one IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The flag bits ([`FIN`], [`SYN`], [`RST`], [`PSH`], [`ACK`], ...).
    pub flags: u8,
    /// The window field as sent, before any scaling.
    pub window: u16,
    /// Payload bytes: the IP total length less both headers.
    pub payload_len: u16,
    /// The MSS option, if the segment carried one.
    pub mss: Option<u16>,
    /// The window scale option's shift count (at most [`MAX_WINDOW_SCALE`]).
    pub window_scale: Option<u8>,
    /// Whether it carried SACK-permitted.
    pub sack_permitted: bool,
    sack: [(u32, u32); MAX_SACK_BLOCKS],
    sack_count: u8,
}

impl TcpHeader {
    /// Reads an unfragmented IPv4 packet carrying TCP; `None` for anything else, or for any
    /// packet whose lengths do not add up.
    pub fn parse(packet: &[u8]) -> Option<TcpHeader> {
        let first = *packet.first()?;
        if first >> 4 != 4 || packet.len() < 20 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        let fragment = u16::from_be_bytes([packet[6], packet[7]]);
        // More-fragments set or a nonzero offset: a fragment, whose payload is not the
        // segment's.
        if packet[9] != IPPROTO_TCP || fragment & 0x3fff != 0 {
            return None;
        }
        if ihl < 20 || total > packet.len() || total < ihl + 20 {
            return None;
        }
        let tcp = &packet[ihl..total];
        let data_offset = usize::from(tcp[12] >> 4) * 4;
        if data_offset < 20 || data_offset > tcp.len() {
            return None;
        }
        let payload_len = u16::try_from(tcp.len() - data_offset).ok()?;
        let be32 = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut header = TcpHeader {
            src: [packet[12], packet[13], packet[14], packet[15]],
            dst: [packet[16], packet[17], packet[18], packet[19]],
            src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
            seq: be32(tcp, 4),
            ack: be32(tcp, 8),
            flags: tcp[13],
            window: u16::from_be_bytes([tcp[14], tcp[15]]),
            payload_len,
            mss: None,
            window_scale: None,
            sack_permitted: false,
            sack: [(0, 0); MAX_SACK_BLOCKS],
            sack_count: 0,
        };
        header.read_options(&tcp[20..data_offset]);
        Some(header)
    }

    /// Reads the options the analysis uses; stops at the end-of-list option or at the first
    /// option whose length is malformed, as Linux does.
    fn read_options(&mut self, mut options: &[u8]) {
        while let Some(&kind) = options.first() {
            match kind {
                OPT_END => return,
                OPT_NOP => {
                    options = &options[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = options.get(1) else {
                return;
            };
            let len = usize::from(len);
            if len < 2 || len > options.len() {
                return;
            }
            let body = &options[2..len];
            match (kind, body.len()) {
                (OPT_MSS, 2) => self.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (OPT_WINDOW_SCALE, 1) => self.window_scale = Some(body[0].min(MAX_WINDOW_SCALE)),
                (OPT_SACK_PERMITTED, 0) => self.sack_permitted = true,
                (OPT_SACK, n) if n % 8 == 0 => {
                    // A second SACK option (never sent, but possible in garbage) adds blocks
                    // only while there is room.
                    for block in body.chunks_exact(8) {
                        let Some(slot) = self.sack.get_mut(usize::from(self.sack_count)) else {
                            break;
                        };
                        let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                        let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                        *slot = (left, right);
                        self.sack_count += 1;
                    }
                }
                _ => {}
            }
            options = &options[len..];
        }
    }

    /// The SACK blocks it carried, `(left edge, right edge)` as sequence numbers.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..usize::from(self.sack_count)]
    }

    pub fn syn(&self) -> bool {
        self.flags & SYN != 0
    }

    pub fn fin(&self) -> bool {
        self.flags & FIN != 0
    }

    pub fn rst(&self) -> bool {
        self.flags & RST != 0
    }

    pub fn has_ack(&self) -> bool {
        self.flags & ACK != 0
    }

    /// Sequence numbers it takes: its payload, plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        u32::from(self.payload_len) + u32::from(self.syn()) + u32::from(self.fin())
    }
}
