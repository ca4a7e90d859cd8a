//! Page structure: `after`, the resource whose response must have fully arrived before another
//! is requested (an HTML document before the subresources its parser finds).
//!
//! It owns the checks that need every path of the scenario at once — `after` names a resource
//! other than itself, and following `after` never comes back to where it started — and the
//! index form the harness schedules by ([`Scenario::dependencies`]). It deliberately schedules
//! nothing: the harness's workload waits for each request's parent.

use super::{Resource, Scenario, ScenarioError};
use std::collections::HashMap;
use std::ops::Range;

impl Scenario {
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
}

/// Every `after` names a resource of the scenario other than itself, and following `after`
/// from any resource never comes back to it.
pub(crate) fn check_after(
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
