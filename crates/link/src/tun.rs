//! The TUN device at each end of the link: one layer-3 interface per namespace whose packets the
//! relay reads and writes. The client's `hl0` has 10.77.0.1/24 and the server's 10.77.0.2/24,
//! so each end reaches the other directly through its own device, with no gateway and no ARP.
//!
//! It owns the device's configuration (MTU 1500, a transmit queue long enough that the kernel is
//! never the bottleneck, up); it does not read or write packets (`relay.rs`).

use crate::netns::Namespace;
use crate::sys;
use std::fs::File;
use std::io;
use std::net::Ipv4Addr;

/// The TUN device's name inside each namespace.
pub const TUN_NAME: &str = "hl0";
/// The client namespace's address.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The server namespace's address.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The netmask of both addresses: one subnet, so each end is on-link for the other.
pub const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
/// The MTU of both devices: an Ethernet path's, so TCP segments are the usual 1448 bytes.
pub const MTU: u32 = 1500;
/// The devices' transmit queue, far above the default 500, so packets wait in the emulated
/// queue (the model's), not in the kernel's.
pub const TXQUEUELEN: u32 = 10_000;

/// Creates and configures the TUN device of `ns` with `addr`, and returns its open file
/// (non-blocking). The device lives as long as the file.
pub(crate) fn open_in(ns: &Namespace, addr: Ipv4Addr) -> io::Result<File> {
    ns.run(|| -> io::Result<File> {
        let file = sys::tun_open(TUN_NAME)?;
        sys::configure_interface(
            TUN_NAME,
            &sys::InterfaceConfig {
                addr: Some((addr, NETMASK)),
                mtu: Some(MTU),
                txqueuelen: Some(TXQUEUELEN),
            },
        )?;
        Ok(file)
    })?
}

/// Gives the server's device in `ns` its `k`-th further address (`k` from 1): 10.77.0.(2 + k),
/// as the alias `hl0:k`, on the same subnet, so the client reaches it through its own device
/// as it reaches the first. A scenario's origins each have one.
pub(crate) fn add_server_alias(ns: &Namespace, k: u8) -> io::Result<Ipv4Addr> {
    let [a, b, c, d] = SERVER_ADDR.octets();
    let last = d
        .checked_add(k)
        .filter(|&last| k > 0 && last < 255)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such server alias"))?;
    let addr = Ipv4Addr::new(a, b, c, last);
    ns.run(|| {
        sys::configure_interface(
            &format!("{TUN_NAME}:{k}"),
            &sys::InterfaceConfig {
                addr: Some((addr, NETMASK)),
                mtu: None,
                txqueuelen: None,
            },
        )
    })??;
    Ok(addr)
}
