//! One lab session: the server up, then runs of (protocol, repetition) against it.

use crate::connector::LabConnector;
use crate::HarnessError;
use futures_util::future::join_all;
use httplab_core::{Clock, Protocol, RunRecord, Scenario};
use httplab_http10::Http10Client;
use httplab_http11::Http11Client;
use httplab_server::LabServer;
use httplab_tls::{CertStore, ALPN_HTTP10, ALPN_HTTP11};
use httplab_transport::{ClientOptions, ProtocolClient};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The name clients use for the lab server (the leaf certificate covers it).
const HOST: &str = "localhost";

/// How the lab is set up.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Where the lab CA and server certificate live (generated on first use).
    pub certs_dir: PathBuf,
    /// Where the server listens; port 0 picks a free one.
    pub listen: SocketAddr,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            certs_dir: CertStore::default_dir(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Progress through a scenario's runs, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub protocol: Protocol,
    pub repetition: u32,
    pub done: usize,
    pub total: usize,
}

/// A running lab: the server, the clock, the certificates.
pub struct Lab {
    scenario: Arc<Scenario>,
    clock: Clock,
    server: LabServer,
    certs: Option<CertStore>,
}

impl Lab {
    pub async fn start(scenario: Arc<Scenario>, options: LabOptions) -> Result<Lab, HarnessError> {
        let clock = Clock::start();
        let certs = if scenario.client.tls {
            Some(CertStore::open_or_create(&options.certs_dir)?)
        } else {
            None
        };
        let server_tls = match &certs {
            Some(store) => Some(store.server_config(&[ALPN_HTTP11, ALPN_HTTP10])?),
            None => None,
        };
        let listen_err = |source| HarnessError::Listen {
            addr: options.listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(listen_err)?;
        let server =
            LabServer::start(listener, scenario.clone(), clock, server_tls).map_err(listen_err)?;
        Ok(Lab {
            scenario,
            clock,
            server,
            certs,
        })
    }

    pub fn server_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Runs the workload once over `protocol`.
    pub async fn run(
        &self,
        protocol: Protocol,
        repetition: u32,
    ) -> Result<RunRecord, HarnessError> {
        let tls = match &self.certs {
            // A fresh config per run: no session resumes across runs or repetitions.
            Some(store) => Some(store.client_config(&[alpn_for(protocol)?], false)?),
            None => None,
        };
        let connector = Arc::new(
            LabConnector::new(self.server_addr(), HOST, tls, self.clock).map_err(|source| {
                HarnessError::Listen {
                    addr: self.server_addr(),
                    source,
                }
            })?,
        );
        let options = ClientOptions {
            connector: connector.clone(),
            clock: self.clock,
            max_connections_per_host: self.scenario.client.max_connections_per_host,
        };
        let client: Box<dyn ProtocolClient> = match protocol {
            Protocol::Http10 => Box::new(Http10Client::new(options)),
            Protocol::Http11 => Box::new(Http11Client::new(options)),
            other => return Err(HarnessError::Unsupported(other)),
        };

        // Clear what earlier runs left in the server's log, then issue every request at once,
        // in workload order (join_all polls them in order, so they queue for slots in order).
        self.server.log().take();
        let started_at = self.clock.now();
        let requests = join_all(
            self.scenario
                .requests()
                .into_iter()
                .map(|spec| client.fetch(spec)),
        )
        .await;
        client.finish().await;
        let page_time = requests
            .iter()
            .map(|r| r.ended_at())
            .max()
            .unwrap_or(started_at)
            .saturating_sub(started_at);
        // The server records a response as sent once its last byte is handed to the socket,
        // which precedes the client's read; a short grace covers the handler's bookkeeping.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let mut server = self.server.log().take();
        server.sort_by_key(|s| (s.arrived_at, s.request_id));

        Ok(RunRecord {
            protocol,
            server_pipelining: None,
            repetition,
            epoch_unix_ms: self.clock.epoch_unix().as_millis() as u64,
            started_at,
            page_time,
            tls: self.certs.is_some(),
            connections: connector.connection_records(&requests),
            requests,
            server,
        })
    }

    /// Runs every protocol `repeat` times, protocol by protocol, reporting progress.
    pub async fn run_all(
        &self,
        protocols: &[Protocol],
        repeat: u32,
        mut progress: impl FnMut(Progress),
    ) -> Result<Vec<RunRecord>, HarnessError> {
        let total = protocols.len() * repeat as usize;
        let mut runs = Vec::with_capacity(total);
        for &protocol in protocols {
            for repetition in 0..repeat {
                runs.push(self.run(protocol, repetition).await?);
                progress(Progress {
                    protocol,
                    repetition,
                    done: runs.len(),
                    total,
                });
            }
        }
        Ok(runs)
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn alpn_for(protocol: Protocol) -> Result<&'static [u8], HarnessError> {
    match protocol {
        Protocol::Http10 => Ok(ALPN_HTTP10),
        Protocol::Http11 => Ok(ALPN_HTTP11),
        other => Err(HarnessError::Unsupported(other)),
    }
}
