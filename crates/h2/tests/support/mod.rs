//! Test support that must stay in this crate: the client under test, built on testkit's
//! plain-TCP connector (standing in for the harness). The HTTP/2 peer it talks to, the request
//! builders and `fetch_all` are testkit's (`h2_peer`, `requests`); testkit cannot build an
//! `Http2Client` without depending on this crate, which would compile a second, incompatible
//! copy of it.

use httplab_core::Clock;
use httplab_h2::{H2Options, Http2Client};
use httplab_testkit::h2_peer::Server;
use httplab_testkit::PlainConnector;
use httplab_transport::ClientOptions;
use std::sync::Arc;

/// A client of `server` with the given windows, and its connector (for the meters).
pub(crate) fn client(
    server: &Server,
    clock: Clock,
    h2: H2Options,
) -> (Arc<Http2Client>, Arc<PlainConnector>) {
    let connector = PlainConnector::new(server.addr, clock);
    let opts = ClientOptions {
        connector: connector.clone(),
        clock,
        max_connections_per_host: 6,
    };
    (Arc::new(Http2Client::new(opts, h2)), connector)
}
