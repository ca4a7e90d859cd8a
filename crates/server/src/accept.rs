//! The accept loop and each connection's task: admission at the server's own ceiling and the
//! scenario's `max_connections`, one task per accepted connection (numbered in acceptance
//! order, its socket watched for the log), and the one watch that ends connections whose
//! responses stall (`send_timeout`).

use crate::activity;
use crate::{serve_connection, service, Shared, ACCEPT_ERROR_PAUSE, ADMISSION_RECHECK};
use httplab_socket::Watched;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinSet;

/// `send_timeout` for every connection of the server, TCP and QUIC (`Registry::end_stalled`),
/// for as long as the server or any of its connections lives: it holds the server only while it
/// looks.
pub(crate) async fn watch_sends(shared: Weak<Shared>, limit: Duration) {
    while let Some(server) = shared.upgrade() {
        let next = server
            .registry
            .end_stalled(tokio::time::Instant::now(), limit);
        drop(server);
        tokio::time::sleep_until(next).await;
    }
}

/// The next connection any of `listeners` accepts, looking at them in turn from `start`, so
/// that none starves the others.
async fn accept_any(
    listeners: &[TcpListener],
    start: usize,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    std::future::poll_fn(|cx| {
        for k in 0..listeners.len() {
            let listener = &listeners[(start + k) % listeners.len()];
            if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                return std::task::Poll::Ready(accepted);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

pub(crate) async fn accept_loop(
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) -> JoinSet<()> {
    // The scenario's cap: beyond it, `accept` is not called.
    let scenario_cap = shared.scenario_cap();
    let min_body_rate = shared.scenario.server.min_body_rate;
    let mut connections = JoinSet::new();
    let mut turn: usize = 0;
    loop {
        while let Some(done) = connections.try_join_next() {
            if let Err(e) = done {
                tracing::error!("lab server connection task failed: {e}");
            }
        }
        let permit = match &scenario_cap {
            None => None,
            Some(limit) => tokio::select! {
                permit = limit.clone().acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_) => break,
                },
                _ = stopped.changed() => break,
            },
        };
        // The server's own ceiling: accept only when a slot is free or can be freed.
        while shared.registry.len() >= shared.ceiling.load(Ordering::Relaxed)
            && !shared.registry.has_candidate(min_body_rate)
        {
            tokio::select! {
                () = tokio::time::sleep(ADMISSION_RECHECK) => {}
                _ = stopped.changed() => return connections,
            }
        }
        let (tcp, peer) = tokio::select! {
            accepted = accept_any(&listeners, turn) => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("lab server accept failed: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        if shared.registry.len() >= shared.ceiling.load(Ordering::Relaxed) {
            if let Some((evicted, why)) = shared.registry.evict_one(min_body_rate) {
                tracing::debug!(
                    connection = evicted,
                    "evicted at the ceiling ({why:?}) for {peer}"
                );
            }
        }
        let number = shared.next_connection_number();
        turn = turn.wrapping_add(1);
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        // The one accepted now joins the registry as its task starts.
        shared
            .peak
            .fetch_max(shared.registry.len() as u64 + 1, Ordering::Relaxed);
        // Boxed: a task's future is moved whole at each stage of its life (spawned, run,
        // finished, its output read), about eight copies a connection; a box is one.
        connections.spawn(Box::pin(connection_task(
            shared.clone(),
            tcp,
            peer,
            number,
            tls.clone(),
            stopped.clone(),
            permit,
        )));
    }
    connections
}

/// One accepted connection from start to end: logged, registered for admission, served, and
/// ended early if it is evicted or a response stalls for `send_timeout`.
async fn connection_task(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    number: u64,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stopped: watch::Receiver<bool>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let log = shared.log.clone();
    let clock = shared.clock;
    if !shared.nodelay_inherited {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(connection = number, %peer, "TCP_NODELAY failed: {e}");
        }
    }
    let tcp = if log.is_counting() {
        Watched::without_last_reading(tcp, clock)
    } else {
        let closing = log.clone();
        Watched::new(
            tcp,
            clock,
            Box::new(move |reading| closing.socket_closed(number, reading)),
        )
    };
    log.connection_accepted(number, peer, clock.now(), Some(tcp.probe()));
    let activity = shared.registry.register(number);
    let conn = service::Connection::new(
        shared.clone(),
        number,
        peer,
        Some(tcp.probe()),
        activity.clone(),
    );
    let serve = serve_connection(tcp, conn, shared.pipelining.get(), tls, stopped);
    tokio::select! {
        () = serve => {}
        why = activity.ended() => if why == activity::Ending::Stalled {
            let limit = shared.scenario.server.send_timeout;
            tracing::debug!(connection = number, %peer, "a response took no bytes for {limit:?}");
        },
    }
    drop(permit);
    shared.registry.forget(number);
    log.connection_closed(number, clock.now());
}
