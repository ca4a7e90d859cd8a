//! Test support that must stay in this crate: the client under test, built on testkit's
//! plain-TCP connector (standing in for the harness). The scripted HTTP/1.1 peer it talks to
//! and the request builders are testkit's (`http1_peer`, `requests`); testkit cannot build an
//! `Http11PipelinedClient` without depending on this crate, which would compile a second,
//! incompatible copy of it.

use httplab_core::Clock;
use httplab_http11_pipelined::Http11PipelinedClient;
use httplab_testkit::http1_peer::Server;
use httplab_testkit::PlainConnector;
use httplab_transport::ClientOptions;
use std::sync::Arc;

/// A client of `server`, with the connector kept for its meters.
pub(crate) fn client(
    server: &Server,
    clock: Clock,
    connections: u32,
    depth: Option<u32>,
) -> (Http11PipelinedClient, Arc<PlainConnector>) {
    let connector = PlainConnector::new(server.addr, clock);
    let opts = ClientOptions {
        connector: connector.clone(),
        clock,
        max_connections_per_host: 6,
    };
    (
        Http11PipelinedClient::new(opts, connections, depth),
        connector,
    )
}
