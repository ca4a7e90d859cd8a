//! The one HTTP/2 connection a workload runs over: opened through the harness's connector,
//! handshaken with the client's flow-control windows, driven by a task of its own, and measured
//! once with a PING. This module owns the connection's life (its driver, its close reason, its
//! stream slots); it does not send requests.

use crate::error::H2ClientError;
use crate::slots::StreamSlots;
use crate::H2Options;
use bytes::Bytes;
use h2::client::SendRequest;
use h2::{Ping, PingPong, Reason};
use httplab_core::{Clock, CloseReason};
use httplab_socket::Packed;
use httplab_transport::{ClientOptions, Meter, Setup};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Streams the client assumes it may open before the server's SETTINGS say otherwise: the
/// value RFC 9113 §6.5.2 recommends servers allow at least, and what Chrome assumes. Waiting
/// for the server's SETTINGS instead would cost every first request a round trip.
pub const ASSUMED_MAX_CONCURRENT_STREAMS: usize = 100;

/// How long the PING after the handshake may take before the RTT is left unrecorded.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `finish` waits for the connection to close.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the answer to its PING before letting go.
const PING_SETTLE: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An open HTTP/2 connection and what its requests need from it.
pub(crate) struct H2Connection {
    /// The harness's number for it.
    pub id: u32,
    pub meter: Meter,
    /// TCP connect and TLS handshake, charged to the request that opened it.
    pub setup: Setup,
    pub slots: StreamSlots,
    /// Whether a request has put the request id's field name into the server's HPACK table.
    request_id_named: AtomicBool,
    /// The handle streams are opened through; `None` once `finish` has let go of it (h2 closes
    /// the connection when the last handle and the last stream are gone).
    sender: Mutex<Option<SendRequest<Bytes>>>,
    driver: Mutex<Option<JoinHandle<()>>>,
    ping: Mutex<Option<JoinHandle<()>>>,
}

impl H2Connection {
    /// Opens the connection: connect (harness), HTTP/2 preface and SETTINGS, driver task, PING.
    pub(crate) async fn open(opts: &ClientOptions, h2: H2Options) -> Result<Self, H2ClientError> {
        let conn = opts.connector.connect().await?;
        let (id, meter, setup) = (conn.id, conn.meter(), conn.setup);
        // The frame tap times each stream at the socket (see `exchange`); no byte has flowed
        // above TLS yet, so it sees the preface.
        meter.enable_h2_frames();
        let handshake = h2::client::Builder::new()
            .initial_window_size(h2.stream_window)
            .initial_connection_window_size(h2.connection_window)
            .initial_max_send_streams(ASSUMED_MAX_CONCURRENT_STREAMS)
            .enable_push(false)
            .handshake::<_, Bytes>(Packed::new(conn.stream, h2.write))
            .await;
        let (sender, mut connection) = match handshake {
            Ok(pair) => pair,
            Err(e) => {
                meter.set_close_reason(CloseReason::Error(e.to_string()));
                return Err(H2ClientError::Handshake(e));
            }
        };
        // Taken before the connection moves into its driver; pings need the driver running.
        let ping_pong = connection.ping_pong();
        let driver_meter = meter.clone();
        let driver = tokio::spawn(async move {
            // The first reason given wins: `finish` sets WorkloadDone before letting go.
            let reason = match connection.await {
                Ok(()) => CloseReason::ServerClosed,
                Err(e)
                    if e.is_go_away() && e.is_remote() && e.reason() == Some(Reason::NO_ERROR) =>
                {
                    CloseReason::ServerClosed
                }
                Err(e) => CloseReason::Error(e.to_string()),
            };
            driver_meter.set_close_reason(reason);
        });
        let ping = ping_pong.map(|pp| tokio::spawn(measure_ping(pp, opts.clock, meter.clone())));
        Ok(Self {
            id,
            meter,
            setup,
            slots: StreamSlots::new(ASSUMED_MAX_CONCURRENT_STREAMS),
            request_id_named: AtomicBool::new(false),
            sender: Mutex::new(Some(sender)),
            driver: Mutex::new(Some(driver)),
            ping: Mutex::new(ping),
        })
    }

    /// True for the first request to ask. The request id is new in every request, so HPACK is
    /// told not to index it (`multiplexed_head`), which also leaves its name out of the table;
    /// the first request's is indexed instead, so every later one names it in one byte.
    pub(crate) fn first_to_name_request_id(&self) -> bool {
        !self.request_id_named.swap(true, Ordering::Relaxed)
    }

    /// A handle to open a stream with, unless the client has finished.
    pub(crate) fn sender(&self) -> Option<SendRequest<Bytes>> {
        lock(&self.sender).clone()
    }

    /// Lets go of the connection and waits (bounded) for it to close. The PING sent after the
    /// handshake is given its answer first (it left with the first requests, so on any link
    /// its PONG is long back; on loopback a page can end within its round trip).
    pub(crate) async fn close(&self) {
        let ping = lock(&self.ping).take();
        if let Some(mut ping) = ping {
            if tokio::time::timeout(PING_SETTLE, &mut ping).await.is_err() {
                ping.abort();
            }
        }
        let driver = lock(&self.driver).take();
        if driver.as_ref().is_some_and(|d| !d.is_finished()) {
            self.meter.set_close_reason(CloseReason::WorkloadDone);
        }
        drop(lock(&self.sender).take());
        if let Some(driver) = driver {
            if tokio::time::timeout(CLOSE_GRACE, driver).await.is_err() {
                tracing::warn!("the HTTP/2 connection did not close within {CLOSE_GRACE:?}");
            }
        }
    }
}

/// Sends one PING and records its round trip on the meter. It runs beside the first requests
/// rather than before them, so it costs them nothing; a PING that never comes back leaves the
/// RTT unrecorded and the workload untouched.
async fn measure_ping(mut ping_pong: PingPong, clock: Clock, meter: Meter) {
    let sent = clock.now();
    match tokio::time::timeout(PING_TIMEOUT, ping_pong.ping(Ping::opaque())).await {
        Ok(Ok(_pong)) => meter.set_ping_rtt(clock.now() - sent),
        Ok(Err(e)) => tracing::debug!("HTTP/2 PING failed: {e}"),
        Err(_) => tracing::debug!("no PING ACK within {PING_TIMEOUT:?}"),
    }
}
