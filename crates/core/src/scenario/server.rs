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
use super::limits::{body_rate, bounded_timeout, h2_window, timeout};
use super::raw::{OneOrMany, RawServer};
use super::ScenarioError;
use crate::think::Think;
use serde::Deserialize;
use std::ops::Range;
use std::time::Duration;

/// Largest `[server] max_connections` (the lab server never serves more at once).
pub(crate) const MAX_SERVER_CONNECTIONS: u32 = 1024;
/// Default `request_head_timeout` (hyper's own default for reading a request head).
pub(crate) const DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `body_timeout`: the interval over which a request body's rate is judged.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `min_body_rate`, bytes per second (8 kbit/s).
pub(crate) const DEFAULT_MIN_BODY_RATE: u64 = 1000;
/// Default `h2_idle_timeout`.
pub(crate) const DEFAULT_H2_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `send_timeout`.
pub(crate) const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// An HTTP/1.x request head must be complete within this long from the connection's start
    /// (for TLS, the handshake's end) or from the end of the previous response; a cleartext
    /// connection's first bytes (h2c preface or request line) too. Default 30 s, or
    /// `keep_alive_timeout` when that is longer and this is not written.
    pub request_head_timeout: Duration,
    /// A request body must bring at least `min_body_rate × body_timeout` bytes in every
    /// `body_timeout` interval (or end within it); else the request is abandoned (HTTP/1.x: the
    /// connection closes; HTTP/2: the stream is reset). Default 30 s.
    pub body_timeout: Duration,
    /// The least request-body rate, in bytes per second (written in bits: default `8kbit`).
    /// 0: a body need only progress, a byte in every `body_timeout` — the default when the
    /// scenario's `[network]` limits the uplink's rate and the key is not written, since the
    /// lab's own uploads then go at the link's pace, however slow, and must not be abandoned.
    pub min_body_rate: u64,
    /// An HTTP/2 connection with no open stream for this long is sent GOAWAY and closed.
    /// Default 60 s.
    pub h2_idle_timeout: Duration,
    /// A response whose next bytes the client does not take for this long (its HTTP/2 window
    /// or its TCP window stays at zero) closes the connection. Default 60 s.
    pub send_timeout: Duration,
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
    /// Whether `min_body_rate` is written (else the default applies, which a rate-limited
    /// `[network]` uplink lowers: see `Scenario::parse`).
    pub(crate) min_body_rate_written: bool,
}

/// Checks every key of `[server]`, in the order of the table's stages (see [`Stage`]).
pub(crate) fn validate(
    mut raw: RawServer,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<ServerTable, Staged> {
    let pipelining =
        pipelining(raw.pipelining.take(), err).map_err(Stage::ServerPipelining.tag())?;
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
    let bounds = bounds(&raw, keep_alive_timeout, err).map_err(&connections)?;
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
    let min_body_rate_written = raw.min_body_rate.is_some();
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
            request_head_timeout: bounds.request_head_timeout,
            body_timeout: bounds.body_timeout,
            min_body_rate: bounds.min_body_rate,
            h2_idle_timeout: bounds.h2_idle_timeout,
            send_timeout: bounds.send_timeout,
        },
        respond_span: respond.map(|(_, span)| span),
        min_body_rate_written,
    })
}

/// The limits that bound every wait on a peer: `request_head_timeout`, `body_timeout`,
/// `min_body_rate`, `h2_idle_timeout`, `send_timeout`, each with its default. A written
/// `keep_alive_timeout` longer than a written `request_head_timeout` is a mistake (the wait for
/// the next head is bounded by both); when only `keep_alive_timeout` is written and it is longer
/// than 30 s, the head timeout follows it, so such a scenario's idle connections live as long as
/// they did before the head timeout existed.
fn bounds(
    raw: &RawServer,
    keep_alive_timeout: Option<Duration>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Bounds, ScenarioError> {
    let head_default = keep_alive_timeout.map_or(DEFAULT_REQUEST_HEAD_TIMEOUT, |k| {
        k.max(DEFAULT_REQUEST_HEAD_TIMEOUT)
    });
    let key = "request_head_timeout";
    let request_head_timeout = bounded_timeout(&raw.request_head_timeout, key, head_default, err)?;
    if let (Some(k), Some(h)) = (keep_alive_timeout, &raw.request_head_timeout) {
        if k > request_head_timeout {
            return Err(err(
                h.span(),
                format!(
                    "`request_head_timeout` ({}) is shorter than `keep_alive_timeout` ({}): the \
                     wait for the next request head is bounded by both; raise this or lower that",
                    crate::units::format_duration(request_head_timeout),
                    crate::units::format_duration(k)
                ),
            ));
        }
    }
    let body_timeout =
        bounded_timeout(&raw.body_timeout, "body_timeout", DEFAULT_BODY_TIMEOUT, err)?;
    let min_body_rate = body_rate(
        &raw.min_body_rate,
        "min_body_rate",
        DEFAULT_MIN_BODY_RATE,
        err,
    )?;
    let h2_idle_timeout = bounded_timeout(
        &raw.h2_idle_timeout,
        "h2_idle_timeout",
        DEFAULT_H2_IDLE_TIMEOUT,
        err,
    )?;
    let send_timeout =
        bounded_timeout(&raw.send_timeout, "send_timeout", DEFAULT_SEND_TIMEOUT, err)?;
    Ok(Bounds {
        request_head_timeout,
        body_timeout,
        min_body_rate,
        h2_idle_timeout,
        send_timeout,
    })
}

/// The validated limits of [`bounds`], as [`ServerSettings`] holds them.
struct Bounds {
    request_head_timeout: Duration,
    body_timeout: Duration,
    min_body_rate: u64,
    h2_idle_timeout: Duration,
    send_timeout: Duration,
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

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;
    use std::time::Duration;

    fn server(table: &str) -> Result<super::ServerSettings, String> {
        let toml = format!("name = \"s\"\n[server]\n{table}\n[[resource]]\npath = \"/a\"\n");
        Scenario::parse(&toml, "s.toml")
            .map(|s| s.server)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_bounds_have_defaults_long_beside_any_scenario_s_waits() {
        let s = server("").unwrap();
        assert_eq!(s.request_head_timeout, Duration::from_secs(30));
        assert_eq!(s.body_timeout, Duration::from_secs(30));
        assert_eq!(s.min_body_rate, 1000);
        assert_eq!(s.h2_idle_timeout, Duration::from_secs(60));
        assert_eq!(s.send_timeout, Duration::from_secs(60));
        let s = server(
            "request_head_timeout = \"2s\"\nbody_timeout = \"1s\"\nmin_body_rate = \"80kbit\"\n\
             h2_idle_timeout = \"3s\"\nsend_timeout = \"4s\"",
        )
        .unwrap();
        assert_eq!(
            (s.request_head_timeout, s.body_timeout, s.min_body_rate),
            (Duration::from_secs(2), Duration::from_secs(1), 10_000)
        );
        assert_eq!(
            (s.h2_idle_timeout, s.send_timeout),
            (Duration::from_secs(3), Duration::from_secs(4))
        );
        // Over a rate-limited uplink the default asks only for progress; a written rate holds.
        let over = |server: &str| {
            let toml = format!(
                "name = \"s\"\n[server]\n{server}\n[network]\nrtt = \"40ms\"\n\
                 uplink = \"56kbit\"\n[[resource]]\npath = \"/a\"\n"
            );
            Scenario::parse(&toml, "s.toml").map(|s| s.server.min_body_rate)
        };
        assert_eq!(over(""), Ok(0));
        assert_eq!(over("min_body_rate = \"16kbit\""), Ok(2000));
    }

    #[test]
    fn a_long_keep_alive_timeout_carries_the_head_timeout_with_it() {
        let s = server("keep_alive_timeout = \"90s\"").unwrap();
        assert_eq!(s.request_head_timeout, Duration::from_secs(90));
        let s = server("keep_alive_timeout = \"5s\"").unwrap();
        assert_eq!(s.request_head_timeout, Duration::from_secs(30));
        let e = server("keep_alive_timeout = \"10s\"\nrequest_head_timeout = \"5s\"").unwrap_err();
        assert!(e.contains("s.toml:4:24"), "{e}");
        assert!(e.contains("shorter than `keep_alive_timeout` (10"), "{e}");
    }

    #[test]
    fn out_of_range_bounds_are_located_with_their_limits() {
        for (line, key, words) in [
            (
                "request_head_timeout = \"0s\"",
                "request_head_timeout",
                "at most 3600s (default 30s)",
            ),
            (
                "body_timeout = \"120m\"",
                "body_timeout",
                "at most 3600s (default 30s)",
            ),
            (
                "h2_idle_timeout = \"0ms\"",
                "h2_idle_timeout",
                "(default 60s)",
            ),
            ("send_timeout = \"3601s\"", "send_timeout", "(default 60s)"),
            (
                "min_body_rate = \"4bit\"",
                "min_body_rate",
                "between 8bit (one byte a second) and 1gbit",
            ),
            ("min_body_rate = \"2gbit\"", "min_body_rate", "and 1gbit"),
        ] {
            let e = server(line).unwrap_err();
            assert!(e.contains("s.toml:3:"), "{line}: {e}");
            assert!(e.contains(&format!("`{key}`")), "{line}: {e}");
            assert!(e.contains(words), "{line}: {e}");
        }
    }
}
