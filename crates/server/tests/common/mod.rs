//! Test support that must stay in this crate: the server tests' scenario and starting the lab
//! server on 127.0.0.1:0. The raw HTTP/1.x client side (request heads, the response reader),
//! the expected filler bytes and `TempDir` are testkit's (`http1_raw`, `expected_filler`,
//! `TempDir`); testkit cannot build a `LabServer` without depending on this crate, which would
//! compile a second, incompatible copy of it.
#![allow(dead_code)] // each test file uses its own subset

use httplab_core::{Clock, Scenario};
use httplab_server::LabServer;
use std::sync::Arc;
use tokio::net::TcpListener;

const SCENARIO: &str = r#"
name = "server-test"
[[resource]]
path = "/index.html"
size = "20kb"
[[resource]]
path = "/style.css"
size = "100b"
[[resource]]
path = "/slow.json"
size = "10b"
think = "50ms"
[[resource]]
path = "/big.png"
size = "1mb"
[[resource]]
path = "/empty"
size = "0b"
[[resource]]
path = "/gone.html"
size = "7b"
status = 410
"#;

fn scenario() -> Arc<Scenario> {
    Arc::new(httplab_testkit::inline_scenario(SCENARIO))
}

pub(crate) async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> LabServer {
    start_with(scenario(), tls).await
}

pub(crate) async fn start_with(
    scenario: Arc<Scenario>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> LabServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    LabServer::start(listener, scenario, Clock::start(), tls).unwrap()
}
