//! The link's calibration on this machine: before trusting a host with measurements, connect
//! across an emulated link of a known RTT a number of times and say what the link added to each
//! round trip, from the relay's own view of the handshakes (the excess the per-run self-check
//! judges) and from the connecting task's (what a `connect` phase will show).
//!
//! It owns that short experiment and the host facts printed beside it (`httplab calibrate`, and
//! CI's first lines); it judges nothing beyond the link's own trust bounds.

use crate::HarnessError;
use httplab_core::{Clock, NetworkSettings};
use httplab_link::{LinkEmulator, LinkStats};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// What a calibration measured.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub rtt: Duration,
    /// Each connect as the connecting task timed it, in order.
    pub connects: Vec<Duration>,
    /// The link's account of those connects (stamping, handshake excess, lateness).
    pub link: LinkStats,
}

impl Calibration {
    /// The least and the median connect, less the RTT.
    pub fn connect_excess(&self) -> (Duration, Duration) {
        let mut sorted = self.connects.clone();
        sorted.sort();
        let least = sorted.first().copied().unwrap_or_default();
        let median = sorted
            .get(sorted.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default();
        (
            least.saturating_sub(self.rtt),
            median.saturating_sub(self.rtt),
        )
    }
}

/// The calibration's congestion control, the lab's default (a handshake does not depend on it).
const CONGESTION_CONTROL: &str = httplab_core::network::DEFAULT_CONGESTION_CONTROL;

/// The most connects one calibration makes.
pub const MAX_CALIBRATION_CONNECTS: usize = 1000;

/// Connects `connects` times across a loss-free link of `rtt` (cubic on both ends) and returns
/// what each took and what the link saw; each connect is bounded by ten RTTs plus a second.
pub async fn calibrate(rtt: Duration, connects: usize) -> Result<Calibration, HarnessError> {
    let net = NetworkSettings::with_rtt(rtt);
    LinkEmulator::probe().map_err(httplab_link::LinkError::from)?;
    let link = LinkEmulator::start(&net, Clock::start(), None)?;
    let port = 8080;
    let server = SocketAddr::new(IpAddr::V4(link.server_addr()), port);
    let listen = |source| HarnessError::Listen {
        addr: server,
        source,
    };
    let failed = |what| move |source| HarnessError::Calibrate { what, source };
    let std_listener = link.server_ns().std_listener(server).map_err(listen)?;
    httplab_link::set_congestion(&std_listener, CONGESTION_CONTROL).map_err(listen)?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(listen)?;
    let limit = 10 * rtt + Duration::from_secs(1);
    let mut took = Vec::new();
    for _ in 0..connects.min(MAX_CALIBRATION_CONNECTS) {
        let socket = link.client_ns().tcp_socket_v4().map_err(failed("socket"))?;
        httplab_link::set_congestion(&socket, CONGESTION_CONTROL).map_err(failed("socket"))?;
        let socket = tokio::net::TcpSocket::from_std_stream(socket);
        // The connect alone: the server's accept completes half an RTT later, with the ACK.
        let connect = async {
            let started = Instant::now();
            let stream = socket.connect(server).await;
            (stream, started.elapsed())
        };
        let (connected, accepted) = tokio::join!(
            tokio::time::timeout(limit, connect),
            tokio::time::timeout(limit, listener.accept())
        );
        let timed_out = |_| std::io::Error::from(std::io::ErrorKind::TimedOut);
        let (client, elapsed) = connected.map_err(timed_out).map_err(failed("connect"))?;
        let _client = client.map_err(failed("connect"))?;
        let _server = accepted
            .map_err(timed_out)
            .and_then(|a| a)
            .map_err(failed("accept"))?;
        took.push(elapsed);
        // Let both ends go idle, as between a page's round trips.
        tokio::time::sleep(rtt / 2).await;
    }
    Ok(Calibration {
        rtt,
        connects: took,
        link: link.stats(),
    })
}
