//! Scenario files: one workload, described in TOML, that the lab runs over every protocol.
//!
//! Parsing is "full recognition before processing": the whole file is read into raw structs
//! (unknown keys are errors), every value is checked, and only then is the workload expanded.
//! Every mistake becomes a `ScenarioError` that names the file, line and column and shows the
//! offending line with a caret, so a user can fix it without reading code.
//!
//! Besides the workload it owns the keys that shape it: client profiles (`profile`, see
//! `profile.rs`), list-valued client keys that expand into one *variant* per combination
//! (`profile = ["ie7", "chrome"]`, `tls_version = ["1.2", "1.3"]`, `resumption = [false,
//! true]`), the server's behaviours (`respond`, `request_timeout`, `max_connections`,
//! `keep_alive_timeout`, `max_requests_per_connection`, think-time distributions, see
//! `think.rs`) and page structure (`after`, with its missing-path and cycle checks). Command-line
//! overrides (`--set`) are applied to the text before parsing, in `overrides.rs`. It
//! deliberately does not run anything: the server and the harness act on what it validated.

use crate::network::{CongestionControl, NetworkSettings, RawNetwork};
use crate::profile::{self, Profile};
use crate::protocol::Protocol;
use crate::think::Think;
use crate::units::{HumanDuration, HumanSize};
use serde::de::{IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

pub use crate::think::MAX_THINK;

/// Largest number of connections per host a scenario may ask for (the `unlimited` profile's).
pub const MAX_CONNECTIONS_PER_HOST: u32 = profile::UNLIMITED_CONNECTIONS;
/// Connections per host when neither `profile` nor `max_connections_per_host` is set.
pub const DEFAULT_CONNECTIONS_PER_HOST: u32 = 6;
/// Largest `[server] max_connections` (the lab server never serves more at once).
pub const MAX_SERVER_CONNECTIONS: u32 = 1024;
/// Longest `request_timeout` and `keep_alive_timeout`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The seed of think-time draws when the scenario sets none: runs are repeatable by default.
pub const DEFAULT_SEED: u64 = 1;
/// Largest number of requests one scenario may expand to.
pub const MAX_REQUESTS: usize = 10_000;
/// Largest number of repetitions.
pub const MAX_REPEAT: u32 = 1_000;
/// Largest response body.
pub const MAX_RESPONSE_SIZE: u64 = 1_000_000_000;

/// A validated scenario, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub protocols: Vec<Protocol>,
    pub repeat: u32,
    pub client: ClientSettings,
    pub server: ServerSettings,
    /// The `[network]` table: the emulated link; `None` (no table) runs over plain loopback.
    pub network: Option<NetworkSettings>,
    /// The TCP congestion control of every socket of every run, with or without a link:
    /// `[network] congestion_control`, else cubic. Checked against the host's kernel with
    /// [`CongestionControl::check`].
    pub congestion_control: CongestionControl,
    /// Every resource, with `{i}` patterns expanded, in file order.
    pub resources: Vec<Resource>,
    /// Seed of the think-time draws (`seed`, default 1).
    pub seed: u64,
    /// One entry per combination of the list-valued client keys (`profile`, `tls_version`,
    /// `resumption`), in file order; empty when every one of them has a single value. `client`
    /// is then the first variant's settings.
    pub variants: Vec<ClientVariant>,
}

/// One combination of list-valued client keys: a run configuration of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientVariant {
    /// The values that differ from the other variants, joined by `-`: `"ie7"`,
    /// `"tls1.3-resumed"`.
    pub label: String,
    pub client: ClientSettings,
}

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
}

/// Chrome's HTTP/2 stream window (6 MiB), the default `h2_stream_window`.
pub const BROWSER_H2_STREAM_WINDOW: u32 = 6 * 1024 * 1024;
/// Chrome's HTTP/2 connection window (15 MiB), the default `h2_connection_window`.
pub const BROWSER_H2_CONNECTION_WINDOW: u32 = 15 * 1024 * 1024;
/// The largest window HTTP/2 allows (RFC 9113 §6.9.1).
pub const MAX_H2_WINDOW: u32 = (1 << 31) - 1;

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

/// Methods a resource may be requested with.
pub const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"];

/// Whether a method is idempotent (RFC 9110 §9.2.2): safe to resend after a lost connection and
/// to pipeline behind other requests.
pub fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
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

/// One resource the lab server serves and the workload requests once.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub path: String,
    /// The method the workload requests it with (default GET).
    pub method: String,
    /// Request body bytes the client uploads (default 0).
    pub request_body: u64,
    /// Response body size in bytes.
    pub size: u64,
    /// Mean server think time before the response head.
    pub think: Duration,
    /// How each request's think time is drawn (mean `think`).
    pub think_distribution: Think,
    pub status: u16,
    /// Whether the handler answers at all.
    pub respond: Respond,
    /// Longest the request may go unanswered, from its arrival (see `ServerSettings`).
    pub request_timeout: Option<Duration>,
    /// The path of the resource whose response must have fully arrived at the client before
    /// this one is requested (an HTML document before the subresources its parser finds).
    pub after: Option<String>,
}

/// One request of the workload, in the order the workload issues them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub id: u32,
    pub method: String,
    pub path: String,
    /// Request body bytes to upload.
    pub body_bytes: u64,
    /// Headers the workload adds to this request (the scenario's `cookie`), after the ones
    /// every client sends.
    pub headers: Vec<(String, String)>,
}

impl Scenario {
    /// Parses and validates a scenario; `file` is only used in error messages.
    pub fn parse(source: &str, file: &str) -> Result<Self, ScenarioError> {
        Self::parse_located(source, &|span, message| {
            ScenarioError::at(file, source, span, message)
        })
    }

    /// Parses `source` with command-line overrides (`--set client.profile=ie7`) applied to its
    /// text first. A mistake in the file is located in the file; one in an override names the
    /// override (see `overrides.rs`).
    pub fn parse_with_overrides(
        source: &str,
        file: &str,
        overrides: &[crate::overrides::Override],
    ) -> Result<Self, ScenarioError> {
        if overrides.is_empty() {
            return Self::parse(source, file);
        }
        let edited = crate::overrides::apply(source, file, overrides)?;
        Self::parse_located(&edited.text, &|span, message| {
            edited.locate(source, file, span, message)
        })
    }

    /// Parses and validates `source`, turning every mistake's byte span into an error with
    /// `locate`.
    fn parse_located(
        source: &str,
        locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
    ) -> Result<Self, ScenarioError> {
        let raw: RawScenario =
            toml::from_str(source).map_err(|e| locate(e.span(), e.message().to_string()))?;
        raw.validate(locate)
    }

    /// For each request of `requests()`, the index of the request it waits for (`after`).
    pub fn dependencies(&self) -> Vec<Option<usize>> {
        let index: HashMap<&str, usize> = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        self.resources
            .iter()
            .map(|r| r.after.as_deref().and_then(|p| index.get(p).copied()))
            .collect()
    }

    /// The scenario as variant `label` runs it: its client settings, no other variants.
    pub fn variant(&self, label: &str) -> Option<Scenario> {
        let variant = self.variants.iter().find(|v| v.label == label)?;
        Some(Scenario {
            client: variant.client.clone(),
            variants: Vec::new(),
            ..self.clone()
        })
    }

    /// Every variant as a scenario of its own, with its label; the scenario itself (label
    /// `None`) when it has no variants.
    pub fn variant_scenarios(&self) -> Vec<(Option<String>, Scenario)> {
        if self.variants.is_empty() {
            return vec![(None, self.clone())];
        }
        self.variants
            .iter()
            .filter_map(|v| Some((Some(v.label.clone()), self.variant(&v.label)?)))
            .collect()
    }

    /// The workload's requests: every resource once, in file order.
    pub fn requests(&self) -> Vec<RequestSpec> {
        self.resources
            .iter()
            .enumerate()
            .map(|(i, r)| RequestSpec {
                id: i as u32,
                method: r.method.clone(),
                path: r.path.clone(),
                body_bytes: r.request_body,
                headers: self.workload_headers(),
            })
            .collect()
    }

    /// Headers the workload adds to every request: a `cookie` of `[client] cookie` bytes.
    pub fn workload_headers(&self) -> Vec<(String, String)> {
        if self.client.cookie == 0 {
            return Vec::new();
        }
        // `session=` then letters: a plausible cookie of exactly the configured size.
        let prefix = "session=";
        let filler = (self.client.cookie as usize).saturating_sub(prefix.len());
        let value: String = prefix
            .chars()
            .chain((0..filler).map(|i| (b'a' + (i % 26) as u8) as char))
            .collect();
        vec![("cookie".to_string(), value)]
    }

    /// The resource served at `path`, if any.
    pub fn resource(&self, path: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.path == path)
    }

    /// Total response body bytes of one page load.
    pub fn page_bytes(&self) -> u64 {
        self.resources.iter().map(|r| r.size).sum()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    protocols: Option<Spanned<Vec<Spanned<String>>>>,
    repeat: Option<Spanned<u32>>,
    #[serde(default)]
    client: RawClient,
    #[serde(default)]
    server: RawServer,
    network: Option<Spanned<RawNetwork>>,
    #[serde(default)]
    resource: Vec<Spanned<RawResource>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawClient {
    profile: Option<Spanned<Listed<String>>>,
    max_connections_per_host: Option<Spanned<u32>>,
    tls: Option<bool>,
    pipeline_connections: Option<Spanned<u32>>,
    pipeline_depth: Option<Spanned<u32>>,
    tls_version: Option<Spanned<Listed<String>>>,
    resumption: Option<Spanned<Listed<bool>>>,
    h2_stream_window: Option<Spanned<HumanSize>>,
    h2_connection_window: Option<Spanned<HumanSize>>,
    cookie: Option<Spanned<HumanSize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    think: Option<Spanned<Think>>,
    respond: Option<Spanned<Respond>>,
    request_timeout: Option<Spanned<HumanDuration>>,
    max_connections: Option<Spanned<u32>>,
    keep_alive_timeout: Option<Spanned<HumanDuration>>,
    max_requests_per_connection: Option<Spanned<u32>>,
    pipelining: Option<Spanned<OneOrMany<PipeliningModel>>>,
    max_concurrent_streams: Option<Spanned<u32>>,
    h2_stream_window: Option<Spanned<HumanSize>>,
    max_frame_size: Option<Spanned<HumanSize>>,
}

/// A value written either alone or as a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// Like `OneOrMany`, but each list item keeps its own place in the file, so a bad item is
/// located exactly. (serde's untagged enums lose `Spanned`, hence the hand-written visitor.)
enum Listed<T> {
    One(T),
    Many(Vec<Spanned<T>>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Listed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListedVisitor<T> {
            type Value = Listed<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Listed<T>, E> {
                T::deserialize(v.into_deserializer()).map(Listed::One)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Listed<T>, E> {
                T::deserialize(v.into_deserializer()).map(Listed::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<T>>()? {
                    items.push(item);
                }
                Ok(Listed::Many(items))
            }
        }
        d.deserialize_any(ListedVisitor(PhantomData))
    }
}

/// Each value of a `Listed` key with where it is written; an empty list is a mistake.
fn listed_items<T: Clone>(
    value: &Spanned<Listed<T>>,
    key: &str,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<(T, Range<usize>)>, ScenarioError> {
    let items: Vec<(T, Range<usize>)> = match value.get_ref() {
        Listed::One(v) => vec![(v.clone(), value.span())],
        Listed::Many(list) => list
            .iter()
            .map(|v| (v.get_ref().clone(), v.span()))
            .collect(),
    };
    if items.is_empty() {
        return Err(err(
            value.span(),
            format!("`{key}` is an empty list: give one value or several"),
        ));
    }
    Ok(items)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    path: Spanned<String>,
    size: Option<Spanned<HumanSize>>,
    think: Option<Spanned<Think>>,
    respond: Option<Spanned<Respond>>,
    request_timeout: Option<Spanned<HumanDuration>>,
    after: Option<Spanned<String>>,
    status: Option<Spanned<u16>>,
    count: Option<Spanned<u32>>,
    method: Option<Spanned<String>>,
    body: Option<Spanned<HumanSize>>,
}

impl RawScenario {
    fn validate(
        self,
        locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
    ) -> Result<Scenario, ScenarioError> {
        let err = |span: Range<usize>, msg: String| locate(Some(span), msg);

        let name = self.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            return Err(err(
                self.name.span(),
                "`name` names the report folder: use letters, digits, '-', '_' and '.' only".into(),
            ));
        }

        let protocols = match self.protocols {
            None => Protocol::ALL.to_vec(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(err(
                        list.span(),
                        "`protocols` is empty: name at least one".into(),
                    ));
                }
                let mut out = Vec::new();
                for id in list.get_ref() {
                    let p: Protocol =
                        id.get_ref()
                            .parse()
                            .map_err(|e: crate::protocol::ProtocolError| {
                                err(id.span(), e.to_string())
                            })?;
                    if out.contains(&p) {
                        return Err(err(id.span(), format!("protocol `{p}` is listed twice")));
                    }
                    out.push(p);
                }
                out
            }
        };

        let repeat = match self.repeat {
            None => 3,
            Some(r) if (1..=MAX_REPEAT).contains(r.get_ref()) => *r.get_ref(),
            Some(r) => {
                return Err(err(
                    r.span(),
                    format!("`repeat` must be between 1 and {MAX_REPEAT}"),
                ))
            }
        };

        let mut profiles: Vec<&'static Profile> = Vec::new();
        if let Some(value) = &self.client.profile {
            for (name, span) in listed_items(value, "profile", &err)? {
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
        let max_connections_override = match &self.client.max_connections_per_host {
            None => None,
            Some(m) if (1..=MAX_CONNECTIONS_PER_HOST).contains(m.get_ref()) => {
                if profiles.len() > 1 {
                    return Err(err(
                        m.span(),
                        format!(
                            "`max_connections_per_host` overrides `profile`, so the {} profiles listed would all run with {} connections: remove one of the two keys",
                            profiles.len(),
                            m.get_ref()
                        ),
                    ));
                }
                Some(*m.get_ref())
            }
            Some(m) => {
                return Err(err(
                    m.span(),
                    format!("`max_connections_per_host` must be between 1 and {MAX_CONNECTIONS_PER_HOST} (browsers use 6; `profile = \"unlimited\"` is {MAX_CONNECTIONS_PER_HOST})"),
                ))
            }
        };
        let mut tls_versions: Vec<TlsVersion> = Vec::new();
        if let Some(value) = &self.client.tls_version {
            for (text, span) in listed_items(value, "tls_version", &err)? {
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
        let mut resumptions: Vec<bool> = Vec::new();
        if let Some(value) = &self.client.resumption {
            for (resume, span) in listed_items(value, "resumption", &err)? {
                if resumptions.contains(&resume) {
                    return Err(err(span, format!("resumption `{resume}` is listed twice")));
                }
                resumptions.push(resume);
            }
        }

        let in_range = |v: &Option<Spanned<u32>>, key: &str, default: u32| match v {
            None => Ok(default),
            Some(v) if (1..=MAX_REQUESTS as u32).contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(err(
                v.span(),
                format!("`{key}` must be between 1 and {MAX_REQUESTS}"),
            )),
        };
        let pipeline_connections =
            in_range(&self.client.pipeline_connections, "pipeline_connections", 1)?;
        let pipeline_depth = match &self.client.pipeline_depth {
            None => None,
            depth => Some(in_range(depth, "pipeline_depth", 1)?),
        };
        let pipelining = match self.server.pipelining {
            None => Vec::new(),
            Some(p) => {
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
                        "`pipelining` is empty: use \"serial\", \"parallel\" or both in a list"
                            .into(),
                    ));
                }
                unique
            }
        };

        let window = |v: &Option<Spanned<HumanSize>>, key: &str, default: u32| match v {
            None => Ok(default),
            Some(w) if (1..=u64::from(MAX_H2_WINDOW)).contains(&w.get_ref().0) => {
                Ok(w.get_ref().0 as u32)
            }
            Some(w) => Err(err(
                w.span(),
                format!("`{key}` must be between 1b and 2147483647b (2^31-1, RFC 9113 §6.9.1)"),
            )),
        };
        let h2_stream_window = window(
            &self.client.h2_stream_window,
            "h2_stream_window",
            BROWSER_H2_STREAM_WINDOW,
        )?;
        let h2_connection_window = window(
            &self.client.h2_connection_window,
            "h2_connection_window",
            BROWSER_H2_CONNECTION_WINDOW,
        )?;
        let server_h2_stream_window = window(
            &self.server.h2_stream_window,
            "h2_stream_window",
            1024 * 1024,
        )?;
        let cookie = match &self.client.cookie {
            None => 0,
            Some(c) if c.get_ref().0 <= 64 * 1024 => c.get_ref().0,
            Some(c) => {
                return Err(err(
                    c.span(),
                    "`cookie` may be at most 64kib (servers reject larger heads)".into(),
                ))
            }
        };
        let max_concurrent_streams = match &self.server.max_concurrent_streams {
            None => 100,
            Some(m) if *m.get_ref() >= 1 => *m.get_ref(),
            Some(m) => {
                return Err(err(
                    m.span(),
                    "`max_concurrent_streams` must be at least 1".into(),
                ))
            }
        };
        let max_frame_size = match &self.server.max_frame_size {
            None => 16_384,
            Some(f) if (16_384..=16_777_215).contains(&f.get_ref().0) => f.get_ref().0 as u32,
            Some(f) => {
                return Err(err(
                    f.span(),
                    "`max_frame_size` must be between 16384b and 16777215b (RFC 9113 §6.5.2)"
                        .into(),
                ))
            }
        };

        let (network, congestion_control) = match self.network {
            None => (None, CongestionControl::of(None, None, None, locate)),
            Some(n) => {
                let table = n.span();
                let key = n.get_ref().congestion_control_span();
                let network = n.into_inner().validate(table.clone(), &err)?;
                let cc = CongestionControl::of(Some(&network), key, Some(table), locate);
                (Some(network), cc)
            }
        };

        let default_think = self
            .server
            .think
            .as_ref()
            .map_or(Think::default(), |t| *t.get_ref());
        let timeout = |v: &Option<Spanned<HumanDuration>>, key: &str| match v {
            None => Ok(None),
            Some(t) if !t.get_ref().0.is_zero() && t.get_ref().0 <= MAX_TIMEOUT => {
                Ok(Some(t.get_ref().0))
            }
            Some(t) => Err(err(
                t.span(),
                format!(
                    "`{key}` must be above zero and at most {}s: leave it out for no limit",
                    MAX_TIMEOUT.as_secs()
                ),
            )),
        };
        let server_respond = self
            .server
            .respond
            .as_ref()
            .map(|r| (*r.get_ref(), r.span()));
        let server_request_timeout = timeout(&self.server.request_timeout, "request_timeout")?;
        let keep_alive_timeout = timeout(&self.server.keep_alive_timeout, "keep_alive_timeout")?;
        let max_connections = match &self.server.max_connections {
            None => None,
            Some(m) if (1..=MAX_SERVER_CONNECTIONS).contains(m.get_ref()) => Some(*m.get_ref()),
            Some(m) => {
                return Err(err(
                    m.span(),
                    format!("`max_connections` must be between 1 and {MAX_SERVER_CONNECTIONS}: connections beyond it wait, unaccepted, in the listen backlog"),
                ))
            }
        };
        let max_requests_per_connection = match &self.server.max_requests_per_connection {
            None => None,
            Some(m) if *m.get_ref() >= 1 => Some(*m.get_ref()),
            Some(m) => {
                return Err(err(
                    m.span(),
                    "`max_requests_per_connection` must be at least 1".into(),
                ))
            }
        };

        if self.resource.is_empty() {
            return Err(locate(
                None,
                "the scenario has no resources: add at least one [[resource]] table with a `path`"
                    .into(),
            ));
        }

        let mut resources: Vec<Resource> = Vec::new();
        // Where each resource's `after` is written, for the checks once all paths are known.
        let mut after_spans: Vec<Option<Range<usize>>> = Vec::new();
        for spanned in self.resource {
            let table_span = spanned.span();
            let raw = spanned.into_inner();
            let path = raw.path.get_ref();
            if !path.starts_with('/')
                || path
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '?')
            {
                return Err(err(
                    raw.path.span(),
                    "`path` must start with '/' and hold no spaces, '?' or '#'".into(),
                ));
            }
            let size = match &raw.size {
                None => 0,
                Some(s) if s.get_ref().0 <= MAX_RESPONSE_SIZE => s.get_ref().0,
                Some(s) => return Err(err(s.span(), "`size` may be at most 1gb".into())),
            };
            let think = raw.think.as_ref().map_or(default_think, |t| *t.get_ref());
            let (respond, respond_span) = match (&raw.respond, &server_respond) {
                (Some(r), _) => (*r.get_ref(), Some(r.span())),
                (None, Some((r, span))) => (*r, Some(span.clone())),
                (None, None) => (Respond::Always, None),
            };
            let request_timeout =
                timeout(&raw.request_timeout, "request_timeout")?.or(server_request_timeout);
            if respond == Respond::Never && request_timeout.is_none() {
                return Err(err(
                    respond_span.unwrap_or_else(|| table_span.clone()),
                    "a handler that never responds holds its connection (HTTP/2: its stream) until the server's `request_timeout`, and without one the run would never end: set `request_timeout` on the resource or in [server], e.g. \"500ms\" (Node's historical default was \"2m\")".into(),
                ));
            }
            let after = raw.after.as_ref().map(|a| (a.get_ref().clone(), a.span()));
            let status = match &raw.status {
                None => 200,
                Some(s)
                    if (200..=599).contains(s.get_ref())
                        && *s.get_ref() != 204
                        && *s.get_ref() != 304 =>
                {
                    *s.get_ref()
                }
                Some(s) => {
                    return Err(err(
                        s.span(),
                        "`status` must be a final status with a body: 200-599, not 204 or 304"
                            .into(),
                    ))
                }
            };
            let method = match &raw.method {
                None => "GET".to_string(),
                Some(m) if METHODS.contains(&m.get_ref().as_str()) => m.get_ref().clone(),
                Some(m) => {
                    return Err(err(
                        m.span(),
                        format!("`method` must be one of {}", METHODS.join(", ")),
                    ))
                }
            };
            let request_body = match &raw.body {
                None => 0,
                Some(b) if b.get_ref().0 > MAX_RESPONSE_SIZE => {
                    return Err(err(b.span(), "`body` may be at most 1gb".into()))
                }
                Some(b) if matches!(method.as_str(), "GET" | "HEAD") && b.get_ref().0 > 0 => {
                    return Err(err(b.span(), format!("a {method} request carries no body: set `method = \"POST\"` (or PUT) to upload")))
                }
                Some(b) => b.get_ref().0,
            };
            let has_pattern = path.contains("{i}");
            let expanded: Vec<String> = match (&raw.count, has_pattern) {
                (None, false) => vec![path.clone()],
                (Some(c), true) if *c.get_ref() >= 1 && (*c.get_ref() as usize) <= MAX_REQUESTS => {
                    (1..=*c.get_ref())
                        .map(|i| path.replace("{i}", &i.to_string()))
                        .collect()
                }
                (Some(c), true) => {
                    return Err(err(
                        c.span(),
                        format!("`count` must be between 1 and {MAX_REQUESTS}"),
                    ))
                }
                (Some(c), false) => return Err(err(
                    c.span(),
                    "`count` needs a `{i}` in `path` to number the copies, e.g. \"/img/{i}.png\""
                        .into(),
                )),
                (None, true) => {
                    return Err(err(
                        raw.path.span(),
                        "`path` has `{i}` but the resource has no `count`: add e.g. `count = 12`"
                            .into(),
                    ))
                }
            };
            for p in expanded {
                if resources.iter().any(|r| r.path == p) {
                    return Err(err(
                        table_span.clone(),
                        format!("path `{p}` is described twice"),
                    ));
                }
                resources.push(Resource {
                    path: p,
                    method: method.clone(),
                    request_body,
                    size,
                    think: think.mean(),
                    think_distribution: think,
                    status,
                    respond,
                    request_timeout,
                    after: after.as_ref().map(|(path, _)| path.clone()),
                });
                after_spans.push(after.as_ref().map(|(_, span)| span.clone()));
            }
            if resources.len() > MAX_REQUESTS {
                return Err(err(
                    table_span,
                    format!("the scenario expands to more than {MAX_REQUESTS} requests"),
                ));
            }
        }

        check_after(&resources, &after_spans, &err)?;

        let base = ClientSettings {
            profile: profiles.first().copied(),
            max_connections_per_host: DEFAULT_CONNECTIONS_PER_HOST,
            tls: self.client.tls.unwrap_or(false),
            pipeline_connections,
            pipeline_depth,
            tls_version: tls_versions.first().copied(),
            resumption: resumptions.first().copied().unwrap_or(false),
            h2_stream_window,
            h2_connection_window,
            cookie,
        };
        let mut variants = client_variants(
            &base,
            &profiles,
            &tls_versions,
            &resumptions,
            max_connections_override,
        );
        let client = variants[0].client.clone();
        if variants.len() == 1 {
            variants.clear();
        }

        Ok(Scenario {
            name,
            description: self.description.trim().to_string(),
            protocols,
            repeat,
            client,
            server: ServerSettings {
                think: default_think.mean(),
                think_distribution: default_think,
                respond: server_respond.map_or(Respond::Always, |(r, _)| r),
                request_timeout: server_request_timeout,
                max_connections,
                keep_alive_timeout,
                max_requests_per_connection,
                pipelining,
                max_concurrent_streams,
                h2_stream_window: server_h2_stream_window,
                max_frame_size,
            },
            network,
            congestion_control,
            resources,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            variants,
        })
    }
}

/// One client per combination of the list-valued keys, in file order (profile, then TLS
/// version, then resumption); labelled by the values of the keys that have more than one.
fn client_variants(
    base: &ClientSettings,
    profiles: &[&'static Profile],
    tls_versions: &[TlsVersion],
    resumptions: &[bool],
    max_connections_override: Option<u32>,
) -> Vec<ClientVariant> {
    fn or_none<T: Copy>(list: &[T]) -> Vec<Option<T>> {
        if list.is_empty() {
            vec![None]
        } else {
            list.iter().copied().map(Some).collect()
        }
    }
    let (profile_dim, tls_dim, resume_dim) = (
        or_none(profiles),
        or_none(tls_versions),
        or_none(resumptions),
    );
    let mut variants = Vec::new();
    for &profile in &profile_dim {
        for &tls_version in &tls_dim {
            for &resumption in &resume_dim {
                let mut label = Vec::new();
                if let (true, Some(p)) = (profile_dim.len() > 1, profile) {
                    label.push(p.name.to_string());
                }
                if let (true, Some(v)) = (tls_dim.len() > 1, tls_version) {
                    label.push(format!("tls{}", v.id()));
                }
                if let (true, Some(r)) = (resume_dim.len() > 1, resumption) {
                    label.push(if r { "resumed" } else { "full" }.to_string());
                }
                let max_connections_per_host = max_connections_override
                    .or(profile.map(|p| p.max_connections_per_host))
                    .unwrap_or(DEFAULT_CONNECTIONS_PER_HOST);
                variants.push(ClientVariant {
                    label: label.join("-"),
                    client: ClientSettings {
                        profile,
                        max_connections_per_host,
                        tls_version,
                        resumption: resumption.unwrap_or(false),
                        ..base.clone()
                    },
                });
            }
        }
    }
    variants
}

/// Every `after` names a resource of the scenario other than itself, and following `after`
/// from any resource never comes back to it.
fn check_after(
    resources: &[Resource],
    spans: &[Option<Range<usize>>],
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let index: HashMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();
    let target = |i: usize| {
        resources[i]
            .after
            .as_deref()
            .and_then(|p| index.get(p).copied())
    };
    for (i, resource) in resources.iter().enumerate() {
        let (Some(after), Some(span)) = (&resource.after, &spans[i]) else {
            continue;
        };
        match index.get(after.as_str()) {
            None => {
                return Err(err(
                    span.clone(),
                    format!(
                        "`after` names `{after}`, but no resource has that path: use the path of another [[resource]] as it is requested (with `{{i}}` expanded), e.g. \"{}\"",
                        resources[0].path
                    ),
                ))
            }
            Some(&j) if j == i => {
                return Err(err(
                    span.clone(),
                    format!("`{after}` cannot come `after` itself"),
                ))
            }
            Some(_) => {}
        }
        // Walk the chain from i; each resource has one `after`, so a cycle through i shows
        // up within `resources.len()` steps.
        let mut chain = vec![i];
        let mut at = i;
        while let Some(next) = target(at) {
            if next == i {
                let names: Vec<&str> = chain
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&k| resources[k].path.as_str())
                    .collect();
                return Err(err(
                    span.clone(),
                    format!(
                        "`after` makes a cycle: {}; each of these waits for the next, so none would ever be requested: remove one `after`",
                        names.join(" → ")
                    ),
                ));
            }
            if chain.contains(&next) || chain.len() > resources.len() {
                break;
            }
            chain.push(next);
            at = next;
        }
    }
    Ok(())
}

/// The summary of a scenario file: the first line of its opening comment block, without the
/// `#` and without a leading "name — ", e.g. "one page: an HTML document and twelve images".
pub fn comment_summary(source: &str) -> Option<String> {
    let first = source.lines().map(str::trim).find(|l| !l.is_empty())?;
    let text = first.strip_prefix('#')?.trim();
    let text = text
        .split_once(" — ")
        .or_else(|| text.split_once(" - "))
        .map_or(text, |(_, rest)| rest)
        .trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A mistake in a scenario file, located for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the mistake has no single place (e.g. a missing table).
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    /// The offending line and a caret under the mistake, ready to print.
    pub snippet: String,
}

impl ScenarioError {
    /// Locates `span` (byte offsets into `source`) and builds the message.
    pub fn at(file: &str, source: &str, span: Option<Range<usize>>, message: String) -> Self {
        let Some(span) = span else {
            return Self {
                file: file.to_string(),
                line: 0,
                column: 0,
                message,
                snippet: String::new(),
            };
        };
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let text = source[line_start..line_end].trim_end_matches('\r');
        let column = source[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let gutter = " ".repeat(line_no.to_string().len());
        let snippet = format!(
            "{gutter} |\n{line_no} | {text}\n{gutter} | {}{}",
            " ".repeat(column - 1),
            "^".repeat(width)
        );
        Self {
            file: file.to_string(),
            line: line_no,
            column,
            message,
            snippet,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}\n{}",
                self.file, self.line, self.column, self.message, self.snippet
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICKSTART: &str = r#"
name = "quickstart"
description = "One page: an HTML document and twelve images"
protocols = ["http1.0", "http1.1"]
repeat = 5
[client]
max_connections_per_host = 6
tls = true
[server]
think = "2ms"
[[resource]]
path = "/index.html"
size = "14kb"
[[resource]]
path = "/img/{i}.png"
count = 12
size = "8kb"
think = "5ms"
"#;

    #[test]
    fn quickstart_expands() {
        let s = Scenario::parse(QUICKSTART, "q.toml").unwrap();
        assert_eq!(s.resources.len(), 13);
        assert_eq!(s.resources[0].think, Duration::from_millis(2));
        assert_eq!(s.resources[12].path, "/img/12.png");
        assert_eq!(s.resources[12].size, 8_000);
        assert_eq!(s.resources[12].think, Duration::from_millis(5));
        assert_eq!(s.requests()[3].id, 3);
        assert!(s.client.tls);
        assert_eq!(s.repeat, 5);
    }

    fn error_of(src: &str) -> ScenarioError {
        Scenario::parse(src, "bad.toml").unwrap_err()
    }

    #[test]
    fn mistakes_are_located() {
        // (mistake, line, column, words the message must hold)
        let cases: &[(&str, usize, usize, &str)] = &[
            ("name = \"x\"\n[[resource]]\npath = \"/a\"\nsize = 12kb\n", 4, 8, "quoted"),
            ("name = \"x\"\n[client]\nmax_conections = 6\n[[resource]]\npath = \"/a\"\n", 3, 1, "unknown field"),
            ("name = \"x\"\n[[resource]]\npath = \"/a\"\nthink = \"5 parsecs\"\n", 4, 9, "not a duration"),
            ("name = \"x\"\nprotocols = [\"http1.1\", \"http3\"]\n[[resource]]\npath = \"/a\"\n", 2, 25, "unknown protocol"),
            ("name = \"x\"\n[[resource]]\npath = \"/img/{i}.png\"\n", 3, 8, "count"),
            ("name = \"x\"\n[client]\nmax_connections_per_host = 0\n[[resource]]\npath = \"/a\"\n", 3, 28, "between 1 and"),
            ("name = \"x\"\n[[resource]]\npath = \"a\"\n", 3, 8, "start with '/'"),
            ("name = \"x\"\nrepeat = \"five\"\n[[resource]]\npath = \"/a\"\n", 2, 10, "invalid type"),
        ];
        for (src, line, col, words) in cases {
            let e = error_of(src);
            assert_eq!((e.line, e.column), (*line, *col), "{e}");
            assert!(e.message.contains(words), "{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("bad.toml:{line}:{col}: ")),
                "{e}"
            );
            assert!(e.snippet.contains('^'), "{e}");
        }
    }

    #[test]
    fn pipelining_and_methods() {
        let s = Scenario::parse(
            "name = \"p\"\n[client]\npipeline_depth = 4\n[server]\npipelining = [\"serial\", \"parallel\"]\n[[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"2kb\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(
            s.server.pipelining,
            vec![PipeliningModel::Serial, PipeliningModel::Parallel]
        );
        assert_eq!(
            (s.client.pipeline_connections, s.client.pipeline_depth),
            (1, Some(4))
        );
        assert_eq!(s.requests()[0].body_bytes, 2_000);
        assert!(!is_idempotent(&s.requests()[0].method));
        let s = Scenario::parse(
            "name = \"p\"\n[server]\npipelining = \"parallel\"\n[[resource]]\npath = \"/a\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(s.server.pipelining, vec![PipeliningModel::Parallel]);
        let e = error_of(
            "name = \"x\"\n[server]\npipelining = \"eager\"\n[[resource]]\npath = \"/a\"\n",
        );
        assert_eq!(e.line, 3, "{e}");
        let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nbody = \"1kb\"\n");
        assert!(e.message.contains("carries no body"), "{e}");
        let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nmethod = \"BREW\"\n");
        assert!(e.message.contains("must be one of"), "{e}");
    }

    #[test]
    fn http2_and_tls_keys() {
        let s = Scenario::parse(
            "name = \"h\"\n[client]\ntls_version = \"1.2\"\nresumption = true\nh2_stream_window = \"64kib\"\ncookie = \"2kb\"\n\
             [server]\nmax_concurrent_streams = 4\nmax_frame_size = \"32kib\"\n[[resource]]\npath = \"/a\"\n",
            "h.toml",
        )
        .unwrap();
        assert_eq!(s.client.tls_version, Some(TlsVersion::Tls12));
        assert!(s.client.resumption);
        assert_eq!(s.client.h2_stream_window, 65_536);
        assert_eq!(s.client.h2_connection_window, BROWSER_H2_CONNECTION_WINDOW);
        assert_eq!(
            (s.server.max_concurrent_streams, s.server.max_frame_size),
            (4, 32_768)
        );
        let cookie = &s.requests()[0].headers[0];
        assert_eq!((cookie.0.as_str(), cookie.1.len()), ("cookie", 2_000));
        // Bad values are located like every other mistake.
        for (src, line, words) in [
            (
                "[client]\ntls_version = \"1.1\"\n",
                3,
                "unknown `tls_version`",
            ),
            ("[client]\ncookie = \"1mb\"\n", 3, "at most 64kib"),
            ("[client]\nh2_stream_window = \"3gb\"\n", 3, "2^31-1"),
            ("[server]\nmax_concurrent_streams = 0\n", 3, "at least 1"),
            ("[server]\nmax_frame_size = \"1kb\"\n", 3, "16384b"),
        ] {
            let e = error_of(&format!("name = \"x\"\n{src}[[resource]]\npath = \"/a\"\n"));
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains(words), "{e}");
        }
    }

    #[test]
    fn duplicates_and_empty() {
        let e =
            error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\n[[resource]]\npath = \"/a\"\n");
        assert!(e.message.contains("twice"), "{e}");
        let e = error_of("name = \"x\"\n");
        assert!(e.message.contains("no resources"), "{e}");
        let e = error_of("name = \"../etc\"\n[[resource]]\npath = \"/a\"\n");
        assert!(e.message.contains("report folder"), "{e}");
    }

    fn parse_ok(src: &str) -> Scenario {
        Scenario::parse(src, "ok.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn profiles_set_the_connection_cap_and_lists_make_variants() {
        let one = |client: &str| {
            parse_ok(&format!(
                "name = \"p\"\n[client]\n{client}\n[[resource]]\npath = \"/a\"\n"
            ))
        };
        assert_eq!(one("").client.max_connections_per_host, 6);
        assert_eq!(one("profile = \"ie7\"").client.max_connections_per_host, 2);
        assert_eq!(
            one("profile = \"unlimited\"")
                .client
                .max_connections_per_host,
            crate::profile::UNLIMITED_CONNECTIONS
        );
        let over = one("profile = \"ie11\"\nmax_connections_per_host = 4");
        assert_eq!(
            over.client.max_connections_per_host, 4,
            "the number overrides"
        );
        assert_eq!(over.client.profile.map(|p| p.name), Some("ie11"));
        assert!(over.variants.is_empty());

        let s = one("profile = [\"ie7\", \"chrome\", \"ie11\"]");
        let labels: Vec<(&str, u32)> = s
            .variants
            .iter()
            .map(|v| (v.label.as_str(), v.client.max_connections_per_host))
            .collect();
        assert_eq!(labels, [("ie7", 2), ("chrome", 6), ("ie11", 13)]);
        assert_eq!(s.client.max_connections_per_host, 2, "the first variant");
        let ie11 = s.variant("ie11").unwrap();
        assert_eq!(
            (ie11.client.max_connections_per_host, ie11.variants.len()),
            (13, 0)
        );
        assert_eq!(s.variant_scenarios().len(), 3);

        let s = one("tls_version = [\"1.2\", \"1.3\"]\nresumption = [false, true]");
        let labels: Vec<&str> = s.variants.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "tls1.2-full",
                "tls1.2-resumed",
                "tls1.3-full",
                "tls1.3-resumed"
            ]
        );
        let v = &s.variants[3].client;
        assert_eq!(
            (v.tls_version, v.resumption),
            (Some(TlsVersion::Tls13), true)
        );
        // A one-item list is a single value.
        assert!(one("profile = [\"safari\"]").variants.is_empty());

        for (client, words) in [
            (
                "profile = \"netscape\"",
                "unknown profile `netscape`: use one of ie7, ie8",
            ),
            ("profile = [\"ie7\", \"ie7\"]", "listed twice"),
            ("profile = []", "empty list"),
            (
                "profile = [\"ie7\", \"ie11\"]\nmax_connections_per_host = 6",
                "overrides `profile`",
            ),
            ("resumption = [true, true]", "listed twice"),
        ] {
            let e = error_of(&format!(
                "name = \"x\"\n[client]\n{client}\n[[resource]]\npath = \"/a\"\n"
            ));
            assert!(e.message.contains(words), "{client}: {e}");
            assert!(e.line >= 3, "{e}");
        }
        let e = error_of("name = \"x\"\n[client]\nprofile = [\"ie7\", \"mosaic\"]\n[[resource]]\npath = \"/a\"\n");
        assert_eq!((e.line, e.column), (3, 19), "the bad item itself: {e}");
    }

    #[test]
    fn server_behaviours() {
        let s = parse_ok(
            "name = \"b\"\nseed = 42\n[server]\nthink = \"uniform(10ms,30ms)\"\nrequest_timeout = \"2m\"\n\
             max_connections = 2\nkeep_alive_timeout = \"5s\"\nmax_requests_per_connection = 100\n\
             [[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"10kb\"\nrespond = \"never\"\n\
             request_timeout = \"500ms\"\n[[resource]]\npath = \"/a\"\nthink = \"exp(20ms)\"\n\
             [[resource]]\npath = \"/b\"\n",
        );
        assert_eq!(s.seed, 42);
        let sv = &s.server;
        assert_eq!(sv.think, Duration::from_millis(20), "the mean");
        assert_eq!(
            (sv.max_connections, sv.max_requests_per_connection),
            (Some(2), Some(100))
        );
        assert_eq!(sv.keep_alive_timeout, Some(Duration::from_secs(5)));
        let up = s.resource("/up").unwrap();
        assert_eq!(up.respond, Respond::Never);
        assert_eq!(up.request_timeout, Some(Duration::from_millis(500)));
        let a = s.resource("/a").unwrap();
        assert_eq!(
            a.think_distribution,
            Think::Exp {
                mean: Duration::from_millis(20)
            }
        );
        assert_eq!(
            a.request_timeout,
            Some(Duration::from_secs(120)),
            "from [server]"
        );
        let b = s.resource("/b").unwrap();
        assert_eq!(b.respond, Respond::Always);
        assert!(matches!(b.think_distribution, Think::Uniform { .. }));
        assert_eq!(
            parse_ok("name = \"d\"\n[[resource]]\npath = \"/a\"\n").seed,
            DEFAULT_SEED
        );

        for (src, line, col, words) in [
            (
                "[[resource]]\npath = \"/a\"\nrespond = \"sometimes\"\n",
                4,
                11,
                "unknown variant `sometimes`",
            ),
            (
                "[[resource]]\npath = \"/a\"\nrespond = \"never\"\n",
                4,
                11,
                "request_timeout",
            ),
            (
                "[server]\nrespond = \"never\"\n[[resource]]\npath = \"/a\"\n",
                3,
                11,
                "request_timeout",
            ),
            (
                "[server]\nrequest_timeout = \"0ms\"\n[[resource]]\npath = \"/a\"\n",
                3,
                19,
                "above zero",
            ),
            (
                "[server]\nmax_connections = 0\n[[resource]]\npath = \"/a\"\n",
                3,
                19,
                "backlog",
            ),
            (
                "[server]\nmax_requests_per_connection = 0\n[[resource]]\npath = \"/a\"\n",
                3,
                31,
                "at least 1",
            ),
            (
                "[[resource]]\npath = \"/a\"\nthink = \"uniform(9ms,1ms)\"\n",
                4,
                9,
                "low <= high",
            ),
            (
                "[[resource]]\npath = \"/a\"\nthink = \"gauss(1ms)\"\n",
                4,
                9,
                "normal(20ms,5ms)",
            ),
        ] {
            let e = error_of(&format!("name = \"x\"\n{src}"));
            assert_eq!((e.line, e.column), (line, col), "{src}: {e}");
            assert!(e.message.contains(words), "{src}: {e}");
        }
    }

    #[test]
    fn after_chains_missing_paths_and_cycles() {
        let s = parse_ok(
            "name = \"d\"\n[[resource]]\npath = \"/index.html\"\n[[resource]]\npath = \"/font.woff2\"\n\
             after = \"/style.css\"\n[[resource]]\npath = \"/style.css\"\nafter = \"/index.html\"\n\
             [[resource]]\npath = \"/img/{i}.png\"\ncount = 2\nafter = \"/index.html\"\n",
        );
        assert_eq!(s.dependencies(), [None, Some(2), Some(0), Some(0), Some(0)]);
        assert_eq!(s.resources[4].after.as_deref(), Some("/index.html"));

        let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\n[[resource]]\npath = \"/b\"\nafter = \"/index.html\"\n");
        assert_eq!((e.line, e.column), (6, 9), "{e}");
        assert!(e.message.contains("no resource has that path"), "{e}");
        let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nafter = \"/a\"\n");
        assert!(e.message.contains("itself"), "{e}");
        let e = error_of(
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nafter = \"/c\"\n[[resource]]\npath = \"/b\"\nafter = \"/a\"\n\
             [[resource]]\npath = \"/c\"\nafter = \"/b\"\n",
        );
        assert_eq!((e.line, e.column), (4, 9), "{e}");
        assert!(e.message.contains("cycle: /a → /c → /b → /a"), "{e}");
    }

    #[test]
    fn summaries_come_from_the_comment_block() {
        assert_eq!(
            comment_summary(
                "\n# quickstart — one page of 13 resources.\n#\n# more\nname = \"q\"\n"
            )
            .as_deref(),
            Some("one page of 13 resources.")
        );
        assert_eq!(
            comment_summary("# just words\n").as_deref(),
            Some("just words")
        );
        assert_eq!(comment_summary("name = \"q\"\n"), None);
    }
}
