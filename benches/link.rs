//! The link emulator's capacity: one long-lived TCP connection through the link, server →
//! client, each sample one bulk transfer (criterion reports it as throughput):
//! - `link/zero-delay`: `rtt = "0"`, no bandwidth limit: what the relay itself can carry;
//! - `link/rtt-50ms`: `rtt = "50ms"`, no bandwidth limit: the relay holding a full window of
//!   packets for 25 ms each way;
//! - `link/cap-20mbit`: `rtt = "0"`, `bandwidth = "20mbit"`: the model's rate limit.
//!
//! After each it prints what the link measured: packets, drops and the lateness of its
//! deliveries (p50/p99/max); a p99 over 0.5 ms means the numbers above it are the relay's, not
//! the scenario's. Needs root (namespaces and TUN devices); elsewhere it prints why and
//! benches nothing.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use httplab_core::{Clock, NetworkSettings};
use httplab_link::LinkEmulator;
use httplab_testkit::inline_scenario;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const PORT: u16 = 9000;

/// (bench id, `[network]` table body, bytes per transfer)
const LINKS: [(&str, &str, u64); 3] = [
    ("zero-delay", "rtt = \"0\"", 64 << 20),
    ("rtt-50ms", "rtt = \"50ms\"", 32 << 20),
    ("cap-20mbit", "rtt = \"0\"\nbandwidth = \"20mbit\"", 4 << 20),
];

fn network(body: &str) -> NetworkSettings {
    inline_scenario(&format!(
        "name = \"link-bench\"\n[network]\n{body}\n[[resource]]\npath = \"/a\"\n"
    ))
    .network
    .expect("a [network] table")
}

/// One connection through `link`: (client end, server end).
async fn connect(link: &LinkEmulator) -> (TcpStream, TcpStream) {
    let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), PORT);
    let listener =
        TcpListener::from_std(link.server_ns().std_listener(addr).expect("bind")).expect("listen");
    let socket = TcpSocket::from_std_stream(link.client_ns().tcp_socket_v4().expect("socket"));
    let (client, server) = tokio::join!(socket.connect(addr), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

/// Sends `bytes` server → client and returns the time from the first write to the last read.
async fn transfer(client: &mut TcpStream, server: &mut TcpStream, bytes: u64) -> Duration {
    let chunk = vec![0xa5u8; 256 * 1024];
    let mut buf = vec![0u8; 256 * 1024];
    let started = Instant::now();
    let send = async {
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            server.write_all(&chunk[..n]).await.expect("write");
            left -= n as u64;
        }
    };
    let receive = async {
        let mut got = 0u64;
        while got < bytes {
            let n = client.read(&mut buf).await.expect("read");
            assert!(n > 0, "the connection closed early");
            got += n as u64;
        }
    };
    tokio::join!(send, receive);
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    if let Err(e) = LinkEmulator::probe() {
        eprintln!("\n**************** SKIP link benches: {e} ****************\n");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("link");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(3));
    for (id, body, bytes) in LINKS {
        let link = LinkEmulator::start(&network(body), Clock::start(), None).expect("link starts");
        let (mut client, mut server) = rt.block_on(connect(&link));
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                link.reset_stats();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(transfer(&mut client, &mut server, bytes));
                }
                total
            })
        });
        let stats = link.stats();
        let d = &stats.downlink;
        eprintln!(
            "link/{id} (last sample) downlink: {} packets, {} bytes, drops {:?}; lateness p50 {:?} \
             p99 {:?} max {:?}; uplink lateness p99 {:?}; SCHED_FIFO {}; stamping {} \
             ({} stamped at the read); CPUs kept awake {}; trustworthy {}",
            d.packets,
            d.bytes,
            d.drops,
            d.lateness_p50,
            d.lateness_p99,
            d.lateness_max,
            stats.uplink.lateness_p99,
            stats.realtime,
            stats.stamping.as_str(),
            d.stamped_reader + stats.uplink.stamped_reader,
            stats.keep_awake,
            stats.trustworthy()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
