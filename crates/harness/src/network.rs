//! The network a lab's runs cross: the scenario's emulated link, or plain loopback.
//!
//! With a `[network]` table the harness starts the link emulator and puts each side of the
//! lab in its own namespace: the servers' listening sockets are made in the server namespace,
//! every client socket in the client namespace, so every connection crosses the link, and the
//! link's relay stamps packets on the same clock as the client and server events. Without the
//! table, with the link switched off, or on a host that cannot run it (then saying why), runs go
//! over loopback and every output says so. This module owns that choice, the sockets on each
//! side and the link's per-run account; it does not time connections (the connector) or emulate
//! anything itself (the link crate).

use crate::HarnessError;
use httplab_core::tcp_trace::WireTrace;
use httplab_core::{Clock, LinkDirectionRecord, LinkExcessRecord, LinkRecord, Scenario};
use httplab_link::{LinkEmulator, LinkOptions, RelayStats};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Whether runs cross the emulated link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// The link when the scenario has a `[network]` table and the host can run it; loopback,
    /// with the reason recorded, when it cannot.
    #[default]
    Auto,
    /// The link when the scenario has a `[network]` table; failing when the host cannot run
    /// it (tests and CI, where a silent fallback would hide the missing emulator).
    Require,
    /// Always loopback (`--no-link`), the `[network]` table ignored and that said.
    Off,
}

/// Makes an unconnected TCP socket on the client's side of the network.
pub(crate) type SocketFactory = Arc<dyn Fn() -> io::Result<std::net::TcpStream> + Send + Sync>;

/// Makes a non-blocking UDP socket on the client's side of the network (a QUIC endpoint's).
pub(crate) type UdpFactory = Arc<dyn Fn() -> io::Result<std::net::UdpSocket> + Send + Sync>;

/// The path between the lab's clients and servers.
pub(crate) struct NetworkPath {
    link: Option<Arc<LinkEmulator>>,
    /// Client sockets on the link: one thread for the lab's life (see `socket_factory`).
    sockets: Option<SocketFactory>,
    /// That thread's maker, which makes the client's UDP sockets too.
    maker: Option<Arc<httplab_link::netns::SocketMaker>>,
    /// The scenario's congestion control (`Scenario::congestion_control`), set on every
    /// socket of the lab, on the link and on loopback.
    congestion_control: String,
    /// Why runs go over loopback although the scenario asked for a link.
    note: Option<String>,
}

impl NetworkPath {
    pub(crate) fn start(
        scenario: &Scenario,
        clock: Clock,
        mode: LinkMode,
        pcap: Option<PathBuf>,
    ) -> Result<NetworkPath, HarnessError> {
        let loopback = |note: Option<String>| NetworkPath {
            link: None,
            sockets: None,
            maker: None,
            congestion_control: scenario.congestion_control.name.clone(),
            note,
        };
        let Some(net) = &scenario.network else {
            return Ok(loopback(None));
        };
        if mode == LinkMode::Off {
            return Ok(loopback(Some(
                "the link emulator was switched off (--no-link): the scenario's [network] \
                 table was ignored"
                    .into(),
            )));
        }
        // The congestion control goes on each socket (TCP_CONGESTION), not the namespaces'
        // default: a namespace other than the host's may only default to an algorithm in
        // `tcp_allowed_congestion_control`, while a socket may use any the kernel has.
        let mut link_settings = net.clone();
        link_settings.congestion_control = None;
        let started = LinkEmulator::probe()
            .map_err(httplab_link::LinkError::from)
            .and_then(|()| {
                LinkEmulator::start_with(
                    &link_settings,
                    clock,
                    &LinkOptions {
                        pcap,
                        ..LinkOptions::default()
                    },
                )
            });
        match started {
            Ok(link) => {
                let link = Arc::new(link);
                let cc = scenario.congestion_control.name.clone();
                let maker = link
                    .client_ns()
                    .socket_maker(&cc)
                    .map_err(HarnessError::ClientSockets)?;
                let maker = Arc::new(maker);
                let tcp = maker.clone();
                let sockets: Option<SocketFactory> = Some(Arc::new(move || tcp.socket()));
                Ok(NetworkPath {
                    link: Some(link),
                    sockets,
                    maker: Some(maker),
                    congestion_control: cc,
                    note: None,
                })
            }
            Err(e) if mode == LinkMode::Auto => {
                tracing::warn!("running on plain loopback: {e}");
                Ok(loopback(Some(format!(
                    "the scenario's network could not be emulated, so this ran on plain \
                     loopback: {e}"
                ))))
            }
            Err(e) => Err(HarnessError::Link(e)),
        }
    }

    /// Whether runs cross the emulated link.
    pub(crate) fn emulated(&self) -> bool {
        self.link.is_some()
    }

    /// Why runs go over loopback although the scenario has a `[network]` table.
    pub(crate) fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// A lab server's listening sockets, one per server address the scenario's origins use
    /// (`count`, at least 1), all on one port: in the server namespace on the link's server
    /// addresses (10.77.0.2, then further ones added to its device), or on loopback from
    /// `loopback`'s address on (127.0.0.1, 127.0.0.2, …; port 0: a free one, tried again if a
    /// later address has it taken). Each has the scenario's congestion control, which accepted
    /// sockets inherit. Non-blocking, for the server's runtime to take.
    pub(crate) fn listeners(
        &self,
        loopback: SocketAddr,
        count: usize,
    ) -> io::Result<Vec<std::net::TcpListener>> {
        const TRIES: usize = 20;
        let mut last = None;
        for _ in 0..TRIES {
            match self.try_listeners(loopback, count.max(1)) {
                Ok(listeners) => return Ok(listeners),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && loopback.port() == 0 => {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
    }

    fn try_listeners(
        &self,
        loopback: SocketAddr,
        count: usize,
    ) -> io::Result<Vec<std::net::TcpListener>> {
        let mut listeners: Vec<std::net::TcpListener> = Vec::with_capacity(count);
        let mut port = loopback.port();
        for k in 0..count {
            let std = match &self.link {
                Some(link) => {
                    let ip = link.server_addr_n(address_index(k)?)?;
                    link.server_ns()
                        .std_listener(SocketAddr::new(IpAddr::V4(ip), port))?
                }
                None => {
                    let listener = std::net::TcpListener::bind(SocketAddr::new(
                        nth_loopback(loopback, k)?,
                        port,
                    ))?;
                    listener.set_nonblocking(true)?;
                    listener
                }
            };
            httplab_link::set_congestion(&std, &self.congestion_control)?;
            port = std.local_addr()?.port();
            listeners.push(std);
        }
        Ok(listeners)
    }

    /// A QUIC server's UDP sockets at `addrs` (a lab server's TCP listeners' addresses: HTTP/3
    /// is served at the TLS port's number), in the server namespace when the link is on.
    pub(crate) fn server_udp_sockets(
        &self,
        addrs: &[SocketAddr],
    ) -> io::Result<Vec<std::net::UdpSocket>> {
        addrs
            .iter()
            .map(|&addr| {
                let bound = match &self.link {
                    Some(link) => link.server_ns().udp_socket(addr),
                    None => std::net::UdpSocket::bind(addr).and_then(|s| {
                        s.set_nonblocking(true)?;
                        Ok(s)
                    }),
                };
                bound.map_err(|e| io::Error::new(e.kind(), format!("UDP {addr} for HTTP/3: {e}")))
            })
            .collect()
    }

    /// How a client's QUIC sockets are made: unbound-port UDP sockets in the client namespace
    /// when the link is on, on the host otherwise.
    pub(crate) fn udp_factory(&self) -> UdpFactory {
        match &self.maker {
            Some(maker) => {
                let maker = maker.clone();
                Arc::new(move || maker.udp_socket(SocketAddr::from(([0, 0, 0, 0], 0))))
            }
            None => Arc::new(|| {
                let socket = std::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?;
                socket.set_nonblocking(true)?;
                Ok(socket)
            }),
        }
    }

    /// Where an external server (`--server-cmd`) listening on `port` is reached at the
    /// scenario's server address `k` (0: the first), and the namespace it runs in: the link's
    /// server address in the server namespace, or loopback.
    pub(crate) fn external_target(
        &self,
        port: u16,
        k: usize,
    ) -> io::Result<(SocketAddr, Option<&httplab_link::netns::Namespace>)> {
        Ok(match &self.link {
            Some(link) => (
                SocketAddr::new(IpAddr::V4(link.server_addr_n(address_index(k)?)?), port),
                Some(link.server_ns()),
            ),
            None => (
                SocketAddr::new(
                    nth_loopback(SocketAddr::from(([127, 0, 0, 1], port)), k)?,
                    port,
                ),
                None,
            ),
        })
    }

    /// Runs `f` where the server's sockets are (a thread in the server namespace when the
    /// link is on), off the caller's runtime thread.
    pub(crate) async fn in_server_namespace<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let ns = match &self.link {
            Some(link) => Some(link.server_ns().try_clone()?),
            None => None,
        };
        tokio::task::spawn_blocking(move || match ns {
            Some(ns) => ns.run(f),
            None => Ok(f()),
        })
        .await
        .map_err(|e| io::Error::other(format!("the server-namespace task: {e}")))?
    }

    /// The TCP congestion control of every socket of the lab.
    pub(crate) fn congestion_control(&self) -> &str {
        &self.congestion_control
    }

    /// How client sockets are made: in the client namespace with the scenario's congestion
    /// control; `None` on loopback (the connector's own sockets, which it gives the same).
    pub(crate) fn socket_factory(&self) -> Option<SocketFactory> {
        self.sockets.clone()
    }

    /// The client's address on the link, if there is one.
    pub(crate) fn client_ip(&self) -> Option<Ipv4Addr> {
        self.link.as_ref().map(|l| l.client_addr())
    }

    /// Starts a run's account: the link's counters, lateness and packet trace from zero.
    pub(crate) fn begin_run(&self) {
        if let Some(link) = &self.link {
            link.reset_stats();
        }
    }

    /// The link's account of the run since `begin_run`.
    pub(crate) fn run_record(&self) -> Option<LinkRecord> {
        let link = self.link.as_ref()?;
        let stats = link.stats();
        let kernel = link.kernel();
        Some(LinkRecord {
            congestion_control: self.congestion_control.clone(),
            slow_start_after_idle: kernel.slow_start_after_idle,
            uplink: direction(&stats.uplink),
            downlink: direction(&stats.downlink),
            realtime: stats.realtime,
            trustworthy: stats.trustworthy(),
            fault: stats.fault,
            keep_awake: stats.keep_awake,
            stamping: stats.stamping.as_str().to_owned(),
            stamping_note: stats.stamping_note,
            excess_per_rtt: stats.excess_per_rtt.map(|e| LinkExcessRecord {
                handshakes: e.handshakes,
                min: e.min,
                median: e.median,
                max: e.max,
            }),
        })
    }

    /// The wire analysis of the run since `begin_run` (`httplab_link::trace`): every TCP
    /// connection as the link saw it. Taking it empties the link's trace; `None` on loopback.
    pub(crate) fn wire_trace(&self) -> Option<WireTrace> {
        self.link.as_ref().map(|link| link.take_trace())
    }

    /// Stops the link, flushing its pcap file; errors are logged (the runs are done). The
    /// socket threads of finished runs let go of it as their factories are dropped, so this
    /// waits (bounded, without blocking the runtime) until it holds the link alone, and joins
    /// the relay's threads on a blocking thread.
    pub(crate) async fn stop(&mut self) {
        // Ends the socket thread (once the last run's connector has let go of it too).
        self.sockets = None;
        let Some(mut link) = self.link.take() else {
            return;
        };
        for _ in 0..STOP_TRIES {
            match Arc::try_unwrap(link) {
                Ok(mut alone) => {
                    match tokio::task::spawn_blocking(move || alone.stop()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::warn!("stopping the link: {e}"),
                        Err(e) => tracing::warn!("stopping the link failed: {e}"),
                    }
                    return;
                }
                Err(shared) => {
                    link = shared;
                    tokio::time::sleep(STOP_PAUSE).await;
                }
            }
        }
        tracing::warn!("the link is still in use; it stops when its last user lets go");
    }
}

/// The link's number for server address `k`.
fn address_index(k: usize) -> io::Result<u8> {
    u8::try_from(k).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many origins"))
}

/// The `k`-th loopback address from `base`'s (an IPv4 loopback address: 127.0.0.1 is 0th).
fn nth_loopback(base: SocketAddr, k: usize) -> io::Result<IpAddr> {
    if k == 0 {
        return Ok(base.ip());
    }
    match base.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let next = u32::from(ip)
                .checked_add(u32::try_from(k).unwrap_or(u32::MAX))
                .map(Ipv4Addr::from)
                .filter(Ipv4Addr::is_loopback)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many origins"))?;
            Ok(IpAddr::V4(next))
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a scenario with several origins needs an IPv4 loopback address to listen on \
                 (one per origin's address, from 127.0.0.1 on), not {other}"
            ),
        )),
    }
}

/// How often, and how far apart, `stop` looks for the link to be free.
const STOP_TRIES: u32 = 200;
const STOP_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

fn direction(s: &RelayStats) -> LinkDirectionRecord {
    LinkDirectionRecord {
        packets: s.packets,
        bytes: s.bytes,
        drops_loss: s.drops.loss,
        drops_queue: s.drops.queue,
        drops_tun: s.drops.tun,
        lateness_p50: s.lateness_p50,
        lateness_p99: s.lateness_p99,
        lateness_max: s.lateness_max,
        stamped_kernel: s.stamped_kernel,
        stamped_reader: s.stamped_reader,
        read_delay_p50: s.read_delay_p50,
        read_delay_p99: s.read_delay_p99,
    }
}
