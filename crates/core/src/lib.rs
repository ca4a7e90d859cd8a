//! httplab-core: the lab's vocabulary, with no I/O and no async runtime.
//!
//! It owns the scenario model (what a workload is, parsed from TOML with errors that point at the
//! file, line and column, with `--set` overrides, client profiles and think-time distributions)
//! with its `[network]` table (the emulated link's settings; the link
//! crate emulates them), the protocol ids, the human units used in scenario files, the timing
//! model (the per-request phases of HAR 1.2 / DevTools), the records a run produces, and the
//! statistics the reports draw from them. It deliberately knows nothing of sockets, TLS or HTTP
//! libraries: the harness fills these records, the report crate formats them.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod analytical;
mod clock;
pub mod network;
mod overrides;
pub mod profile;
mod protocol;
pub mod quic;
pub mod record;
pub mod scenario;
pub mod serde_ms;
pub mod stats;
pub mod tcp_info;
pub mod tcp_trace;
pub mod think;
pub mod units;
pub mod wire;

pub use clock::Clock;
pub use network::{CongestionControl, LossModel, NetworkSettings};
pub use overrides::{Override, OverrideOrigin, OverrideSyntax};
pub use profile::Profile;
pub use protocol::{Protocol, ProtocolError};
pub use quic::QuicInfo;
pub use record::{
    CloseReason, ConnectionRecord, H2FrameCounts, H2FrameDirection, HandshakeKind,
    LinkDirectionRecord, LinkExcessRecord, LinkRecord, Phases, RequestRecord, RunRecord,
    ServerConnectionRecord, ServerRequestRecord, TlsRecord,
};
pub use scenario::{
    ClientVariant, PipeliningModel, RequestSpec, Resource, Respond, Scenario, ScenarioError,
    TlsVersion, WriteMode,
};
pub use tcp_info::{ResponseTcpInfo, TcpInfo, TcpInfoLog};
pub use think::Think;
