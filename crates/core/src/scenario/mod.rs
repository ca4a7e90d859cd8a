//! Scenario files: one workload, described in TOML, that the lab runs over every protocol.
//!
//! Parsing is "full recognition before processing": the whole file is read into raw structs
//! (unknown keys are errors), every value is checked, and only then is the workload expanded.
//! Every mistake becomes a `ScenarioError` that names the file, line and column and shows the
//! offending line with a caret, so a user can fix it without reading code.
//!
//! This module owns [`Scenario`], the parse entry points and the root table's own keys (`name`,
//! `description`, `protocols`, `repeat`, `seed`); it validates each table with that table's own
//! file and assembles the result. One concern per file:
//! - `raw.rs`: the file as serde reads it;
//! - `client.rs`: `[client]` (profiles, see `profile.rs`; TLS; pipelining; HTTP/2 windows;
//!   cookie), and `variants.rs`: its list-valued keys (`profile = ["ie7", "chrome"]`,
//!   `tls_version = ["1.2", "1.3"]`, `resumption = [false, true]`) as one variant per
//!   combination;
//! - `server.rs`: `[server]` (the server's behaviours: `respond`, timeouts, connection limits,
//!   pipelining models, HTTP/2 settings, think-time distributions, see `think.rs`);
//! - `network.rs` (beside this module): `[network]`, the emulated link;
//! - `origins.rs`: `[[origin]]` tables, the hosts a page's resources come from;
//! - `resources.rs`: `[[resource]]` tables and their `{i}` expansion; `after.rs`: page
//!   structure (`after`, with its missing-path and cycle checks);
//! - `heads.rs`: each request's head (path, cookie) against the clients' and servers' limits;
//! - `budget/`: what running the scenario will cost, and the limits past which the lab refuses;
//! - `limits.rs`: checks of values several tables share; `error.rs`: located errors, and which
//!   of several is reported first; `workload.rs`: the requests a scenario makes;
//!   `summary.rs`: a file's one-line summary.
//!
//! Command-line overrides (`--set`) are applied to the text before parsing, in `overrides.rs`.
//! It deliberately does not run anything: the server and the harness act on what it validated.

mod after;
pub mod budget;
mod client;
mod error;
mod heads;
mod limits;
mod origins;
mod raw;
mod resources;
mod server;
mod summary;
mod variants;
mod workload;

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod origin_tests;
#[cfg(test)]
mod tests;

pub use budget::{refusal, Budget, BudgetKeys, Limit};
pub use client::{
    ClientSettings, TlsVersion, BROWSER_H2_CONNECTION_WINDOW, BROWSER_H2_STREAM_WINDOW,
};
pub use error::ScenarioError;
pub use heads::{longest_path, H2_MAX_HEADER_LIST, MAX_URI, PIPELINING_MAX_HEAD};
pub use origins::{Origin, DEFAULT_ORIGIN, MAX_ORIGINS};
pub use resources::{
    is_idempotent, Resource, MAX_DELAY, MAX_REQUESTS, MAX_REQUEST_HEADERS, MAX_RESPONSE_HEADERS,
    MAX_RESPONSE_SIZE, METHODS,
};
pub use server::{PipeliningModel, Respond, ServerSettings, WriteMode};
pub use summary::comment_summary;
pub use variants::ClientVariant;
pub use workload::RequestSpec;

use crate::network::{CongestionControl, NetworkSettings, RawNetwork};
use crate::protocol::Protocol;
pub(crate) use error::LineStarts;
use error::{first_mistake, Stage};
use raw::RawScenario;
use resources::Resources;
use std::ops::Range;
use toml::Spanned;

/// The seed of think-time draws when the scenario sets none: runs are repeatable by default.
pub(crate) const DEFAULT_SEED: u64 = 1;
/// Largest number of repetitions.
pub const MAX_REPEAT: u32 = 1_000;

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
    /// The hosts the page's resources come from (`[[origin]]` tables), at least one: without
    /// tables, `localhost`.
    pub origins: Vec<Origin>,
    /// Every resource, with `{i}` patterns expanded, in file order.
    pub resources: Vec<Resource>,
    /// Seed of the think-time draws (`seed`, default 1).
    pub seed: u64,
    /// One entry per combination of the list-valued client keys (`profile`, `tls_version`,
    /// `resumption`), in file order; empty when every one of them has a single value. `client`
    /// is then the first variant's settings.
    pub variants: Vec<ClientVariant>,
    /// Where `repeat` and each resource table's `count` and `size` are written: the budget's
    /// refusals point there.
    pub budget_keys: BudgetKeys,
}

impl Scenario {
    /// With h3 among the protocols (as chosen last: `--protocols` may change them), checks the
    /// congestion control against QUIC's (see [`CongestionControl::check_quic`]).
    pub fn check_quic(&self) -> Result<(), ScenarioError> {
        if self.protocols.iter().any(|p| p.is_quic()) {
            self.congestion_control.check_quic()?;
        }
        Ok(())
    }

    /// Parses and validates a scenario; `file` is only used in error messages.
    pub fn parse(source: &str, file: &str) -> Result<Self, ScenarioError> {
        let lines = error::LineStarts::new(source);
        Self::parse_located(source, &|span, message| {
            ScenarioError::at_in(file, source, &lines, span, message)
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
        let raw: RawScenario = toml::from_str(source).map_err(|e| match e.span() {
            Some(span) => locate(Some(span), e.message().to_string()),
            None => match error::deep_key(source) {
                Some((span, parts)) => locate(
                    Some(span),
                    format!(
                        "this key nests {parts} levels deep, and the TOML reader stops at {} \
                         (a scenario's keys nest at most 3, e.g. `network.rtt` or \
                         `[[resource]]` `path`): remove the extra `.` parts",
                        error::TOML_NESTING_LIMIT
                    ),
                ),
                None => locate(None, e.message().to_string()),
            },
        })?;
        raw.validate(locate)
    }
}

impl RawScenario {
    /// Checks the root table's keys, then `[client]`, `[server]` and `[network]` (each on its
    /// own; of mistakes in several, the first by [`Stage`] is reported), then the resources and
    /// their `after`s, and assembles the scenario.
    fn validate(
        self,
        locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
    ) -> Result<Scenario, ScenarioError> {
        let err = |span: Range<usize>, msg: String| locate(Some(span), msg);

        let name = name(&self.name, &err)?;
        let protocols = protocols(self.protocols, &err)?;
        let repeat_key = self
            .repeat
            .as_ref()
            .map(|r| locate(Some(r.span()), String::new()));
        let repeat = repeat(self.repeat, &err)?;
        let cookie_span = self.client.cookie.as_ref().map(Spanned::span);

        let (client, mut server, (network, congestion_control)) = first_mistake(
            client::validate(&self.client, &err),
            server::validate(self.server, &err),
            network(self.network, locate, &err).map_err(Stage::Network.tag()),
        )?;
        // Over a rate-limited uplink the lab's own uploads go at the link's pace: nine uploads
        // sharing 56 kbit/s make 6 kbit/s each, below the default least body rate, and would
        // be abandoned. Unless the scenario sets a rate, a body there need only progress.
        if !server.min_body_rate_written && network.as_ref().is_some_and(|n| n.uplink.is_some()) {
            server.settings.min_body_rate = 0;
        }

        let origins = origins::validate(&self.origin, client.base.tls, &err)?;
        let Resources {
            resources,
            after_spans,
            tables,
        } = resources::validate(self.resource, &server, &origins, locate)?;
        after::check_after(&resources, &origins, &after_spans, &err)?;
        let pipelining = !server.settings.pipelining.is_empty();
        heads::check(
            &protocols,
            pipelining,
            client.base.cookie,
            &resources,
            cookie_span,
            &tables,
            &err,
        )?;
        let place = |span: &Range<usize>| locate(Some(span.clone()), String::new());
        let budget_keys = BudgetKeys {
            repeat: repeat_key,
            tables: tables
                .iter()
                .map(|t| budget::TableKeys {
                    resources: t.resources.clone(),
                    path: place(&t.path),
                    count: t.count.as_ref().map(place),
                    size: t.size.as_ref().map(place),
                })
                .collect(),
        };

        let (client, variants) = variants::split(&client);
        Ok(Scenario {
            name,
            description: self.description.trim().to_string(),
            protocols,
            repeat,
            client,
            server: server.settings,
            network,
            congestion_control,
            origins,
            resources,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            variants,
            budget_keys,
        })
    }
}

/// `name`, trimmed: it names the report folder, so letters, digits, '-', '_' and '.' only, and
/// no leading '.'.
fn name(
    value: &Spanned<String>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<String, ScenarioError> {
    let name = value.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(err(
            value.span(),
            "`name` names the report folder: use letters, digits, '-', '_' and '.' only".into(),
        ));
    }
    Ok(name)
}

/// `protocols`: known ids, each once, at least one; every protocol when not written.
fn protocols(
    value: Option<Spanned<Vec<Spanned<String>>>>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<Protocol>, ScenarioError> {
    let Some(list) = value else {
        return Ok(Protocol::ALL.to_vec());
    };
    if list.get_ref().is_empty() {
        return Err(err(
            list.span(),
            "`protocols` is empty: name at least one".into(),
        ));
    }
    let mut out = Vec::new();
    for id in list.get_ref() {
        let p: Protocol = id
            .get_ref()
            .parse()
            .map_err(|e: crate::protocol::ProtocolError| err(id.span(), e.to_string()))?;
        if out.contains(&p) {
            return Err(err(id.span(), format!("protocol `{p}` is listed twice")));
        }
        out.push(p);
    }
    Ok(out)
}

/// `repeat`: 1 to [`MAX_REPEAT`], default 3.
fn repeat(
    value: Option<Spanned<u32>>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<u32, ScenarioError> {
    match value {
        None => Ok(3),
        Some(r) if (1..=MAX_REPEAT).contains(r.get_ref()) => Ok(*r.get_ref()),
        Some(r) => Err(err(
            r.span(),
            format!("`repeat` must be between 1 and {MAX_REPEAT}"),
        )),
    }
}

/// The `[network]` table, validated in `network.rs` (`None`: no table), and the congestion
/// control the scenario's sockets use with or without it.
fn network(
    table: Option<Spanned<RawNetwork>>,
    locate: &dyn Fn(Option<Range<usize>>, String) -> ScenarioError,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(Option<NetworkSettings>, CongestionControl), ScenarioError> {
    let Some(n) = table else {
        return Ok((None, CongestionControl::of(None, None, None, locate)));
    };
    let table = n.span();
    let key = n.get_ref().congestion_control_span();
    let network = n.into_inner().validate(table.clone(), err)?;
    let cc = CongestionControl::of(Some(&network), key, Some(table), locate);
    Ok((Some(network), cc))
}
