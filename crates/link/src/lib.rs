//! httplab-link: the link emulator. Two network namespaces (client and server) joined by TUN
//! devices and a userspace relay that delays, shapes and drops IP packets, while the kernel's own
//! TCP runs at both ends — the approach of Mahimahi. It knows IP packets, never HTTP.
//!
//! - `model`: the pure link model (delay, jitter, bandwidth, drop-tail queue, loss), driven by
//!   an injected clock in its unit tests;
//! - `pcap`: a pure pcap writer for the packets the link carries;
//! - `handshake`: the pure timing of TCP handshakes across the link against the model's round
//!   trip, the self-check that sees the whole crossing;
//! - `trace`: TCP from the wire — every TCP packet's header facts, stamp and fate, recorded by
//!   the relay's readers, and the pure per-connection analysis of them (handshakes, rounds,
//!   retransmissions and their causes, receive windows) that a run's record carries;
//! - `process`: the processes the lab starts for the user (`--server-cmd`), in a namespace and
//!   a process group of their own, stopped as a group;
//! - `awake`: threads that keep the CPUs from halting while the link runs;
//! - `stamp`: the kernel's stamps of when each packet entered the link, and their mapping to
//!   the lab clock;
//! - the I/O shell: namespaces, TUN devices and the relay threads. Only its `sys` module may
//!   hold `unsafe`, each block with a `// SAFETY:` line.
#![deny(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod awake;
mod emulator;
pub mod handshake;
pub mod model;
pub mod netns;
pub mod pcap;
pub mod process;
mod relay;
mod stamp;
#[allow(unsafe_code)]
mod sys;
pub mod trace;
pub mod tun;

pub use emulator::{
    Drops, HandshakeExcess, LinkEmulator, LinkError, LinkOptions, LinkStats, LinkUnavailable,
    RelayStats, Stamping, MAX_TRUSTWORTHY_EXCESS_PER_RTT, MAX_TRUSTWORTHY_LATENESS_P99,
    MAX_TRUSTWORTHY_TUN_DROPS,
};
pub use netns::{
    available_congestion_controls, get_congestion, set_congestion, KernelTcp, Namespace,
    NamespaceOptions, SocketMaker,
};
