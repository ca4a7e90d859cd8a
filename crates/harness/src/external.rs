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
            if accepts(addr, namespace) {
                return Ok(server);
            }
            if start.elapsed() >= startup {
                server.stop();
                return Err(ExternalError::NeverListened {
                    cmd: server.cmd.clone(),
                    addr,
                    waited: startup,
                    stderr: server.stderr_tail(),
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
