//! The link emulator as the harness sees it: two namespaces joined by a relay that behaves like
//! the scenario's `[network]` table, started and stopped as one value, with its health
//! ([`LinkStats::trustworthy`]) and the kernel settings at both ends ([`KernelTcp`]).
//!
//! It owns the wiring (which namespace gets which address, the pcap file, the order of start
//! and stop) and the user-facing errors, including [`LinkEmulator::probe`]'s account of what a
//! host lacks and how to fix it. It does not decide a packet's fate (`model`), make syscalls
//! (`sys`) or move packets (`relay`).

use crate::awake::KeepAwake;
use crate::handshake::Way;
use crate::model::Link;
use crate::netns::{self, KernelTcp, Namespace, NamespaceOptions};
use crate::pcap::PcapWriter;
use crate::relay::{self, DirectionState, HandshakeState, Relay, Route, SharedPcap};
use crate::stamp::KernelStamps;
use crate::sys;
use crate::trace;
use crate::tun;
use hdrhistogram::Histogram;
use httplab_core::tcp_trace::WireTrace;
use httplab_core::{Clock, NetworkSettings};
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest p99 lateness (delivery after the model's deadline) of a trustworthy link: well
/// under the millisecond resolution the lab reports phases at.
pub const MAX_TRUSTWORTHY_LATENESS_P99: Duration = Duration::from_micros(500);
/// The most packets a trustworthy link may have failed to write to a TUN device.
pub const MAX_TRUSTWORTHY_TUN_DROPS: u64 = 0;
/// The largest median excess of a trustworthy link's TCP handshakes over the model's round
/// trip (see [`HandshakeExcess`]). A round trip is the unit every phase of the lab is counted
/// in: the fidelity bounds the README promises at a 40 ms RTT (TLS 1.3 within 0.2 ms of one
/// round trip beyond its crypto, TLS 1.2 within 0.3 ms of two) leave about 0.15 ms per round trip
/// for everything the endpoints add; a link that itself adds more than 0.25 ms per round trip
/// shifts a 10-round-trip page by 2.5 ms or more, more than the model comparison can absorb at the
/// lab's shorter RTTs. The relay measured here adds 0.01–0.05 ms with kernel stamps, and 0.15–0.3 ms
/// on a VM when it stamps at the read, which this bound catches.
pub const MAX_TRUSTWORTHY_EXCESS_PER_RTT: Duration = Duration::from_micros(250);
/// How long `stop` waits for the relay threads (they notice within ~20 ms).
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// How the emulator is started, beyond the scenario's `[network]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOptions {
    /// Write every delivered packet, both directions, to this pcap file (`--pcap FILE`).
    pub pcap: Option<PathBuf>,
    /// Ask for `SCHED_FIFO` for the relay threads (granted to root; refused quietly otherwise,
    /// see [`LinkStats::realtime`]).
    pub realtime: bool,
    /// Stamp packets with the kernel's time of transmission where the host allows it
    /// ([`Stamping::Kernel`]); `false` stamps every packet when the relay reads it, as a host
    /// without packet sockets does.
    pub kernel_stamps: bool,
    /// Keep every CPU from halting while the link runs (a `SCHED_IDLE` thread spinning on each,
    /// see `awake.rs`), so a wake-up costs microseconds, not a halted vCPU's 50–100 µs.
    pub keep_awake: bool,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            pcap: None,
            realtime: true,
            kernel_stamps: true,
            keep_awake: true,
        }
    }
}

/// Why the link cannot run on this host, with the commands that fix it.
#[derive(Debug, thiserror::Error)]
pub enum LinkUnavailable {
    #[error(
        "the link emulator needs /dev/net/tun, which is missing ({source}): load the driver \
         with `modprobe tun`, or create the device node with \
         `mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun`"
    )]
    NoTunDevice { source: io::Error },
    #[error(
        "the link emulator cannot open /dev/net/tun ({source}): run httplab as root \
         (`sudo httplab ...`), or let every user open it with `chmod 0666 /dev/net/tun`"
    )]
    TunDenied { source: io::Error },
    #[error(
        "the kernel refused to create a TUN device ({source}): load the driver with \
         `modprobe tun` (a container needs the device passed in, e.g. `--device /dev/net/tun`)"
    )]
    TunDriver { source: io::Error },
    #[error(
        "the link emulator cannot create a network namespace ({source}; {user_namespace}): \
         run httplab as root (`sudo httplab ...`), or allow unprivileged user namespaces \
         (`sysctl -w kernel.unprivileged_userns_clone=1` on Debian, \
         `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` on Ubuntu 24.04+, \
         `sysctl -w user.max_user_namespaces=15000`) and run it inside \
         `unshare --user --map-root-user --net httplab ...`; a container needs CAP_SYS_ADMIN \
         (e.g. `--privileged`)"
    )]
    Namespaces {
        source: io::Error,
        /// What the attempt at a user namespace of the lab's own said.
        user_namespace: String,
    },
}

/// Everything that can go wrong starting or stopping the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Unavailable(#[from] LinkUnavailable),
    #[error("setting up the link's {what}: {source}")]
    Setup {
        what: &'static str,
        source: io::Error,
    },
    #[error("writing the pcap file {}: {source}; check the path and the free space", path.display())]
    Pcap { path: PathBuf, source: io::Error },
    #[error("the link's relay threads did not stop within {0:?}")]
    Stuck(Duration),
}

/// How the relay stamped packets' arrivals at the link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stamping {
    /// With the kernel's timestamp of the moment it handed each packet to the TUN device
    /// (a packet socket on each device, `SO_TIMESTAMPNS`).
    #[default]
    Kernel,
    /// When the relay's reader read each packet: its wake-up is added to every crossing.
    Reader,
}

impl Stamping {
    /// The word the records use: `kernel` or `reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stamping::Kernel => "kernel",
            Stamping::Reader => "reader",
        }
    }
}

/// The link's own round trip as the kernels at both ends lived it: every TCP handshake
/// (SYN → SYN-ACK → ACK, timed from the relay's stamps) less the delays the model gave the SYN
/// and SYN-ACK. It sees what lateness cannot: the whole crossing, stamping included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandshakeExcess {
    /// Handshakes timed (a lost or retransmitted SYN or SYN-ACK is left out).
    pub handshakes: u64,
    pub min: Duration,
    pub median: Duration,
    pub max: Duration,
}

/// What one direction of the link has carried, dropped and how punctual it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Packets written to the far TUN device.
    pub packets: u64,
    /// Bytes of those packets (whole IP packets).
    pub bytes: u64,
    pub drops: Drops,
    /// Lateness (write time − the model's deadline) of the delivered packets.
    pub lateness_p50: Duration,
    pub lateness_p99: Duration,
    pub lateness_max: Duration,
    /// Packets whose arrival the kernel stamped, and those stamped at the read instead.
    pub stamped_kernel: u64,
    pub stamped_reader: u64,
    /// How long after the kernel's stamp the reader read a packet: what stamping at the read
    /// would have added to each crossing.
    pub read_delay_p50: Duration,
    pub read_delay_p99: Duration,
}

/// Packets dropped in one direction, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Lost by the loss model (the scenario's `loss`).
    pub loss: u64,
    /// Refused by the full drop-tail queue (the scenario's `queue`).
    pub queue: u64,
    /// Failed to write to the TUN device: the emulator's fault, not the scenario's.
    pub tun: u64,
}

impl RelayStats {
    /// Whether this direction kept to the model: p99 lateness at most
    /// [`MAX_TRUSTWORTHY_LATENESS_P99`] and no more than [`MAX_TRUSTWORTHY_TUN_DROPS`].
    // The threshold is a named constant that happens to be zero today.
    #[allow(clippy::absurd_extreme_comparisons)]
    pub fn trustworthy(&self) -> bool {
        self.lateness_p99 <= MAX_TRUSTWORTHY_LATENESS_P99
            && self.drops.tun <= MAX_TRUSTWORTHY_TUN_DROPS
    }
}

/// Both directions' [`RelayStats`] and how the relay ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Client → server.
    pub uplink: RelayStats,
    /// Server → client.
    pub downlink: RelayStats,
    /// Whether the relay threads run under `SCHED_FIFO` (else the normal policy).
    pub realtime: bool,
    /// The first error a relay thread hit, after which its direction stopped carrying packets.
    pub fault: Option<String>,
    /// How arrivals were stamped: [`Stamping::Kernel`] only if every packet of both
    /// directions was.
    pub stamping: Stamping,
    /// Why some or all packets were stamped at the read, if any were.
    pub stamping_note: Option<String>,
    /// The TCP handshakes' excess over the model's round trip; `None` when no handshake
    /// completed cleanly.
    pub excess_per_rtt: Option<HandshakeExcess>,
    /// Whether every CPU was kept from halting while the link ran.
    pub keep_awake: bool,
}

impl LinkStats {
    /// Both directions trustworthy, the handshakes' median excess within
    /// [`MAX_TRUSTWORTHY_EXCESS_PER_RTT`] and no relay fault: the measurements are the
    /// scenario's.
    pub fn trustworthy(&self) -> bool {
        self.fault.is_none()
            && self.uplink.trustworthy()
            && self.downlink.trustworthy()
            && self
                .excess_per_rtt
                .is_none_or(|e| e.median <= MAX_TRUSTWORTHY_EXCESS_PER_RTT)
    }
}

/// A running link: the client and server namespaces, their TUN devices and the relay.
pub struct LinkEmulator {
    relay: Relay,
    /// The threads that keep the CPUs awake, while the link runs.
    awake: Option<KeepAwake>,
    /// Why the kernel's stamps are not in use, if they are not.
    no_tap: Option<String>,
    pcap: Option<(PathBuf, SharedPcap)>,
    stopped: bool,
    // Dropped after the relay stopped: the devices, then the namespaces.
    _tuns: [Arc<File>; 2],
    client: Namespace,
    server: Namespace,
}

impl LinkEmulator {
    /// Checks, before anything runs, that this host lets the lab create a network namespace
    /// and a TUN device in it; the error names what is missing and the commands that fix it.
    ///
    /// Run as root this only tries. Run unprivileged, it also tries the one other way: moving
    /// the process into a user namespace of its own (uid and gid maps to itself), which the
    /// kernel permits only while the process has a single thread — so call `probe` first thing
    /// in `main`, before any runtime starts — and only where the host allows unprivileged user
    /// namespaces. The lab's tests run as root, so that path has been exercised by hand only.
    pub fn probe() -> Result<(), LinkUnavailable> {
        if let Err(source) = std::fs::metadata("/dev/net/tun") {
            return Err(LinkUnavailable::NoTunDevice { source });
        }
        let options = NamespaceOptions::default();
        let ns = match Namespace::new(&options) {
            Ok(ns) => ns,
            Err(source) if source.kind() == io::ErrorKind::PermissionDenied => {
                let retry = netns::enter_user_namespace().and_then(|()| Namespace::new(&options));
                match retry {
                    Ok(ns) => ns,
                    Err(e) => {
                        return Err(LinkUnavailable::Namespaces {
                            source,
                            user_namespace: format!("a user namespace of its own: {e}"),
                        })
                    }
                }
            }
            Err(source) => {
                return Err(LinkUnavailable::Namespaces {
                    source,
                    user_namespace: "no user namespace tried".into(),
                })
            }
        };
        let opened = ns
            .run(|| sys::tun_open("hlprobe0").map(drop))
            .and_then(|r| r);
        match opened {
            Ok(()) => Ok(()),
            Err(source) if source.kind() == io::ErrorKind::NotFound => {
                Err(LinkUnavailable::NoTunDevice { source })
            }
            Err(source) if source.kind() == io::ErrorKind::PermissionDenied => {
                Err(LinkUnavailable::TunDenied { source })
            }
            Err(source) => Err(LinkUnavailable::TunDriver { source }),
        }
    }

    /// Starts the link `net` describes, on the lab's `clock` (the one client and server
    /// events use), writing every delivered packet to `pcap` if given.
    pub fn start(
        net: &NetworkSettings,
        clock: Clock,
        pcap: Option<PathBuf>,
    ) -> Result<Self, LinkError> {
        let options = LinkOptions {
            pcap,
            ..LinkOptions::default()
        };
        Self::start_with(net, clock, &options)
    }

    /// [`start`](Self::start) with every option.
    pub fn start_with(
        net: &NetworkSettings,
        clock: Clock,
        options: &LinkOptions,
    ) -> Result<Self, LinkError> {
        let ns_options = NamespaceOptions {
            congestion_control: net.congestion_control.clone(),
            slow_start_after_idle: net.slow_start_after_idle,
        };
        let namespace = |what| {
            Namespace::new(&ns_options).map_err(|source| match source.kind() {
                io::ErrorKind::PermissionDenied => {
                    LinkError::Unavailable(LinkUnavailable::Namespaces {
                        source,
                        user_namespace: "see `LinkEmulator::probe`".into(),
                    })
                }
                _ => LinkError::Setup { what, source },
            })
        };
        let client = namespace("client namespace")?;
        let server = namespace("server namespace")?;
        let tun_error = |what| {
            move |source: io::Error| match source.kind() {
                io::ErrorKind::PermissionDenied => {
                    LinkError::Unavailable(LinkUnavailable::TunDenied { source })
                }
                io::ErrorKind::NotFound => {
                    LinkError::Unavailable(LinkUnavailable::NoTunDevice { source })
                }
                _ => LinkError::Setup { what, source },
            }
        };
        let client_tun = Arc::new(
            tun::open_in(&client, tun::CLIENT_ADDR).map_err(tun_error("client TUN device"))?,
        );
        let server_tun = Arc::new(
            tun::open_in(&server, tun::SERVER_ADDR).map_err(tun_error("server TUN device"))?,
        );

        let pcap = match &options.pcap {
            None => None,
            Some(path) => {
                let pcap_error = |source| LinkError::Pcap {
                    path: path.clone(),
                    source,
                };
                let file = File::create(path).map_err(pcap_error)?;
                let writer = PcapWriter::new(BufWriter::new(file)).map_err(pcap_error)?;
                Some((
                    path.clone(),
                    Arc::new(Mutex::new(relay::PcapTap::new(writer))),
                ))
            }
        };

        // The kernel's stamps: a tap on each device, in its namespace, before the first packet.
        let (client_stamps, server_stamps, no_tap) = if options.kernel_stamps {
            let tap = |ns: &Namespace| {
                ns.run(|| KernelStamps::open(tun::TUN_NAME, clock))
                    .and_then(|r| r)
            };
            match (tap(&client), tap(&server)) {
                (Ok(c), Ok(s)) => (Some(c), Some(s), None),
                (Err(e), _) | (_, Err(e)) => (
                    None,
                    None,
                    Some(format!(
                        "the host refused a packet tap on the TUN devices ({e}): arrivals are \
                         stamped when the relay reads them, which adds its wake-up to every \
                         crossing"
                    )),
                ),
            }
        } else {
            (
                None,
                None,
                Some("kernel stamps were switched off: arrivals are stamped at the read".into()),
            )
        };

        let link = Link::from_settings(net);
        let relay = Relay::start(
            Route {
                name: "up",
                way: Way::Up,
                model: link.uplink,
                from: client_tun.clone(),
                to: server_tun.clone(),
                stamps: client_stamps,
            },
            Route {
                name: "down",
                way: Way::Down,
                model: link.downlink,
                from: server_tun.clone(),
                to: client_tun.clone(),
                stamps: server_stamps,
            },
            clock,
            pcap.as_ref().map(|(_, tap)| tap.clone()),
            options.realtime,
        )
        .map_err(|source| LinkError::Setup {
            what: "relay threads",
            source,
        })?;
        Ok(Self {
            relay,
            awake: options.keep_awake.then(KeepAwake::start),
            no_tap,
            pcap,
            stopped: false,
            _tuns: [client_tun, server_tun],
            client,
            server,
        })
    }

    /// The client's namespace: make the client's sockets here ([`Namespace::tcp_socket_v4`]).
    pub fn client_ns(&self) -> &Namespace {
        &self.client
    }

    /// The server's namespace: bind the server's listeners here ([`Namespace::std_listener`]).
    pub fn server_ns(&self) -> &Namespace {
        &self.server
    }

    /// The client's address, as the server sees it.
    pub fn client_addr(&self) -> Ipv4Addr {
        tun::CLIENT_ADDR
    }

    /// The server's address, for the client to connect to.
    pub fn server_addr(&self) -> Ipv4Addr {
        tun::SERVER_ADDR
    }

    /// The server's `k`-th address (0: [`server_addr`](Self::server_addr)), added to its
    /// device on first use: each origin of a scenario has one. At most 250.
    pub fn server_addr_n(&self, k: u8) -> std::io::Result<Ipv4Addr> {
        if k == 0 {
            return Ok(tun::SERVER_ADDR);
        }
        tun::add_server_alias(&self.server, k)
    }

    /// The TCP settings of the server's namespace, the side that sends the responses. Both
    /// namespaces are set up alike; each one's own is at [`Namespace::kernel`].
    pub fn kernel(&self) -> KernelTcp {
        self.server.kernel().clone()
    }

    /// What the link has carried since it started (or since [`reset_stats`](Self::reset_stats)).
    pub fn stats(&self) -> LinkStats {
        let uplink = direction_stats(&self.relay.uplink);
        let downlink = direction_stats(&self.relay.downlink);
        let at_read = uplink.stamped_reader + downlink.stamped_reader;
        let tap_lost = [&self.relay.uplink, &self.relay.downlink]
            .into_iter()
            .find_map(|d| relay::lock(&d.tap_lost).clone());
        let (stamping, stamping_note) = match (&self.no_tap, tap_lost) {
            (Some(why), _) => (Stamping::Reader, Some(why.clone())),
            (None, Some(why)) => (Stamping::Reader, Some(why)),
            (None, None) if at_read > 0 => (
                Stamping::Reader,
                Some(format!(
                    "{at_read} of {} packets had no kernel stamp to match and were stamped at \
                     the read",
                    at_read + uplink.stamped_kernel + downlink.stamped_kernel
                )),
            ),
            (None, None) => (Stamping::Kernel, None),
        };
        LinkStats {
            uplink,
            downlink,
            realtime: self.relay.realtime(),
            fault: relay::lock(&self.relay.fault).clone(),
            stamping,
            stamping_note,
            excess_per_rtt: handshake_excess(&self.relay.handshakes),
            keep_awake: self.awake.as_ref().is_some_and(KeepAwake::active),
        }
    }

    /// The wire analysis of every TCP packet the link carried since it started (or since
    /// [`reset_stats`](Self::reset_stats), or the last call): both directions' records are
    /// taken (leaving them empty), merged by stamp and analysed per connection
    /// ([`trace::analyze`]). Runs on the caller's thread, about a second per million packets
    /// (a full trace holds up to a million each way).
    pub fn take_trace(&self) -> WireTrace {
        let logs = [&self.relay.uplink, &self.relay.downlink].map(|d| relay::lock(&d.trace).take());
        trace::analyze_logs(logs)
    }

    /// Zeroes the counters and lateness histograms and empties the packet trace, e.g. between
    /// a warm-up and a measurement.
    pub fn reset_stats(&self) {
        for state in [&self.relay.uplink, &self.relay.downlink] {
            let c = &state.counters;
            for counter in [
                &c.packets,
                &c.bytes,
                &c.drops_loss,
                &c.drops_queue,
                &c.drops_tun,
                &c.stamped_kernel,
                &c.stamped_reader,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            relay::lock(&state.lateness).reset();
            relay::lock(&state.read_delay).reset();
            relay::lock(&state.trace).clear();
        }
        relay::lock(&self.relay.handshakes.excess).reset();
    }

    /// Stops the relay (joining its threads, bounded) and flushes the pcap file. The link
    /// carries nothing afterwards; the namespaces live until the emulator is dropped. Calling
    /// it again does nothing.
    pub fn stop(&mut self) -> Result<(), LinkError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.awake = None;
        let joined = self.relay.stop(STOP_LIMIT);
        if let Some((path, tap)) = self.pcap.take() {
            let mut tap = relay::lock(&tap);
            tap.finish()
                .map_err(|source| LinkError::Pcap { path, source })?;
        }
        if joined {
            Ok(())
        } else {
            Err(LinkError::Stuck(STOP_LIMIT))
        }
    }
}

impl Drop for LinkEmulator {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("stopping the link emulator: {e}");
        }
    }
}

impl std::fmt::Debug for LinkEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkEmulator")
            .field("client", &self.client)
            .field("server", &self.server)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

/// A quantile of a histogram of nanoseconds; zero when it is empty.
fn quantile(h: &Histogram<u64>, q: f64) -> Duration {
    if h.is_empty() {
        Duration::ZERO
    } else {
        Duration::from_nanos(h.value_at_quantile(q))
    }
}

fn handshake_excess(state: &HandshakeState) -> Option<HandshakeExcess> {
    let h = relay::lock(&state.excess);
    (!h.is_empty()).then(|| HandshakeExcess {
        handshakes: h.len(),
        min: Duration::from_nanos(h.min()),
        median: quantile(&h, 0.5),
        max: Duration::from_nanos(h.max()),
    })
}

fn direction_stats(state: &DirectionState) -> RelayStats {
    let c = &state.counters;
    let lateness = relay::lock(&state.lateness);
    let at = |q: f64| quantile(&lateness, q);
    let read_delay = relay::lock(&state.read_delay);
    RelayStats {
        packets: c.packets.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
        drops: Drops {
            loss: c.drops_loss.load(Ordering::Relaxed),
            queue: c.drops_queue.load(Ordering::Relaxed),
            tun: c.drops_tun.load(Ordering::Relaxed),
        },
        lateness_p50: at(0.5),
        lateness_p99: at(0.99),
        lateness_max: if lateness.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_nanos(lateness.max())
        },
        stamped_kernel: c.stamped_kernel.load(Ordering::Relaxed),
        stamped_reader: c.stamped_reader.load(Ordering::Relaxed),
        read_delay_p50: quantile(&read_delay, 0.5),
        read_delay_p99: quantile(&read_delay, 0.99),
    }
}
