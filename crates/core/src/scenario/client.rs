//! The `[client]` table: how the lab's client connects — its profile and connections per host,
//! TLS on HTTP/1.x, the TLS version and session resumption, pipelining, the HTTP/2 windows it
//! advertises and the cookie it sends.
//!
//! It owns [`ClientSettings`], the table's keys, their defaults and their validation (errors
//! located like every other scenario mistake). `profile`, `tls_version` and `resumption` may
//! be lists; this file checks each item and hands every list on, and `variants.rs` turns their
//! combinations into one client each. It deliberately does not connect anything (the protocol
//! crates and the harness do) nor hold the profiles' numbers (`profile.rs` does).

use super::error::{Stage, Staged};
use super::limits::h2_window;
use super::raw::{listed_items, RawClient};
use super::resources::MAX_REQUESTS;
use super::ScenarioError;
use crate::profile::{self, Profile};
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

/// Largest number of connections per host a scenario may ask for (the `unlimited` profile's).
pub(crate) const MAX_CONNECTIONS_PER_HOST: u32 = profile::UNLIMITED_CONNECTIONS;
/// Connections per host when neither `profile` nor `max_connections_per_host` is set.
pub(crate) const DEFAULT_CONNECTIONS_PER_HOST: u32 = 6;
/// Chrome's HTTP/2 stream window (6 MiB), the default `h2_stream_window`.
pub const BROWSER_H2_STREAM_WINDOW: u32 = 6 * 1024 * 1024;
/// Chrome's HTTP/2 connection window (15 MiB), the default `h2_connection_window`.
pub const BROWSER_H2_CONNECTION_WINDOW: u32 = 15 * 1024 * 1024;

/// The `[client]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// The profile named in `profile`, if any.
    pub profile: Option<&'static Profile>,
    /// Connections a client keeps to one origin at most: `max_connections_per_host`, else the
    /// profile's, else 6 (browsers).
    pub max_connections_per_host: u32,
    /// Whether the HTTP/1.x protocols run over TLS.
    pub tls: bool,
    /// Connections `http1.1-pipelined` spreads its requests over (default 1).
    pub pipeline_connections: u32,
    /// Requests in flight at most on one pipelined connection (`None`: all of them).
    pub pipeline_depth: Option<u32>,
    /// TLS version to insist on (`None`: negotiate, which picks 1.3).
    pub tls_version: Option<TlsVersion>,
    /// Whether later TLS connections of a run resume the first one's session.
    pub resumption: bool,
    /// HTTP/2 initial stream window the client advertises (SETTINGS_INITIAL_WINDOW_SIZE).
    pub h2_stream_window: u32,
    /// HTTP/2 connection window the client opens to (WINDOW_UPDATE on stream 0).
    pub h2_connection_window: u32,
    /// Bytes of a `cookie` header sent with every request (0: none): the repeated header
    /// HPACK compresses and HTTP/1.x sends in full each time.
    pub cookie: u64,
    /// How the client writes its HTTP/2 frames (default packed: the HEADERS of requests
    /// issued together leave in one write, as a browser's do).
    pub write: super::WriteMode,
    /// Whether the HTTP/2 client coalesces origins that share a server address onto one
    /// connection (the certificate covers every origin), as Chrome and Firefox do (default
    /// true; `coalesce = false` opens one connection per origin).
    pub coalesce: bool,
}

/// A TLS protocol version a scenario can insist on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    /// As scenario files write it: `"1.2"`, `"1.3"`.
    pub fn id(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

/// The `[client]` table, validated: the settings every variant shares, and the list-valued keys
/// each variant takes one value of.
pub(crate) struct ClientTable {
    /// The settings, with the first value of each list.
    pub(crate) base: ClientSettings,
    /// `profile`'s values in file order (empty: not written).
    pub(crate) profiles: Vec<&'static Profile>,
    /// `tls_version`'s values in file order (empty: not written).
    pub(crate) tls_versions: Vec<TlsVersion>,
    /// `resumption`'s values in file order (empty: not written).
    pub(crate) resumptions: Vec<bool>,
    /// `max_connections_per_host`, which overrides every profile's.
    pub(crate) max_connections_override: Option<u32>,
}

/// Checks every key of `[client]`, in the order of the table's stages (see [`Stage`]).
pub(crate) fn validate(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<ClientTable, Staged> {
    let connections = Stage::ClientConnections.tag();
    let profiles = profiles(raw, err).map_err(&connections)?;
    let max_connections_override =
        max_connections_override(raw, profiles.len(), err).map_err(&connections)?;
    let tls_versions = tls_versions(raw, err).map_err(&connections)?;
    let resumptions = resumptions(raw, err).map_err(&connections)?;
    let (pipeline_connections, pipeline_depth) = pipelines(raw, err).map_err(&connections)?;

    let windows = Stage::ClientH2Windows.tag();
    let h2_stream_window = h2_window(
        &raw.h2_stream_window,
        "h2_stream_window",
        BROWSER_H2_STREAM_WINDOW,
        err,
    )
    .map_err(&windows)?;
    let h2_connection_window = h2_window(
        &raw.h2_connection_window,
        "h2_connection_window",
        BROWSER_H2_CONNECTION_WINDOW,
        err,
    )
    .map_err(&windows)?;

    let cookie = cookie(raw, err).map_err(Stage::ClientCookie.tag())?;

    let base = ClientSettings {
        profile: profiles.first().copied(),
        max_connections_per_host: DEFAULT_CONNECTIONS_PER_HOST,
        tls: raw.tls.unwrap_or(false),
        pipeline_connections,
        pipeline_depth,
        tls_version: tls_versions.first().copied(),
        resumption: resumptions.first().copied().unwrap_or(false),
        h2_stream_window,
        h2_connection_window,
        cookie,
        write: raw.write.unwrap_or_default(),
        coalesce: raw.coalesce.unwrap_or(true),
    };
    Ok(ClientTable {
        base,
        profiles,
        tls_versions,
        resumptions,
        max_connections_override,
    })
}

/// `profile`: each a known profile, none twice.
fn profiles(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<&'static Profile>, ScenarioError> {
    let mut profiles: Vec<&'static Profile> = Vec::new();
    if let Some(value) = &raw.profile {
        for (name, span) in listed_items(value, "profile", err)? {
            let Some(found) = profile::find(&name) else {
                return Err(err(
                    span,
                    format!(
                        "unknown profile `{name}`: use one of {} (`httplab profiles` lists them with their sources)",
                        profile::names()
                    ),
                ));
            };
            if profiles.contains(&found) {
                return Err(err(span, format!("profile `{name}` is listed twice")));
            }
            profiles.push(found);
        }
    }
    Ok(profiles)
}

/// `max_connections_per_host`: in range, and not beside several profiles it would flatten.
fn max_connections_override(
    raw: &RawClient,
    profiles: usize,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Option<u32>, ScenarioError> {
    match &raw.max_connections_per_host {
        None => Ok(None),
        Some(m) if (1..=MAX_CONNECTIONS_PER_HOST).contains(m.get_ref()) => {
            if profiles > 1 {
                return Err(err(
                    m.span(),
                    format!(
                        "`max_connections_per_host` overrides `profile`, so the {} profiles listed would all run with {} connections: remove one of the two keys",
                        profiles,
                        m.get_ref()
                    ),
                ));
            }
            Ok(Some(*m.get_ref()))
        }
        Some(m) => Err(err(
            m.span(),
            format!("`max_connections_per_host` must be between 1 and {MAX_CONNECTIONS_PER_HOST} (browsers use 6; `profile = \"unlimited\"` is {MAX_CONNECTIONS_PER_HOST})"),
        )),
    }
}

/// `tls_version`: each "1.2" or "1.3", none twice.
fn tls_versions(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<TlsVersion>, ScenarioError> {
    let mut tls_versions: Vec<TlsVersion> = Vec::new();
    if let Some(value) = &raw.tls_version {
        for (text, span) in listed_items(value, "tls_version", err)? {
            let version = match text.trim() {
                "1.2" => TlsVersion::Tls12,
                "1.3" => TlsVersion::Tls13,
                other => {
                    return Err(err(
                        span,
                        format!("unknown `tls_version` `{other}`: use \"1.2\" or \"1.3\" (or a list of both)"),
                    ))
                }
            };
            if tls_versions.contains(&version) {
                return Err(err(span, format!("tls_version `{text}` is listed twice")));
            }
            tls_versions.push(version);
        }
    }
    Ok(tls_versions)
}

/// `resumption`: `true`, `false` or both, none twice.
fn resumptions(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<bool>, ScenarioError> {
    let mut resumptions: Vec<bool> = Vec::new();
    if let Some(value) = &raw.resumption {
        for (resume, span) in listed_items(value, "resumption", err)? {
            if resumptions.contains(&resume) {
                return Err(err(span, format!("resumption `{resume}` is listed twice")));
            }
            resumptions.push(resume);
        }
    }
    Ok(resumptions)
}

/// `pipeline_connections` (default 1) and `pipeline_depth` (default: no limit), each between
/// 1 and the most requests a scenario may have.
fn pipelines(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(u32, Option<u32>), ScenarioError> {
    let in_range = |v: &Option<Spanned<u32>>, key: &str, default: u32| match v {
        None => Ok(default),
        Some(v) if (1..=MAX_REQUESTS as u32).contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err(err(
            v.span(),
            format!("`{key}` must be between 1 and {MAX_REQUESTS}"),
        )),
    };
    let pipeline_connections = in_range(&raw.pipeline_connections, "pipeline_connections", 1)?;
    let pipeline_depth = match &raw.pipeline_depth {
        None => None,
        depth => Some(in_range(depth, "pipeline_depth", 1)?),
    };
    Ok((pipeline_connections, pipeline_depth))
}

/// `cookie`: at most 64 KiB (0, the default: no cookie).
fn cookie(
    raw: &RawClient,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<u64, ScenarioError> {
    match &raw.cookie {
        None => Ok(0),
        Some(c) if c.get_ref().0 <= 64 * 1024 => Ok(c.get_ref().0),
        Some(c) => Err(err(
            c.span(),
            "`cookie` may be at most 64kib (servers reject larger heads)".into(),
        )),
    }
}
