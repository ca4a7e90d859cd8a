//! The server's bill under load, read once a second (`Lab::load`): what the server under load
//! holds and has spent, from the best source each kind of server offers.
//!
//! - The lab's own server: its accept loops count connections (the peak is tracked at every
//!   accept), its thread's CPU clock (`/proc/thread-self/schedstat`, read on that thread) and
//!   heap (the counting allocator's per-thread bytes) are its alone, though it shares the
//!   process with the clients.
//! - A `--server-cmd` server: its process group's CPU time, resident memory and descriptors
//!   from `/proc`, and its connections from the kernel (sampled: the peak is the largest
//!   reading, not tracked at every accept).
//! - A remote `--target`: nothing on the server side can be read.
//!
//! For both servers the lab runs, the kernel's own account of the server's sockets
//! (`sock_diag`: connections by state, memory charged) is read where they live.

use crate::lab::{Lab, ServerUnderLoad};
use httplab_socket::diag::{tally_local_ports, SocketTally};

/// Which kind of server a load measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// The lab's server, on a thread of its own in this process.
    Lab,
    /// The user's server (`--server-cmd`), a process group of its own.
    External,
    /// A server on the real network (`--target`): its bill cannot be read.
    Remote,
}

/// The server's counters at one instant. `None`: this server does not offer it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Meters {
    pub(crate) open: Option<u64>,
    /// The most open at once since the previous reading.
    pub(crate) peak: Option<u64>,
    /// Connections accepted so far, and of them over TLS.
    pub(crate) accepted: Option<u64>,
    pub(crate) tls_accepted: Option<u64>,
    pub(crate) cpu_ns: Option<u64>,
    /// The server's own memory: the lab server's heap, an external server's RSS.
    pub(crate) memory_bytes: Option<u64>,
    pub(crate) sockets: Option<SocketTally>,
    pub(crate) fds: Option<u64>,
}

impl Lab {
    pub(crate) fn server_kind(&self) -> ServerKind {
        match self.server_under_load() {
            ServerUnderLoad::Lab { .. } => ServerKind::Lab,
            ServerUnderLoad::External { .. } => ServerKind::External,
            ServerUnderLoad::Remote => ServerKind::Remote,
        }
    }

    /// The server's meters now.
    pub(crate) async fn meters(&self) -> Meters {
        match self.server_under_load() {
            ServerUnderLoad::Lab { tls, plain, thread } => {
                let ports: Vec<u16> = [tls, plain]
                    .iter()
                    .flat_map(|s| s.local_addrs().iter().map(|a| a.port()))
                    .collect();
                let peak = tls.take_peak_connections() + plain.take_peak_connections();
                Meters {
                    open: Some((tls.open_connections() + plain.open_connections()) as u64),
                    peak: Some(peak),
                    accepted: Some(tls.accepted_connections() + plain.accepted_connections()),
                    tls_accepted: Some(tls.accepted_connections()),
                    cpu_ns: thread.cpu_time().await,
                    memory_bytes: thread
                        .heap_bytes()
                        .await
                        .map(|b| u64::try_from(b).unwrap_or(0)),
                    sockets: self.sockets(ports).await,
                    // Client and server share the process: its descriptors are both's.
                    fds: std::fs::read_dir("/proc/self/fd")
                        .ok()
                        .map(|d| d.count() as u64),
                }
            }
            ServerUnderLoad::External { server, port } => {
                let usage = server.usage();
                let sockets = self.sockets(vec![port]).await;
                let open = sockets.map(|s| s.established + s.other);
                Meters {
                    open,
                    peak: open,
                    accepted: None,
                    tls_accepted: None,
                    cpu_ns: (usage.processes > 0).then_some(usage.cpu_ns),
                    memory_bytes: (usage.processes > 0).then_some(usage.rss_bytes),
                    sockets,
                    fds: (usage.processes > 0).then_some(usage.fds),
                }
            }
            ServerUnderLoad::Remote => Meters::default(),
        }
    }

    /// The kernel's tally of the server's sockets (local port one of `ports`), read in the
    /// server's namespace; `None` where `sock_diag` is not to be had.
    async fn sockets(&self, ports: Vec<u16>) -> Option<SocketTally> {
        self.in_server_namespace(move || tally_local_ports(&ports))
            .await
            .ok()?
            .ok()
    }

    /// Why the server under load can no longer serve, if it has gone: an external server that
    /// exited by itself.
    pub(crate) fn server_gone(&self) -> Option<String> {
        match self.server_under_load() {
            ServerUnderLoad::External { server, .. } => server.exited(),
            _ => None,
        }
    }
}
