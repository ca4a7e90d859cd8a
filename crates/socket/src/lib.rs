//! httplab-socket: how the lab's two endpoints use their TCP sockets, the same on the client
//! and on the server.
//!
//! - [`tcp_info`]: the kernel's account of a socket (`TCP_INFO`), read while it lives and as it
//!   closes.
//! - [`packed`]: writes packed as production software packs them: what is ready in one
//!   scheduler turn leaves in one write, in TLS records of up to 16 KB, with no added delay.
//! - [`diag`]: the kernel's count of a server's sockets by state and the memory charged to
//!   them (`sock_diag`), for the server's bill under load.
//! - [`heap`]: each thread's live heap bytes, from a counting global allocator the binary
//!   installs, for the same bill.
//! - [`nofile`]: raising the process's soft limit on open descriptors to its hard limit, for
//!   a server that holds thousands of connections.
//!
//! It knows nothing of HTTP. `unsafe` lives in `tcp_info/sys.rs` (the `getsockopt` calls) and
//! in `TcpProbe::read` (borrowing the descriptor its lock keeps open), and in `nofile.rs`
//! (`getrlimit`, `setrlimit`), in `diag.rs` (the netlink socket) and in `heap.rs` (the
//! allocator), each block with its SAFETY line.
#![deny(unsafe_op_in_unsafe_fn)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod diag;
pub mod heap;
pub mod nofile;
pub mod packed;
pub mod tcp_info;

pub use nofile::{raise_nofile_limit, NofileLimit};
pub use packed::{Packed, MAX_YIELDS, RECORD_BYTES};
pub use tcp_info::{congestion, read, OnClose, TcpProbe, Watched};
