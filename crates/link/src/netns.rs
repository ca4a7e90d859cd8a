//! Network namespaces: the client's and the server's private network stacks, each a fresh,
//! anonymous namespace with its own loopback, routes, TCP settings and per-destination metrics
//! cache.
//!
//! A namespace is made on a dedicated thread that calls `unshare(CLONE_NEWNET)` and opens
//! `/proc/thread-self/ns/net`; the open fd is what keeps it alive. Nothing is named, mounted or
//! written outside the process, so nothing needs cleaning up at start and nothing is left
//! behind when the process exits, is interrupted (Ctrl-C), panics or is killed: the kernel frees
//! the namespace, with its devices, when the last fd or socket that refers to it closes.
//!
//! Work runs inside a namespace through [`Namespace::run`], on a short-lived thread that has
//! `setns` into it. A socket keeps the namespace of the thread that created it, so a listener or
//! an unconnected socket made there can be handed to tokio on any thread afterwards.
//!
//! It owns the namespaces and their sysctls, and the kernel's TCP facts a scenario is checked
//! against (the congestion controls it has, [`available_congestion_controls`]); it does not own
//! the TUN devices (`tun.rs`) or move any packet (`relay.rs`).

use crate::sys;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{mpsc, Mutex};

/// The TCP settings a namespace's kernel applies to new connections, as read back from its
/// `/proc/sys/net/ipv4` after the lab set it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTcp {
    /// `net.ipv4.tcp_congestion_control`: the default for sockets that do not choose one.
    pub congestion_control: String,
    /// `net.ipv4.tcp_slow_start_after_idle`: whether an idle connection restarts slow start.
    pub slow_start_after_idle: bool,
    /// `net.ipv4.tcp_no_metrics_save`: `true` keeps ssthresh and RTT estimates of one
    /// connection from seeding the next one to the same destination.
    pub no_metrics_save: bool,
}

/// How a namespace's TCP is set up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceOptions {
    /// Writes `net.ipv4.tcp_congestion_control` when set (e.g. `"cubic"`); the new
    /// namespace inherits the host's default otherwise. The kernel lets a namespace other than
    /// the host's default only to an algorithm in `net.ipv4.tcp_allowed_congestion_control`;
    /// [`set_congestion`] on a socket has no such limit for root.
    pub congestion_control: Option<String>,
    /// Writes `net.ipv4.tcp_slow_start_after_idle` when set; the kernel default (1) otherwise.
    pub slow_start_after_idle: Option<bool>,
}

/// An anonymous network namespace, alive while this value is (and while any socket made in it
/// is open).
#[derive(Debug)]
pub struct Namespace {
    fd: OwnedFd,
    kernel: KernelTcp,
}

impl Namespace {
    /// Creates a namespace: loopback up, IPv6 off (so the link carries only the lab's IPv4),
    /// `tcp_no_metrics_save = 1`, and the congestion control and `tcp_slow_start_after_idle`
    /// as `options` say. Needs `CAP_SYS_ADMIN` (root, or a user namespace the process owns;
    /// see `LinkEmulator::probe`): without it the error is `PermissionDenied`.
    pub fn new(options: &NamespaceOptions) -> io::Result<Self> {
        let options = options.clone();
        std::thread::Builder::new()
            .name("hl-netns".into())
            .spawn(move || -> io::Result<Self> {
                sys::unshare_net()?;
                let fd = OwnedFd::from(File::open("/proc/thread-self/ns/net")?);
                let kernel = setup_current(&options)?;
                Ok(Self { fd, kernel })
            })?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// A second handle on the same namespace (its descriptor duplicated), for a thread that
    /// must own one.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            fd: self.fd.try_clone()?,
            kernel: self.kernel.clone(),
        })
    }

    /// The TCP settings read back from this namespace when it was set up.
    pub fn kernel(&self) -> &KernelTcp {
        &self.kernel
    }

    /// Runs `f` on a short-lived thread that has joined this namespace, and returns its result.
    /// A panic in `f` resumes on the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let ns = self.fd.as_fd();
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name("hl-netns-run".into())
                .spawn_scoped(scope, move || -> io::Result<T> {
                    sys::setns_net(ns)?;
                    Ok(f())
                })?;
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// A TCP listener bound to `addr` inside this namespace, non-blocking, ready for
    /// `tokio::net::TcpListener::from_std`.
    pub fn std_listener(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        self.run(|| -> io::Result<TcpListener> {
            let listener = TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        })?
    }

    /// A UDP socket bound to `addr` inside this namespace, non-blocking: a QUIC endpoint's
    /// (the server's at its address, a client's at port 0).
    pub fn udp_socket(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        self.run(|| new_udp_socket(addr))?
    }

    /// An unconnected, non-blocking IPv4 TCP socket made inside this namespace, ready for
    /// `tokio::net::TcpSocket::from_std_stream` and its `connect`.
    pub fn tcp_socket_v4(&self) -> io::Result<TcpStream> {
        self.run(new_tcp_socket_v4)?
    }

    /// A maker of many such sockets, each with TCP congestion control `congestion_control`,
    /// from one thread that stays in this namespace until the maker is dropped.
    pub fn socket_maker(&self, congestion_control: &str) -> io::Result<SocketMaker> {
        SocketMaker::start(self.fd.try_clone()?, congestion_control.to_string())
    }
}

/// Makes sockets inside a namespace on request, from one thread that stays there: TCP ones
/// with the maker's congestion control, and UDP ones (QUIC's). A thread made (and moved into
/// the namespace) per socket, as [`Namespace::tcp_socket_v4`] does, costs a few hundred
/// microseconds: in a lab that would land in the `blocked` phase of every HTTP/1.0 request,
/// and of every HTTP/3 connection's first. The thread ends when the maker is dropped.
#[derive(Debug)]
pub struct SocketMaker {
    requests: Mutex<mpsc::Sender<Request>>,
}

/// One socket asked of the maker's thread, with where its answer goes.
#[derive(Debug)]
enum Request {
    Tcp(mpsc::Sender<io::Result<TcpStream>>),
    /// Bound to the address.
    Udp(SocketAddr, mpsc::Sender<io::Result<UdpSocket>>),
}

impl SocketMaker {
    fn start(ns: OwnedFd, congestion_control: String) -> io::Result<Self> {
        let (requests, incoming) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("hl-netns-sockets".into())
            .spawn(move || {
                let joined = sys::setns_net(ns.as_fd());
                let not_in = |e: &io::Error| {
                    io::Error::new(
                        e.kind(),
                        format!("the socket thread could not join the namespace: {e}"),
                    )
                };
                for request in incoming {
                    match request {
                        Request::Tcp(reply) => {
                            let socket = match &joined {
                                Ok(()) => new_tcp_socket_v4().and_then(|s| {
                                    set_congestion(&s, &congestion_control)?;
                                    Ok(s)
                                }),
                                Err(e) => Err(not_in(e)),
                            };
                            let _ = reply.send(socket);
                        }
                        Request::Udp(addr, reply) => {
                            let socket = match &joined {
                                Ok(()) => new_udp_socket(addr),
                                Err(e) => Err(not_in(e)),
                            };
                            let _ = reply.send(socket);
                        }
                    }
                }
            })?;
        Ok(Self {
            requests: Mutex::new(requests),
        })
    }

    fn ask<T>(
        &self,
        request: impl FnOnce(mpsc::Sender<io::Result<T>>) -> Request,
    ) -> io::Result<T> {
        let gone = || io::Error::other("the namespace's socket thread is gone");
        let (reply, answer) = mpsc::channel();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(request(reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// An unconnected, non-blocking IPv4 TCP socket made in the namespace, with the maker's
    /// congestion control.
    pub fn socket(&self) -> io::Result<TcpStream> {
        self.ask(Request::Tcp)
    }

    /// A non-blocking UDP socket bound to `addr` in the namespace.
    pub fn udp_socket(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        self.ask(|reply| Request::Udp(addr, reply))
    }
}

/// A non-blocking UDP socket bound to `addr`, in the calling thread's namespace.
fn new_udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// An unconnected, non-blocking IPv4 TCP socket, made in the calling thread's namespace.
fn new_tcp_socket_v4() -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Sets up the calling thread's (fresh) namespace and reads its TCP settings back.
fn setup_current(options: &NamespaceOptions) -> io::Result<KernelTcp> {
    sys::configure_interface(
        "lo",
        &sys::InterfaceConfig {
            addr: None,
            mtu: None,
            txqueuelen: None,
        },
    )?;
    // Without IPv6 the TUN device sends no router solicitations or MLD reports of its own.
    for knob in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6");
        if Path::new(&path).exists() {
            write_sysctl(&path, "1")?;
        }
    }
    write_sysctl("/proc/sys/net/ipv4/tcp_no_metrics_save", "1")?;
    if let Some(name) = &options.congestion_control {
        if let Err(e) = std::fs::write("/proc/sys/net/ipv4/tcp_congestion_control", name) {
            let allowed = read_sysctl("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
                .unwrap_or_default();
            let available = read_sysctl("/proc/sys/net/ipv4/tcp_available_congestion_control")
                .unwrap_or_default();
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a namespace cannot default to congestion control \"{name}\" ({e}): it must \
                     be one of the kernel's (\"{available}\") and, outside the host's own \
                     namespace, one of net.ipv4.tcp_allowed_congestion_control (\"{allowed}\"); \
                     set it on each socket instead (`set_congestion`), or allow it with \
                     `sysctl -w net.ipv4.tcp_allowed_congestion_control=\"{allowed} {name}\"`"
                ),
            ));
        }
    }
    if let Some(on) = options.slow_start_after_idle {
        write_sysctl(
            "/proc/sys/net/ipv4/tcp_slow_start_after_idle",
            if on { "1" } else { "0" },
        )?;
    }
    Ok(KernelTcp {
        congestion_control: read_sysctl("/proc/sys/net/ipv4/tcp_congestion_control")?,
        slow_start_after_idle: read_sysctl("/proc/sys/net/ipv4/tcp_slow_start_after_idle")? != "0",
        no_metrics_save: read_sysctl("/proc/sys/net/ipv4/tcp_no_metrics_save")? != "0",
    })
}

/// Writes a sysctl of the calling thread's namespace (`/proc/sys/net` resolves per thread).
fn write_sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("writing {value} to {path}: {e}")))
}

fn read_sysctl(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| io::Error::new(e.kind(), format!("reading {path}: {e}")))
}

/// Sets the congestion control of one TCP socket (`TCP_CONGESTION`), e.g. `"cubic"`; it must
/// be one of [`available_congestion_controls`] (a module is loaded on demand), and without
/// `CAP_NET_ADMIN` one of `net.ipv4.tcp_allowed_congestion_control`. The error keeps the
/// kernel's kind and says which name, and for a refusal, why.
pub fn set_congestion(socket: impl AsFd, name: &str) -> io::Result<()> {
    sys::set_tcp_congestion(socket.as_fd(), name).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::PermissionDenied => {
                let allowed = read_sysctl("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
                    .unwrap_or_default();
                format!(
                    ": without CAP_NET_ADMIN a socket may only use \
                     net.ipv4.tcp_allowed_congestion_control (\"{allowed}\"); run as root or \
                     allow it with `sysctl -w net.ipv4.tcp_allowed_congestion_control=\"{allowed} \
                     {name}\"`"
                )
            }
            io::ErrorKind::NotFound => {
                ": the kernel has no such algorithm (`httplab check` lists those it has)".into()
            }
            _ => String::new(),
        };
        io::Error::new(
            e.kind(),
            format!("setting TCP congestion control \"{name}\" on a socket: {e}{why}"),
        )
    })
}

/// The congestion control one TCP socket uses (`TCP_CONGESTION`).
pub fn get_congestion(socket: impl AsFd) -> io::Result<String> {
    httplab_socket::congestion(socket.as_fd())
}

/// The TCP congestion controls a socket of this host can use, each once: those the kernel has
/// registered (`net.ipv4.tcp_available_congestion_control`), then those it would load as a
/// module `tcp_<name>` on first use (`/lib/modules/<release>/kernel/net/ipv4`, the release
/// from `/proc/sys/kernel/osrelease`). An error only when the sysctl cannot be read; a missing
/// module folder just adds nothing. The names are picked out by
/// [`httplab_core::network::congestion_control_names`].
pub fn available_congestion_controls() -> io::Result<Vec<String>> {
    let available = read_sysctl("/proc/sys/net/ipv4/tcp_available_congestion_control")?;
    let mut modules: Vec<String> = Vec::new();
    if let Ok(release) = read_sysctl("/proc/sys/kernel/osrelease") {
        let dir = Path::new("/lib/modules")
            .join(release)
            .join("kernel/net/ipv4");
        if let Ok(entries) = std::fs::read_dir(dir) {
            modules = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect();
            // read_dir's order is the file system's; a sorted list reads the same everywhere.
            modules.sort();
        }
    }
    Ok(httplab_core::network::congestion_control_names(
        &available,
        modules.iter().map(String::as_str),
    ))
}

/// Moves this process into a new user namespace in which it is root, so that it may create
/// network namespaces without being root on the host. The kernel allows this only while the
/// process has a single thread — call it first thing in `main`, before any runtime starts — and
/// only where the host permits unprivileged user namespaces. Honest limit: the lab's tests run
/// as root, so this path is exercised by hand only.
pub(crate) fn enter_user_namespace() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if threads != 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the process has {threads} threads; a user namespace needs exactly one"),
        ));
    }
    let (uid, gid) = sys::effective_ids();
    sys::unshare_user()?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}
