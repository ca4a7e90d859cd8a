//! A server the user names, run inside the lab (`httplab run --server-cmd CMD --server-port
//! PORT`), Mahimahi-style: CMD runs under `sh -c` in the server's namespace when the emulated
//! link is on (so the link sits between the lab's clients and it), else beside the lab on
//! loopback. It is started as the leader of a process group of its own, waited for until its
//! port accepts (bounded, with its own stderr in the error when it never does), and stopped as
//! a whole group — SIGTERM, then SIGKILL after a grace period — by `stop`, or by drop (a
//! failed run, Ctrl-C, a panic), so nothing it started is left running. It owns the process's
//! life; which protocols run against it, and how the reports label it, are the harness's and
//! the report's.

use httplab_link::netns::Namespace;
use httplab_link::process::{GroupChild, Stopped};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stopped server may take over SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// The most of the server's stderr kept for an error message (its last bytes).
const STDERR_TAIL: usize = 4096;
/// Between two tries to connect while the server starts.
const POLL: Duration = Duration::from_millis(20);
/// One try to connect while the server starts.
const CONNECT_TRY: Duration = Duration::from_millis(200);
/// How long a server that accepts TCP may take to bind its UDP socket too, for h3: a server
/// binds its sockets as it starts, so one that serves QUIC at all has bound it by then.
const UDP_AFTER_TCP: Duration = Duration::from_secs(3);

/// Why an external server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("--server-cmd `{cmd}`: could not start it: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--server-cmd `{cmd}` exited ({status}) before it accepted connections on {addr}{stderr}"
    )]
    Exited {
        cmd: String,
        status: ExitStatus,
        addr: SocketAddr,
        stderr: String,
    },
    #[error(
        "--server-cmd `{cmd}` did not accept connections on {addr} within {waited:?} (is \
         --server-port the port it listens on, and does it listen on every address, not just \
         127.0.0.1?); it was stopped{stderr}"
    )]
    NeverListened {
        cmd: String,
        addr: SocketAddr,
        waited: Duration,
        stderr: String,
    },
    #[error(
        "h3 cannot run: --server-cmd `{cmd}` held no UDP socket on port {port} within \
         {waited:?}, and h3 is HTTP/3 over QUIC, on UDP at --server-port's number: serve \
         HTTP/3 there, or leave h3 out with --protocols; it was stopped{stderr}"
    )]
    NoUdp {
        cmd: String,
        port: u16,
        waited: Duration,
        stderr: String,
    },
}

/// What a server must be doing at its port before the runs start: accepting TCP connections
/// (HTTP/1.x and h2), holding a UDP socket (h3: QUIC), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    pub tcp: bool,
    pub udp: bool,
}

impl Listening {
    /// A TCP port alone.
    pub const TCP: Listening = Listening {
        tcp: true,
        udp: false,
    };
}

/// A running external server.
#[derive(Debug)]
pub struct ExternalServer {
    cmd: String,
    /// Behind a lock so a running load can ask whether it is still alive.
    group: Mutex<GroupChild>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stopped: bool,
}

impl ExternalServer {
    /// Starts `cmd` (under `sh -c`) in `namespace` if given, and waits up to `startup` until a
    /// connection to `addr` (made from the same namespace) succeeds.
    pub fn start(
        cmd: &str,
        addr: SocketAddr,
        namespace: Option<&Namespace>,
        startup: Duration,
    ) -> Result<ExternalServer, ExternalError> {
        Self::start_listening(cmd, addr, namespace, startup, Listening::TCP)
    }

    /// [`start`](Self::start), waiting until the server does all that `listening` asks at
    /// `addr`'s port: a TCP connection succeeds, and a UDP socket is bound to the port (read from
    /// the namespace's socket table: a QUIC server answers no probe that is not a handshake).
    pub fn start_listening(
        cmd: &str,
        addr: SocketAddr,
        namespace: Option<&Namespace>,
        startup: Duration,
        listening: Listening,
    ) -> Result<ExternalServer, ExternalError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawn = |source| ExternalError::Spawn {
            cmd: cmd.to_string(),
            source,
        };
        let mut group = GroupChild::spawn(command, namespace).map_err(spawn)?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = group.child_mut().stderr.take() {
            let tail = stderr.clone();
            // Drains the pipe until the process (and everything that holds the pipe) is gone,
            // keeping the last bytes; it ends by itself at end of file.
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                    tail.extend_from_slice(&buf[..n]);
                    let excess = tail.len().saturating_sub(STDERR_TAIL);
                    tail.drain(..excess);
                }
            });
        }
        let mut server = ExternalServer {
            cmd: cmd.to_string(),
            group: Mutex::new(group),
            stderr,
            stopped: false,
        };
        let start = Instant::now();
        let mut tcp_at = None;
        loop {
            if let Ok(Some(status)) = server.group().try_status() {
                // Give the drain a moment to read what it wrote before exiting.
                std::thread::sleep(POLL);
                let stderr = server.stderr_tail();
                return Err(ExternalError::Exited {
                    cmd: server.cmd.clone(),
                    status,
                    addr,
                    stderr,
                });
            }
            let tcp = !listening.tcp || accepts(addr, namespace);
            let udp = !listening.udp || udp_bound(addr.port(), namespace);
            if tcp && udp {
                return Ok(server);
            }
            if listening.tcp && tcp && tcp_at.is_none() {
                tcp_at = Some(Instant::now());
            }
            let udp_late = tcp_at.is_some_and(|at: Instant| at.elapsed() >= UDP_AFTER_TCP);
            if start.elapsed() >= startup || udp_late {
                server.stop();
                let (cmd, stderr) = (server.cmd.clone(), server.stderr_tail());
                return Err(if tcp {
                    ExternalError::NoUdp {
                        cmd,
                        port: addr.port(),
                        // To a tenth of a second.
                        waited: Duration::from_millis(
                            start.elapsed().as_millis() as u64 / 100 * 100,
                        ),
                        stderr,
                    }
                } else {
                    ExternalError::NeverListened {
                        cmd,
                        addr,
                        waited: startup,
                        stderr,
                    }
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// The leader's process id.
    pub fn id(&self) -> u32 {
        self.group().id()
    }

    fn group(&self) -> std::sync::MutexGuard<'_, GroupChild> {
        self.group.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(why)` once the server has exited by itself (not stopped by the lab): its status
    /// and the end of its stderr.
    pub fn exited(&self) -> Option<String> {
        if self.stopped {
            return None;
        }
        let status = self.group().try_status().ok().flatten()?;
        // Give the drain a moment to read what it wrote before exiting.
        std::thread::sleep(POLL);
        Some(format!(
            "--server-cmd `{}` exited ({status}){}",
            self.cmd,
            self.stderr_tail()
        ))
    }

    /// What the server's processes (every process of its group) hold now.
    pub fn usage(&self) -> ProcessUsage {
        process_group_usage(self.id())
    }

    /// Stops the whole process group (SIGTERM, then SIGKILL after `STOP_GRACE`); `None` if it
    /// was stopped already or could not be signalled.
    pub fn stop(&mut self) -> Option<Stopped> {
        if std::mem::replace(&mut self.stopped, true) {
            return None;
        }
        self.group().stop(STOP_GRACE).ok()
    }

    /// `": its stderr ended with:\n…"`, or nothing when it wrote none.
    fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&tail);
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!("; its stderr ended with:\n{text}")
        }
    }
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a TCP connection to `addr` succeeds from `namespace` (or from here).
fn accepts(addr: SocketAddr, namespace: Option<&Namespace>) -> bool {
    let try_once = move || TcpStream::connect_timeout(&addr, CONNECT_TRY).is_ok();
    match namespace {
        Some(ns) => ns.run(try_once).unwrap_or(false),
        None => try_once(),
    }
}

/// Whether a UDP socket in `namespace` (or here) is bound to `port`, on any address: from the
/// kernel's socket tables as this thread's namespace shows them (`/proc/thread-self/net`).
fn udp_bound(port: u16, namespace: Option<&Namespace>) -> bool {
    let look = move || {
        ["udp", "udp6"].iter().any(|table| {
            std::fs::read_to_string(format!("/proc/thread-self/net/{table}"))
                .is_ok_and(|text| udp_table_has_port(&text, port))
        })
    };
    match namespace {
        Some(ns) => ns.run(look).unwrap_or(false),
        None => look(),
    }
}

/// Whether a `/proc/net/udp` (or `udp6`) table lists a socket whose local port is `port`: the
/// second field of each row is `ADDRESS:PORT`, the port in hex.
fn udp_table_has_port(table: &str, port: u16) -> bool {
    table.lines().skip(1).any(|row| {
        row.split_whitespace()
            .nth(1)
            .and_then(|local| local.rsplit_once(':'))
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            == Some(port)
    })
}

/// The CPU time, resident memory and open descriptors of a process group's live processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    pub processes: u64,
    /// User and system CPU time, nanoseconds (of the processes alive now).
    pub cpu_ns: u64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    pub fds: u64,
}

/// Reads `/proc/PID/stat` of every process whose group is `pgid` (bounded by the processes
/// `/proc` lists). Fields a process lost by exiting in between are skipped.
fn process_group_usage(pgid: u32) -> ProcessUsage {
    // Clock ticks per second: 100 on every Linux the lab runs on (USER_HZ).
    const TICK_NS: u64 = 10_000_000;
    let page = 4096;
    let mut usage = ProcessUsage::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return usage;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command's name in parentheses: state, ppid, pgrp, ... (proc(5)).
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        if field(5) != Some(u64::from(pgid)) {
            continue;
        }
        usage.processes += 1;
        usage.cpu_ns += (field(14).unwrap_or(0) + field(15).unwrap_or(0)) * TICK_NS;
        usage.rss_bytes += field(24).unwrap_or(0) * page;
        usage.fds += std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_udp_socket_shows_in_the_table_and_is_gone_once_closed() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        assert!(udp_bound(port, None), "port {port} bound");
        let v6 = std::net::UdpSocket::bind("[::1]:0");
        if let Ok(v6) = &v6 {
            let port6 = v6.local_addr().expect("addr").port();
            assert!(udp_bound(port6, None), "port {port6} bound on ::1");
        }
        drop(socket);
        assert!(!udp_bound(port, None), "port {port} closed");
    }

    #[test]
    fn the_table_s_ports_are_hex() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue\n\
                     \x20 12: 0100007F:1F90 00000000:0000 07 00000000:00000000\n";
        assert!(udp_table_has_port(table, 8080));
        assert!(!udp_table_has_port(table, 1090));
        assert!(!udp_table_has_port("   sl  local_address\n", 8080));
    }
}
