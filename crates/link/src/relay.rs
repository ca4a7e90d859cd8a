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
//! A reply is the one packet whose arrival the relay can foresee: when a sender has delivered
//! its last queued packet to an endpoint, the reader facing that endpoint — if it has been idle
//! for [`REPLY_IDLE`] — polls its device without sleeping for [`REPLY_SPIN`], so an answer is
//! stamped when it leaves, not one idle-CPU wake-up later (tens of µs on a virtual machine,
//! paid twice per round trip). Busy flows never trigger it: their readers are never idle.
//!
//! Spinning is limited to those short windows because the lab's two cores are shared with
//! both TCP endpoints. Threads ask for `SCHED_FIFO` when told to and fall back quietly to the
//! normal policy when refused; which one they got is reported.
//!
//! It owns the threads, the queues between them, the counters and the pcap tap; it does not
//! decide when a packet is due or dropped (the model) nor set up the devices (`tun.rs`).

use crate::model::{Direction, DropCause, Offer};
use crate::pcap::PcapWriter;
use crate::sys;
use hdrhistogram::Histogram;
use httplab_core::Clock;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long before a packet's deadline the sender stops sleeping and starts spinning.
pub const SPIN_WINDOW: Duration = Duration::from_micros(150);
/// How long a reader polls without sleeping after the opposite direction delivered its last
/// queued packet: an endpoint's turnaround from an idle start.
pub const REPLY_SPIN: Duration = Duration::from_micros(300);
/// How long a reader must have been idle for a delivery to start its reply spin.
pub const REPLY_IDLE: Duration = Duration::from_millis(1);
/// The longest a relay thread blocks without checking for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(20);
/// The most packets a reader takes from its device before handing them to the sender.
const READ_BATCH: usize = 64;
/// The largest packet a TUN device can hand over (its MTU is far below).
const MAX_PACKET: usize = 65_536;
/// The relay threads' `SCHED_FIFO` priority, when real-time scheduling is granted.
const FIFO_PRIORITY: i32 = 10;
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
    pub fn new(writer: PcapWriter<BufWriter<File>>) -> Self {
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
    pub fn finish(&mut self) -> io::Result<()> {
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

/// How the opposite direction's sender tells a reader to spin for a reply.
struct ReplyWatch {
    /// Spin (poll without sleeping) until this time, in nanoseconds of the lab clock.
    spin_until: AtomicU64,
    /// When the reader last read a packet, in nanoseconds of the lab clock.
    last_read: AtomicU64,
    /// The reader is (about to be) asleep in `poll`.
    asleep: AtomicBool,
    /// Wakes the reader out of `poll`: one datagram, any content.
    bell: UnixDatagram,
    /// The reader's end of the bell.
    ring: UnixDatagram,
}

impl ReplyWatch {
    fn new() -> io::Result<Self> {
        let (bell, ring) = UnixDatagram::pair()?;
        bell.set_nonblocking(true)?;
        ring.set_nonblocking(true)?;
        Ok(Self {
            spin_until: AtomicU64::new(0),
            last_read: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            bell,
            ring,
        })
    }

    /// Called by the opposite sender at `now`, having just emptied its queue.
    fn expect_reply(&self, now: Duration) {
        let now_ns = nanos(now);
        if std::env::var_os("HL_NOSPIN").is_some() || now_ns.saturating_sub(self.last_read.load(Ordering::Relaxed)) < nanos(REPLY_IDLE) {
            return;
        }
        self.spin_until
            .store(now_ns + nanos(REPLY_SPIN), Ordering::SeqCst);
        if self.asleep.load(Ordering::SeqCst) {
            // A full socket buffer means a wake-up is pending anyway.
            let _ = self.bell.send(&[1]);
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The counters of one direction, updated by its two threads and read by `stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub drops_loss: AtomicU64,
    pub drops_queue: AtomicU64,
    pub drops_tun: AtomicU64,
}

/// One direction's live state, shared between its threads and the emulator.
pub(crate) struct DirectionState {
    queue: Mutex<Queue>,
    wake: Condvar,
    pub counters: Counters,
    /// Lateness of each delivered packet, in nanoseconds.
    pub lateness: Mutex<Histogram<u64>>,
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
            lateness: Mutex::new(
                Histogram::new_with_bounds(1, LATENESS_MAX_NS, 3)
                    .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds")),
            ),
        }
    }
}

/// Locks, shrugging off poisoning: every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One direction's endpoints: the device it reads from and the one it writes to.
pub(crate) struct Route {
    pub name: &'static str,
    pub model: Direction,
    pub from: Arc<File>,
    pub to: Arc<File>,
}

/// The running relay: four threads and their shared state.
pub(crate) struct Relay {
    pub uplink: Arc<DirectionState>,
    pub downlink: Arc<DirectionState>,
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
    pub fn start(
        uplink: Route,
        downlink: Route,
        clock: Clock,
        pcap: Option<SharedPcap>,
        realtime: bool,
    ) -> io::Result<Self> {
        let mut relay = Self {
            uplink: Arc::new(DirectionState::new()),
            downlink: Arc::new(DirectionState::new()),
            stop: Arc::new(AtomicBool::new(false)),
            finished: Arc::new(AtomicUsize::new(0)),
            threads: Vec::new(),
            fifo_refused: Arc::new(AtomicUsize::new(0)),
            realtime,
            fault: Arc::new(Mutex::new(None)),
        };
        // Each reader's watch; the opposite direction's sender rings it.
        let up_watch = Arc::new(ReplyWatch::new()?);
        let down_watch = Arc::new(ReplyWatch::new()?);
        for (route, state, watch, reply) in [
            (
                uplink,
                relay.uplink.clone(),
                up_watch.clone(),
                down_watch.clone(),
            ),
            (downlink, relay.downlink.clone(), down_watch, up_watch),
        ] {
            let ends = Ends { watch, reply };
            if let Err(e) = relay.spawn_direction(route, state, ends, clock, pcap.clone()) {
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
        ends: Ends,
        clock: Clock,
        pcap: Option<SharedPcap>,
    ) -> io::Result<()> {
        let Route {
            name,
            model,
            from,
            to,
        } = route;
        let reader = Reader {
            model,
            from,
            watch: ends.watch,
            state: state.clone(),
            clock,
            stop: self.stop.clone(),
            fault: self.fault.clone(),
        };
        let sender = Sender {
            to,
            reply: ends.reply,
            state,
            clock,
            stop: self.stop.clone(),
            pcap,
        };
        let spawn = |role: &str, body: Box<dyn FnOnce() + Send>| {
            let finished = self.finished.clone();
            let fifo_refused = self.fifo_refused.clone();
            let realtime = self.realtime;
            std::thread::Builder::new()
                .name(format!("hl-{name}-{role}"))
                .spawn(move || {
                    // A best effort: without it timers may fire up to 50 µs late.
                    let _ = sys::set_timer_slack(1);
                    if realtime && sys::set_fifo(FIFO_PRIORITY).is_err() {
                        fifo_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    body();
                    finished.fetch_add(1, Ordering::Release);
                })
        };
        let reader = spawn("read", Box::new(move || reader.run()))?;
        self.threads.push(reader);
        let sender = spawn("send", Box::new(move || sender.run()))?;
        self.threads.push(sender);
        Ok(())
    }

    /// Whether every relay thread runs under `SCHED_FIFO`.
    pub fn realtime(&self) -> bool {
        self.realtime && self.fifo_refused.load(Ordering::Relaxed) == 0
    }

    /// Asks every thread to stop and joins those that finish within `limit`; returns whether
    /// all did (a thread that does not is left detached, holding only its device's file).
    pub fn stop(&mut self, limit: Duration) -> bool {
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

/// A direction's links to the reply watches: its reader's own, and the opposite reader's,
/// which its sender rings.
struct Ends {
    watch: Arc<ReplyWatch>,
    reply: Arc<ReplyWatch>,
}

struct Reader {
    model: Direction,
    from: Arc<File>,
    watch: Arc<ReplyWatch>,
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
        let watch = self.watch.clone();
        while !self.stop.load(Ordering::Acquire) {
            let spinning = nanos(self.clock.now()) < watch.spin_until.load(Ordering::SeqCst);
            if !spinning {
                watch.asleep.store(true, Ordering::SeqCst);
                // Re-checked once marked asleep, so a sender's ring cannot slip in between.
                if nanos(self.clock.now()) >= watch.spin_until.load(Ordering::SeqCst) {
                    let [_, rung] = sys::poll_readable(
                        [self.from.as_fd(), watch.ring.as_fd()],
                        SHUTDOWN_POLL,
                    )?;
                    if rung {
                        while watch.ring.recv(&mut [0u8; 8]).is_ok() {}
                    }
                }
                watch.asleep.store(false, Ordering::SeqCst);
            }
            let read = self.drain(&mut buf, &mut batch, &mut seq)?;
            if read > 0 {
                watch
                    .last_read
                    .store(nanos(self.clock.now()), Ordering::Relaxed);
            } else if spinning {
                std::hint::spin_loop();
            }
        }
        Ok(())
    }

    /// Reads every packet that is ready, offers each to the model and hands the accepted ones
    /// to the sender (every READ_BATCH, so a long burst does not hold back its first packets);
    /// returns how many packets it read.
    fn drain(
        &mut self,
        buf: &mut [u8],
        batch: &mut Vec<Pending>,
        seq: &mut u64,
    ) -> io::Result<usize> {
        let mut read = 0;
        loop {
            let n = match (&*self.from).read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            read += 1;
            let now = self.clock.now();
            match self.model.offer(now, n) {
                Offer::Deliver { at } => {
                    *seq += 1;
                    batch.push(Pending {
                        at,
                        seq: *seq,
                        packet: buf[..n].to_vec(),
                    });
                }
                Offer::Drop(DropCause::Loss) => {
                    self.state.counters.drops_loss.fetch_add(1, Ordering::Relaxed);
                }
                Offer::Drop(DropCause::Queue) => {
                    self.state
                        .counters
                        .drops_queue
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            if batch.len() >= READ_BATCH {
                self.hand_over(batch);
            }
        }
        self.hand_over(batch);
        Ok(read)
    }

    /// Queues `batch` for the sender, waking it if it sleeps and the head changed.
    fn hand_over(&self, batch: &mut Vec<Pending>) {
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

struct Sender {
    to: Arc<File>,
    reply: Arc<ReplyWatch>,
    state: Arc<DirectionState>,
    clock: Clock,
    stop: Arc<AtomicBool>,
    pcap: Option<SharedPcap>,
}

impl Sender {
    fn run(self) {
        let mut due: Vec<Pending> = Vec::with_capacity(READ_BATCH);
        while let Some(emptied) = self.take_due(&mut due) {
            for pending in due.drain(..) {
                self.deliver(pending);
            }
            if emptied {
                self.reply.expect_reply(self.clock.now());
            }
        }
    }

    /// Waits until the head packet is within `SPIN_WINDOW` of its deadline, then moves every
    /// packet due by the end of that window into `due`; returns whether that emptied the
    /// queue, or `None` once the relay stops.
    fn take_due(&self, due: &mut Vec<Pending>) -> Option<bool> {
        let mut queue = lock(&self.state.queue);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return None;
            }
            let horizon = self.clock.now() + SPIN_WINDOW;
            let wait = match queue.heap.peek() {
                None => SHUTDOWN_POLL,
                Some(Reverse(head)) if head.at > horizon => {
                    (head.at - horizon).min(SHUTDOWN_POLL)
                }
                Some(_) => {
                    while let Some(Reverse(head)) = queue.heap.peek() {
                        if head.at > horizon {
                            break;
                        }
                        if let Some(Reverse(p)) = queue.heap.pop() {
                            due.push(p);
                        }
                    }
                    return Some(queue.heap.is_empty());
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
    fn deliver(&self, pending: Pending) {
        let mut now = self.clock.now();
        while now < pending.at {
            std::hint::spin_loop();
            now = self.clock.now();
        }
        let counters = &self.state.counters;
        match (&*self.to).write(&pending.packet) {
            Ok(n) if n == pending.packet.len() => {
                counters.packets.fetch_add(1, Ordering::Relaxed);
                counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                let late = u64::try_from((now - pending.at).as_nanos()).unwrap_or(u64::MAX);
                lock(&self.state.lateness).saturating_record(late.max(1));
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
