//! A connector for protocol crates' own tests: plain TCP to a test server, metered like the
//! harness's, with the meters kept so a test can read close reasons and byte counts.

use httplab_core::Clock;
use httplab_transport::connector::ConnectFuture;
use httplab_transport::{BoxIo, Connection, Connector, Meter, Metered, Origin, Setup};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;

/// Opens plain TCP connections to one address, as the harness does without TLS.
pub struct PlainConnector {
    origin: Origin,
    addr: SocketAddr,
    clock: Clock,
    meters: Mutex<Vec<Meter>>,
}

impl PlainConnector {
    pub fn new(addr: SocketAddr, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            origin: Origin {
                scheme: "http",
                authority: addr.to_string(),
            },
            addr,
            clock,
            meters: Mutex::new(Vec::new()),
        })
    }

    /// The meter of the `connection`th connection opened (from 0).
    pub fn meter(&self, connection: usize) -> Meter {
        self.meters.lock().expect("meters")[connection].clone()
    }

    /// Connections opened so far.
    pub fn opened(&self) -> usize {
        self.meters.lock().expect("meters").len()
    }
}

impl Connector for PlainConnector {
    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let started = self.clock.now();
            let tcp = TcpStream::connect(self.addr).await?;
            tcp.set_nodelay(true)?;
            let tcp_connect = self.clock.now() - started;
            let stream = Metered::new(Box::new(tcp) as BoxIo, self.clock);
            let mut meters = self.meters.lock().expect("meters");
            meters.push(stream.meter().clone());
            Ok(Connection {
                id: meters.len() as u32 - 1,
                stream,
                setup: Setup {
                    tcp_connect: Some(tcp_connect),
                    tls_handshake: None,
                },
            })
        })
    }
}
