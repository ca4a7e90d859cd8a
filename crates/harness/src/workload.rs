//! Issuing a scenario's requests through a protocol client, as a page load would: every request
//! without an `after` at once, in workload order (they queue for connection or stream slots in
//! that order), and each request with an `after` only when the response it waits for has fully
//! arrived — the way a browser requests the stylesheet its HTML parser just found, and the
//! fonts that stylesheet names. A resource's `delay` (the browser's parse or script time before
//! it asks) is waited after that arrival, or from the page's start without `after`.
//!
//! A released request is issued then, so its `issued_at` is the moment it was released and its
//! phases start there (waiting for its parent is not `blocked`). If the request it waits for
//! fails, it is never issued: its record is a failure naming the one it waited for, with
//! `issued_at` when that failed and every phase zero — as a browser never requests what a page
//! it could not load would have asked for. This module owns only the order of issue; the client
//! times each request.

use futures_util::stream::{FuturesUnordered, StreamExt};
use httplab_core::{Clock, Phases, RequestRecord, RequestSpec, Scenario};
use httplab_transport::ProtocolClient;
use std::borrow::Cow;
use std::time::Duration;

/// What the harness does the moment a request's record is ready (its last response byte read,
/// or its failure), before the workload goes on: it reads the socket's `TCP_INFO` there.
pub type OnDone<'a> = &'a (dyn Fn(&RequestRecord) + Send + Sync);

/// A scenario's page as the order of issue needs it: its requests, each one's parent and
/// children, and its delay. Worked out once per scenario, so a load that issues the page many
/// times a second does not redo it per page.
pub(crate) struct Plan {
    specs: Vec<RequestSpec>,
    parents: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    delays: Vec<Duration>,
}

impl Plan {
    /// The plan of `scenario`'s page; `anonymous`: its requests go without the lab's
    /// request id, to a server the lab does not run (see [`RequestSpec::anonymous`]).
    pub(crate) fn new(scenario: &Scenario, anonymous: bool) -> Plan {
        let mut specs = scenario.requests();
        for spec in &mut specs {
            spec.anonymous = anonymous;
        }
        let parents = scenario.dependencies();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); specs.len()];
        for (i, parent) in parents.iter().enumerate() {
            if let Some(p) = parent {
                children[*p].push(i);
            }
        }
        let delays = scenario.resources.iter().map(|r| r.delay).collect();
        Plan {
            specs,
            parents,
            children,
            delays,
        }
    }
}

/// Issues every request of `scenario` through `client`, honouring `after`, and returns their
/// records in workload order (by request id). `on_done` sees each record as it completes.
pub async fn issue(
    client: &dyn ProtocolClient,
    scenario: &Scenario,
    clock: Clock,
    on_done: OnDone<'_>,
) -> Vec<RequestRecord> {
    issue_plan(client, &Plan::new(scenario, false), clock, on_done).await
}

/// [`issue`] of a page already planned.
pub(crate) async fn issue_plan(
    client: &dyn ProtocolClient,
    plan: &Plan,
    clock: Clock,
    on_done: OnDone<'_>,
) -> Vec<RequestRecord> {
    let Plan {
        specs,
        parents,
        children,
        delays,
    } = plan;
    if let ([spec], [None]) = (specs.as_slice(), parents.as_slice()) {
        // A page of one request (an API call, the parity bench's page) needs no set of
        // requests in flight: under load this is per request.
        let delay = delays.first().copied().unwrap_or_default();
        let (_, record) = fetch(client, spec, 0, delay, on_done).await;
        return vec![*record];
    }
    let fetch = |i: usize| {
        let delay = delays.get(i).copied().unwrap_or_default();
        fetch(client, &specs[i], i, delay, on_done)
    };

    // Boxed from the fetch on: a record is most of a kilobyte, and each move of it through the
    // set in flight was a copy (twelve a request in an h2 page under load).
    let mut records: Vec<Option<Box<RequestRecord>>> = vec![None; specs.len()];
    // FuturesUnordered polls newly pushed futures in push order, so the first poll of each
    // fetch (where its `issued_at` is taken and it joins the queue for a slot) follows the
    // workload order, as `join_all` did.
    let mut in_flight: FuturesUnordered<_> = (0..specs.len())
        .filter(|&i| parents[i].is_none())
        .map(fetch)
        .collect();
    while let Some((i, record)) = in_flight.next().await {
        match record.error.clone() {
            None => in_flight.extend(children[i].iter().map(|&child| fetch(child))),
            Some(error) => {
                // Not issued, and neither are their own dependants: (request, the one it
                // waited for, why that one ended).
                let mut skip: Vec<(usize, usize, String)> =
                    children[i].iter().map(|&c| (c, i, error.clone())).collect();
                while let Some((child, parent, why)) = skip.pop() {
                    let record = not_issued(&specs[child], &specs[parent], &why, clock);
                    let why = record.error.clone().unwrap_or_default();
                    skip.extend(children[child].iter().map(|&c| (c, child, why.clone())));
                    records[child] = Some(Box::new(record));
                }
            }
        }
        records[i] = Some(record);
    }
    records
        .into_iter()
        .zip(specs)
        .map(|(record, spec)| {
            // Unreachable with a validated scenario (no cycles); kept total all the same.
            record.map_or_else(
                || not_issued(spec, spec, "it waits in a cycle", clock),
                |r| *r,
            )
        })
        .collect()
}

/// Request `i` through `client` once `delay` has passed (the resource's `delay`: the browser's
/// own time before it asks). The request is issued, and its `issued_at` taken, after the delay.
/// One future type for every request of a page, so the set in flight holds them unboxed.
async fn fetch(
    client: &dyn ProtocolClient,
    spec: &RequestSpec,
    i: usize,
    delay: Duration,
    on_done: OnDone<'_>,
) -> (usize, Box<RequestRecord>) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let record = Box::new(client.fetch(spec.clone()).await);
    on_done(&record);
    (i, record)
}

/// The record of a request never issued because the one it waits for failed.
fn not_issued(
    spec: &RequestSpec,
    waited_for: &RequestSpec,
    error: &str,
    clock: Clock,
) -> RequestRecord {
    RequestRecord {
        id: spec.id,
        method: spec.method.clone(),
        url: String::new(),
        path: spec.path.clone(),
        connection: None,
        issued_at: clock.now(),
        phases: Phases::default(),
        status: 0,
        http_version: Cow::Borrowed(""),
        request_headers: Vec::new(),
        response_headers: Vec::new(),
        request_header_bytes: 0,
        request_body_bytes: 0,
        response_header_bytes: 0,
        response_body_bytes: 0,
        error: Some(format!(
            "not issued: it comes after {}, which failed ({error})",
            waited_for.path
        )),
        retries: 0,
    }
}
