//! The wire analysis under the kernel's own TCP: transfers between a client socket in the client
//! namespace and a server socket in the server namespace, every packet through the relay, and
//! what `LinkEmulator::take_trace` makes of them checked against the sending kernel's own
//! account (`TCP_INFO`) and against what slow start must do.
//!
//! They need root (namespaces and TUN devices); elsewhere they print a loud SKIP line, and fail
//! under CI (`CI=true`), as the link's other tests do. They run one at a time.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::tcp_trace::{WireConnection, WireOutcome};
use httplab_core::{Clock, NetworkSettings};
use httplab_link::LinkEmulator;
use httplab_testkit::{inline_scenario, under_ci};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

const PORT: u16 = 8080;
/// How long a transfer may wait on a socket before the test fails instead of hanging.
const SOCKET_LIMIT: Duration = Duration::from_secs(60);

/// The tests run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the link the `[network]` table `body` describes, or returns `None` after a loud SKIP
/// line when this host cannot run it; under CI that is a failure instead.
fn start(test: &str, body: &str) -> Option<LinkEmulator> {
    if let Err(e) = LinkEmulator::probe() {
        let msg = format!("{test}: the link emulator cannot run here: {e}");
        if under_ci() {
            panic!("CI=true and {msg}");
        }
        eprintln!("\n**************** SKIP: {msg} ****************\n");
        return None;
    }
    let net: NetworkSettings = inline_scenario(&format!(
        "name = \"wire\"\n[network]\n{body}\n[[resource]]\npath = \"/a\"\n"
    ))
    .network
    .expect("a [network] table");
    Some(LinkEmulator::start(&net, Clock::start(), None).expect("link starts"))
}

/// A blocking listener on the server's side of the link.
fn listen(link: &LinkEmulator) -> TcpListener {
    let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), PORT);
    let listener = link.server_ns().std_listener(addr).expect("bind");
    listener.set_nonblocking(false).expect("blocking");
    listener
}

/// One connection across the link, blocking at both ends: (client end, server end).
fn connect(link: &LinkEmulator, listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = link.client_ns().tcp_socket_v4().expect("socket");
    client.set_nonblocking(false).expect("blocking");
    let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), PORT);
    socket2::SockRef::from(&client)
        .connect(&addr.into())
        .expect("connect");
    let (server, _) = listener.accept().expect("accept");
    for s in [&client, &server] {
        s.set_read_timeout(Some(SOCKET_LIMIT)).expect("timeout");
        s.set_write_timeout(Some(SOCKET_LIMIT)).expect("timeout");
    }
    (client, server)
}

/// What the sending kernel says of a socket: `(tcpi_total_retrans, tcpi_snd_mss)`.
fn tcp_info(socket: &TcpStream) -> (u32, u32) {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable buffer of `len` bytes for the kernel to fill, and the socket
    // is open for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", io::Error::last_os_error());
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_total_retrans) + size_of::<u32>();
    assert!(
        len as usize >= needed,
        "the kernel's tcp_info ({len} bytes) ends before tcpi_total_retrans"
    );
    // SAFETY: an all-zero tcp_info is valid (integers only), and the kernel wrote its first
    // `len` bytes, which cover both fields read.
    let info = unsafe { info.assume_init() };
    (info.tcpi_total_retrans, info.tcpi_snd_mss)
}

/// Sends `bytes` server → client once the server has learnt its MSS (`bytes(mss)`), closes
/// both ways, and returns the sender's TCP_INFO once the client's FIN has come: by then the
/// client has acknowledged every byte and the FIN, so the sender's count is final.
fn transfer(client: TcpStream, server: TcpStream, bytes: impl FnOnce(u32) -> usize) -> (u32, u32) {
    let n = bytes(tcp_info(&server).1);
    let receiver = std::thread::spawn(move || {
        let mut client = client;
        let mut got = Vec::with_capacity(n);
        client.read_to_end(&mut got).expect("client reads");
        assert_eq!(got.len(), n, "every byte arrives");
        // Dropping the socket sends the client's FIN, acknowledging the server's.
    });
    let mut server = server;
    server.write_all(&vec![0x5a; n]).expect("server writes");
    server.shutdown(Shutdown::Write).expect("server's FIN");
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).expect("the client's FIN");
    receiver.join().expect("receiver");
    tcp_info(&server)
}

/// The trace's connection whose client end is `client`'s address.
fn wire_connection(link: &LinkEmulator, local: SocketAddr) -> WireConnection {
    let trace = link.take_trace();
    assert!(!trace.truncated);
    trace
        .connections
        .into_iter()
        .find(|c| c.client == local.to_string())
        .unwrap_or_else(|| panic!("a traced connection from {local}"))
}

#[test]
fn retransmissions_on_the_wire_match_the_senders_tcp_info() {
    let _serial = serial();
    // A bandwidth, as real paths have, so bursts do not outrun the relay (see relay.rs).
    let Some(link) = start(
        "retransmissions_match_tcp_info",
        "rtt = \"40ms\"\nbandwidth = \"50mbit\"\nloss = \"2%\"\nseed = 11",
    ) else {
        return;
    };
    let listener = listen(&link);
    let (mut on_wire, mut in_kernel) = (0u64, 0u64);
    for run in 0..4 {
        link.reset_stats();
        let (client, server) = connect(&link, &listener);
        let local = client.local_addr().expect("client address");
        let (total_retrans, _) = transfer(client, server, |_| 300 * 1024);
        let c = wire_connection(&link, local);
        let d = &c.server_to_client;
        eprintln!(
            "run {run}: {} segments dropped server → client; retransmitted on the wire {} \
             (fast {}, rto {}, tlp {}, spurious {}), tcpi_total_retrans {total_retrans}; \
             {} rounds",
            d.dropped,
            d.retransmitted_segments,
            d.fast_retransmits,
            d.rto_retransmits,
            d.tail_loss_probes,
            d.spurious_retransmits,
            d.round_count
        );
        assert_eq!(d.new_payload_bytes, 300 * 1024, "{:?}", c.notes);
        assert!(
            d.retransmitted_segments.abs_diff(u64::from(total_retrans)) * 20
                <= u64::from(total_retrans),
            "run {run}: the wire counts {} retransmissions, the sender's kernel {total_retrans}",
            d.retransmitted_segments
        );
        assert!(matches!(
            c.outcome,
            WireOutcome::Complete {
                both_ways: true,
                ..
            }
        ));
        on_wire += d.retransmitted_segments;
        in_kernel += u64::from(total_retrans);
    }
    // The loss model's seed gives losses: the comparison was not of zeros.
    assert!(
        in_kernel > 0 && on_wire > 0,
        "no retransmissions at 2% loss"
    );
}

#[test]
fn a_loss_free_transfer_of_10_segments_takes_1_round_and_of_20_takes_2() {
    let _serial = serial();
    let Some(link) = start("rounds_of_slow_start", "rtt = \"40ms\"") else {
        return;
    };
    let listener = listen(&link);
    for (segments, rounds) in [(10, 1), (20, 2)] {
        link.reset_stats();
        let (client, server) = connect(&link, &listener);
        let local = client.local_addr().expect("client address");
        let mut mss = 0;
        let (total_retrans, _) = transfer(client, server, |m| {
            mss = m;
            segments * m as usize
        });
        let c = wire_connection(&link, local);
        let d = &c.server_to_client;
        eprintln!("{segments} segments of {mss} bytes: {:#?}", d.rounds);
        assert_eq!((total_retrans, d.retransmitted_segments), (0, 0));
        assert_eq!(d.new_payload_bytes, segments as u64 * u64::from(mss));
        assert_eq!(d.new_data_segments, segments as u64);
        assert_eq!(
            d.round_count, rounds,
            "{segments} segments: {:#?}",
            d.rounds
        );
        // Each round's new data follows the last's, from offset 0.
        let mut next = 0;
        for r in &d.rounds {
            assert_eq!(r.start, next);
            next = r.end;
        }
        assert_eq!(next, d.new_payload_bytes);
        // The handshake crossed the link: one round trip of 40 ms and a little.
        let rtt = c.handshake.rtt.expect("a handshake");
        assert!(
            rtt >= Duration::from_millis(40) && rtt < Duration::from_millis(45),
            "{rtt:?}"
        );
    }
}
