use httplab_core::Clock;
use httplab_link::{LinkEmulator, LinkOptions};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

fn net(body: &str) -> httplab_core::NetworkSettings {
    httplab_testkit::inline_scenario(&format!("name = \"l\"\n[network]\n{body}\n[[resource]]\npath = \"/a\"\n")).network.unwrap()
}

async fn pingpong(mut c: TcpStream, mut s: TcpStream, n: usize) -> Duration {
    c.set_nodelay(true).unwrap(); s.set_nodelay(true).unwrap();
    let echo = tokio::spawn(async move { let mut b = [0u8;16]; for _ in 0..n { s.read_exact(&mut b).await.unwrap(); s.write_all(&b).await.unwrap(); } });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    let mut b = [0u8;16];
    for _ in 0..n { c.write_all(&b.clone()).await.unwrap(); c.read_exact(&mut b).await.unwrap(); }
    let e = t.elapsed(); echo.await.unwrap(); e
}

async fn bulk(mut c: TcpStream, mut s: TcpStream, n: usize) -> Duration {
    let w = tokio::spawn(async move { let chunk = vec![1u8; 65536]; let mut left = n; while left > 0 { let k = left.min(65536); s.write_all(&chunk[..k]).await.unwrap(); left -= k; } s.shutdown().await.unwrap(); });
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 18]; let mut got = 0;
    loop { let k = c.read(&mut buf).await.unwrap(); if k == 0 { break } got += k; }
    assert_eq!(got, n); w.await.unwrap(); t.elapsed()
}

#[test]
fn scratch() {
    let mode = std::env::var("MODE").unwrap_or("pp".into());
    let body = std::env::var("NET").unwrap_or("rtt = \"40ms\"".into());
    let rt_on = std::env::var_os("NORT").is_none();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let link = LinkEmulator::start_with(&net(&body), Clock::start(), &LinkOptions { pcap: None, realtime: rt_on }).unwrap();
    rt.block_on(async {
        let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), 8080);
        let l = TcpListener::from_std(link.server_ns().std_listener(addr).unwrap()).unwrap();
        for _ in 0..3 {
            let sock = TcpSocket::from_std_stream(link.client_ns().tcp_socket_v4().unwrap());
            let (c, s) = tokio::join!(sock.connect(addr), l.accept());
            let (c, s) = (c.unwrap(), s.unwrap().0);
            if mode == "pp" {
                let e = pingpong(c, s, 20).await;
                println!("{body} rt={rt_on} per exchange {:?}", e / 20);
            } else {
                let n = 20 << 20;
                let e = bulk(c, s, n).await;
                println!("{body} rt={rt_on} bulk {:.1} Mbit/s", n as f64 * 8.0 / e.as_secs_f64() / 1e6);
            }
        }
    });

    httplab_link::relay::dump();
    let s = link.stats();
    println!("up p50 {:?} p99 {:?} max {:?} | down p50 {:?} p99 {:?} max {:?} pk {} drops {:?}", s.uplink.lateness_p50, s.uplink.lateness_p99, s.uplink.lateness_max, s.downlink.lateness_p50, s.downlink.lateness_p99, s.downlink.lateness_max, s.downlink.packets, s.downlink.drops);
}
