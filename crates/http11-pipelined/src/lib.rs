//! httplab-http11-pipelined: HTTP/1.1 pipelining (RFC 9112 §9.3.2), written on the wire.
//!
//! With persistent connections (httplab-http11) a connection carries one request at a time: the
//! client writes a request, waits a round trip for the whole response, and only then writes the
//! next, so N requests on one connection cost N round trips. Pipelining removes that wait: the
//! client writes requests back to back without waiting for responses, and the server answers
//! them **strictly in the order they arrived**, because an HTTP/1.1 response carries nothing that
//! says which request it answers. Ten requests then cost about one round trip plus the server's
//! time. The price is head-of-line blocking: one slow response holds every response behind it,
//! even ones the server had ready long before (the lab server logs that time, and the harness
//! joins it to the request's record as its `hol` phase). HTTP/2 exists largely to
//! remove that price, by giving each response its own stream.
//!
//! Pipelining has rules that a persistent connection does not need:
//! - a request that is not idempotent (POST) is never pipelined: it is written only once every
//!   earlier request on its connection is answered, and nothing is written behind it until its
//!   own response is in, since the client could not safely send it again after a failure;
//! - if the connection ends with requests unanswered, the client cannot know which ones the
//!   server acted on, so it re-sends only the idempotent ones, on a new connection;
//! - the client must know how each response is delimited to find where the next one starts
//!   (`Content-Length`, chunked, nothing for HEAD/204/304), which is the job of `parse.rs`.
//!
//! hyper cannot pipeline, so this crate speaks HTTP/1.1 itself. Its parts, one file each:
//! `lib.rs` (this [`Http11PipelinedClient`]: hands each request to one of `connections`
//! connection workers, round-robin in order of arrival), `pipeline/` (the pipelining rules as
//! a sans-IO state machine: what may be written when, which response answers which request,
//! per-request byte times, recovery when a connection ends), `conn.rs` (a worker: the async
//! shell that opens its connections, runs their write/read loop, feeds what happens to the
//! pipeline and keeps the reconnect budget), `parse.rs` (the pure response parser), and
//! `request.rs` (request bytes). It deliberately opens no sockets and does no TLS itself (the
//! harness's connector does, and times it), and it keeps no connection pool beyond its fixed set
//! of workers.
//!
//! The same engine carries httplab-http11's keep-alive connections: a [`Slot`] is a worker with
//! one request at a time on its connection, which re-sends a request only as a browser's pool
//! does (once, and only when a reused connection ended before the response). That pool, which
//! request gets which slot, is httplab-http11's.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod conn;
mod parse;
mod pipeline;
mod request;

pub use conn::MAX_RECONNECTS;
pub use parse::{ParseError, ParseErrorKind, ParsedResponse, ResponseParser};

use conn::{Answer, Job, Worker};
use httplab_core::{Clock, RequestRecord, RequestSpec};
use httplab_transport::client::BoxFuture;
use httplab_transport::{ClientOptions, ProtocolClient, RequestTiming};
use pipeline::Resend;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long `finish` waits for the workers to close their connections.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A started worker: where to send it requests, and its task.
struct WorkerHandle {
    jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Workers {
    /// One slot per connection, started when its first request arrives.
    slots: Vec<Option<WorkerHandle>>,
    finished: bool,
}

/// The `http1.1-pipelined` protocol client.
pub struct Http11PipelinedClient {
    opts: ClientOptions,
    depth: usize,
    next: AtomicUsize,
    workers: Mutex<Workers>,
}

impl Http11PipelinedClient {
    /// `connections`: the scenario's `pipeline_connections` (at least 1); `depth`: its
    /// `pipeline_depth`, the unanswered requests allowed per connection (`None`: no limit).
    pub fn new(opts: ClientOptions, connections: u32, depth: Option<u32>) -> Self {
        let connections = connections.max(1) as usize;
        let depth = depth.map_or(usize::MAX, |d| (d.max(1)) as usize);
        Self {
            opts,
            depth,
            next: AtomicUsize::new(0),
            workers: Mutex::new(Workers {
                slots: (0..connections).map(|_| None).collect(),
                finished: false,
            }),
        }
    }

    fn workers(&self) -> MutexGuard<'_, Workers> {
        // A poisoned lock only means a panic elsewhere; the handles are still valid.
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `job` to the next worker in turn, starting it if needed; gives the job back if the
    /// client has finished.
    fn dispatch(&self, job: Job) -> Result<(), Box<Job>> {
        let mut workers = self.workers();
        if workers.finished {
            return Err(Box::new(job));
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % workers.slots.len();
        let slot = &mut workers.slots[index];
        let handle = slot.get_or_insert_with(|| {
            let (jobs, rx) = mpsc::unbounded_channel();
            let worker = Worker::new(self.opts.clone(), self.depth, Resend::Idempotent, rx);
            let task = tokio::spawn(worker.run());
            WorkerHandle { jobs, task }
        });
        handle.jobs.send(job).map_err(|e| Box::new(e.0))
    }

    async fn fetch_one(&self, spec: RequestSpec) -> RequestRecord {
        let clock = self.opts.clock;
        let url = self.opts.connector.origin().url(&spec.path);
        let timing = RequestTiming::new(spec, url, clock.now());
        let unanswered = Unanswered::of(&timing);
        let (job, answer) = job(timing, clock);
        if let Err(job) = self.dispatch(job) {
            let (timing, _) = job.into_parts();
            return timing.fail(
                clock.now(),
                "the client has finished and takes no more requests".into(),
            );
        }
        answered(answer, unanswered, clock).await
    }

    async fn close_all(&self) {
        let slots = {
            let mut workers = self.workers();
            workers.finished = true;
            std::mem::take(&mut workers.slots)
        };
        // Dropping the senders tells each worker that no more requests are coming; it closes
        // its connection once the requests it holds are answered.
        let tasks: Vec<JoinHandle<()>> = slots.into_iter().flatten().map(|h| h.task).collect();
        let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("a pipelined connection did not close within {CLOSE_GRACE:?}");
                task.abort();
            }
        }
    }
}

/// A job for `timing`'s request, and where its record will arrive.
fn job(timing: RequestTiming, clock: Clock) -> (Job, oneshot::Receiver<RequestRecord>) {
    let (reply, answer) = Answer::new(clock);
    (Job::new(timing, reply), answer)
}

/// What a `fetch` keeps of its request in case no record comes back: its id and when it was
/// issued (a copy of the whole request for that case cost every keep-alive request three
/// allocations and a few hundred instructions).
#[derive(Clone, Copy)]
struct Unanswered {
    id: u32,
    issued_at: Duration,
}

impl Unanswered {
    fn of(timing: &RequestTiming) -> Self {
        Self {
            id: timing.spec.id,
            issued_at: timing.issued_at,
        }
    }
}

/// The record that arrives on `answer`. A job dropped unsettled sends its own failure (see
/// `Answer`), so none arrives only if the worker panicked between settling the request and
/// sending its record; that failure names the request by its id alone.
async fn answered(
    answer: oneshot::Receiver<RequestRecord>,
    unanswered: Unanswered,
    clock: Clock,
) -> RequestRecord {
    match answer.await {
        Ok(record) => record,
        Err(_) => RequestTiming {
            spec: RequestSpec {
                id: unanswered.id,
                ..RequestSpec::default()
            },
            issued_at: unanswered.issued_at,
            ..RequestTiming::default()
        }
        .fail(clock.now(), "the connection worker stopped".into()),
    }
}

/// One keep-alive connection on the wire engine, for httplab-http11's pool: a worker task that
/// carries one request at a time, opens its connection when a request needs it (again, after the
/// server closed it), records how each connection ended, and re-sends a request only when a
/// reused connection ended before the response, once.
pub struct Slot {
    jobs: mpsc::UnboundedSender<Job>,
    connected: Arc<AtomicBool>,
}

impl Slot {
    /// Starts the slot's worker; it ends, closing its connection, once the slot is dropped and
    /// the request it carries is answered.
    pub fn start(opts: &ClientOptions) -> (Self, JoinHandle<()>) {
        let (jobs, rx) = mpsc::unbounded_channel();
        let worker = Worker::new(opts.clone(), 1, Resend::ReusedOnce, rx);
        let connected = worker.connected();
        let task = tokio::spawn(worker.run());
        (Self { jobs, connected }, task)
    }

    /// Whether its connection is open (it may still be closed by the server at any moment).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Carries `timing`'s request and returns its record. One at a time: the pool lends a slot
    /// to one request until it is answered.
    pub async fn fetch(&self, timing: RequestTiming, clock: Clock) -> RequestRecord {
        let unanswered = Unanswered::of(&timing);
        let (job, answer) = job(timing, clock);
        if let Err(e) = self.jobs.send(job) {
            let (timing, _) = e.0.into_parts();
            return timing.fail(clock.now(), "the connection worker stopped".into());
        }
        answered(answer, unanswered, clock).await
    }
}

impl ProtocolClient for Http11PipelinedClient {
    fn fetch(&self, spec: RequestSpec) -> BoxFuture<'_, RequestRecord> {
        Box::pin(self.fetch_one(spec))
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.close_all())
    }
}
