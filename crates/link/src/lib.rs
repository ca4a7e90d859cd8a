//! httplab-link: the link emulator. Two network namespaces (client and server) joined by TUN
//! devices and a userspace relay that delays, shapes and drops IP packets, while the kernel's own
//! TCP runs at both ends — the approach of Mahimahi. It knows IP packets, never HTTP.
//!
//! - `model`: the pure link model (delay, jitter, bandwidth, drop-tail queue, loss), driven by
//!   an injected clock in its unit tests;
//! - `pcap`: a pure pcap writer for the packets the link carries;
//! - the I/O shell: namespaces, TUN devices and the relay threads. Only its `sys` module may
//!   hold `unsafe`, each block with a `// SAFETY:` line.
#![deny(unsafe_code)]

mod emulator;
pub mod model;
pub mod netns;
pub mod pcap;
mod relay;
#[allow(unsafe_code)]
mod sys;
pub mod tun;

pub use emulator::{
    Drops, LinkEmulator, LinkError, LinkOptions, LinkStats, LinkUnavailable, RelayStats,
    MAX_TRUSTWORTHY_LATENESS_P99, MAX_TRUSTWORTHY_TUN_DROPS,
};
pub use netns::{
    available_congestion_controls, get_congestion, set_congestion, KernelTcp, Namespace,
    NamespaceOptions,
};
