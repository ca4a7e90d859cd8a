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
    let on_cycle = on_cycle(resources.len(), &target);
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
        if on_cycle[i] {
            let mut names = vec![resource.path.as_str()];
            let mut at = i;
            while let Some(next) = target(at) {
                names.push(resources[next].path.as_str());
                if next == i {
                    break;
                }
                at = next;
            }
            return Err(err(
                span.clone(),
                format!(
                    "`after` makes a cycle: {}; each of these waits for the next, so none would ever be requested: remove one `after`",
                    names.join(" → ")
                ),
            ));
        }
    }
    Ok(())
}

/// Which resources lie on a cycle of `after`s, found in one pass over every chain (each
/// resource is walked once: an imported page of 10,000 resources may chain them all).
fn on_cycle(n: usize, target: &dyn Fn(usize) -> Option<usize>) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        No,
        OnThisWalk(usize),
        Done,
    }
    let mut seen = vec![Seen::No; n];
    let mut on_cycle = vec![false; n];
    let mut walk: Vec<usize> = Vec::new();
    for start in 0..n {
        walk.clear();
        let mut at = Some(start);
        while let Some(i) = at {
            match seen[i] {
                Seen::No => {
                    seen[i] = Seen::OnThisWalk(walk.len());
                    walk.push(i);
                    at = target(i);
                }
                Seen::OnThisWalk(from) => {
                    for &k in &walk[from..] {
                        on_cycle[k] = true;
                    }
                    break;
                }
                Seen::Done => break,
            }
        }
        for &k in &walk {
            seen[k] = Seen::Done;
        }
    }
    on_cycle
}
