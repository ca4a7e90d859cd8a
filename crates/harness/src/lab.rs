//! One lab session: the server up, then runs of (protocol, repetition) against it.

use crate::connector::LabConnector;
use crate::external::{ExternalServer, Listening};
use crate::network::{LinkMode, NetworkPath};
use crate::pools::{protocol_client, PoolPlan, Pools};
use crate::target::TargetOptions;
use crate::HarnessError;
use httplab_core::{
    Clock, PipeliningModel, Protocol, RequestRecord, RunRecord, Scenario, ServerRequestRecord,
};
use httplab_server::{LabServer, ServerLog, ServerThread};
use httplab_tls::{CertStore, ALPN_H2, ALPN_H3, ALPN_HTTP10, ALPN_HTTP11};
use httplab_transport::{ClientOptions, ProtocolClient, QuicSettings};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the server's log to record every response as sent.
const SERVER_LOG_GRACE: Duration = Duration::from_millis(100);
/// What a lossy link adds to the wait for the server to close: three lost FINs' timeouts
/// (200 + 400 + 800 ms).
const LOSSY_CLOSE_GRACE: Duration = Duration::from_millis(1400);

/// What the lab's TLS server offers in ALPN, in its order of preference.
const SERVER_ALPN: &[&[u8]] = &[ALPN_H2, ALPN_HTTP11, ALPN_HTTP10];

/// How the lab is set up.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Where the lab CA and server certificate live (generated on first use).
    pub certs_dir: PathBuf,
    /// Where the server listens on loopback; port 0 picks a free one. Behind an emulated
    /// link the port is kept and the address is the link's server address.
    pub listen: SocketAddr,
    /// Whether runs cross the emulated link of the scenario's `[network]` table.
    pub link: LinkMode,
    /// Write every packet the link carries to this pcap file.
    pub pcap: Option<PathBuf>,
    /// Run against this server instead of the lab's own (`--server-cmd`).
    pub external: Option<ExternalOptions>,
    /// Run against this remote server instead (`--target`): no link, the real path.
    pub target: Option<TargetOptions>,
    /// The servers count requests rather than keep a record of each (`httplab load`, whose
    /// pages would otherwise fill memory); runs then have no server-side records.
    pub counting_log: bool,
}

/// A server the user names, run inside the lab in place of the lab's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalOptions {
    /// The command, run under `sh -c`.
    pub cmd: String,
    /// The port it listens on (on every address: inside the server namespace the lab's
    /// clients reach it at the link's server address).
    pub port: u16,
    /// Whether it speaks TLS on that port (with the lab's certificate, `certs/localhost.pem`
    /// and `certs/localhost.key`): then every run uses TLS; else none does.
    pub tls: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            certs_dir: CertStore::default_dir(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            link: LinkMode::Auto,
            pcap: None,
            external: None,
            target: None,
            counting_log: false,
        }
    }
}

/// One configuration to run: a protocol, and the server's pipelining model during the run
/// (`None`: the scenario chose none, and hyper serves HTTP/1.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunConfig {
    pub protocol: Protocol,
    pub server_pipelining: Option<PipeliningModel>,
    /// Which of the scenario's client variants (`Scenario::variants`, e.g. one per browser
    /// profile) the client runs as; `None` when it has none.
    pub client_variant: Option<usize>,
}

/// How a sequence of runs ended.
#[derive(Debug)]
pub enum Ending {
    /// Every planned run finished.
    Finished,
    /// Stopped from outside (a signal) before every run finished.
    Stopped,
    /// A run could not happen; the runs after it were not tried.
    Failed(HarnessError),
}

impl Ending {
    pub fn is_finished(&self) -> bool {
        matches!(self, Ending::Finished)
    }
}

/// Progress through a scenario's runs, for a progress bar.
#[derive(Debug, Clone)]
pub struct Progress {
    pub config: RunConfig,
    /// The label of the configuration's runs (e.g. `http1.1/ie7`).
    pub label: String,
    /// Why the runs cross plain loopback although the scenario has a `[network]` table, if
    /// they do (`Lab::network_note`).
    pub network_note: Option<String>,
    pub repetition: u32,
    pub done: usize,
    pub total: usize,
}

/// A running lab: the servers, the clock, the certificates.
///
/// Two lab servers serve the same scenario on the same clock: one over TLS, where ALPN chooses
/// h2 or HTTP/1.x, and one in cleartext, where the HTTP/2 preface chooses h2c (prior knowledge)
/// or HTTP/1.x. A run uses the one its protocol needs: h2 the TLS one, h2c the cleartext one,
/// HTTP/1.x the TLS one when the scenario says `tls = true`.
pub struct Lab {
    scenario: Arc<Scenario>,
    clock: Clock,
    tls_server: LabServer,
    plain_server: LabServer,
    /// Both servers' thread: their own event loop, apart from the client's.
    server_thread: ServerThread,
    certs: CertStore,
    /// The user's server, where runs go instead of the lab's (`--server-cmd`), with the
    /// addresses runs connect to (one per server address of the scenario's origins) and
    /// whether it speaks TLS.
    external: Option<(ExternalServer, Vec<SocketAddr>, bool)>,
    /// The remote server runs go to instead (`--target`).
    target: Option<TargetOptions>,
    network: NetworkPath,
}

/// The server a load measures.
pub(crate) enum ServerUnderLoad<'a> {
    Lab {
        tls: &'a LabServer,
        plain: &'a LabServer,
        thread: &'a ServerThread,
    },
    External {
        server: &'a ExternalServer,
        port: u16,
    },
    Remote,
}

/// How long an external server may take to accept its first connection.
const EXTERNAL_STARTUP: Duration = Duration::from_secs(10);

impl Lab {
    pub async fn start(scenario: Arc<Scenario>, options: LabOptions) -> Result<Lab, HarnessError> {
        let clock = Clock::start();
        let certs = CertStore::open_or_create(&options.certs_dir)?;
        // One leaf for every origin: one server serves them all.
        let server_tls = certs.server_config_for(&scenario.origin_names(), SERVER_ALPN)?;
        let network = NetworkPath::start(&scenario, clock, options.link, options.pcap.clone())?;
        let listen_err = |source| HarnessError::Listen {
            addr: options.listen,
            source,
        };
        let addresses = scenario.address_count();
        let bind = || {
            network
                .listeners(options.listen, addresses)
                .map_err(listen_err)
        };
        let server_thread = ServerThread::start().map_err(listen_err)?;
        let log = || match options.counting_log {
            true => ServerLog::counting(),
            false => ServerLog::default(),
        };
        let mut tls_server = LabServer::start_on_all_with_log(
            &server_thread,
            bind()?,
            scenario.clone(),
            clock,
            Some(server_tls),
            log(),
        )
        .map_err(listen_err)?;
        // HTTP/3 at the TLS port's number, over UDP, when a run needs it.
        if scenario.protocols.iter().any(|p| p.is_quic()) {
            let sockets = network
                .server_udp_sockets(tls_server.local_addrs())
                .map_err(listen_err)?;
            tls_server.serve_quic(sockets).map_err(listen_err)?;
        }
        let plain_server = LabServer::start_on_all_with_log(
            &server_thread,
            bind()?,
            scenario.clone(),
            clock,
            None,
            log(),
        )
        .map_err(listen_err)?;
        // Started from this thread (it waits, bounded, for the port): nothing else of the lab
        // runs yet.
        let external = match &options.external {
            Some(ext) => {
                let (addr, namespace) = network.external_target(ext.port, 0).map_err(listen_err)?;
                // h3 needs the port's UDP side, the other protocols its TCP side.
                let quic = scenario.protocols.iter().filter(|p| p.is_quic()).count();
                let listening = Listening {
                    tcp: quic < scenario.protocols.len(),
                    udp: quic > 0,
                };
                let server = ExternalServer::start_listening(
                    &ext.cmd,
                    addr,
                    namespace,
                    EXTERNAL_STARTUP,
                    listening,
                )?;
                let addrs = (0..addresses)
                    .map(|k| network.external_target(ext.port, k).map(|(a, _)| a))
                    .collect::<std::io::Result<Vec<_>>>()
                    .map_err(listen_err)?;
                Some((server, addrs, ext.tls))
            }
            None => None,
        };
        Ok(Lab {
            scenario,
            clock,
            tls_server,
            plain_server,
            server_thread,
            certs,
            external,
            target: options.target.clone(),
            network,
        })
    }

    /// Whether runs of `protocol` go over TLS to the first origin: against an external
    /// server, as it speaks.
    pub fn uses_tls(&self, protocol: Protocol) -> bool {
        self.origin_tls(protocol, 0)
    }

    /// Whether runs of `protocol` reach origin `i` over TLS: h2 always, h2c never, HTTP/1.x
    /// as the origin's scheme says; against an external server, as it speaks.
    fn origin_tls(&self, protocol: Protocol, i: usize) -> bool {
        if let Some(target) = &self.target {
            return target.trust.is_some();
        }
        if let Some((_, _, tls)) = &self.external {
            return *tls;
        }
        match protocol {
            Protocol::H2 | Protocol::H3 => true,
            Protocol::H2c => false,
            _ => self
                .scenario
                .origins
                .get(i)
                .map_or(self.scenario.client.tls, |o| o.tls),
        }
    }

    fn server_for(&self, tls: bool) -> &LabServer {
        if tls {
            &self.tls_server
        } else {
            &self.plain_server
        }
    }

    /// The address runs of `protocol` connect to (the first origin's).
    pub fn server_addr(&self, protocol: Protocol) -> SocketAddr {
        self.origin_addr(protocol, 0)
    }

    /// The address runs of `protocol` reach origin `i` at.
    fn origin_addr(&self, protocol: Protocol, i: usize) -> SocketAddr {
        if let Some(target) = &self.target {
            return target.addr;
        }
        let k = self.scenario.origins.get(i).map_or(0, |o| o.address);
        let addrs = match &self.external {
            Some((_, addrs, _)) => addrs.as_slice(),
            None => self.server_for(self.origin_tls(protocol, i)).local_addrs(),
        };
        addrs
            .get(k)
            .or(addrs.first())
            .copied()
            .unwrap_or(self.tls_server.local_addr())
    }

    /// Whether runs go to an external server (`--server-cmd`), which keeps no lab log.
    pub fn external(&self) -> bool {
        self.external.is_some()
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Lets the lab's servers hold `connections` at once, above their own ceiling of
    /// [`httplab_server::MAX_CONNECTIONS`] (a load of many browsers, checked against the
    /// machine's limits first).
    pub fn raise_server_ceiling(&self, connections: usize) {
        self.tls_server.raise_ceiling(connections);
        self.plain_server.raise_ceiling(connections);
    }

    /// Whether the server is the lab's own, whose log the lab joins to its records by each
    /// request's id; a remote target or the user's server (`--server-cmd`) is sent none.
    pub(crate) fn runs_the_server(&self) -> bool {
        self.target.is_none() && self.external.is_none()
    }

    /// The server a load's meters read: the lab's two (TLS, cleartext) and their thread, the
    /// user's (`--server-cmd`) with its port, or none on a remote target.
    pub(crate) fn server_under_load(&self) -> ServerUnderLoad<'_> {
        if self.target.is_some() {
            return ServerUnderLoad::Remote;
        }
        match &self.external {
            Some((server, addrs, _)) => ServerUnderLoad::External {
                server,
                port: addrs.first().map_or(0, SocketAddr::port),
            },
            None => ServerUnderLoad::Lab {
                tls: &self.tls_server,
                plain: &self.plain_server,
                thread: &self.server_thread,
            },
        }
    }

    /// Runs `f` where the server's sockets are (the server namespace, or on loopback here),
    /// on a blocking thread.
    pub(crate) async fn in_server_namespace<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        self.network.in_server_namespace(f).await
    }

    /// The scenario the lab serves.
    pub(crate) fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Whether runs cross the emulated link (else plain loopback).
    pub fn link_emulated(&self) -> bool {
        self.network.emulated()
    }

    /// Why runs go over plain loopback although the scenario has a `[network]` table.
    pub fn network_note(&self) -> Option<&str> {
        self.network.note()
    }

    /// The client's address on the emulated link, if there is one.
    pub fn client_ip(&self) -> Option<std::net::Ipv4Addr> {
        self.network.client_ip()
    }

    /// The configurations this lab's scenario asks for over `protocols` (see [`plan`]).
    pub fn plan(&self, protocols: &[Protocol]) -> Vec<RunConfig> {
        plan(&self.scenario, protocols)
    }

    /// The label runs of `config` carry in every output (e.g. `http1.1/ie7`).
    pub fn label(&self, config: &RunConfig) -> String {
        httplab_core::record::run_label(
            config.protocol,
            config.server_pipelining,
            self.variant_label(config),
        )
    }

    fn variant_label(&self, config: &RunConfig) -> Option<&str> {
        let i = config.client_variant?;
        self.scenario.variants.get(i).map(|v| v.label.as_str())
    }

    /// The scenario as `config`'s client variant runs it.
    fn scenario_for(&self, config: &RunConfig) -> Arc<Scenario> {
        self.variant_label(config)
            .and_then(|label| self.scenario.variant(label))
            .map_or_else(|| self.scenario.clone(), Arc::new)
    }

    /// Runs the workload once over `protocol`, with the scenario's first server model.
    pub async fn run(
        &self,
        protocol: Protocol,
        repetition: u32,
    ) -> Result<RunRecord, HarnessError> {
        let config = RunConfig {
            protocol,
            server_pipelining: self.scenario.server.pipelining.first().copied(),
            client_variant: None,
        };
        self.run_config(config, repetition).await
    }

    /// Runs the workload once in one configuration.
    pub async fn run_config(
        &self,
        config: RunConfig,
        repetition: u32,
    ) -> Result<RunRecord, HarnessError> {
        let protocol = config.protocol;
        let scenario = self.scenario_for(&config);
        let origins = &scenario.origins;
        let tls_of: Vec<bool> = (0..origins.len())
            .map(|i| self.origin_tls(protocol, i))
            .collect();
        // The servers this run's origins reach: the TLS one, the cleartext one, or both.
        let servers: Vec<&LabServer> = [true, false]
            .into_iter()
            .filter(|tls| tls_of.contains(tls))
            .map(|tls| self.server_for(tls))
            .collect();
        for server in &servers {
            server.set_pipelining(config.server_pipelining);
        }
        let (connector, client) = self.browser(protocol, &scenario, true)?;

        // Clear what earlier runs left in the server's log, then issue every request at once,
        // in workload order (join_all polls them in order, so they queue for slots in order).
        for server in &servers {
            server.log().take();
            server.log().take_connections();
        }
        self.network.begin_run();
        let started_at = self.clock.now();
        let on_done = |record: &RequestRecord| connector.response_done(record);
        let plan = crate::workload::Plan::new(&scenario, !self.runs_the_server());
        let mut requests = crate::workload::issue_plan(&client, &plan, self.clock, &on_done).await;
        client.finish().await;
        let page_time = requests
            .iter()
            .map(|r| r.ended_at())
            .max()
            .unwrap_or(started_at)
            .saturating_sub(started_at);
        // The client's FIN takes half a round trip; on a lossy link it may be lost and sent
        // again after a retransmission timeout (Linux: 200 ms at least, doubling), so allow a
        // few of those. The wait ends as soon as every connection has closed.
        let grace = scenario.network.as_ref().map_or(SERVER_LOG_GRACE, |n| {
            let retries = if n.loss > 0.0 {
                LOSSY_CLOSE_GRACE
            } else {
                Duration::ZERO
            };
            SERVER_LOG_GRACE + n.rtt * 2 + retries
        });
        let mut server_log = Vec::new();
        let mut server_connections = Vec::new();
        for server in &servers {
            settle_server_log(server).await;
            settle_server_connections(server, grace).await;
            server_log.extend(server.log().take());
            server_connections.extend(server.log().take_connections());
        }
        server_log.sort_by_key(|s| (s.arrived_at, s.request_id));
        if protocol == Protocol::Http11Pipelined {
            join_hol(&mut requests, &server_log);
        }

        Ok(RunRecord {
            protocol,
            server_pipelining: config.server_pipelining,
            client_variant: self.variant_label(&config).map(str::to_string),
            repetition,
            epoch_unix_ms: self.clock.epoch_unix().as_millis() as u64,
            started_at,
            page_time,
            tls: self.uses_tls(protocol),
            connections: connector.connection_records(&requests),
            requests,
            server: server_log,
            link: self.network.run_record(),
            congestion_control: self.network.congestion_control().to_string(),
            server_connections,
            wire: self.network.wire_trace(),
        })
    }

    /// A browser for one page load over `protocol`: a connector with one target per origin
    /// (numbering every connection it opens) and the pools that issue requests through it. A
    /// fresh one per run or page: TLS sessions resume (when the scenario asks) only between the
    /// connections of one page load, never across runs, repetitions or users. Without
    /// `records`, its connector keeps none of its connections (a load's).
    pub(crate) fn browser(
        &self,
        protocol: Protocol,
        scenario: &Scenario,
        records: bool,
    ) -> Result<(Arc<LabConnector>, Pools), HarnessError> {
        let origins = &scenario.origins;
        let tls_of: Vec<bool> = (0..origins.len())
            .map(|i| self.origin_tls(protocol, i))
            .collect();
        // QUIC carries TLS 1.3 and no other: a scenario's `tls_version` is for TCP.
        let (alpn, resumption, version) = (
            &[alpn_for(protocol)],
            scenario.client.resumption,
            scenario.client.tls_version.filter(|_| !protocol.is_quic()),
        );
        let client_tls = match &self.target {
            _ if !tls_of.contains(&true) => None,
            Some(TargetOptions {
                trust: Some(trust), ..
            }) => Some(httplab_tls::remote_client_config(
                trust, alpn, resumption, version,
            )?),
            _ => Some(self.certs.client_config(alpn, resumption, version)?),
        };
        // QUIC sends a resumed session's first requests as early data (0-RTT).
        let client_tls = client_tls.map(|config| match protocol.is_quic() && resumption {
            true => {
                let mut early = (*config).clone();
                early.enable_early_data = true;
                Arc::new(early)
            }
            false => config,
        });
        // The names requests carry: a remote target's host, else each origin's.
        let name = |i: usize| match &self.target {
            Some(target) => target.host.as_str(),
            None => origins[i].name.as_str(),
        };
        let tls_for = |i: usize| client_tls.clone().filter(|_| tls_of[i]);
        // One target per origin, numbered as the origins are.
        let listen_err = |addr, source| HarnessError::Listen { addr, source };
        let addr = self.origin_addr(protocol, 0);
        let mut connector = LabConnector::new(addr, name(0), tls_for(0), self.clock)
            .map_err(|e| listen_err(addr, e))?
            .with_socket_factory(self.network.socket_factory())
            .with_congestion_control(self.network.congestion_control())
            .with_records(records);
        if protocol.is_quic() {
            let settings = quic_settings(scenario, self.network.congestion_control());
            connector = connector
                .with_quic(self.network.udp_factory(), &settings)
                .map_err(|e| listen_err(addr, e))?;
        }
        for i in 1..origins.len() {
            let addr = self.origin_addr(protocol, i);
            connector
                .add_target(addr, name(i), tls_for(i))
                .map_err(|e| listen_err(addr, e))?;
        }
        let connector = Arc::new(connector);
        // The HTTP/2 client switches its connections' frame tap on itself.
        let plan = PoolPlan::of(scenario, protocol);
        let clients = plan
            .first
            .iter()
            .map(|&i| {
                let options = ClientOptions {
                    connector: connector.target(i),
                    clock: self.clock,
                    max_connections_per_host: origins[i]
                        .max_connections
                        .unwrap_or(scenario.client.max_connections_per_host),
                };
                protocol_client(protocol, options, scenario)
            })
            .collect();
        let client = Pools::new(&plan, clients, |i| {
            format!("{}:{}", name(i), self.origin_addr(protocol, i).port())
        });

        Ok((connector, client))
    }

    /// Runs every configuration of `plan(protocols)` `repeat` times, handing each finished run
    /// to `finished` with the progress so far, until all are done, one fails, or `stop`
    /// completes. A run in flight when `stop` completes is dropped (its connections close);
    /// the runs before it are returned, whatever the ending.
    pub async fn run_all(
        &self,
        protocols: &[Protocol],
        repeat: u32,
        mut finished: impl FnMut(Progress, &RunRecord),
        stop: impl Future<Output = ()>,
    ) -> (Vec<RunRecord>, Ending) {
        let plan = self.plan(protocols);
        let total = plan.len() * repeat as usize;
        let mut runs = Vec::with_capacity(total);
        let mut stop = std::pin::pin!(stop);
        for config in plan {
            for repetition in 0..repeat {
                let run = tokio::select! {
                    biased;
                    () = &mut stop => return (runs, Ending::Stopped),
                    run = self.run_config(config, repetition) => run,
                };
                let run = match run {
                    Ok(run) => run,
                    Err(e) => return (runs, Ending::Failed(e)),
                };
                let progress = Progress {
                    config,
                    label: self.label(&config),
                    network_note: self.network_note().map(str::to_string),
                    repetition,
                    done: runs.len() + 1,
                    total,
                };
                finished(progress, &run);
                runs.push(run);
            }
        }
        (runs, Ending::Finished)
    }

    pub async fn shutdown(mut self) {
        if let Some((mut server, _, _)) = self.external.take() {
            let _ = tokio::task::spawn_blocking(move || server.stop()).await;
        }
        self.tls_server.shutdown().await;
        self.plain_server.shutdown().await;
        // The servers are done: their thread can end (a join of a loop with nothing left).
        let thread = self.server_thread;
        let _ = tokio::task::spawn_blocking(move || drop(thread)).await;
        self.network.stop().await;
    }
}

/// The configurations `scenario` asks for over `protocols`, in order: each protocol once,
/// except `http1.1-pipelined`, which runs once per server pipelining model the scenario lists;
/// and each of those once per client variant (browser profile, TLS version...), side by side.
pub fn plan(scenario: &Scenario, protocols: &[Protocol]) -> Vec<RunConfig> {
    let models = &scenario.server.pipelining;
    let variants: Vec<Option<usize>> = if scenario.variants.is_empty() {
        vec![None]
    } else {
        (0..scenario.variants.len()).map(Some).collect()
    };

    let mut plan = Vec::new();
    for &protocol in protocols {
        let per_model: Vec<Option<PipeliningModel>> = match protocol {
            Protocol::Http11Pipelined if !models.is_empty() => {
                models.iter().copied().map(Some).collect()
            }
            _ => vec![models.first().copied()],
        };
        for server_pipelining in per_model {
            for &client_variant in &variants {
                plan.push(RunConfig {
                    protocol,
                    server_pipelining,
                    client_variant,
                });
            }
        }
    }
    plan
}

/// How many runs `scenario` makes: every configuration of its plan, `repeat` times.
pub fn planned_runs(scenario: &Scenario) -> usize {
    plan(scenario, &scenario.protocols).len() * scenario.repeat as usize
}

/// Head-of-line time is the server's to know: a pipelined response was ready at one instant
/// and its turn to be written came later. Each answered request of a pipelined run takes it
/// from the server's log, joined by request id; nothing else reports it.
fn join_hol(requests: &mut [RequestRecord], log: &[ServerRequestRecord]) {
    for r in requests.iter_mut().filter(|r| r.error.is_none()) {
        if let Some(hol) = log
            .iter()
            .find(|s| s.request_id == Some(r.id))
            .and_then(ServerRequestRecord::hol)
        {
            r.phases.hol = Some(hol);
        }
    }
}

/// Waits until the server has marked every logged response as sent. The server marks it as
/// its last byte is handed to the socket, which races the client reading that byte on
/// another task; a response the server never finished (a broken connection) would keep
/// this waiting, so the wait is bounded, and mostly yields rather than sleeps so it adds
/// no timer granularity to the run.
async fn settle_server_log(server: &LabServer) {
    let all_sent = || {
        server
            .log()
            .snapshot()
            .iter()
            .all(|s| s.response_sent_at.is_some())
    };
    for _ in 0..100 {
        if all_sent() {
            return;
        }
        tokio::task::yield_now().await;
    }
    let deadline = tokio::time::Instant::now() + SERVER_LOG_GRACE;
    while !all_sent() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits (bounded) for the server to close the connections the client has closed, so their
/// records carry the socket's last `TCP_INFO`: the client's FIN takes half a round trip to
/// arrive. A connection the server keeps (a handler that never responds) is taken open.
/// `grace`: a round trip and some, more than the FIN's half.
async fn settle_server_connections(server: &LabServer, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while server
        .log()
        .connections()
        .iter()
        .any(|c| c.closed_at.is_none())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What a browser's QUIC connections are told: the scenario's congestion control (as its TCP
/// uses), its HTTP/2 windows (browsers open the same ones for HTTP/3), quinn's 30 s idle
/// timeout (the server's may be shorter; the smaller applies).
fn quic_settings(scenario: &Scenario, congestion_control: &str) -> QuicSettings {
    QuicSettings {
        congestion_control: congestion_control.to_string(),
        idle_timeout: Duration::from_secs(30),
        max_concurrent_streams: 100,
        stream_window: scenario.client.h2_stream_window,
        connection_window: scenario.client.h2_connection_window,
    }
}

/// What the client offers in ALPN: exactly its own protocol, so the server cannot pick another.
fn alpn_for(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Http10 => ALPN_HTTP10,
        Protocol::Http11 | Protocol::Http11Pipelined => ALPN_HTTP11,
        Protocol::H2 | Protocol::H2c => ALPN_H2,
        Protocol::H3 => ALPN_H3,
    }
}
