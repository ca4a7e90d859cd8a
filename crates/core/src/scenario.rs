//! Scenario files: one workload, described in TOML, that the lab runs over every protocol.
//!
//! Parsing is "full recognition before processing": the whole file is read into raw structs
//! (unknown keys are errors), every value is checked, and only then is the workload expanded.
//! Every mistake becomes a `ScenarioError` that names the file, line and column and shows the
//! offending line with a caret, so a user can fix it without reading code.

use crate::network::{NetworkSettings, RawNetwork};
use crate::protocol::Protocol;
use crate::units::{HumanDuration, HumanSize};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Largest number of connections per host a scenario may ask for.
pub const MAX_CONNECTIONS_PER_HOST: u32 = 256;
/// Largest number of requests one scenario may expand to.
pub const MAX_REQUESTS: usize = 10_000;
/// Largest number of repetitions.
pub const MAX_REPEAT: u32 = 1_000;
/// Largest response body.
pub const MAX_RESPONSE_SIZE: u64 = 1_000_000_000;
/// Longest think time.
pub const MAX_THINK: Duration = Duration::from_secs(600);

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
    /// Every resource, with `{i}` patterns expanded, in file order.
    pub resources: Vec<Resource>,
}

/// The `[client]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// Connections a client keeps to one origin at most (browsers: 6).
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

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Think time for resources that do not set their own.
    pub think: Duration,
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
    /// Server think time before the response head.
    pub think: Duration,
    pub status: u16,
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
        let raw: RawScenario = toml::from_str(source)
            .map_err(|e| ScenarioError::at(file, source, e.span(), e.message().to_string()))?;
        raw.validate(source, file)
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
    max_connections_per_host: Option<Spanned<u32>>,
    tls: Option<bool>,
    pipeline_connections: Option<Spanned<u32>>,
    pipeline_depth: Option<Spanned<u32>>,
    tls_version: Option<TlsVersion>,
    resumption: Option<bool>,
    h2_stream_window: Option<Spanned<HumanSize>>,
    h2_connection_window: Option<Spanned<HumanSize>>,
    cookie: Option<Spanned<HumanSize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    think: Option<Spanned<HumanDuration>>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    path: Spanned<String>,
    size: Option<Spanned<HumanSize>>,
    think: Option<Spanned<HumanDuration>>,
    status: Option<Spanned<u16>>,
    count: Option<Spanned<u32>>,
    method: Option<Spanned<String>>,
    body: Option<Spanned<HumanSize>>,
}

impl RawScenario {
    fn validate(self, source: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let err =
            |span: Range<usize>, msg: String| ScenarioError::at(file, source, Some(span), msg);

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

        let max_connections_per_host = match self.client.max_connections_per_host {
            None => 6,
            Some(m) if (1..=MAX_CONNECTIONS_PER_HOST).contains(m.get_ref()) => *m.get_ref(),
            Some(m) => {
                return Err(err(
                    m.span(),
                    format!("`max_connections_per_host` must be between 1 and {MAX_CONNECTIONS_PER_HOST} (browsers use 6)"),
                ))
            }
        };

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

        let network = match self.network {
            None => None,
            Some(n) => {
                let table = n.span();
                Some(n.into_inner().validate(table, &err)?)
            }
        };

        let default_think = match self.server.think {
            None => Duration::ZERO,
            Some(t) => check_think(&t).map_err(|m| err(t.span(), m))?,
        };

        if self.resource.is_empty() {
            return Err(ScenarioError::at(
                file,
                source,
                None,
                "the scenario has no resources: add at least one [[resource]] table with a `path`"
                    .into(),
            ));
        }

        let mut resources: Vec<Resource> = Vec::new();
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
            let think = match &raw.think {
                None => default_think,
                Some(t) => check_think(t).map_err(|m| err(t.span(), m))?,
            };
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
                    think,
                    status,
                });
            }
            if resources.len() > MAX_REQUESTS {
                return Err(err(
                    table_span,
                    format!("the scenario expands to more than {MAX_REQUESTS} requests"),
                ));
            }
        }

        Ok(Scenario {
            name,
            description: self.description.trim().to_string(),
            protocols,
            repeat,
            client: ClientSettings {
                max_connections_per_host,
                tls: self.client.tls.unwrap_or(false),
                pipeline_connections,
                pipeline_depth,
                tls_version: self.client.tls_version,
                resumption: self.client.resumption.unwrap_or(false),
                h2_stream_window,
                h2_connection_window,
                cookie,
            },
            server: ServerSettings {
                think: default_think,
                pipelining,
                max_concurrent_streams,
                h2_stream_window: server_h2_stream_window,
                max_frame_size,
            },
            network,
            resources,
        })
    }
}

fn check_think(t: &Spanned<HumanDuration>) -> Result<Duration, String> {
    let d = t.get_ref().0;
    if d > MAX_THINK {
        Err(format!(
            "think time may be at most {}s",
            MAX_THINK.as_secs()
        ))
    } else {
        Ok(d)
    }
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
            ("[client]\ntls_version = \"1.1\"\n", 3, "unknown variant"),
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
}
