//! httplab-harness: runs a scenario over each protocol and collects what happened.
//!
//! It starts the lab server, opens every client connection itself (timing the TCP connect and
//! the TLS handshake, `TCP_NODELAY` on each socket) and hands the connected stream to the
//! protocol client, issues the workload's requests, and gathers per connection and per request
//! records plus the server's own log, all on one clock, into `RunRecord`s. It repeats a scenario
//! as often as asked. It deliberately formats nothing (that is the report crate) and speaks no
//! HTTP itself (that is the protocol crates).
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod calibrate;
mod connector;
mod environment;
mod experiment;
mod external;
mod lab;
mod load;
mod meters;
mod network;
mod pools;
mod quic;
mod shard;
mod sweep;
mod target;
mod workload;

pub use calibrate::{calibrate, Calibration, MAX_CALIBRATION_CONNECTS};
pub use connector::LabConnector;
pub use environment::{available_congestion_controls, HostFacts};
pub use experiment::{run_experiment, Experiment};
pub use external::{ExternalError, ExternalServer, Listening, STOP_GRACE};
pub use httplab_link::process::{kill_all_now as kill_external_servers, Stopped};
pub use httplab_link::{
    get_congestion, set_congestion, LinkStats, Stamping, MAX_TRUSTWORTHY_EXCESS_PER_RTT,
};
pub use httplab_transport::exchange::keep_header_fields;
pub use lab::{plan, planned_runs, Ending, ExternalOptions, Lab, LabOptions, Progress, RunConfig};
pub use load::{Arrival, LoadOptions, LoadResult, LoadSecond, MAX_IN_FLIGHT};
pub use meters::ServerKind;
pub use network::LinkMode;
pub use pools::connections_per_browser;
pub use shard::Shard;
pub use sweep::{PlannedPoint, SweepPlan};
pub use target::{probe_quic, probe_rtt, probe_tls, TargetOptions, QUIC_PROBE_TIMEOUT};
pub use workload::{issue, OnDone};

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("the load run failed: {0}")]
    Load(String),
    #[error("could not start the lab server on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("certificates: {0}")]
    Tls(#[from] httplab_tls::TlsError),
    #[error("the link emulator: {0}")]
    Link(#[from] httplab_link::LinkError),
    #[error("could not make client sockets in the link's client namespace: {0}")]
    ClientSockets(std::io::Error),
    #[error("{0}")]
    External(#[from] ExternalError),
    #[error("calibrating the link ({what}): {source}")]
    Calibrate {
        what: &'static str,
        source: std::io::Error,
    },
}
