//! Client variants: one run configuration per combination of the list-valued `[client]` keys
//! (`profile = ["ie7", "chrome"]`, `tls_version = ["1.2", "1.3"]`, `resumption = [false,
//! true]`), each labelled by the values that differ.
//!
//! It owns [`ClientVariant`], the expansion of a validated `[client]` table into variants, and
//! the views of a scenario as one of them. It deliberately checks nothing (`client.rs` has
//! validated every value) and runs nothing: the harness runs each variant as a scenario of its
//! own.

use super::client::{ClientSettings, ClientTable, TlsVersion, DEFAULT_CONNECTIONS_PER_HOST};
use super::Scenario;
use crate::profile::Profile;

/// One combination of list-valued client keys: a run configuration of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientVariant {
    /// The values that differ from the other variants, joined by `-`: `"ie7"`,
    /// `"tls1.3-resumed"`.
    pub label: String,
    pub client: ClientSettings,
}

impl Scenario {
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
}

/// The scenario's `client` (the first variant's settings) and its `variants` (empty when every
/// list-valued key has a single value).
pub(crate) fn split(table: &ClientTable) -> (ClientSettings, Vec<ClientVariant>) {
    let mut variants = client_variants(
        &table.base,
        &table.profiles,
        &table.tls_versions,
        &table.resumptions,
        table.max_connections_override,
    );
    let client = variants[0].client.clone();
    if variants.len() == 1 {
        variants.clear();
    }
    (client, variants)
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
