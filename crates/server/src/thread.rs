//! The lab server's own thread: a single-threaded tokio runtime, as a production server's event
//! loop is (an nginx worker, h2o's loop), apart from the lab's client.
//!
//! One thread means the server's tasks run in the order they became ready: when twelve think
//! timers expire together, all twelve handlers run before the connection task writes, so their
//! responses can leave in one packed write (`httplab_socket::packed`). On a work-stealing
//! runtime, shared with the client, the connection task would run between handlers (tokio's
//! LIFO slot) and write each response on its own. It owns the thread and the runtime's life,
//! and the thread's CPU clock (what the server costs, apart from the clients); nothing the
//! server does on it.

use std::io;
use std::thread::JoinHandle;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// A thread running a current-thread runtime until dropped.
pub struct ServerThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Starts the thread (named `httplab-server`) and its runtime, timers and I/O enabled.
    pub fn start() -> io::Result<Self> {
        let runtime = Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("httplab-server".into())
            .spawn(move || {
                runtime.block_on(async {
                    // Ends when told to, or when the sender is dropped.
                    let _ = stopped.await;
                });
                // Dropping the runtime here cancels whatever tasks are left.
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime's handle: spawn the server's tasks here.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// CPU time the server's thread has used since it started, in nanoseconds: the first field
    /// of its `/proc/thread-self/schedstat`, read on the thread itself (so the lab's clients,
    /// on other threads, never count). `None` where the kernel does not offer it.
    pub async fn cpu_time(&self) -> Option<u64> {
        let read = self.handle.spawn(async {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        });
        read.await.ok().flatten()
    }

    /// Heap bytes the server's thread holds (allocated less freed there), read on the thread
    /// itself; `None` unless the binary installed `httplab_socket::heap::CountingAllocator`.
    pub async fn heap_bytes(&self) -> Option<i64> {
        let read = self
            .handle
            .spawn(async { httplab_socket::heap::thread_live_bytes() });
        read.await.ok().flatten()
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // block_on returns as soon as the signal lands; the runtime's drop cancels the
            // tasks left, which do not block.
            if thread.join().is_err() {
                tracing::error!("the lab server's thread panicked");
            }
        }
    }
}
