//! A scenario file as written: the serde model TOML is read into before anything is checked.
//!
//! It owns the raw structs of the root table, `[client]`, `[server]`, each `[[origin]]` and
//! each `[[resource]]`
//! (unknown keys are errors, every value keeps its place in the file for error messages), and
//! the two shapes a key may take a value or a list in: [`OneOrMany`] and [`Listed`], whose items
//! keep their own places. It deliberately checks nothing beyond what serde and the unit types
//! check: each table's own file validates it. The `[network]` table's raw struct lives with the
//! rest of that table, in `network.rs`.

use super::server::{PipeliningModel, Respond, WriteMode};
use super::ScenarioError;
use crate::network::RawNetwork;
use crate::think::Think;
use crate::units::{HumanDuration, HumanRate, HumanSize};
use serde::de::{IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) seed: Option<u64>,
    pub(crate) protocols: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) repeat: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) client: RawClient,
    #[serde(default)]
    pub(crate) server: RawServer,
    pub(crate) network: Option<Spanned<RawNetwork>>,
    #[serde(default)]
    pub(crate) origin: Vec<Spanned<RawOrigin>>,
    #[serde(default)]
    pub(crate) resource: Vec<Spanned<RawResource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrigin {
    pub(crate) name: Spanned<String>,
    pub(crate) tls: Option<bool>,
    pub(crate) max_connections: Option<Spanned<u32>>,
    pub(crate) same_address_as: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    pub(crate) profile: Option<Spanned<Listed<String>>>,
    pub(crate) max_connections_per_host: Option<Spanned<u32>>,
    pub(crate) tls: Option<bool>,
    pub(crate) pipeline_connections: Option<Spanned<u32>>,
    pub(crate) pipeline_depth: Option<Spanned<u32>>,
    pub(crate) tls_version: Option<Spanned<Listed<String>>>,
    pub(crate) resumption: Option<Spanned<Listed<bool>>>,
    pub(crate) h2_stream_window: Option<Spanned<HumanSize>>,
    pub(crate) h2_connection_window: Option<Spanned<HumanSize>>,
    pub(crate) cookie: Option<Spanned<HumanSize>>,
    pub(crate) write: Option<WriteMode>,
    pub(crate) coalesce: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) think: Option<Spanned<Think>>,
    pub(crate) respond: Option<Spanned<Respond>>,
    pub(crate) request_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) max_connections: Option<Spanned<u32>>,
    pub(crate) keep_alive_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) max_requests_per_connection: Option<Spanned<u32>>,
    pub(crate) pipelining: Option<Spanned<OneOrMany<PipeliningModel>>>,
    pub(crate) max_concurrent_streams: Option<Spanned<u32>>,
    pub(crate) h2_stream_window: Option<Spanned<HumanSize>>,
    pub(crate) max_frame_size: Option<Spanned<HumanSize>>,
    pub(crate) write: Option<WriteMode>,
    pub(crate) request_head_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) body_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) min_body_rate: Option<Spanned<HumanRate>>,
    pub(crate) h2_idle_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) send_timeout: Option<Spanned<HumanDuration>>,
}

/// A value written either alone or as a list.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// Like `OneOrMany`, but each list item keeps its own place in the file, so a bad item is
/// located exactly. (serde's untagged enums lose `Spanned`, hence the hand-written visitor.)
pub(crate) enum Listed<T> {
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
pub(crate) fn listed_items<T: Clone>(
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
pub(crate) struct RawResource {
    pub(crate) path: Spanned<String>,
    pub(crate) size: Option<Spanned<HumanSize>>,
    pub(crate) think: Option<Spanned<Think>>,
    pub(crate) respond: Option<Spanned<Respond>>,
    pub(crate) request_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) after: Option<Spanned<String>>,
    pub(crate) delay: Option<Spanned<HumanDuration>>,
    pub(crate) status: Option<Spanned<u16>>,
    pub(crate) count: Option<Spanned<u32>>,
    pub(crate) method: Option<Spanned<String>>,
    pub(crate) body: Option<Spanned<HumanSize>>,
    pub(crate) origin: Option<Spanned<String>>,
    pub(crate) request_headers: Option<Spanned<HumanSize>>,
    pub(crate) response_headers: Option<Spanned<HumanSize>>,
}
