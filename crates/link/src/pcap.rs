//! A pure pcap writer for the packets the link carries, readable by tcpdump, tshark and
//! Wireshark.
//!
//! It writes the classic libpcap format with nanosecond timestamps (magic `0xa1b23c4d`),
//! little-endian, link type `LINKTYPE_RAW` (each packet starts with its IPv4 or IPv6 header,
//! exactly what a TUN device opened with `IFF_NO_PI` yields) and a snap length of 65535 bytes.
//! It owns the file's byte layout only: it does not choose files, buffer (wrap the writer in a
//! `BufWriter`), read clocks (the caller passes each packet's Unix time) or look into packets.

use std::io::{self, Write};
use std::time::Duration;

/// Magic number of a pcap file whose timestamps are seconds and nanoseconds.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_RAW`: packets begin with an IPv4 or IPv6 header, no link-layer header.
pub const LINKTYPE_RAW: u32 = 101;
/// Longest packet prefix stored; longer packets are truncated (their original length is kept).
pub const SNAPLEN: u32 = 65_535;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Bytes of each packet record's header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Writes a pcap stream to `W`: the file header on creation, then one record per packet.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W) -> io::Result<Self> {
        let mut header = [0u8; FILE_HEADER_LEN];
        header[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // 8..12 thiszone (UTC) and 12..16 sigfigs stay zero.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
        w.write_all(&header)?;
        Ok(Self { w })
    }

    /// Appends one packet seen at `ts_unix` (time since the Unix epoch). Fails with
    /// `InvalidInput`, writing nothing, for a time past the format's 32-bit seconds (2106).
    pub fn write_packet(&mut self, ts_unix: Duration, packet: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_unix.as_secs()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pcap timestamps end in 2106; got {ts_unix:?} since 1970"),
            )
        })?;
        let orig_len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let incl_len = orig_len.min(SNAPLEN);
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&ts_unix.subsec_nanos().to_le_bytes());
        header[8..12].copy_from_slice(&incl_len.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.w.write_all(&header)?;
        self.w.write_all(&packet[..incl_len as usize])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The underlying writer (not flushed: call [`PcapWriter::flush`] first if it buffers).
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn header_and_records_field_by_field() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let first = [0x45u8, 0, 0, 20];
        let second = vec![0x60u8; 70_000]; // longer than the snap length
        w.write_packet(Duration::new(1_700_000_000, 123_456_789), &first)
            .unwrap();
        w.write_packet(Duration::new(1_700_000_001, 5), &second)
            .unwrap();
        let b = w.into_inner();

        // File header.
        assert_eq!(&b[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!((u16_at(&b, 4), u16_at(&b, 6)), (2, 4));
        assert_eq!((u32_at(&b, 8), u32_at(&b, 12)), (0, 0));
        assert_eq!(u32_at(&b, 16), 65_535);
        assert_eq!(u32_at(&b, 20), 101);

        // First record: header, then the packet whole.
        let r = FILE_HEADER_LEN;
        assert_eq!(u32_at(&b, r), 1_700_000_000);
        assert_eq!(u32_at(&b, r + 4), 123_456_789);
        assert_eq!((u32_at(&b, r + 8), u32_at(&b, r + 12)), (4, 4));
        assert_eq!(&b[r + 16..r + 20], &first);

        // Second record: truncated to the snap length, original length kept.
        let r = r + RECORD_HEADER_LEN + first.len();
        assert_eq!((u32_at(&b, r), u32_at(&b, r + 4)), (1_700_000_001, 5));
        assert_eq!((u32_at(&b, r + 8), u32_at(&b, r + 12)), (65_535, 70_000));
        assert_eq!(b.len(), r + RECORD_HEADER_LEN + 65_535);
        assert!(b[r + RECORD_HEADER_LEN..].iter().all(|x| *x == 0x60));
    }

    #[test]
    fn times_past_2106_are_refused_and_write_nothing() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let e = w
            .write_packet(Duration::from_secs(1 << 32), &[0x45])
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.get_ref().len(), FILE_HEADER_LEN);
    }

    /// The Internet checksum (RFC 1071) of `data`.
    fn checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = data
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// An IPv4 TCP SYN from 10.0.0.1:40000 to 10.0.0.2:8443, checksums and all.
    fn syn() -> Vec<u8> {
        let (src, dst) = ([10u8, 0, 0, 1], [10u8, 0, 0, 2]);
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40_000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&8_443u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1u32.to_be_bytes()); // sequence number
        tcp[12] = 5 << 4; // data offset: 5 words
        tcp[13] = 0x02; // SYN
        tcp[14..16].copy_from_slice(&65_535u16.to_be_bytes()); // window
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        pseudo.extend_from_slice(&tcp);
        let sum = checksum(&pseudo);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());

        let mut ip = vec![0x45u8, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&tcp);
        ip
    }

    #[test]
    fn tshark_reads_the_capture_back() {
        let test = "tshark_reads_the_capture_back";
        let Some(tshark) = httplab_testkit::require_tool("tshark", test, "apt-get install tshark")
        else {
            return;
        };
        let path = httplab_testkit::temp_dir("pcap").join("syn.pcap");
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapWriter::new(io::BufWriter::new(file)).unwrap();
        w.write_packet(Duration::new(1_700_000_000, 123_456_789), &syn())
            .unwrap();
        w.flush().unwrap();
        drop(w);

        let out = std::process::Command::new(tshark)
            .arg("-r")
            .arg(&path)
            .args(["-T", "fields", "-e", "ip.src", "-e", "tcp.dstport"])
            .args(["-e", "tcp.flags.syn", "-e", "frame.time_epoch"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
        assert_eq!(fields.len(), 4, "{stdout}");
        assert_eq!(&fields[..2], ["10.0.0.1", "8443"], "{stdout}");
        assert!(matches!(fields[2], "1" | "True"), "{stdout}");
        // Nanosecond timestamps survive.
        assert!(fields[3].starts_with("1700000000.123456789"), "{stdout}");
    }
}
