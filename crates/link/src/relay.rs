//! The relay: the threads that carry IP packets from one TUN device to the other, on the
//! schedule the link model decides. Per direction there are two dedicated OS threads (not tokio
//! tasks, so the lab's own async work never delays a packet):
//!
//! - the reader blocks in `poll` on the source device (with a short timeout, to notice
//!   shutdown), reads every packet that is ready, stamps its arrival with the lab's `Clock`,
//!   offers it to the model ([`Direction::offer`]) and queues the accepted ones with their
//!   deadlines, waking the sender only when a packet becomes the new head;
//! - the sender sleeps on a condition variable until [`SPIN_WINDOW`] before the head packet's
//!   deadline (timer slack 1 ns), spins out the rest, writes the packet to the destination
//!   device and records its lateness (write time − deadline) in a histogram.
//!
//! The lab's two cores are shared with both TCP endpoints — and a write to a TUN device runs
//! the receiving kernel's TCP inline, on the sender's time — so spinning is rationed: a sender
//! spins at most [`SPIN_SHARE_PERCENT`] of the time on average and otherwise sleeps to the
//! deadline itself (late by one timer wake-up). Threads ask for `SCHED_FIFO` when told to,
//! readers above senders, and fall back quietly to the normal policy when refused; which one
//! they got is reported. Measured on the lab's 2-core VM under other load: without
//! `SCHED_FIFO`, p99 lateness was milliseconds; `nice -20` was no better; spinning a reader
//! in wait for an expected reply made round trips slower, not faster (it takes the CPU the
//! replying endpoint needs).
//!
//! A packet's arrival is the kernel's stamp of the moment it handed the packet to the device
//! (`stamp.rs`), not the moment the reader got to it: the reader's wake-up (tens to hundreds of
//! microseconds from an idle vCPU) then hides inside the emulated delay instead of adding to
//! it unseen. Where the host refuses the packet tap, or a copy cannot be matched, the reader's
//! own read time stands in, and the counters say how many packets were stamped each way. With
//! no rate limit the model can ask for deliveries faster than TUN writes go (~5 µs each, the
//! receiver's TCP included), so bulk transfers at high speed show lateness that grows through
//! each burst — the relay's own capacity, which is what the histogram is for.
//!
//! Lateness only compares a delivery with its own deadline. The readers also time every TCP
//! handshake across the link (`handshake.rs`) against the model's round trip: that excess sees
//! the whole crossing, stamping included. And they record every TCP packet's header facts,
//! stamp and fate for the wire analysis (`trace/`), into a batch of their own that joins the
//! direction's log once per hand-over, before the batch's packets can be delivered.
//!
//! It owns the threads, the queues between them, the counters and the pcap tap; it does not
//! decide when a packet is due or dropped (the model) nor set up the devices (`tun.rs`).

use crate::handshake::{Fate, Handshakes, Segment, Way};
use crate::model::{Direction, DropCause, Offer};
use crate::pcap::PcapWriter;
use crate::stamp::{KernelStamps, Stamp};
use crate::sys;
use crate::trace::{Batch, TraceLog};
use hdrhistogram::Histogram;
use httplab_core::Clock;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long before a packet's deadline the sender stops sleeping and starts spinning.
pub(crate) const SPIN_WINDOW: Duration = Duration::from_micros(150);
/// The share of wall time, in percent, a sender may spend spinning on average.
pub(crate) const SPIN_SHARE_PERCENT: u32 = 25;
/// The most spinning a sender may save up while idle.
const SPIN_BURST: Duration = Duration::from_millis(5);
/// The longest a relay thread blocks without checking for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);
/// The most packets a reader takes from its device before handing them to the sender.
const READ_BATCH: usize = 64;
/// The largest packet a TUN device can hand over (its MTU is far below).
const MAX_PACKET: usize = 65_536;
/// The readers' `SCHED_FIFO` priority, when real-time scheduling is granted: above the
/// senders', so a sender spinning towards a deadline never delays the stamping of an arrival
/// (a reader's turn is a few microseconds; the scheduler moves a preempted sender to the other
/// CPU if that one is free of real-time work).
const READER_PRIORITY: i32 = 11;
/// The senders' `SCHED_FIFO` priority.
const SENDER_PRIORITY: i32 = 10;
/// Lateness histogram bounds: 1 ns to 60 s, three significant digits.
const LATENESS_MAX_NS: u64 = 60_000_000_000;

/// The pcap file both directions write into.
pub(crate) type SharedPcap = Arc<Mutex<PcapTap>>;

/// The pcap writer and the first error it hit: a full disk ends the capture, never the link.
pub(crate) struct PcapTap {
    writer: Option<PcapWriter<BufWriter<File>>>,
    error: Option<io::Error>,
}

impl PcapTap {
    pub(crate) fn new(writer: PcapWriter<BufWriter<File>>) -> Self {
        Self {
            writer: Some(writer),
            error: None,
        }
    }

    fn write(&mut self, ts_unix: Duration, packet: &[u8]) {
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write_packet(ts_unix, packet) {
                self.error = Some(e);
                self.writer = None;
            }
        }
    }

    /// Flushes and closes the file; the capture's first error, if it had one.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            self.writer = None;
            return Err(e);
        }
        match self.writer.take() {
            Some(mut w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// One packet waiting for its deadline; ordered by deadline, then arrival.
struct Pending {
    at: Duration,
    seq: u64,
    packet: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// What the reader and the sender of one direction share.
struct Queue {
    heap: BinaryHeap<Reverse<Pending>>,
    /// The sender is waiting on the condition variable (so a new head must wake it).
    sender_waiting: bool,
}

/// The counters of one direction, updated by its two threads and read by `stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub drops_loss: AtomicU64,
    pub drops_queue: AtomicU64,
    pub drops_tun: AtomicU64,
    /// Packets whose arrival the kernel stamped as it handed them to the device.
    pub stamped_kernel: AtomicU64,
    /// Packets stamped when the reader read them (no tap, or no matching copy).
    pub stamped_reader: AtomicU64,
}

/// One direction's live state, shared between its threads and the emulator.
pub(crate) struct DirectionState {
    queue: Mutex<Queue>,
    wake: Condvar,
    pub counters: Counters,
    /// Lateness of each delivered packet, in nanoseconds.
    pub lateness: Mutex<Histogram<u64>>,
    /// How long after the kernel's stamp the reader read each packet, in nanoseconds: what
    /// stamping at the read would have added to its delay.
    pub read_delay: Mutex<Histogram<u64>>,
    /// Why this direction's kernel stamps stopped mid-run, if they did.
    pub tap_lost: Mutex<Option<String>>,
    /// Every TCP packet that entered this direction, for the wire analysis.
    pub trace: Mutex<TraceLog>,
}

impl DirectionState {
    fn new() -> Self {
        Self {
            queue: Mutex::new(Queue {
                heap: BinaryHeap::new(),
                sender_waiting: false,
            }),
            wake: Condvar::new(),
            counters: Counters::default(),
            lateness: Mutex::new(nanos_histogram()),
            read_delay: Mutex::new(nanos_histogram()),
            tap_lost: Mutex::new(None),
            trace: Mutex::new(TraceLog::new()),
        }
    }
}

/// A histogram of nanoseconds, 1 ns to 60 s at three significant digits.
pub(crate) fn nanos_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENESS_MAX_NS, 3)
        .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds"))
}

/// Records a duration in a histogram of nanoseconds (at least 1 ns).
fn record(h: &Mutex<Histogram<u64>>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    lock(h).saturating_record(ns.max(1));
}

/// The handshakes both readers time, and the excess of those completed.
pub(crate) struct HandshakeState {
    pub table: Mutex<Handshakes>,
    /// Whether any handshake is in progress (so uplink ACKs need not take the lock otherwise).
    open: AtomicBool,
    /// Each completed handshake's excess over the model's round trip, in nanoseconds.
    pub excess: Mutex<Histogram<u64>>,
}

impl HandshakeState {
    fn new() -> Self {
        Self {
            table: Mutex::new(Handshakes::new()),
            open: AtomicBool::new(false),
            excess: Mutex::new(nanos_histogram()),
        }
    }

    /// Shows one packet to the handshake timer.
    fn observe(&self, way: Way, at: Duration, fate: Fate, packet: &[u8]) {
        let Some(seg) = Segment::parse(packet) else {
            return;
        };
        if !seg.interesting(way, self.open.load(Ordering::Acquire)) {
            return;
        }
        let mut table = lock(&self.table);
        if let Some(excess) = table.observe(way, at, fate, &seg) {
            record(&self.excess, excess);
        }
        self.open.store(table.any_open(), Ordering::Release);
    }
}

/// Locks, shrugging off poisoning: every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One direction's endpoints: the device it reads from and the one it writes to.
pub(crate) struct Route {
    pub name: &'static str,
    pub way: Way,
    pub model: Direction,
    pub from: Arc<File>,
    pub to: Arc<File>,
    /// The kernel's stamps of the packets `from` carries, where the host allows the tap.
    pub stamps: Option<KernelStamps>,
}

/// The running relay: four threads and their shared state.
pub(crate) struct Relay {
    pub uplink: Arc<DirectionState>,
    pub downlink: Arc<DirectionState>,
    pub handshakes: Arc<HandshakeState>,
    stop: Arc<AtomicBool>,
    finished: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
    /// Threads that asked for `SCHED_FIFO` and did not get it.
    fifo_refused: Arc<AtomicUsize>,
    realtime: bool,
    /// The first error a relay thread hit (a device read failing), if any.
    pub fault: Arc<Mutex<Option<String>>>,
}

impl Relay {
    /// Starts the reader and sender of both directions.
    pub(crate) fn start(
        uplink: Route,
        downlink: Route,
        clock: Clock,
        pcap: Option<SharedPcap>,
        realtime: bool,
    ) -> io::Result<Self> {
        let mut relay = Self {
            uplink: Arc::new(DirectionState::new()),
            downlink: Arc::new(DirectionState::new()),
            handshakes: Arc::new(HandshakeState::new()),
            stop: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(AtomicUsize::new(0)),
            threads: Vec::new(),
            fifo_refused: Arc::new(AtomicUsize::new(0)),
            realtime,
            fault: Arc::new(Mutex::new(None)),
        };
        for (route, state) in [
            (uplink, relay.uplink.clone()),
            (downlink, relay.downlink.clone()),
        ] {
            if let Err(e) = relay.spawn_direction(route, state, clock, pcap.clone()) {
                relay.stop(Duration::from_secs(1));
                return Err(e);
            }
        }
        Ok(relay)
    }

    fn spawn_direction(
        &mut self,
        route: Route,
        state: Arc<DirectionState>,
        clock: Clock,
        pcap: Option<SharedPcap>,
    ) -> io::Result<()> {
        let Route {
            name,
            way,
            model,
            from,
            to,
            stamps,
        } = route;
        let reader = Reader {
            name,
            model,
            way,
            from,
            stamps,
            handshakes: self.handshakes.clone(),
            trace: Batch::new(),
            state: state.clone(),
            clock,
            stop: self.stop.clone(),
            fault: self.fault.clone(),
        };
        let sender = Sender {
            to,
            state,
            clock,
            stop: self.stop.clone(),
            pcap,
        };
        let spawn = |role: &str, priority: i32, body: Box<dyn FnOnce() + Send>| {
            let finished = Finished {
                thread: format!("hl-{name}-{role}"),
                count: self.finished.clone(),
                fault: self.fault.clone(),
            };
            let fifo_refused = self.fifo_refused.clone();
            let realtime = self.realtime;
            std::thread::Builder::new()
                .name(finished.thread.clone())
                .spawn(move || {
                    let _finished = finished;
                    // A best effort: without it timers may fire up to 50 µs late.
                    let _ = sys::set_timer_slack(1);
                    if realtime && sys::set_fifo(priority).is_err() {
                        fifo_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    body();
                })
        };
        let reader = spawn("read", READER_PRIORITY, Box::new(move || reader.run()))?;
        self.threads.push(reader);
        let sender = spawn("send", SENDER_PRIORITY, Box::new(move || sender.run()))?;
        self.threads.push(sender);
        Ok(())
    }

    /// Whether every relay thread runs under `SCHED_FIFO`.
    pub(crate) fn realtime(&self) -> bool {
        self.realtime && self.fifo_refused.load(Ordering::Relaxed) == 0
    }

    /// Asks every thread to stop and joins those that finish within `limit`; returns whether
    /// all did (a thread that does not is left detached, holding only its device's file).
    pub(crate) fn stop(&mut self, limit: Duration) -> bool {
        self.stop.store(true, Ordering::Release);
        for state in [&self.uplink, &self.downlink] {
            let _queue = lock(&state.queue);
            state.wake.notify_all();
        }
        let deadline = Instant::now() + limit;
        while self.finished.load(Ordering::Acquire) < self.threads.len()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let all = self.finished.load(Ordering::Acquire) >= self.threads.len();
        for handle in self.threads.drain(..) {
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        all
    }
}

/// Counts a relay thread out when it ends, however it ends; a panic becomes the relay's fault.
struct Finished {
    thread: String,
    count: Arc<AtomicUsize>,
    fault: Arc<Mutex<Option<String>>>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.fault).get_or_insert_with(|| format!("{} panicked", self.thread));
        }
        self.count.fetch_add(1, Ordering::Release);
    }
}

struct Reader {
    name: &'static str,
    model: Direction,
    way: Way,
    from: Arc<File>,
    stamps: Option<KernelStamps>,
    handshakes: Arc<HandshakeState>,
    /// The packets recorded since the last hand-over.
    trace: Batch,
    state: Arc<DirectionState>,
    clock: Clock,
    stop: Arc<AtomicBool>,
    fault: Arc<Mutex<Option<String>>>,
}

impl Reader {
    fn run(mut self) {
        if let Err(e) = self.pump() {
            let mut fault = lock(&self.fault);
            fault.get_or_insert_with(|| format!("relay reader: {e}"));
        }
    }

    fn pump(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; MAX_PACKET];
        let mut batch: Vec<Pending> = Vec::with_capacity(READ_BATCH);
        let mut seq = 0u64;
        while !self.stop.load(Ordering::Acquire) {
            if !sys::poll_readable(self.from.as_fd(), SHUTDOWN_POLL)? {
                continue;
            }
            // Drain what is ready, handing packets over every READ_BATCH so a long burst
            // does not hold back the first packets' delivery.
            loop {
                let n = match (&*self.from).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let arrived = self.arrival(&buf[..n]);
                let offer = self.model.offer(arrived, n);
                let fate = match offer {
                    Offer::Deliver { at } => Fate::Delivered {
                        delay: at.saturating_sub(arrived),
                    },
                    Offer::Drop(_) => Fate::Dropped,
                };
                self.handshakes.observe(self.way, arrived, fate, &buf[..n]);
                self.trace
                    .record(arrived, self.way, fate == Fate::Dropped, &buf[..n]);
                match offer {
                    Offer::Deliver { at } => {
                        seq += 1;
                        batch.push(Pending {
                            at,
                            seq,
                            packet: buf[..n].to_vec(),
                        });
                    }
                    Offer::Drop(DropCause::Loss) => {
                        self.state
                            .counters
                            .drops_loss
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Offer::Drop(DropCause::Queue) => {
                        self.state
                            .counters
                            .drops_queue
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                if batch.len() >= READ_BATCH {
                    self.hand_over(&mut batch);
                }
            }
            self.hand_over(&mut batch);
        }
        Ok(())
    }

    /// When `packet`, just read, entered the link: the kernel's stamp where there is one,
    /// else now; counted either way.
    fn arrival(&mut self, packet: &[u8]) -> Duration {
        let now = self.clock.now();
        let counters = &self.state.counters;
        let (at, stamp) = match self.stamps.as_mut().map(|s| s.arrival(packet, now)) {
            Some(Ok(stamped)) => stamped,
            Some(Err(e)) => {
                // The tap failed: the rest of the run is stamped at the read, and said so.
                let note = format!(
                    "the {} tap failed ({e}); stamped at the read since",
                    self.name
                );
                tracing::warn!("{note}");
                lock(&self.state.tap_lost).get_or_insert(note);
                self.stamps = None;
                (now, Stamp::Reader)
            }
            None => (now, Stamp::Reader),
        };
        match stamp {
            Stamp::Kernel { read_delay } => {
                counters.stamped_kernel.fetch_add(1, Ordering::Relaxed);
                record(&self.state.read_delay, read_delay);
            }
            Stamp::Reader => {
                counters.stamped_reader.fetch_add(1, Ordering::Relaxed);
            }
        }
        at
    }

    /// Adds the recorded packets to the direction's trace, then queues `batch` for the sender,
    /// waking it if it sleeps and the head changed.
    fn hand_over(&mut self, batch: &mut Vec<Pending>) {
        if !self.trace.is_empty() {
            lock(&self.state.trace).append(&mut self.trace);
        }
        if batch.is_empty() {
            return;
        }
        let mut queue = lock(&self.state.queue);
        let old_head = queue.heap.peek().map(|Reverse(p)| (p.at, p.seq));
        queue.heap.extend(batch.drain(..).map(Reverse));
        let new_head = queue.heap.peek().map(|Reverse(p)| (p.at, p.seq));
        if queue.sender_waiting && new_head != old_head {
            self.state.wake.notify_one();
        }
    }
}

/// How much a sender may spin: a token bucket that fills at [`SPIN_SHARE_PERCENT`] of wall
/// time up to [`SPIN_BURST`]. A packet stream denser than `SPIN_WINDOW` (one packet every
/// 120 µs at 100 Mbit/s) would otherwise keep a real-time thread spinning without pause, until
/// the kernel throttles real-time threads (at 95% of a CPU, `sched_rt_runtime_us`) and stalls
/// the link for up to 50 ms. Out of budget the sender sleeps until the deadline itself, and is
/// late by one timer wake-up instead.
struct SpinBudget {
    tokens: Duration,
    refilled: Duration,
}

impl SpinBudget {
    fn new(now: Duration) -> Self {
        Self {
            tokens: SPIN_BURST,
            refilled: now,
        }
    }

    /// How early to stop sleeping before a deadline, now.
    fn lead(&mut self, now: Duration) -> Duration {
        let earned = now.saturating_sub(self.refilled) * SPIN_SHARE_PERCENT / 100;
        self.tokens = (self.tokens + earned).min(SPIN_BURST);
        self.refilled = now;
        if self.tokens >= SPIN_WINDOW {
            SPIN_WINDOW
        } else {
            Duration::ZERO
        }
    }

    fn spend(&mut self, spun: Duration) {
        self.tokens = self.tokens.saturating_sub(spun);
    }
}

struct Sender {
    to: Arc<File>,
    state: Arc<DirectionState>,
    clock: Clock,
    stop: Arc<AtomicBool>,
    pcap: Option<SharedPcap>,
}

impl Sender {
    fn run(self) {
        let mut due: Vec<Pending> = Vec::with_capacity(READ_BATCH);
        let mut budget = SpinBudget::new(self.clock.now());
        while self.take_due(&mut due, &mut budget) {
            for pending in due.drain(..) {
                self.deliver(pending, &mut budget);
            }
        }
    }

    /// Waits until the head packet is due — or within `SPIN_WINDOW` of it, while the spin
    /// budget lasts — then moves every packet due by then into `due`; `false` once the relay
    /// stops.
    fn take_due(&self, due: &mut Vec<Pending>, budget: &mut SpinBudget) -> bool {
        let mut queue = lock(&self.state.queue);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            let now = self.clock.now();
            let horizon = now + budget.lead(now);
            let wait = match queue.heap.peek() {
                None => SHUTDOWN_POLL,
                Some(Reverse(head)) if head.at > horizon => (head.at - horizon).min(SHUTDOWN_POLL),
                Some(_) => {
                    while let Some(Reverse(head)) = queue.heap.peek() {
                        if head.at > horizon {
                            break;
                        }
                        if let Some(Reverse(p)) = queue.heap.pop() {
                            due.push(p);
                        }
                    }
                    return true;
                }
            };
            queue.sender_waiting = true;
            queue = self
                .state
                .wake
                .wait_timeout(queue, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            queue.sender_waiting = false;
        }
    }

    /// Spins until the packet's deadline, writes it, and accounts for it.
    fn deliver(&self, pending: Pending, budget: &mut SpinBudget) {
        let started = self.clock.now();
        let mut now = started;
        while now < pending.at {
            std::hint::spin_loop();
            now = self.clock.now();
        }
        budget.spend(now - started);
        let counters = &self.state.counters;
        match (&*self.to).write(&pending.packet) {
            Ok(n) if n == pending.packet.len() => {
                counters.packets.fetch_add(1, Ordering::Relaxed);
                counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                record(&self.state.lateness, now - pending.at);
                if let Some(pcap) = &self.pcap {
                    lock(pcap).write(self.clock.epoch_unix() + now, &pending.packet);
                }
            }
            _ => {
                counters.drops_tun.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
