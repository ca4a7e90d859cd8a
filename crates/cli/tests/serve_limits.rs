//! `httplab serve` under hostile and heavy load, against the binary on real loopback sockets:
//! idle HTTP/2 connections, slow request bodies and slowloris heads (2,000 of them, past the
//! server's ceiling of 1,024) do not keep a normal client out, and each is closed within its
//! timeout; the server's memory stays flat over tens of thousands of requests (60 KB paths
//! over HTTP/1.1, h2load over h2c); `--listen` names what it bound, warns when other machines
//! can reach it, and says why a bind failed.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use httplab_testkit::http1_raw::{get, read_response};
use httplab_testkit::{
    require_tool, scenario_path, serve_file, serve_file_with, temp_dir, under_ci, KillOnDrop,
};
use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short limits, so the test waits seconds rather than the defaults' minute.
const SLOW_PEERS: &str = r#"
name = "slow-peers"
[server]
request_head_timeout = "3s"
body_timeout = "2s"
min_body_rate = "8kbit"
h2_idle_timeout = "3s"
send_timeout = "3s"
[[resource]]
path = "/a"
size = "10b"
[[resource]]
path = "/up"
method = "POST"
body = "1mb"
size = "10b"
"#;

/// Slow peers held open at once: past the server's 1,024, so it must evict to admit anyone.
const PEERS: usize = 2000;

/// The kinds of slow peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// The h2c preface and an empty SETTINGS frame, then silence.
    IdleH2,
    /// A POST announcing 1,000,000 body bytes, then one byte.
    SlowBody,
    /// Half a request head, then silence.
    Slowloris,
}

impl Peer {
    fn of(i: usize) -> Peer {
        // Interleaved, so eviction (oldest first) meets every kind.
        match i % 4 {
            0 | 1 => Peer::IdleH2,
            2 => Peer::SlowBody,
            _ => Peer::Slowloris,
        }
    }

    fn opening(self) -> Vec<u8> {
        match self {
            Peer::IdleH2 => {
                let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
                bytes
            }
            Peer::SlowBody => {
                b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx".to_vec()
            }
            Peer::Slowloris => b"GET /a HTTP/1.1\r\nHost: x\r\nX-a: ".to_vec(),
        }
    }

    /// The scenario's limit that ends it.
    fn timeout(self) -> Duration {
        match self {
            Peer::IdleH2 | Peer::Slowloris => Duration::from_secs(3),
            Peer::SlowBody => Duration::from_secs(2),
        }
    }
}

/// The test process holds `needed` descriptors: raises its soft limit to the hard one; false
/// (after a SKIP line, or a panic under CI) when even that is too low.
fn enough_descriptors(test: &str, needed: u64) -> bool {
    let limit = httplab_socket::raise_nofile_limit().expect("getrlimit/setrlimit");
    if limit.soft >= needed {
        return true;
    }
    let msg = format!(
        "{test}: needs {needed} open files, the hard limit is {} (raise it: ulimit -Hn)",
        limit.hard
    );
    if under_ci() {
        panic!("CI=true and {msg}");
    }
    eprintln!("\n**************** SKIP: {msg} ****************\n");
    false
}

fn write_scenario(name: &str, body: &str) -> PathBuf {
    let path = temp_dir(name).join(format!("{name}.toml"));
    std::fs::write(&path, body).expect("write the scenario");
    path
}

/// One GET of /a on a new connection: its status and the time from connect to response.
async fn normal_request(addr: SocketAddr, id: u32) -> (u16, Duration) {
    let start = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(get("/a", id).as_bytes())
        .await
        .expect("write");
    let response = read_response(&mut tcp, &mut Vec::new(), false).await;
    (response.status, start.elapsed())
}

/// Opens every slow peer; each is watched by a task that returns how long after its opening
/// bytes the server closed it (`None`: still open after 20 s).
async fn open_slow_peers(
    addr: SocketAddr,
) -> Vec<(Peer, tokio::task::JoinHandle<Option<Duration>>)> {
    let mut peers = Vec::with_capacity(PEERS);
    for i in 0..PEERS {
        let peer = Peer::of(i);
        let mut tcp = TcpStream::connect(addr).await.expect("connect a slow peer");
        tcp.write_all(&peer.opening())
            .await
            .expect("write its opening");
        let opened = Instant::now();
        peers.push((
            peer,
            tokio::spawn(async move {
                let mut scratch = [0u8; 4096];
                let closed = async { while let Ok(1..) = tcp.read(&mut scratch).await {} };
                tokio::time::timeout(Duration::from_secs(20), closed)
                    .await
                    .ok()
                    .map(|()| opened.elapsed())
            }),
        ));
    }
    peers
}

/// Against `serve` of `scenario`: while the slow peers hold on, normal requests are answered
/// within a second, and every slow peer is closed within its timeout and a second.
async fn slow_peers_do_not_keep_a_client_out(scenario: &Path, label: &str) {
    let (_server, port) = serve_file(common::bin(), scenario, None);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let opening = Instant::now();
    let peers = open_slow_peers(addr).await;
    let opened_in = opening.elapsed();
    // Five normal requests on fresh connections while every slow peer holds on (the first
    // closes only 2 s after it opened). A loopback request takes well under a millisecond;
    // the bound is the issue's: a new client is served within a second however many slow
    // peers there are, since admission evicts one of them for it.
    let mut times = Vec::new();
    for id in 0..5 {
        let (status, took) = normal_request(addr, id).await;
        assert_eq!(status, 200, "{label}");
        times.push(took);
    }
    times.sort();
    eprintln!(
        "{label}: {PEERS} slow peers opened in {opened_in:?}; normal request min {:?}, median {:?}, max {:?}",
        times[0], times[2], times[4]
    );
    assert!(times[4] < Duration::from_secs(1), "{label}: {times:?}");
    // And curl, a client no one here wrote, within the same second (its own clock).
    if let Some(curl) = require_tool("curl", label, "apt-get install curl") {
        let url = format!("http://{addr}/a");
        let out = tokio::task::spawn_blocking(move || {
            Command::new(curl)
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %{time_total}",
                    "-m",
                    "5",
                ])
                .arg(url)
                .output()
                .expect("curl runs")
        })
        .await
        .expect("curl's task");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let (code, secs) = said.split_once(' ').unwrap_or(("", ""));
        let secs: f64 = secs.parse().unwrap_or(f64::MAX);
        eprintln!("{label}: curl {code} in {secs} s");
        assert_eq!(code, "200", "{label}: curl said {said}");
        assert!(secs < 1.0, "{label}: curl took {secs} s");
    }
    // Each slow peer is closed by its own timeout, or earlier when evicted for a newcomer. The
    // second of slack: the server's timer starts at its accept (a little after our connect,
    // with 2,000 connects queued), its timers fire to the millisecond, and an idle HTTP/2
    // connection gets 0.5 s to answer its GOAWAY's PING before it is dropped.
    let mut closes: Vec<(Peer, Duration)> = Vec::new();
    for (peer, closed) in peers {
        let closed = closed.await.expect("watcher");
        let closed = closed.unwrap_or_else(|| panic!("{label}: a {peer:?} peer was never closed"));
        closes.push((peer, closed));
    }
    for kind in [Peer::IdleH2, Peer::SlowBody, Peer::Slowloris] {
        let mut of: Vec<Duration> = closes.iter().filter(|c| c.0 == kind).map(|c| c.1).collect();
        of.sort();
        let evicted = of.iter().filter(|&&d| d < kind.timeout()).count();
        eprintln!(
            "{label}: {kind:?} x{}: closed after min {:?}, median {:?}, max {:?} (timeout {:?}; {evicted} closed before it, evicted)",
            of.len(),
            of[0],
            of[of.len() / 2],
            of[of.len() - 1],
            kind.timeout()
        );
        let bound = kind.timeout() + Duration::from_secs(1);
        assert!(
            of[of.len() - 1] <= bound,
            "{label}: {kind:?} {:?} > {bound:?}",
            of[of.len() - 1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_peers_do_not_keep_a_normal_client_out() {
    let test = "slow_and_idle_peers_do_not_keep_a_normal_client_out";
    if !enough_descriptors(test, PEERS as u64 + 200) {
        return;
    }
    // Hyper's HTTP/1.x path, then the pipelining server (which `[server] pipelining` selects).
    let hyper = write_scenario("slow-peers", SLOW_PEERS);
    let pipelining = write_scenario(
        "slow-peers-pipelining",
        &SLOW_PEERS.replace("[server]\n", "[server]\npipelining = \"serial\"\n"),
    );
    tokio::time::timeout(Duration::from_secs(50), async {
        slow_peers_do_not_keep_a_client_out(&hyper, "hyper").await;
        slow_peers_do_not_keep_a_client_out(&pipelining, "pipelining").await;
    })
    .await
    .expect("both rounds within 50 s");
}

/// The resident set of process `pid`, from `/proc/PID/status`.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

/// `count` GETs of a 60 KB path (each a 404) over `connections` keep-alive connections.
async fn long_path_requests(addr: SocketAddr, connections: usize, count: usize) {
    let path = format!("/{}", "p".repeat(60 * 1024));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = get(&path, c as u32).into_bytes();
        let each = count / connections;
        tasks.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            let mut buf = Vec::new();
            for _ in 0..each {
                tcp.write_all(&request).await.expect("write");
                assert_eq!(read_response(&mut tcp, &mut buf, false).await.status, 404);
            }
        }));
    }
    for t in tasks {
        t.await.expect("requests");
    }
}

/// The memory tests' server returns the pages it frees at once (mimalloc's purge delay, 10 ms
/// by default, runs only when the freeing thread allocates again, so an idle server's RSS
/// stayed anywhere between what it keeps and its peak: 80–134 MB across eight quiet readings
/// after h2load runs, here; with no delay, 19–20 MB). RSS then is what the server keeps.
const PROMPT_PURGE: &[(&str, &str)] = &[("MIMALLOC_PURGE_DELAY", "0")];

fn memory_scenario() -> PathBuf {
    write_scenario(
        "serve-memory",
        "name = \"serve-memory\"\n[[resource]]\npath = \"/a\"\nsize = \"100b\"\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_memory_stays_flat_over_20000_long_path_requests() {
    let (server, port) = serve_file_with(common::bin(), &memory_scenario(), None, PROMPT_PURGE);
    let pid = server.0.id();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    tokio::time::timeout(Duration::from_secs(120), async {
        // Warm up first: the allocator keeps the pages its first requests used, so the
        // baseline is taken once they are in place.
        long_path_requests(addr, 4, 2_000).await;
        let before = rss_bytes(pid);
        let start = Instant::now();
        long_path_requests(addr, 4, 20_000).await;
        let after = rss_bytes(pid);
        let growth = after.saturating_sub(before);
        eprintln!(
            "serve RSS over 20,000 GETs of a 60 KB path: {} -> {} KB (+{} KB) in {:?}",
            before / 1024,
            after / 1024,
            growth / 1024,
            start.elapsed()
        );
        // Kept before: 60 KB of path per request, 1.2 GB for these; now nothing per request.
        assert!(growth < 20 << 20, "RSS grew {growth} bytes");
    })
    .await
    .expect("within 120 s");
}

/// Runs h2load with `args`; its summary must show every request succeeded.
fn h2load(h2load: &Path, args: &[&str], requests: u32) {
    let out = Command::new(h2load)
        .args(args)
        .output()
        .expect("h2load runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or_else(|| panic!("no summary in h2load output:\n{text}"));
    assert!(
        summary.contains(&format!("{requests} succeeded, 0 failed")),
        "{summary}"
    );
}

/// Open descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The RSS of `pid` once it has closed what a run opened: its descriptors back to `idle_fds`
/// (at most 5 s of looking), then 200 ms for the frees to settle.
fn quiescent_rss(pid: u32, idle_fds: usize) -> u64 {
    for _ in 0..100 {
        if open_fds(pid) <= idle_fds {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    rss_bytes(pid)
}

#[test]
fn serve_memory_stays_flat_over_an_h2load_run_of_50000_requests() {
    let test = "serve_memory_stays_flat_over_an_h2load_run_of_50000_requests";
    let Some(tool) = require_tool("h2load", test, "apt-get install nghttp2-client") else {
        return;
    };
    let (server, port) = serve_file_with(common::bin(), &memory_scenario(), None, PROMPT_PURGE);
    let pid = server.0.id();
    let idle_fds = open_fds(pid);
    let url = format!("http://127.0.0.1:{port}/a");
    // The issue's shape: 200 h2c connections, 100 streams each.
    let args = [
        "-n",
        "50000",
        "-c",
        "200",
        "-m",
        "100",
        "-T",
        "30",
        url.as_str(),
    ];
    // Warm up until the resident set settles (the first runs grow the allocator's own
    // structures). Settled: two quiescent readings within 1 MB; at most six runs (with the
    // prompt purge, it settles by the second here).
    let mut readings = Vec::new();
    for _ in 0..6 {
        h2load(&tool, &args, 50_000);
        readings.push(quiescent_rss(pid, idle_fds));
        if let [.., a, b] = readings[..] {
            if a.abs_diff(b) < 1 << 20 {
                break;
            }
        }
    }
    let before = *readings.last().expect("a warm-up reading");
    // Three measured runs, each read once quiet; the growth is the least of the three (noise
    // from the allocator only adds, a leak would not go away: at the 400 B a request kept
    // before, even the first reading would be 20 MB up, the third 60 MB).
    let start = Instant::now();
    let mut after = Vec::new();
    for _ in 0..3 {
        h2load(&tool, &args, 50_000);
        after.push(quiescent_rss(pid, idle_fds));
    }
    let took = start.elapsed() / 3;
    let least = *after.iter().min().expect("three readings");
    let growth = least.saturating_sub(before);
    eprintln!(
        "serve RSS over an h2load run of 50,000 requests: {} KB -> {:?} KB (least +{} KB), \
         {took:?} a run; warm-up readings {:?} KB",
        before / 1024,
        after.iter().map(|r| r / 1024).collect::<Vec<_>>(),
        growth / 1024,
        readings.iter().map(|r| r / 1024).collect::<Vec<_>>()
    );
    // Kept before: about 400 B per request (a record and a TCP_INFO reading), 20 MB here.
    assert!(growth < 5 << 20, "RSS grew {growth} bytes");
}

/// Starts `serve` on `listen`; returns its first stdout line and, once it is stopped, its
/// stderr.
fn serve_on(listen: &str) -> (String, String) {
    let mut child = Command::new(common::bin())
        .args([
            "serve",
            scenario_path("quickstart").to_str().expect("utf-8"),
            "--listen",
            listen,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("httplab serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let child = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    drop(child);
    let mut err = String::new();
    stderr.read_to_string(&mut err).expect("stderr");
    (line, err)
}

#[test]
fn listen_names_the_bound_address_warns_when_exposed_and_explains_bind_errors() {
    // Every interface: the banner shows it as bound, and stderr warns.
    let (banner, err) = serve_on("0.0.0.0:0");
    assert!(
        banner.contains("on http://0.0.0.0:"),
        "banner {banner:?}, stderr: {err}"
    );
    assert!(err.contains("warning: listening on 0.0.0.0:"), "{err}");
    assert!(err.contains("every interface"), "{err}");
    // Loopback: no warning.
    let (banner, err) = serve_on("127.0.0.1:0");
    assert!(banner.contains("on http://127.0.0.1:"), "{banner}");
    assert!(!err.contains("warning: listening"), "{err}");

    let dir = temp_dir("serve-listen");
    let quickstart = scenario_path("quickstart");
    let quickstart = quickstart.to_str().expect("utf-8");
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no machine's address.
    let out = common::httplab(&["serve", quickstart, "--listen", "192.0.2.1:8080"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("192.0.2.1 is not an address of this machine"),
        "{err}"
    );
    // A port another socket holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = held.local_addr().expect("address").to_string();
    let out = common::httplab(&["serve", quickstart, "--listen", &listen], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another server is using port"), "{err}");
}
