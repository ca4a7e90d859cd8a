//! Page structure: `after`, the resource whose response must have fully arrived before another
//! is requested (an HTML document before the subresources its parser finds).
//!
//! `after` is a path: on the resource's own origin, else on the one other origin that serves it;
//! `//host/path` names the origin outright.
//!
//! It owns the checks that need every path of the scenario at once — `after` names a resource
//! other than itself, and following `after` never comes back to where it started — and the
//! index form the harness schedules by ([`Scenario::dependencies`]). It deliberately schedules
//! nothing: the harness's workload waits for each request's parent.

use super::{Origin, Resource, Scenario, ScenarioError};
use std::collections::HashMap;
use std::ops::Range;

impl Scenario {
    /// For each request of `requests()`, the index of the request it waits for (`after`).
    pub fn dependencies(&self) -> Vec<Option<usize>> {
        let index = Index::new(&self.resources);
        (0..self.resources.len())
            .map(|i| {
                index
                    .after(&self.resources, &self.origins, i)
                    .ok()
                    .flatten()
            })
            .collect()
    }
}

/// Resources by origin and path, and by path alone.
struct Index<'a> {
    by_origin: HashMap<(usize, &'a str), usize>,
    by_path: HashMap<&'a str, Vec<usize>>,
}

/// Why an `after` names no resource.
enum Miss {
    /// No resource has the path (on the origin a `//host/path` names).
    None,
    /// `//host/path` names no origin.
    NoOrigin(String),
    /// The path is on several other origins, none the resource's own.
    Ambiguous(Vec<usize>),
}

impl<'a> Index<'a> {
    fn new(resources: &'a [Resource]) -> Index<'a> {
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            by_path.entry(r.path.as_str()).or_default().push(i);
        }
        Index {
            by_origin: resources
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.origin, r.path.as_str()), i))
                .collect(),
            by_path,
        }
    }

    /// The resource `resources[i]` comes after: `after = "//host/path"` on that origin, or a
    /// path on its own origin, else on the one other origin that has it.
    fn after(
        &self,
        resources: &[Resource],
        origins: &[Origin],
        i: usize,
    ) -> Result<Option<usize>, Miss> {
        let Some(after) = resources[i].after.as_deref() else {
            return Ok(None);
        };
        if let Some(rest) = after.strip_prefix("//") {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let Some(origin) = origins.iter().position(|o| o.name == host) else {
                return Err(Miss::NoOrigin(host.to_string()));
            };
            return match self.by_origin.get(&(origin, path)) {
                Some(&j) => Ok(Some(j)),
                None => Err(Miss::None),
            };
        }
        if let Some(&j) = self.by_origin.get(&(resources[i].origin, after)) {
            return Ok(Some(j));
        }
        match self.by_path.get(after).map(Vec::as_slice) {
            Some(&[j]) => Ok(Some(j)),
            Some(several) if !several.is_empty() => Err(Miss::Ambiguous(several.to_vec())),
            _ => Err(Miss::None),
        }
    }
}

/// Every `after` names a resource of the scenario other than itself, and following `after`
/// from any resource never comes back to it.
pub(crate) fn check_after(
    resources: &[Resource],
    origins: &[Origin],
    spans: &[Option<Range<usize>>],
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let index = Index::new(resources);
    let target = |i: usize| index.after(resources, origins, i).ok().flatten();
    let on_cycle = on_cycle(resources.len(), &target);
    for (i, resource) in resources.iter().enumerate() {
        let (Some(after), Some(span)) = (&resource.after, &spans[i]) else {
            continue;
        };
        match index.after(resources, origins, i) {
            Err(Miss::None) => {
                return Err(err(
                    span.clone(),
                    format!(
                        "`after` names `{after}`, but no resource has that path: use the path of another [[resource]] as it is requested (with `{{i}}` expanded), e.g. \"{}\"",
                        resources[0].path
                    ),
                ))
            }
            Err(Miss::NoOrigin(host)) => {
                return Err(err(
                    span.clone(),
                    format!("`after` names origin `{host}`, which is no [[origin]] of the scenario"),
                ))
            }
            Err(Miss::Ambiguous(several)) => {
                let hosts: Vec<String> = several
                    .iter()
                    .map(|&j| format!("\"//{}{after}\"", origins[resources[j].origin].name))
                    .collect();
                return Err(err(
                    span.clone(),
                    format!(
                        "`after` names `{after}`, which several origins serve: write which, one of {}",
                        hosts.join(", ")
                    ),
                ));
            }
            Ok(Some(j)) if j == i => {
                return Err(err(
                    span.clone(),
                    format!("`{after}` cannot come `after` itself"),
                ))
            }
            Ok(_) => {}
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
