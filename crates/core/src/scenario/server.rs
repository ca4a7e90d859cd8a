//! The `[server]` table: how the lab server behaves — its default think time and whether it
//! answers, its timeouts and connection limits, how it treats pipelined requests, and the
//! HTTP/2 settings it advertises.
//!
//! It owns [`ServerSettings`], the pipelining models and the `respond` behaviours, the table's
//! keys, their defaults and their validation (errors located like every other scenario
//! mistake). The defaults it sets for resources (`think`, `respond`, `request_timeout`) are
//! applied to each resource in `resources.rs`. It deliberately serves nothing: the server crate
//! acts on these settings.

use super::error::{Stage, Staged};
use super::limits::{h2_window, timeout};
use super::raw::{OneOrMany, RawServer};
use super::ScenarioError;
use crate::think::Think;
use serde::Deserialize;
use std::ops::Range;
use std::time::Duration;

/// Largest `[server] max_connections` (the lab server never serves more at once).
pub(crate) const MAX_SERVER_CONNECTIONS: u32 = 1024;

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Mean think time for resources that do not set their own.
    pub think: Duration,
    /// How that think time is drawn (fixed, or a distribution with mean `think`).
    pub think_distribution: Think,
    /// Whether resources that do not say otherwise answer at all.
    pub respond: Respond,
    /// Longest a request may go unanswered, from its arrival, for resources that do not set
    /// their own; then the server closes the connection (HTTP/1.x) or resets the stream
    /// (HTTP/2) without a response. `None`: no limit.
    pub request_timeout: Option<Duration>,
    /// Connections served at once; further ones wait in the listen backlog, unaccepted.
    /// `None`: the server's own limit (1024).
    pub max_connections: Option<u32>,
    /// An idle HTTP/1.1 connection is closed after this long without a new request head.
    /// `None`: the server's default (hyper's 30 s for reading a head).
    pub keep_alive_timeout: Option<Duration>,
    /// After this many requests on one HTTP/1.x connection, the response says
    /// `Connection: close` and the server closes it. `None`: no limit.
    pub max_requests_per_connection: Option<u32>,
    /// How the server treats pipelined requests, one run of `http1.1-pipelined` per model
    /// listed. Empty: the scenario did not ask, and the lab serves HTTP/1.x with hyper (which
    /// handles pipelined requests serially).
    pub pipelining: Vec<PipeliningModel>,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the server advertises (default 100).
    pub max_concurrent_streams: u32,
    /// HTTP/2 initial stream window the server advertises (governs uploads; default 1 MiB).
    pub h2_stream_window: u32,
    /// HTTP/2 SETTINGS_MAX_FRAME_SIZE the server advertises (default 16384, the minimum).
    pub max_frame_size: u32,
    /// How the server writes HTTP/2 frames and pipelined responses (default packed).
    pub write: WriteMode,
}

/// How an endpoint hands its bytes to the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    /// As production software does (browsers, nginx, h2o): what becomes ready in one scheduler
    /// turn leaves in one write, in TLS records of up to 16 KB. Nothing waits for more data:
    /// packing, not Nagle.
    #[default]
    Packed,
    /// Each frame (HTTP/2) or response (pipelining) as its own write, as the HTTP library
    /// hands it over: a small response is a TLS record and a TCP segment of its own.
    PerFrame,
}

impl WriteMode {
    /// The scenario's word for it.
    pub fn id(self) -> &'static str {
        match self {
            WriteMode::Packed => "packed",
            WriteMode::PerFrame => "per-frame",
        }
    }
}

/// How a server handles requests pipelined on one connection (responses always leave in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipeliningModel {
    /// One request at a time: the next is read and handled after the previous response is sent.
    Serial,
    /// Every request starts as soon as it is read; finished responses wait for their turn.
    Parallel,
}

impl PipeliningModel {
    pub fn id(self) -> &'static str {
        match self {
            PipeliningModel::Serial => "serial",
            PipeliningModel::Parallel => "parallel",
        }
    }
}

/// Whether a handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Respond {
    /// It answers after its think time.
    #[default]
    Always,
    /// It reads the whole request (body included) and never answers: the connection (HTTP/1.x)
    /// or stream (HTTP/2) is held until `request_timeout` ends it without a response.
    Never,
}

/// The `[server]` table, validated.
pub(crate) struct ServerTable {
    pub(crate) settings: ServerSettings,
    /// Where `respond` is written, if it is: a resource that inherits `respond = "never"`
    /// without a timeout is a mistake located there.
    pub(crate) respond_span: Option<Range<usize>>,
}

/// Checks every key of `[server]`, in the order of the table's stages (see [`Stage`]).
pub(crate) fn validate(
    raw: RawServer,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<ServerTable, Staged> {
    let pipelining = pipelining(raw.pipelining, err).map_err(Stage::ServerPipelining.tag())?;
    let h2_stream_window = h2_window(&raw.h2_stream_window, "h2_stream_window", 1024 * 1024, err)
        .map_err(Stage::ServerH2Window.tag())?;

    let h2_settings = Stage::ServerH2Settings.tag();
    let max_concurrent_streams = match &raw.max_concurrent_streams {
        None => 100,
        Some(m) if *m.get_ref() >= 1 => *m.get_ref(),
        Some(m) => {
            return Err(h2_settings(err(
                m.span(),
                "`max_concurrent_streams` must be at least 1".into(),
            )))
        }
    };
    let max_frame_size = match &raw.max_frame_size {
        None => 16_384,
        Some(f) if (16_384..=16_777_215).contains(&f.get_ref().0) => f.get_ref().0 as u32,
        Some(f) => {
            return Err(h2_settings(err(
                f.span(),
                "`max_frame_size` must be between 16384b and 16777215b (RFC 9113 §6.5.2)".into(),
            )))
        }
    };

    let connections = Stage::ServerConnections.tag();
    let request_timeout =
        timeout(&raw.request_timeout, "request_timeout", err).map_err(&connections)?;
    let keep_alive_timeout =
        timeout(&raw.keep_alive_timeout, "keep_alive_timeout", err).map_err(&connections)?;
    let max_connections = match &raw.max_connections {
        None => None,
        Some(m) if (1..=MAX_SERVER_CONNECTIONS).contains(m.get_ref()) => Some(*m.get_ref()),
        Some(m) => {
            return Err(connections(err(
                m.span(),
                format!("`max_connections` must be between 1 and {MAX_SERVER_CONNECTIONS}: connections beyond it wait, unaccepted, in the listen backlog"),
            )))
        }
    };
    let max_requests_per_connection = match &raw.max_requests_per_connection {
        None => None,
        Some(m) if *m.get_ref() >= 1 => Some(*m.get_ref()),
        Some(m) => {
            return Err(connections(err(
                m.span(),
                "`max_requests_per_connection` must be at least 1".into(),
            )))
        }
    };

    let think = raw
        .think
        .as_ref()
        .map_or(Think::default(), |t| *t.get_ref());
    let respond = raw.respond.as_ref().map(|r| (*r.get_ref(), r.span()));
    Ok(ServerTable {
        settings: ServerSettings {
            think: think.mean(),
            think_distribution: think,
            respond: respond.as_ref().map_or(Respond::Always, |(r, _)| *r),
            request_timeout,
            max_connections,
            keep_alive_timeout,
            max_requests_per_connection,
            pipelining,
            max_concurrent_streams,
            h2_stream_window,
            max_frame_size,
            write: raw.write.unwrap_or_default(),
        },
        respond_span: respond.map(|(_, span)| span),
    })
}

/// `pipelining`: one model or a list, each kept once in file order; an empty list is a
/// mistake.
fn pipelining(
    value: Option<toml::Spanned<OneOrMany<PipeliningModel>>>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<PipeliningModel>, ScenarioError> {
    let Some(p) = value else {
        return Ok(Vec::new());
    };
    let span = p.span();
    let list = match p.into_inner() {
        OneOrMany::One(m) => vec![m],
        OneOrMany::Many(list) => list,
    };
    let mut unique: Vec<PipeliningModel> = Vec::new();
    for m in list {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    if unique.is_empty() {
        return Err(err(
            span,
            "`pipelining` is empty: use \"serial\", \"parallel\" or both in a list".into(),
        ));
    }
    Ok(unique)
}
