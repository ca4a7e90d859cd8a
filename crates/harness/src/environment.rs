//! Facts about the machine a run happened on, read from /proc where Linux offers them. A fact
//! that cannot be read is reported as "unknown", never guessed; the congestion controls a
//! scenario may name are checked against this host's list, and not at all (with a warning)
//! where the list cannot be read.

use std::fs;

fn read(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The host's facts that bear on a measurement; "unknown" where one cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    /// The host's default TCP congestion control (the lab sets its own on every socket).
    pub congestion_control: String,
    /// `net.ipv4.tcp_slow_start_after_idle`: 1 restarts slow start on an idle connection.
    pub slow_start_after_idle: String,
    /// CPUs this process may use.
    pub cpus: String,
}

impl HostFacts {
    /// Reads them from /proc and the scheduler.
    pub fn read() -> Self {
        Self {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            congestion_control: read("/proc/sys/net/ipv4/tcp_congestion_control"),
            slow_start_after_idle: read("/proc/sys/net/ipv4/tcp_slow_start_after_idle"),
            cpus: std::thread::available_parallelism()
                .map_or_else(|_| "unknown".into(), |n| n.to_string()),
        }
    }
}

/// The TCP congestion controls this host's sockets can use (see
/// `httplab_link::available_congestion_controls`), for checking a scenario before it runs;
/// `None`, with a warning, when the kernel's list cannot be read: then no scenario is refused
/// for it, and a missing algorithm shows when a socket is set up.
pub fn available_congestion_controls() -> Option<Vec<String>> {
    match httplab_link::available_congestion_controls() {
        Ok(names) => Some(names),
        Err(e) => {
            tracing::warn!(
                "cannot list the kernel's TCP congestion controls ({e}): scenarios' \
                 `congestion_control` is not checked against them"
            );
            None
        }
    }
}
