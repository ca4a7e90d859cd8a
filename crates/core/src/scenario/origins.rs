//! The `[[origin]]` tables: the hosts a page's resources come from, as a real page's do (its
//! own host, a CDN, a font service, shards of one host).
//!
//! It owns [`Origin`], the validation of each table (a host name, TLS or not, an optional cap on
//! connections, and which origins share a server address), and the resolution of a resource's
//! `origin` key. A scenario without tables has one origin, `localhost`, as every scenario had
//! before origins existed. It deliberately serves and connects nothing: the lab gives each
//! address its own server address, and the clients keep their pools per origin.

use super::client::MAX_CONNECTIONS_PER_HOST;
use super::raw::RawOrigin;
use super::ScenarioError;
use std::ops::Range;
use toml::Spanned;

/// The origin of a scenario without `[[origin]]` tables.
pub const DEFAULT_ORIGIN: &str = "localhost";
/// Most origins a scenario may name: each address is one of the lab's server addresses (a /24
/// on the link), and a page of more is past what a replay of it teaches.
pub const MAX_ORIGINS: usize = 64;
/// Longest host name (RFC 1035: 253 characters in text form, 63 per label).
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// One origin: a host the client connects to, with its own connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The host name: the `Host` header and `:authority`, the name TLS verifies, and how the
    /// client tells origins apart (names resolve from the scenario, never from real DNS).
    pub name: String,
    /// Whether its scheme is https (HTTP/1.x over TLS); default `[client] tls`. h2 runs use TLS
    /// to every origin and h2c runs none, as a single origin always has.
    pub tls: bool,
    /// Connections the client keeps to it at most; `None`: the client's
    /// `max_connections_per_host`.
    pub max_connections: Option<u32>,
    /// Its server address, numbered from 0 in order of first use: origins with one number
    /// resolve to one address (`same_address_as`), which lets an HTTP/2 client coalesce them
    /// onto one connection, as Chrome and Firefox do when the certificate covers both names.
    pub address: usize,
}

impl Origin {
    /// The origin of a scenario without `[[origin]]` tables.
    pub(crate) fn default_for(tls: bool) -> Origin {
        Origin {
            name: DEFAULT_ORIGIN.to_string(),
            tls,
            max_connections: None,
            address: 0,
        }
    }
}

/// Checks every `[[origin]]` table; `tls` is `[client] tls`, the default scheme.
pub(crate) fn validate(
    tables: &[Spanned<RawOrigin>],
    tls: bool,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<Vec<Origin>, ScenarioError> {
    if tables.is_empty() {
        return Ok(vec![Origin::default_for(tls)]);
    }
    if tables.len() > MAX_ORIGINS {
        return Err(err(
            tables[MAX_ORIGINS].span(),
            format!("a scenario may name at most {MAX_ORIGINS} origins"),
        ));
    }
    let mut origins: Vec<Origin> = Vec::with_capacity(tables.len());
    for table in tables {
        let raw = table.get_ref();
        let name = host_name(&raw.name, err)?;
        if origins.iter().any(|o| o.name == name) {
            return Err(err(
                raw.name.span(),
                format!("origin `{name}` is named twice"),
            ));
        }
        let max_connections = match &raw.max_connections {
            None => None,
            Some(m) if (1..=MAX_CONNECTIONS_PER_HOST).contains(m.get_ref()) => Some(*m.get_ref()),
            Some(m) => {
                return Err(err(
                    m.span(),
                    format!(
                        "an origin's `max_connections` must be between 1 and \
                         {MAX_CONNECTIONS_PER_HOST} (browsers keep 6 per origin)"
                    ),
                ))
            }
        };
        origins.push(Origin {
            name,
            tls: raw.tls.unwrap_or(tls),
            max_connections,
            address: usize::MAX,
        });
    }
    // Addresses: an origin shares the address of the one it names, else has its own.
    let mut next = 0;
    for (i, table) in tables.iter().enumerate() {
        let address = match &table.get_ref().same_address_as {
            None => {
                next += 1;
                next - 1
            }
            Some(other) => {
                let Some(j) = origins
                    .iter()
                    .position(|o| o.name == normal(other.get_ref()))
                else {
                    return Err(err(
                        other.span(),
                        format!(
                            "`same_address_as` names `{}`, which is no origin of the scenario: \
                             name one of {}",
                            other.get_ref(),
                            names(&origins)
                        ),
                    ));
                };
                if j >= i {
                    return Err(err(
                        other.span(),
                        "`same_address_as` names an origin written earlier in the file, \
                         whose address this one shares"
                            .into(),
                    ));
                }
                origins[j].address
            }
        };
        origins[i].address = address;
    }
    Ok(origins)
}

/// A resource's `origin`: the index of the origin it names, the first without the key.
pub(crate) fn resolve(
    origins: &[Origin],
    key: Option<&Spanned<String>>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<usize, ScenarioError> {
    let Some(key) = key else {
        return Ok(0);
    };
    origins
        .iter()
        .position(|o| o.name == normal(key.get_ref()))
        .ok_or_else(|| {
            err(
                key.span(),
                format!(
                    "`origin` names `{}`, but the scenario has no such [[origin]]: name one of {}",
                    key.get_ref(),
                    names(origins)
                ),
            )
        })
}

/// A host name as the scenario keeps it: lowercase, without a trailing dot.
fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn names(origins: &[Origin]) -> String {
    origins
        .iter()
        .map(|o| format!("\"{}\"", o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A host name as DNS writes it: dot-separated labels of letters, digits and '-', none
/// starting or ending with '-', lowercased; not an IP address (the lab gives each origin its
/// address).
fn host_name(
    value: &Spanned<String>,
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<String, ScenarioError> {
    let name = normal(value.get_ref());
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > MAX_NAME || !name.split('.').all(label_ok) {
        return Err(err(
            value.span(),
            "an origin's `name` is a host name, e.g. \"static.example.com\": letters, digits \
             and '-' in dot-separated labels (no scheme, port or path)"
                .into(),
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(err(
            value.span(),
            "an origin's `name` is a host name, not an address: the lab gives every origin an \
             address of its own (`same_address_as` shares one)"
                .into(),
        ));
    }
    Ok(name)
}

impl super::Scenario {
    /// How many server addresses the origins use (at least 1).
    pub fn address_count(&self) -> usize {
        self.origins
            .iter()
            .map(|o| o.address + 1)
            .max()
            .unwrap_or(1)
    }

    /// Every origin's host name, in order (what the lab's certificate must cover).
    pub fn origin_names(&self) -> Vec<String> {
        self.origins.iter().map(|o| o.name.clone()).collect()
    }
}
