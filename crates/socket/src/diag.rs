//! The kernel's account of a server's TCP sockets, from `sock_diag` (the netlink interface
//! `ss` reads): how many connections are in each state and the memory the kernel has charged
//! to them. `/proc/net/sockstat` gives only a whole-host figure, and a lab on loopback has its
//! clients' sockets on the same host; here only sockets whose *local* port is one of the
//! server's count, which are the server's ends.
//!
//! One dump of every IPv4 TCP socket of the calling thread's network namespace (ask from a
//! thread in the server's), parsed here; the `unsafe` is the four libc calls, each with its
//! SAFETY line. Every loop is bounded: the dump by a receive timeout and a message count.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
/// `INET_DIAG_SKMEMINFO`: the attribute holding `ss -m`'s skmem counters.
const INET_DIAG_SKMEMINFO: u16 = 7;
const TCP_LISTEN: u32 = 10;
const TCP_TIME_WAIT: u8 = 6;
const TCP_ESTABLISHED: u8 = 1;
/// Every state but LISTEN (states are numbered 1 to 12).
const STATES: u32 = ((1 << 13) - 2) & !(1 << TCP_LISTEN);
/// Bytes of `struct nlmsghdr` and `struct inet_diag_msg`.
const NLMSG_HDR: usize = 16;
const DIAG_MSG: usize = 72;
/// A dump larger than this many sockets is cut (and says so): a million is far past any lab.
const MAX_SOCKETS: u64 = 1_000_000;
/// How long one reply may take to arrive.
const RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// The server's sockets at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketTally {
    /// Connections in ESTABLISHED.
    pub established: u64,
    /// Connections closing (FIN-WAIT, CLOSE-WAIT, LAST-ACK, CLOSING) or still opening
    /// (SYN-RECV).
    pub other: u64,
    /// Connections in TIME-WAIT: closed, their port pair held for 2 MSL.
    pub time_wait: u64,
    /// Memory the kernel has charged to them: the receive queue, the send queue, the
    /// socket's forward reservation and its option memory (`ss -m`'s r + w + f + o).
    pub memory_bytes: u64,
    /// Whether the dump was cut at `MAX_SOCKETS`.
    pub truncated: bool,
}

/// Tallies the IPv4 TCP sockets, LISTEN aside, whose local port is one of `ports`, in the
/// calling thread's network namespace.
pub fn tally_local_ports(ports: &[u16]) -> io::Result<SocketTally> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: RECV_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: `timeout` is a valid `timeval` for the length given; `fd` is open.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let request = dump_request();
    // SAFETY: `request` is readable for its length; netlink sends to the kernel by default.
    let sent = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut tally = SocketTally::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = 0u64;
    loop {
        // SAFETY: `buf` is writable for its length; `fd` is open.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: the dump ended without NLMSG_DONE",
            ));
        }
        match parse(&buf[..n as usize], ports, &mut tally, &mut seen)? {
            Parsed::Done => return Ok(tally),
            Parsed::More if seen >= MAX_SOCKETS => {
                tally.truncated = true;
                return Ok(tally);
            }
            Parsed::More => {}
        }
    }
}

/// `nlmsghdr` + `inet_diag_req_v2` asking for every IPv4 TCP socket but listeners, with the
/// memory attribute.
fn dump_request() -> [u8; NLMSG_HDR + 56] {
    let mut req = [0u8; NLMSG_HDR + 56];
    req[0..4].copy_from_slice(&((NLMSG_HDR + 56) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    let body = &mut req[NLMSG_HDR..];
    body[0] = libc::AF_INET as u8;
    body[1] = libc::IPPROTO_TCP as u8;
    body[2] = 1 << (INET_DIAG_SKMEMINFO - 1);
    body[4..8].copy_from_slice(&STATES.to_ne_bytes());
    // The socket id (48 bytes) stays zero: a dump with no filter.
    req
}

enum Parsed {
    More,
    Done,
}

/// Adds one datagram's messages to `tally`.
fn parse(buf: &[u8], ports: &[u16], tally: &mut SocketTally, seen: &mut u64) -> io::Result<Parsed> {
    let u16_at = |b: &[u8], at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
    let u32_at = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut at = 0;
    while at + NLMSG_HDR <= buf.len() {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDR || at + len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "sock_diag: a message of {len} bytes at {at} of {}",
                    buf.len()
                ),
            ));
        }
        let msg = &buf[at..at + len];
        match u16_at(msg, 4) {
            NLMSG_DONE => return Ok(Parsed::Done),
            NLMSG_ERROR => {
                let errno = if len >= NLMSG_HDR + 4 {
                    -(u32_at(msg, NLMSG_HDR) as i32)
                } else {
                    0
                };
                return Err(io::Error::from_raw_os_error(errno));
            }
            SOCK_DIAG_BY_FAMILY if len >= NLMSG_HDR + DIAG_MSG => {
                *seen += 1;
                let diag = &msg[NLMSG_HDR..];
                let sport = u16::from_be_bytes([diag[4], diag[5]]);
                if ports.contains(&sport) {
                    match diag[1] {
                        TCP_ESTABLISHED => tally.established += 1,
                        TCP_TIME_WAIT => tally.time_wait += 1,
                        _ => tally.other += 1,
                    }
                    tally.memory_bytes += skmem(&diag[DIAG_MSG..]);
                }
            }
            _ => {}
        }
        // Messages are 4-byte aligned.
        at += (len + 3) & !3;
    }
    Ok(Parsed::More)
}

/// The charged memory in a message's attributes: r + w + f + o of `INET_DIAG_SKMEMINFO`.
fn skmem(mut attrs: &[u8]) -> u64 {
    // Bounded by the attributes' bytes: each step consumes at least 4.
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return 0;
        }
        if kind == INET_DIAG_SKMEMINFO && len >= 4 + 7 * 4 {
            let v = |i: usize| {
                let at = 4 + i * 4;
                u64::from(u32::from_ne_bytes([
                    attrs[at],
                    attrs[at + 1],
                    attrs[at + 2],
                    attrs[at + 3],
                ]))
            };
            // rmem_alloc, fwd_alloc, wmem_queued, optmem.
            return v(0) + v(4) + v(5) + v(6);
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    0
}
