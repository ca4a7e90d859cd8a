//! The protocol client's side of the contract.

use crate::connector::Connector;
use httplab_core::{Clock, RequestRecord, RequestSpec};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What every protocol client is built from.
#[derive(Clone)]
pub struct ClientOptions {
    pub connector: Arc<dyn Connector>,
    pub clock: Clock,
    /// Connections the client keeps to the origin at most.
    pub max_connections_per_host: u32,
}

impl ClientOptions {
    /// One permit per connection the client may have open to the origin; a request holds one
    /// while it has a connection.
    pub fn connection_slots(&self) -> Arc<tokio::sync::Semaphore> {
        Arc::new(tokio::sync::Semaphore::new(
            self.max_connections_per_host as usize,
        ))
    }
}

/// A boxed future, for object-safe async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A protocol client: the workload calls `fetch` once per request, at the moment it issues it,
/// possibly many at once; `finish` closes what is still open and waits for every connection to
/// be gone, so their close times are in the records.
pub trait ProtocolClient: Send + Sync + 'static {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord>;
    fn finish(&self) -> BoxFuture<'_, ()>;
}
