//! Requests as the workload hands them to a protocol client: [`RequestSpec`] builders (`get`,
//! `post`, and the numbered forms whose path names the id), and issuing a batch at once the
//! way the harness does. It builds no client: each protocol crate's tests make their own (a
//! dependency on a protocol crate from here would build a second copy of it).

use httplab_core::{RequestRecord, RequestSpec};
use httplab_transport::ProtocolClient;
use std::sync::Arc;

/// A GET of `path`.
pub fn get(id: u32, path: &str) -> RequestSpec {
    RequestSpec {
        id,
        method: "GET".into(),
        path: path.into(),
        body_bytes: 0,
        headers: Vec::new(),
        origin: 0,
        authority: None,
        head_bytes: None,
        anonymous: false,
    }
}

/// A POST of `body_bytes` to `path`.
pub fn post(id: u32, path: &str, body_bytes: u64) -> RequestSpec {
    RequestSpec {
        method: "POST".into(),
        body_bytes,
        ..get(id, path)
    }
}

/// A GET of `/r/<id>`, for peers that answer any path.
pub fn numbered_get(id: u32) -> RequestSpec {
    get(id, &format!("/r/{id}"))
}

/// A POST of `body_bytes` to `/up/<id>`, for peers that answer any path.
pub fn numbered_post(id: u32, body_bytes: u64) -> RequestSpec {
    post(id, &format!("/up/{id}"), body_bytes)
}

/// Issues every request at once, each on its own task, and returns the records in id order.
pub async fn fetch_all<C: ProtocolClient>(
    client: &Arc<C>,
    specs: Vec<RequestSpec>,
) -> Vec<RequestRecord> {
    let tasks: Vec<_> = specs
        .into_iter()
        .map(|spec| {
            let client = client.clone();
            tokio::spawn(async move { client.fetch(spec).await })
        })
        .collect();
    let mut records = Vec::new();
    for task in tasks {
        records.push(task.await.expect("fetch task"));
    }
    records.sort_by_key(|r| r.id);
    records
}
