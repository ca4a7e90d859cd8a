//! A run's connection pools, kept as a browser keeps them: one per origin for HTTP/1.x, each
//! with its own cap, and for HTTP/2 one connection per origin, except that origins sharing a
//! server address share one connection (coalescing: the lab's certificate covers every origin,
//! so Chrome and Firefox would reuse it; `[client] coalesce = false` turns it off).
//!
//! It owns which pool each origin's requests go to and the protocol client that serves them as
//! one [`ProtocolClient`]. It deliberately opens nothing itself: each pool is an ordinary
//! protocol client with the connector of its first origin.

use futures_util::future::join_all;
use httplab_core::{Protocol, RequestRecord, RequestSpec, Scenario};
use httplab_h2::{H2Options, Http2Client};
use httplab_http10::Http10Client;
use httplab_http11::Http11Client;
use httplab_http11_pipelined::Http11PipelinedClient;
use httplab_transport::client::BoxFuture;
use httplab_transport::{ClientOptions, ProtocolClient};

/// Which pool serves each origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolPlan {
    /// For each origin (by index), its pool.
    pub(crate) pool_of: Vec<usize>,
    /// For each pool, the origin whose connector and cap it uses (the first that joined it).
    pub(crate) first: Vec<usize>,
}

impl PoolPlan {
    /// The pools `scenario`'s origins need over `protocol`.
    pub(crate) fn of(scenario: &Scenario, protocol: Protocol) -> PoolPlan {
        let coalesce = matches!(protocol, Protocol::H2 | Protocol::H2c | Protocol::H3)
            && scenario.client.coalesce;
        let mut first: Vec<usize> = Vec::new();
        let pool_of = scenario
            .origins
            .iter()
            .enumerate()
            .map(|(i, origin)| {
                let shared = coalesce
                    .then(|| {
                        first
                            .iter()
                            .position(|&f| scenario.origins[f].address == origin.address)
                    })
                    .flatten();
                shared.unwrap_or_else(|| {
                    first.push(i);
                    first.len() - 1
                })
            })
            .collect();
        PoolPlan { pool_of, first }
    }
}

/// Connections one browser holds at most over `protocol`: each HTTP/1.x pool its cap (the
/// pipelining client its `pipeline_connections` within it), each HTTP/2 pool one.
pub fn connections_per_browser(scenario: &Scenario, protocol: Protocol) -> u64 {
    let plan = PoolPlan::of(scenario, protocol);
    plan.first
        .iter()
        .map(|&i| {
            let cap = scenario.origins[i]
                .max_connections
                .unwrap_or(scenario.client.max_connections_per_host);
            u64::from(match protocol {
                Protocol::H2 | Protocol::H2c | Protocol::H3 => 1,
                Protocol::Http11Pipelined => scenario.client.pipeline_connections.min(cap),
                _ => cap,
            })
        })
        .sum()
}

/// Every pool's client, as one: each request goes to its origin's pool, carrying its own
/// authority when the pool's connection was opened for another origin.
pub(crate) struct Pools {
    clients: Vec<Box<dyn ProtocolClient>>,
    /// For each origin: its pool, and its authority if not the pool's own.
    route: Vec<(usize, Option<String>)>,
}

impl Pools {
    /// `clients`: one per pool of `plan`, in order; `authority(i)` is origin `i`'s
    /// `host:port`.
    pub(crate) fn new(
        plan: &PoolPlan,
        clients: Vec<Box<dyn ProtocolClient>>,
        authority: impl Fn(usize) -> String,
    ) -> Pools {
        let route = plan
            .pool_of
            .iter()
            .enumerate()
            .map(|(i, &pool)| (pool, (plan.first[pool] != i).then(|| authority(i))))
            .collect();
        Pools { clients, route }
    }
}

impl ProtocolClient for Pools {
    fn fetch(&self, mut spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        let (pool, authority) = self.route.get(spec.origin).cloned().unwrap_or((0, None));
        spec.authority = authority;
        self.clients[pool.min(self.clients.len() - 1)].fetch(spec)
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            join_all(self.clients.iter().map(|c| c.finish())).await;
        })
    }
}

/// The protocol client of one pool.
pub(crate) fn protocol_client(
    protocol: Protocol,
    options: ClientOptions,
    scenario: &Scenario,
) -> Box<dyn ProtocolClient> {
    match protocol {
        Protocol::Http10 => Box::new(Http10Client::new(options)),
        Protocol::Http11 => Box::new(Http11Client::new(options)),
        Protocol::Http11Pipelined => Box::new(Http11PipelinedClient::new(
            options,
            scenario.client.pipeline_connections,
            scenario.client.pipeline_depth,
        )),
        Protocol::H2 | Protocol::H2c => Box::new(Http2Client::new(
            options,
            H2Options::from_settings(&scenario.client),
        )),
        Protocol::H3 => Box::new(httplab_h3::Http3Client::new(options)),
    }
}

#[cfg(test)]
mod tests {
    use super::PoolPlan;
    use httplab_core::{Protocol, Scenario};

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "name = \"p\"\n{extra}\n[[origin]]\nname = \"a.test\"\n[[origin]]\nname = \
             \"b.test\"\nsame_address_as = \"a.test\"\n[[origin]]\nname = \"c.test\"\n\
             [[resource]]\npath = \"/\"\n"
        );
        Scenario::parse(&text, "p.toml").unwrap()
    }

    #[test]
    fn http1_keeps_a_pool_per_origin_and_h2_coalesces_origins_sharing_an_address() {
        let s = scenario("");
        let h1 = PoolPlan::of(&s, Protocol::Http11);
        assert_eq!((h1.pool_of, h1.first), (vec![0, 1, 2], vec![0, 1, 2]));
        let h2 = PoolPlan::of(&s, Protocol::H2);
        assert_eq!((h2.pool_of, h2.first), (vec![0, 0, 1], vec![0, 2]));
        let off = scenario("[client]\ncoalesce = false");
        assert_eq!(PoolPlan::of(&off, Protocol::H2).pool_of, vec![0, 1, 2]);
    }
}
