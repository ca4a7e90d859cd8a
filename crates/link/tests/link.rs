//! The link emulator under the kernel's own TCP: a client socket in the client namespace, a
//! listener in the server namespace, every packet through the TUN devices and the relay. Each
//! test asserts what the link must reproduce — a handshake that takes one RTT, round trips of one
//! RTT each, a bandwidth cap, transfers that survive loss — and that the relay kept to the
//! model's schedule (p99 lateness at most 0.5 ms).
//!
//! They need root (namespaces and TUN devices); elsewhere they print a loud SKIP line, and fail
//! under CI (`CI=true`). They run one at a time: they measure time on a shared, small machine,
//! where another process or the hypervisor can stall any thread for milliseconds now and then.
//! So every check that holds the relay to its schedule gets up to [`ATTEMPTS`] tries, on a fresh
//! connection (or, where a capture spans the run, a fresh link), and passes on the first that
//! meets every bound; each failed try is printed. (On a fresh CI machine, a 4 MiB transfer once
//! saw an uplink p99 lateness of 3.1 ms and the next try of the same test none.)
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_core::{Clock, NetworkSettings};
use httplab_link::{
    get_congestion, set_congestion, tun, LinkEmulator, LinkOptions, LinkStats, Stamping,
    MAX_TRUSTWORTHY_EXCESS_PER_RTT, MAX_TRUSTWORTHY_LATENESS_P99,
};
use httplab_testkit::{inline_scenario, require_tool, temp_dir, under_ci};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const PORT: u16 = 8080;
/// The longest any one test may take.
const TEST_LIMIT: Duration = Duration::from_secs(90);
/// Tries of a sub-millisecond timing check before it fails.
const ATTEMPTS: usize = 5;
/// The emulated round trip of the timing tests.
const RTT: Duration = Duration::from_millis(40);

/// Timing tests run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `[network]` table `body` describes.
fn network(body: &str) -> NetworkSettings {
    inline_scenario(&format!(
        "name = \"link\"\n[network]\n{body}\n[[resource]]\npath = \"/a\"\n"
    ))
    .network
    .expect("a [network] table")
}

/// Starts the link `body` describes, or returns `None` after a loud SKIP line when this host
/// cannot run it (not root, no /dev/net/tun); under CI that is a failure instead.
fn start(test: &str, body: &str, pcap: Option<PathBuf>) -> Option<LinkEmulator> {
    if !require_link_here(test) {
        return None;
    }
    Some(LinkEmulator::start(&network(body), Clock::start(), pcap).expect("link starts"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A listener on the server's side of the link.
fn listen(link: &LinkEmulator) -> TcpListener {
    let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), PORT);
    TcpListener::from_std(link.server_ns().std_listener(addr).expect("bind")).expect("listener")
}

/// One connection across the link: (client end, server end, time the client's connect took).
async fn connect(link: &LinkEmulator, listener: &TcpListener) -> (TcpStream, TcpStream, Duration) {
    let socket = TcpSocket::from_std_stream(link.client_ns().tcp_socket_v4().expect("socket"));
    let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), PORT);
    let started = Instant::now();
    let (client, accepted) = tokio::join!(
        async {
            let stream = socket.connect(addr).await.expect("connect");
            (stream, started.elapsed())
        },
        listener.accept()
    );
    let (server, peer) = accepted.expect("accept");
    assert_eq!(
        peer.ip(),
        IpAddr::V4(link.client_addr()),
        "the server sees the client's address"
    );
    let (client, took) = client;
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server, took)
}

/// Whether the relay kept to the model's schedule in both directions: p99 lateness at most
/// 0.5 ms and no failed TUN write.
fn punctual(stats: &LinkStats) -> Result<(), String> {
    for (name, d) in [("uplink", &stats.uplink), ("downlink", &stats.downlink)] {
        if d.lateness_p99 > MAX_TRUSTWORTHY_LATENESS_P99 {
            return Err(format!(
                "{name} p99 lateness {:?} over {MAX_TRUSTWORTHY_LATENESS_P99:?}",
                d.lateness_p99
            ));
        }
        if d.drops.tun > 0 {
            return Err(format!("{name}: {} failed TUN writes", d.drops.tun));
        }
    }
    if !stats.trustworthy() {
        return Err(format!("not trustworthy: {stats:?}"));
    }
    Ok(())
}

fn within(what: &str, got: Duration, want: Duration, tolerance: Duration) -> Result<(), String> {
    if got.abs_diff(want) <= tolerance {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, want {want:?} ± {tolerance:?}"))
    }
}

/// Runs `check` (which starts from zeroed link counters) until it passes, at most
/// [`ATTEMPTS`] times; panics with every try's failure.
fn best_of(link: &LinkEmulator, mut check: impl FnMut() -> Result<(), String>) {
    let mut failures = Vec::new();
    for attempt in 1..=ATTEMPTS {
        link.reset_stats();
        match check().and_then(|()| punctual(&link.stats())) {
            Ok(()) => {
                eprintln!("link stats: {:#?}", link.stats());
                return;
            }
            Err(e) => {
                eprintln!("try {attempt} of {ATTEMPTS} failed: {e}");
                failures.push(e);
            }
        }
    }
    panic!("every try failed: {failures:#?}");
}

/// Connects made (and exchanges timed) per measurement: the estimate of a physical duration
/// is their minimum, since noise on a shared machine only ever adds.
const SAMPLES: usize = 10;

/// What the link itself may add to one round trip: the bound its own self-check holds a run to
/// (the receiving kernels' turnaround inside the relay's TUN writes and the relay's lateness,
/// timed on every handshake). Measured on the 2-vCPU KVM machines CI uses: 33–157 µs.
const LINK_PER_RTT: Duration = MAX_TRUSTWORTHY_EXCESS_PER_RTT;

/// What one endpoint's wake-up may add after it slept through half a round trip: a halted vCPU
/// wakes in 30–100 µs on those machines (least to p90 of a blocked thread woken by a write),
/// where on loopback the same task wakes on a CPU that is still busy.
const WAKE_UP: Duration = Duration::from_micros(100);

/// The minimum and the median of `samples`.
fn min_median(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (sorted[0], sorted[(sorted.len() - 1) / 2])
}

#[test]
fn connect_takes_one_rtt() {
    let _serial = serial();
    let Some(link) = start("connect_takes_one_rtt", "rtt = \"40ms\"", None) else {
        return;
    };
    let rt = runtime();
    let listener = rt.block_on(async { listen(&link) });
    best_of(&link, || {
        let took = rt.block_on(async {
            let mut took = Vec::new();
            for _ in 0..SAMPLES {
                let (_client, _server, t) = connect(&link, &listener).await;
                took.push(t);
            }
            took
        });
        let (min, median) = min_median(&took);
        eprintln!("{SAMPLES} connects: min {min:?}, median {median:?}: {took:?}");
        // Never faster than the model's round trip; its minimum over ten at most what the link
        // and the client's wake-up add (a connect's own work on loopback is a few µs).
        if min < RTT {
            return Err(format!("a connect took {min:?}, under the RTT {RTT:?}"));
        }
        let most = RTT + LINK_PER_RTT + WAKE_UP;
        if min > most {
            return Err(format!(
                "the fastest of {SAMPLES} connects took {min:?}: over {most:?} (the RTT, the \
                 link's {LINK_PER_RTT:?} and a wake-up's {WAKE_UP:?})"
            ));
        }
        // The median is a page's typical connect: within a millisecond (a stray stall of the
        // VM in half the connects is a machine to distrust, not a link).
        within(
            "TCP connect (median)",
            median,
            RTT,
            Duration::from_millis(1),
        )
    });
}

#[test]
fn ping_pong_takes_one_rtt_per_exchange() {
    let _serial = serial();
    // What an exchange costs the two endpoints themselves, on loopback and after the same
    // idle time as on the link (a vCPU that slept for half an RTT wakes more slowly than a
    // busy one): two wake-ups and four system calls.
    let on_loopback = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        client.set_nodelay(true).expect("nodelay");
        server.set_nodelay(true).expect("nodelay");
        min_median(&ping_pong_blocking(client, server, SAMPLES, RTT / 2)).0
    };
    let Some(link) = start("ping_pong", "rtt = \"40ms\"", None) else {
        return;
    };
    let rt = runtime();
    let listener = rt.block_on(async { listen(&link) });
    best_of(&link, || {
        let (client, server) = rt.block_on(async {
            let (client, server, _) = connect(&link, &listener).await;
            (client, server)
        });
        let each = ping_pong(client, server, SAMPLES);
        let took: Duration = each.iter().sum();
        let (min, median) = min_median(&each);
        // The sum of all ten is printed, not judged: it adds every exchange's noise.
        eprintln!(
            "{SAMPLES} exchanges: {took:?} (min {min:?}, median {median:?}; one on loopback: \
             {on_loopback:?}): {each:?}"
        );
        if min < RTT {
            return Err(format!("an exchange took {min:?}, under the RTT {RTT:?}"));
        }
        // An exchange is one RTT, the endpoints' own work after the same idleness (measured
        // on loopback), and what the link itself may add.
        let most = RTT + on_loopback + LINK_PER_RTT;
        if min > most {
            return Err(format!(
                "the fastest of {SAMPLES} exchanges took {min:?}: over {most:?} (the RTT, \
                 {on_loopback:?} on loopback, the link's {LINK_PER_RTT:?})"
            ));
        }
        // The median is a typical exchange: within a millisecond of the RTT.
        within(
            "an exchange (median)",
            median,
            RTT,
            Duration::from_millis(1),
        )
    });
}

#[test]
fn the_kernel_stamps_arrivals_and_every_handshake_times_the_link() {
    let _serial = serial();
    let Some(link) = start("kernel_stamps", "rtt = \"40ms\"", None) else {
        return;
    };
    let rt = runtime();
    let listener = rt.block_on(async { listen(&link) });
    best_of(&link, || {
        rt.block_on(async {
            for _ in 0..SAMPLES {
                connect(&link, &listener).await;
            }
        });
        let stats = link.stats();
        eprintln!("{stats:#?}");
        if stats.stamping != Stamping::Kernel || stats.stamping_note.is_some() {
            return Err(format!(
                "stamping {:?}: {:?}",
                stats.stamping, stats.stamping_note
            ));
        }
        for d in [&stats.uplink, &stats.downlink] {
            if d.stamped_reader != 0 || d.stamped_kernel == 0 {
                return Err(format!("packets stamped at the read: {d:?}"));
            }
        }
        let excess = stats.excess_per_rtt.ok_or("no handshake timed")?;
        if excess.handshakes != SAMPLES as u64 {
            return Err(format!(
                "{} handshakes timed, {SAMPLES} made",
                excess.handshakes
            ));
        }
        // A handshake's excess is both kernels' turnaround and the relay's lateness: at most
        // what the link may add, for the least as for the median (which `punctual` checks).
        if excess.min > LINK_PER_RTT {
            return Err(format!(
                "the least excess {:?} over {LINK_PER_RTT:?}",
                excess.min
            ));
        }
        Ok(())
    });
}

#[test]
fn without_kernel_stamps_the_run_says_so_and_the_handshakes_still_time_the_link() {
    let _serial = serial();
    if !require_link_here("reader_stamps") {
        return;
    }
    let link = LinkEmulator::start_with(
        &network("rtt = \"40ms\""),
        Clock::start(),
        &LinkOptions {
            kernel_stamps: false,
            ..LinkOptions::default()
        },
    )
    .expect("link starts");
    let rt = runtime();
    let listener = rt.block_on(async { listen(&link) });
    let took = rt.block_on(async {
        let mut took = Vec::new();
        for _ in 0..SAMPLES {
            took.push(connect(&link, &listener).await.2);
        }
        took
    });
    let stats = link.stats();
    eprintln!("connects {took:?}; {stats:#?}");
    assert_eq!(stats.stamping, Stamping::Reader);
    assert!(
        stats
            .stamping_note
            .as_deref()
            .is_some_and(|n| n.contains("stamped at the read")),
        "{:?}",
        stats.stamping_note
    );
    for d in [&stats.uplink, &stats.downlink] {
        assert_eq!(d.stamped_kernel, 0);
        // Every packet read was stamped at the read (some may still be on their way).
        assert!(d.stamped_reader >= d.packets && d.packets > 0, "{d:?}");
    }
    let excess = stats.excess_per_rtt.expect("handshakes timed");
    assert_eq!(excess.handshakes, SAMPLES as u64);
    // Every connect still took at least the RTT: the link works, only its stamps moved.
    assert!(took.iter().all(|t| *t >= RTT), "{took:?}");
}

/// Whether the link can run here; a loud SKIP line (a failure under CI) when it cannot.
fn require_link_here(test: &str) -> bool {
    match LinkEmulator::probe() {
        Ok(()) => true,
        Err(e) => {
            let msg = format!("{test}: the link emulator cannot run here: {e}");
            if under_ci() {
                panic!("CI=true and {msg}");
            }
            eprintln!("\n**************** SKIP: {msg} ****************\n");
            false
        }
    }
}

/// `n` exchanges of 16 bytes, client → server → client, over plain blocking sockets on two
/// threads: each exchange then costs the endpoints no more than a wake-up and a system call
/// each, so what remains above the RTT is the link's. Returns each exchange's time.
fn ping_pong(client: TcpStream, server: TcpStream, n: usize) -> Vec<Duration> {
    let blocking = |s: TcpStream| {
        let s = s.into_std().expect("std socket");
        s.set_nonblocking(false).expect("blocking");
        s
    };
    // The server's end is established only when the handshake's last ACK arrives.
    std::thread::sleep(RTT);
    ping_pong_blocking(blocking(client), blocking(server), n, Duration::ZERO)
}

/// `n` exchanges over two connected blocking sockets, `gap` apart.
fn ping_pong_blocking(
    mut client: std::net::TcpStream,
    mut server: std::net::TcpStream,
    n: usize,
    gap: Duration,
) -> Vec<Duration> {
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        for _ in 0..n {
            server.read_exact(&mut buf).expect("server read");
            server.write_all(&buf).expect("server write");
        }
    });
    let mut buf = [0u8; 16];
    let mut each = Vec::new();
    for i in 0..n {
        std::thread::sleep(gap);
        let message = [i as u8; 16];
        let started = Instant::now();
        client.write_all(&message).expect("client write");
        client.read_exact(&mut buf).expect("client read");
        each.push(started.elapsed());
        assert_eq!(buf, message, "the echo carries the message back");
    }
    echo.join().expect("echo thread");
    each
}

/// Sends `warmup + measured` bytes server → client and returns the client's goodput over the
/// `measured` bytes, in bits/s.
async fn goodput(
    client: &mut TcpStream,
    mut server: TcpStream,
    warmup: usize,
    measured: usize,
) -> f64 {
    let sender = tokio::spawn(async move {
        let chunk = vec![0x5au8; 64 * 1024];
        let mut left = warmup + measured;
        while left > 0 {
            let n = left.min(chunk.len());
            server.write_all(&chunk[..n]).await.expect("server write");
            left -= n;
        }
        server.shutdown().await.expect("shutdown");
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0usize;
    let mut started = None;
    loop {
        let n = client.read(&mut buf).await.expect("client read");
        if n == 0 {
            break;
        }
        got += n;
        if started.is_none() && got >= warmup {
            started = Some((Instant::now(), got));
        }
    }
    sender.await.expect("sender task");
    assert_eq!(got, warmup + measured, "every byte arrives");
    let (at, from) = started.expect("past the warm-up");
    (got - from) as f64 * 8.0 / at.elapsed().as_secs_f64()
}

#[test]
fn bandwidth_cap_is_met() {
    let _serial = serial();
    let Some(link) = start(
        "bandwidth_cap_is_met",
        "rtt = \"40ms\"\nbandwidth = \"20mbit\"",
        None,
    ) else {
        return;
    };
    let rt = runtime();
    let listener = rt.block_on(async { listen(&link) });
    best_of(&link, || {
        let bps = rt.block_on(async {
            let (mut client, server, _) = connect(&link, &listener).await;
            tokio::time::timeout(TEST_LIMIT, goodput(&mut client, server, 1 << 20, 4 << 20))
                .await
                .expect("transfer within the limit")
        });
        eprintln!(
            "goodput over 4 MiB at a 20 Mbit/s cap: {:.2} Mbit/s",
            bps / 1e6
        );
        if !(19e6..=20e6).contains(&bps) {
            return Err(format!("goodput {:.2} Mbit/s, want 19–20", bps / 1e6));
        }
        Ok(())
    });
    // Full-size data segments are matched to their kernel stamps too.
    let stats = link.stats();
    assert_eq!(
        stats.stamping,
        Stamping::Kernel,
        "{:?}",
        stats.stamping_note
    );
}

/// One TCP data segment seen in a capture.
struct Segment {
    flow: (u32, u16, u32, u16),
    seq: u32,
    len: u32,
}

/// The TCP segments of an IPv4, LINKTYPE_RAW pcap file, in capture order.
fn segments(pcap: &Path) -> (usize, Vec<Segment>) {
    let bytes = std::fs::read(pcap).expect("read pcap");
    assert!(bytes.len() >= 24, "pcap file header");
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(u32_at(&bytes, 20), 101, "LINKTYPE_RAW");
    let (mut at, mut records, mut out) = (24, 0, Vec::new());
    while at + 16 <= bytes.len() {
        let caplen = u32_at(&bytes, at + 8) as usize;
        let p = &bytes[at + 16..at + 16 + caplen];
        // Without a virtio-net header the kernel segments before the TUN device: every packet
        // the link carries fits the MTU.
        assert!(
            caplen <= tun::MTU as usize,
            "a {caplen}-byte packet on the link"
        );
        at += 16 + caplen;
        records += 1;
        if p[0] >> 4 != 4 || p[9] != 6 {
            continue;
        }
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let t = &p[ihl..];
        let doff = usize::from(t[12] >> 4) * 4;
        let be32 = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        out.push(Segment {
            flow: (
                be32(p, 12),
                u16::from_be_bytes([t[0], t[1]]),
                be32(p, 16),
                u16::from_be_bytes([t[2], t[3]]),
            ),
            seq: be32(t, 4),
            len: (total - ihl - doff) as u32,
        });
    }
    assert_eq!(at, bytes.len(), "the capture ends on a record boundary");
    (records, out)
}

/// Data segments that go back below the highest sequence number already seen in their flow:
/// with a link that never reorders, each one is a retransmission.
fn retransmissions(segments: &[Segment]) -> usize {
    let mut highest: HashMap<(u32, u16, u32, u16), u32> = HashMap::new();
    let mut count = 0;
    for s in segments.iter().filter(|s| s.len > 0) {
        let end = s.seq.wrapping_add(s.len);
        match highest.get_mut(&s.flow) {
            None => {
                highest.insert(s.flow, end);
            }
            Some(h) => {
                if (s.seq.wrapping_sub(*h) as i32) < 0 {
                    count += 1;
                }
                if (end.wrapping_sub(*h) as i32) > 0 {
                    *h = end;
                }
            }
        }
    }
    count
}

#[test]
fn transfers_survive_loss_and_the_capture_shows_retransmissions() {
    let _serial = serial();
    let dir = temp_dir("link-loss");
    // The capture spans a link's whole life, so each try starts a link of its own.
    let mut failures = Vec::new();
    for attempt in 1..=ATTEMPTS {
        match lossy_transfers(&dir.join(format!("loss-{attempt}.pcap"))) {
            None => return,
            Some(Ok(())) => {
                let _ = std::fs::remove_dir_all(dir);
                return;
            }
            Some(Err(e)) => {
                eprintln!("try {attempt} of {ATTEMPTS} failed: {e}");
                failures.push(e);
            }
        }
    }
    panic!("every try failed: {failures:#?}");
}

/// One try of the loss test: three 1 MiB transfers through 2% loss each way, captured into
/// `pcap`; `None` when this host cannot run the link (after its SKIP line).
fn lossy_transfers(pcap: &Path) -> Option<Result<(), String>> {
    // A bandwidth, as real paths have: with none, TCP bursts faster than TUN writes go and
    // the relay's own capacity shows as lateness (see the relay's module doc).
    let mut link = start(
        "transfers_survive_loss",
        "rtt = \"40ms\"\nbandwidth = \"50mbit\"\nloss = \"2%\"\nseed = 5",
        Some(pcap.to_path_buf()),
    )?;
    runtime().block_on(async {
        let listener = listen(&link);
        for run in 0..3 {
            let (mut client, server, _) = connect(&link, &listener).await;
            let bps = tokio::time::timeout(TEST_LIMIT, goodput(&mut client, server, 0, 1 << 20))
                .await
                .unwrap_or_else(|_| {
                    panic!("run {run}: 1 MiB through 2% loss within {TEST_LIMIT:?}")
                });
            eprintln!(
                "run {run}: 1 MiB at 2% loss each way: {:.2} Mbit/s",
                bps / 1e6
            );
        }
    });
    link.stop().expect("link stops and flushes its capture");
    let stats = link.stats();
    eprintln!("link stats: {stats:#?}");
    Some(loss_shows(pcap, &stats).and_then(|()| punctual(&stats)))
}

/// What a lossy run's counters and capture must show: the link lost packets both ways, the
/// capture holds every delivered one, and the lost segments were sent again.
fn loss_shows(pcap: &Path, stats: &LinkStats) -> Result<(), String> {
    if stats.downlink.drops.loss == 0 || stats.uplink.drops.loss == 0 {
        return Err(format!("the link lost nothing in one direction: {stats:?}"));
    }
    let (records, segments) = segments(pcap);
    let delivered = stats.uplink.packets + stats.downlink.packets;
    if records as u64 != delivered {
        return Err(format!(
            "the capture holds {records} packets, the link delivered {delivered}"
        ));
    }
    let retransmitted = retransmissions(&segments);
    eprintln!(
        "lost by the link: {} down, {} up; retransmissions in the capture: {retransmitted}",
        stats.downlink.drops.loss, stats.uplink.drops.loss
    );
    // Each segment the link lost was sent again; all but a lost tail (or a retransmission
    // lost in turn) arrive below the highest sequence number already delivered.
    if retransmitted == 0 || (2 * retransmitted as u64) < stats.downlink.drops.loss {
        return Err(format!(
            "{retransmitted} retransmissions in the capture for {} segments lost downlink",
            stats.downlink.drops.loss
        ));
    }
    if let Some(tshark) = require_tool("tshark", "transfers_survive_loss", "apt-get install tshark")
    {
        let out = std::process::Command::new(tshark)
            .arg("-r")
            .arg(pcap)
            .args(["-Y", "tcp.analysis.retransmission"])
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let flagged = String::from_utf8_lossy(&out.stdout).lines().count();
        eprintln!("tshark flags {flagged} retransmissions");
        if flagged == 0 {
            return Err("tshark flags no retransmission".into());
        }
    }
    Ok(())
}

#[test]
fn namespaces_have_the_scenarios_tcp_settings() {
    let _serial = serial();
    let host_sysctl =
        || std::fs::read_to_string("/proc/sys/net/ipv4/tcp_no_metrics_save").expect("host sysctl");
    let host_before = host_sysctl();
    let Some(link) = start(
        "namespaces_have_the_scenarios_tcp_settings",
        "rtt = \"0\"\ncongestion_control = \"reno\"\nslow_start_after_idle = false",
        None,
    ) else {
        return;
    };
    for ns in [link.client_ns(), link.server_ns()] {
        let k = ns.kernel();
        assert_eq!(k.congestion_control, "reno");
        assert!(!k.slow_start_after_idle);
        assert!(k.no_metrics_save);
    }
    assert_eq!(link.kernel().congestion_control, "reno");
    assert_eq!(
        host_sysctl(),
        host_before,
        "the host keeps its own settings"
    );

    let socket = link.client_ns().tcp_socket_v4().expect("socket");
    assert_eq!(
        get_congestion(&socket).expect("get"),
        "reno",
        "the namespace default"
    );
    set_congestion(&socket, "cubic").expect("set cubic");
    assert_eq!(get_congestion(&socket).expect("get"), "cubic");

    // Each namespace has a loopback of its own: a listener on the server's 127.0.0.1 is not
    // there for the client's.
    let local = SocketAddr::from(([127, 0, 0, 1], PORT));
    let _listener = link.server_ns().std_listener(local).expect("bind");
    let refused = link
        .client_ns()
        .run(move || std::net::TcpStream::connect_timeout(&local, Duration::from_secs(1)))
        .expect("run in the client namespace");
    assert_eq!(
        refused.map(drop).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "the client namespace reached the server namespace's loopback"
    );
}
