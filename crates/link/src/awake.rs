//! Keeping the CPUs awake while the link runs.
//!
//! On a virtual machine an idle vCPU halts, and waking a halted vCPU (a timer firing, another
//! CPU's wake-up of a task) costs the hypervisor 50–100 µs: the relay's sender wakes late for a
//! packet's deadline, and every endpoint that slept through half a round trip wakes late to
//! answer. On loopback the same work rarely waits that long, because its CPUs are seldom idle
//! for long. So while the link runs, one thread per CPU, pinned to it and under `SCHED_IDLE`,
//! spins through the CPU's idle time: the vCPU never halts, and a wake-up costs microseconds.
//! Such a thread runs only when nothing else wants its CPU, and any task that wakes there
//! preempts it at once, so it takes no time from the lab's work; it does show as a busy CPU.
//! Where `SCHED_IDLE` is refused the thread does not spin at all (at the normal policy it would
//! compete with the lab), and [`KeepAwake::active`] says so.
//!
//! It owns those threads and nothing else.

use crate::sys;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a spinning thread runs, whatever happens to the link that started it.
const MAX_AWAKE: Duration = Duration::from_secs(24 * 3600);
/// Spins between looks at the stop flag.
const SPINS_PER_LOOK: u32 = 1000;

/// The spinning threads, one per CPU; they stop when this is dropped.
pub(crate) struct KeepAwake {
    stop: Arc<AtomicBool>,
    /// Threads that got `SCHED_IDLE` and a CPU of their own and are spinning.
    spinning: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

impl KeepAwake {
    /// Starts one spinning thread per CPU the process may use.
    pub(crate) fn start() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for cpu in 0..cpus {
            let (stop, spinning) = (stop.clone(), spinning.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("hl-awake-{cpu}"))
                .spawn(move || {
                    if sys::set_idle_policy().is_err() || sys::pin_to_cpu(cpu).is_err() {
                        return;
                    }
                    spinning.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < MAX_AWAKE {
                        for _ in 0..SPINS_PER_LOOK {
                            std::hint::spin_loop();
                        }
                    }
                    spinning.fetch_sub(1, Ordering::Relaxed);
                });
            if let Ok(handle) = spawned {
                threads.push(handle);
            }
        }
        Self {
            stop,
            spinning,
            threads,
        }
    }

    /// Whether every CPU has a spinning thread.
    pub(crate) fn active(&self) -> bool {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.spinning.load(Ordering::Relaxed) >= cpus
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}
