//! The `[[resource]]` tables: what the lab server serves and the workload requests — paths,
//! methods and request bodies, response sizes and statuses, think times, whether and how long
//! a handler answers, and `{i}` patterns that expand one table into `count` resources.
//!
//! It owns [`Resource`], the methods a resource may use, the limits on sizes and on how many
//! requests a scenario may expand to, and the validation of each table (errors located like
//! every other scenario mistake), with the `[server]` defaults applied. It deliberately leaves
//! `after` as written: whether it names a resource, and makes no cycle, is checked in
//! `after.rs` once every path is known.

use super::origins::Origin;
use super::raw::RawResource;
use super::server::{Respond, ServerTable};
use super::{limits, ScenarioError};
use crate::think::Think;
use crate::units::HumanSize;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Largest number of requests one scenario may expand to.
pub const MAX_REQUESTS: usize = 10_000;
/// Longest `delay` (as long as the longest think time).
pub const MAX_DELAY: Duration = crate::think::MAX_THINK;
/// Largest response body.
pub const MAX_RESPONSE_SIZE: u64 = 1_000_000_000;
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
    /// How long the client waits before requesting it: after `after`'s response has fully
    /// arrived, or after the page's start without `after`. A browser's parse or script time
    /// before it finds the resource (`httplab import` measures it from a HAR). Default 0.
    pub delay: Duration,
    /// The index of its origin in `Scenario::origins` (`origin`; default the first).
    pub origin: usize,
    /// The request's head, in bytes as HTTP/1.1 text (request line, header fields, the blank
    /// line: a HAR's `request.headersSize`): the client pads its request to it with an
    /// `x-httplab-pad` field. `None`: no padding.
    pub request_headers: Option<u64>,
    /// The response's head, likewise (`response.headersSize`): the server pads to it.
    pub response_headers: Option<u64>,
}

/// Largest `request_headers`: nginx's default buffer for a request's header lines
/// (`large_client_header_buffers 4 8k`) is 8 KiB each, and HTTP/2 servers commonly cap the
/// whole list at 16 KiB.
pub const MAX_REQUEST_HEADERS: u64 = 8 * 1024;
/// Largest `response_headers` (nginx's `proxy_buffer_size` grows to this for big heads; far
/// above a real page's, whose largest are a few kilobytes of `set-cookie` and CSP).
pub const MAX_RESPONSE_HEADERS: u64 = 32 * 1024;

/// Every resource, with `{i}` patterns expanded, in file order.
pub(crate) struct Resources {
    pub(crate) resources: Vec<Resource>,
    /// Where each resource's `after` is written, for the checks once all paths are known.
    pub(crate) after_spans: Vec<Option<Range<usize>>>,
    /// Each table, in file order: its resources and where its keys are written.
    pub(crate) tables: Vec<TableSpans>,
}

/// One `[[resource]]` table: the resources it expanded to (indices into `resources`) and where
/// the keys the later checks may blame are written.
pub(crate) struct TableSpans {
    pub(crate) resources: Range<usize>,
    pub(crate) path: Range<usize>,
    pub(crate) count: Option<Range<usize>>,
    pub(crate) size: Option<Range<usize>>,
}

/// Checks every `[[resource]]` table in file order and expands it; `server` gives the defaults
/// of the keys a resource leaves out. A scenario without resources is a mistake of the whole
/// file.
pub(crate) fn validate(
    tables: Vec<Spanned<RawResource>>,
    server: &ServerTable,
    origins: &[Origin],
    locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
) -> Result<Resources, ScenarioError> {
    let err = |span: Range<usize>, msg: String| locate(Some(span), msg);
    if tables.is_empty() {
        return Err(locate(
            None,
            "the scenario has no resources: add at least one [[resource]] table with a `path`"
                .into(),
        ));
    }

    let mut resources: Vec<Resource> = Vec::new();
    let mut after_spans: Vec<Option<Range<usize>>> = Vec::new();
    let mut spans: Vec<TableSpans> = Vec::new();
    for spanned in tables {
        let table_span = spanned.span();
        let raw = spanned.into_inner();
        let first = resources.len();
        let (mut resource, after_span) = check(&raw, &table_span, server, &err)?;
        resource.origin = super::origins::resolve(origins, raw.origin.as_ref(), &err)?;
        for p in expand(&raw, &err)? {
            if resources
                .iter()
                .any(|r| r.path == p && r.origin == resource.origin)
            {
                let on = match origins.len() {
                    1 => String::new(),
                    _ => format!(" on origin `{}`", origins[resource.origin].name),
                };
                return Err(err(
                    table_span.clone(),
                    format!("path `{p}` is described twice{on}"),
                ));
            }
            resources.push(Resource {
                path: p,
                ..resource.clone()
            });
            after_spans.push(after_span.clone());
        }
        if resources.len() > MAX_REQUESTS {
            return Err(err(
                table_span,
                format!("the scenario expands to more than {MAX_REQUESTS} requests"),
            ));
        }
        spans.push(TableSpans {
            resources: first..resources.len(),
            path: raw.path.span(),
            count: raw.count.as_ref().map(Spanned::span),
            size: raw.size.as_ref().map(Spanned::span),
        });
    }
    Ok(Resources {
        resources,
        after_spans,
        tables: spans,
    })
}

/// Checks every key of one table but `count`: the resource as written (its `path` unexpanded),
/// and where its `after` is written.
fn check(
    raw: &RawResource,
    table_span: &Range<usize>,
    server: &ServerTable,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(Resource, Option<Range<usize>>), ScenarioError> {
    let path = raw.path.get_ref();
    if !path.starts_with('/')
        || path.starts_with("//")
        || path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '?')
    {
        return Err(err(
            raw.path.span(),
            "`path` must start with one '/' and hold no spaces, '?' or '#'".into(),
        ));
    }
    let size = match &raw.size {
        None => 0,
        Some(s) if s.get_ref().0 <= MAX_RESPONSE_SIZE => s.get_ref().0,
        Some(s) => return Err(err(s.span(), "`size` may be at most 1gb".into())),
    };
    let defaults = &server.settings;
    let think = raw
        .think
        .as_ref()
        .map_or(defaults.think_distribution, |t| *t.get_ref());
    let (respond, respond_span) = match &raw.respond {
        Some(r) => (*r.get_ref(), Some(r.span())),
        None => (defaults.respond, server.respond_span.clone()),
    };
    let request_timeout =
        limits::timeout(&raw.request_timeout, "request_timeout", err)?.or(defaults.request_timeout);
    if respond == Respond::Never && request_timeout.is_none() {
        return Err(err(
            respond_span.unwrap_or_else(|| table_span.clone()),
            "a handler that never responds holds its connection (HTTP/2: its stream) until the server's `request_timeout`, and without one the run would never end: set `request_timeout` on the resource or in [server], e.g. \"500ms\" (Node's historical default was \"2m\")".into(),
        ));
    }
    let status = match &raw.status {
        None => 200,
        Some(s)
            if (200..=599).contains(s.get_ref()) && *s.get_ref() != 204 && *s.get_ref() != 304 =>
        {
            *s.get_ref()
        }
        Some(s) => {
            return Err(err(
                s.span(),
                "`status` must be a final status with a body: 200-599, not 204 or 304".into(),
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
    let delay = match &raw.delay {
        None => Duration::ZERO,
        Some(d) if d.get_ref().0 <= MAX_DELAY => d.get_ref().0,
        Some(d) => {
            return Err(err(
                d.span(),
                format!("`delay` may be at most {}s", MAX_DELAY.as_secs()),
            ))
        }
    };
    let head = |value: &Option<Spanned<HumanSize>>, key: &str, max: u64| match value {
        None => Ok(None),
        Some(v) if v.get_ref().0 <= max => Ok(Some(v.get_ref().0)),
        Some(v) => Err(err(
            v.span(),
            format!("`{key}` may be at most {}kib", max / 1024),
        )),
    };
    let request_headers = head(&raw.request_headers, "request_headers", MAX_REQUEST_HEADERS)?;
    let response_headers = head(
        &raw.response_headers,
        "response_headers",
        MAX_RESPONSE_HEADERS,
    )?;
    let resource = Resource {
        path: path.clone(),
        method,
        request_body,
        size,
        think: think.mean(),
        think_distribution: think,
        status,
        respond,
        request_timeout,
        after: raw.after.as_ref().map(|a| a.get_ref().clone()),
        delay,
        origin: 0,
        request_headers,
        response_headers,
    };
    Ok((resource, raw.after.as_ref().map(|a| a.span())))
}

/// The paths one table stands for: its `path`, or with `count` the `{i}` in it replaced by 1,
/// 2, … `count`.
fn expand(
    raw: &RawResource,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<String>, ScenarioError> {
    let path = raw.path.get_ref();
    let has_pattern = path.contains("{i}");
    match (&raw.count, has_pattern) {
        (None, false) => Ok(vec![path.clone()]),
        (Some(c), true) if *c.get_ref() >= 1 && (*c.get_ref() as usize) <= MAX_REQUESTS => Ok((1
            ..=*c.get_ref())
            .map(|i| path.replace("{i}", &i.to_string()))
            .collect()),
        (Some(c), true) => Err(err(
            c.span(),
            format!("`count` must be between 1 and {MAX_REQUESTS}"),
        )),
        (Some(c), false) => Err(err(
            c.span(),
            "`count` needs a `{i}` in `path` to number the copies, e.g. \"/img/{i}.png\"".into(),
        )),
        (None, true) => Err(err(
            raw.path.span(),
            "`path` has `{i}` but the resource has no `count`: add e.g. `count = 12`".into(),
        )),
    }
}
