//! The workload a validated scenario asks of a client: its requests, in the order the workload
//! issues them, with the headers it adds, and the lookups the server and the reports use.
//!
//! It owns [`RequestSpec`] and the views of a [`Scenario`] as requests (one per resource, in
//! file order) and as a page (a resource by path, the page's bytes). It deliberately sends
//! nothing and orders nothing beyond file order: the harness issues the requests, waiting on
//! `after` (see `after.rs`).

use super::{Resource, Scenario};

/// One request of the workload, in the order the workload issues them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSpec {
    pub id: u32,
    pub method: String,
    pub path: String,
    /// Request body bytes to upload.
    pub body_bytes: u64,
    /// Headers the workload adds to this request (the scenario's `cookie`), after the ones
    /// every client sends.
    pub headers: Vec<(String, String)>,
    /// Its origin: an index into `Scenario::origins`.
    pub origin: usize,
    /// The origin's host name, when it is not the connection's own: a request an HTTP/2 client
    /// sends on a connection it coalesced from another origin carries its own `:authority`.
    pub authority: Option<String>,
    /// The request head's size as HTTP/1.1 text, which the client pads its request to
    /// (`request_headers`); `None`: no padding.
    pub head_bytes: Option<u64>,
    /// Sent without the lab's request-id field (`x-httplab-request`): to a server the lab does
    /// not run (`--target`, `--server-cmd`), which keeps no log for the lab to join by it, and
    /// whose every decoded field is a cost of the load the lab would add to its bill.
    pub anonymous: bool,
}

impl Scenario {
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
                origin: r.origin,
                authority: None,
                head_bytes: r.request_headers,
                anonymous: false,
            })
            .collect()
    }

    /// Headers the workload adds to every request: a `cookie` of `[client] cookie` bytes.
    fn workload_headers(&self) -> Vec<(String, String)> {
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

    /// The resource served at `path`, if any: on the origin `host` names (a port, if any,
    /// ignored), or, for a host that names no origin (none given, `localhost`, an address), on
    /// the first origin that has the path.
    pub fn resource(&self, host: Option<&str>, path: &str) -> Option<&Resource> {
        let origin = host.and_then(|h| {
            // A byte search: `rsplit_once(':')`'s char searcher cost a server hundreds of
            // instructions per request.
            let name = match h.bytes().rposition(|b| b == b':') {
                Some(i) if h.as_bytes()[i + 1..].iter().all(u8::is_ascii_digit) => &h[..i],
                _ => h,
            };
            self.origins
                .iter()
                .position(|o| o.name.eq_ignore_ascii_case(name))
        });
        self.resources
            .iter()
            .find(|r| r.path == path && origin.is_none_or(|o| r.origin == o))
    }

    /// Total response body bytes of one page load.
    pub fn page_bytes(&self) -> u64 {
        self.resources.iter().map(|r| r.size).sum()
    }
}
