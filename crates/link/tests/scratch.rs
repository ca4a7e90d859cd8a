use httplab_core::Clock;
use httplab_link::LinkEmulator;
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

#[test]
fn scratch() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(a), l.accept());
        let e = pingpong(c.unwrap(), s.unwrap().0, 1000).await;
        println!("loopback per exchange {:?}", e / 1000);
    });
    for rtt in ["0", "40ms"] {
        let link = LinkEmulator::start(&net(&format!("rtt = \"{rtt}\"")), Clock::start(), None).unwrap();
        let n = if rtt == "0" { 1000 } else { 50 };
        rt.block_on(async {
            let addr = SocketAddr::new(IpAddr::V4(link.server_addr()), 8080);
            let l = TcpListener::from_std(link.server_ns().std_listener(addr).unwrap()).unwrap();
            let sock = TcpSocket::from_std_stream(link.client_ns().tcp_socket_v4().unwrap());
            let (c, s) = tokio::join!(sock.connect(addr), l.accept());
            let e = pingpong(c.unwrap(), s.unwrap().0, n).await;
            println!("rtt {rtt} per exchange {:?}", e / n as u32);
        });
        println!("{:?}", link.stats());
    }
}
