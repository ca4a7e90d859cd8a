//! HTTP/2 connections (h2 over TLS, h2c with prior knowledge) through hyper's http2 server.
//!
//! Only the connection's settings are decided here, from the scenario's `[server]` table:
//! SETTINGS_MAX_CONCURRENT_STREAMS, SETTINGS_INITIAL_WINDOW_SIZE (the window the *client* may
//! fill per stream, so it governs uploads), SETTINGS_MAX_FRAME_SIZE, and the connection window
//! the server opens with a WINDOW_UPDATE on stream 0. Each stream is answered by the same
//! service as HTTP/1.x (`Connection::respond`: resource, think, status, `Server-Timing`, log).
//! How fast responses flow is up to the client's windows; hyper's adaptive (BDP) window stays
//! off so the advertised numbers are the ones the scenario names. A request whose
//! `request_timeout` runs out unanswered (`respond = "never"`) fails the service, and hyper
//! resets that stream alone (RST_STREAM, INTERNAL_ERROR); the connection and its other streams
//! carry on. `keep_alive_timeout` and `max_requests_per_connection` do not apply here;
//! `h2_idle_timeout` does: a connection with no stream in progress for that long (counted from
//! its start, or from its last response's end) is sent GOAWAY and closed, waiting at most
//! `GOAWAY_GRACE` for the client's acknowledgement (h2's graceful close waits for a PING's).
//! Frames are written packed (`[server] write`, default): what hyper's streams make ready in one
//! turn of the server's loop leaves in one write, in TLS records of up to 16 KB.

use crate::service::Connection;
use httplab_core::scenario::{ServerSettings, BROWSER_H2_CONNECTION_WINDOW};
use httplab_socket::Packed;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// The least connection window the server opens (Chrome's, 15 MiB), so that with a few
/// streams uploading at once the connection window is not what limits them.
pub const MIN_CONNECTION_WINDOW: u32 = BROWSER_H2_CONNECTION_WINDOW;

/// The connection window for `settings`: at least the stream window, at least
/// `MIN_CONNECTION_WINDOW`.
pub(crate) fn connection_window(settings: &ServerSettings) -> u32 {
    settings.h2_stream_window.max(MIN_CONNECTION_WINDOW)
}

/// Serves HTTP/2 on `io` (the client's preface not yet read, or replayed) until the client
/// closes or the server stops (then GOAWAY, letting open streams finish).
pub(crate) async fn serve<S>(io: S, mut conn: Connection, mut stopped: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // hyper calls the service for a stream from a task of its own, microseconds after the
    // read that brought its HEADERS, and a burst one after another: dated by that read, the
    // requests of one burst arrive together and equal think times end together (`alarm.rs`).
    conn.arrival_at_read = true;
    let (number, peer) = (conn.number, conn.peer);
    let settings = &conn.shared.scenario.server;
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .adaptive_window(false)
        .max_concurrent_streams(settings.max_concurrent_streams)
        .initial_stream_window_size(settings.h2_stream_window)
        .initial_connection_window_size(connection_window(settings))
        .max_frame_size(settings.max_frame_size);
    let io = Packed::new(io, settings.write);
    let idle_timeout = settings.h2_idle_timeout;
    let activity = conn.activity.clone();
    let http = builder.serve_connection(TokioIo::new(io), crate::LabService(Arc::new(conn)));
    let idle = async {
        activity.idle_for(idle_timeout).await;
        tracing::debug!(connection = number, %peer, "HTTP/2 connection idle for {idle_timeout:?}");
    };
    if let Err(e) = crate::until_stopped(http, &mut stopped, idle).await {
        tracing::debug!(connection = number, %peer, "HTTP/2 connection ended with an error: {e}");
    }
}
