//! Facts about the machine a run happened on, read from /proc where Linux offers them. A fact
//! that cannot be read is reported as "unknown", never guessed.

use std::fs;

fn read(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// (name, value) pairs: hostname, kernel, TCP congestion control, slow start after idle.
pub fn environment_facts() -> Vec<(&'static str, String)> {
    vec![
        ("hostname", read("/proc/sys/kernel/hostname")),
        ("kernel", read("/proc/sys/kernel/osrelease")),
        (
            "congestion_control",
            read("/proc/sys/net/ipv4/tcp_congestion_control"),
        ),
        (
            "tcp_slow_start_after_idle",
            read("/proc/sys/net/ipv4/tcp_slow_start_after_idle"),
        ),
        (
            "cpus",
            std::thread::available_parallelism().map_or("unknown".into(), |n| n.to_string()),
        ),
    ]
}
