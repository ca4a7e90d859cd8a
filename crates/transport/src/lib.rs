//! httplab-transport: what a protocol client receives from the harness, and what it gives back.
//!
//! The harness opens connections (timing TCP connect and the TLS handshake itself) and hands
//! each protocol client a [`Connection`]: an already connected, already handshaken stream wrapped
//! in a [`Metered`] layer that timestamps the first and last byte read and written. A protocol
//! client only decides *when* to open connections and *what* to write on them; the phases of a
//! request (send, wait, receive) come from the meter, and [`RequestTiming`] turns them into a
//! `RequestRecord`, so every protocol is timed by the same code. This crate deliberately holds no
//! protocol logic of its own beyond the one HTTP/1.x exchange the hyper-based clients share.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod client;
pub mod connector;
pub mod exchange;
pub mod frames;
pub mod meter;
pub mod quic;
pub mod timing;

pub use client::{ClientOptions, ProtocolClient};
pub use connector::{BoxIo, Connection, Connector, Origin, QuicConnection};
pub use exchange::{exchange_http1, ResponseSummary, Upload};
pub use frames::{FrameCounter, FrameEnd};
pub use meter::{ByteTimes, H2StreamTimes, Meter, Metered};
pub use quic::QuicSettings;
pub use timing::{RequestTiming, Setup};
