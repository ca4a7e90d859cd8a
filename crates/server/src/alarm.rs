//! Think times that end at the same instant end together.
//!
//! A think time is slept to within tens of microseconds: tokio's timer (whose wheel ticks in
//! whole milliseconds and rounds up) for all but the last [`PRECISE_TAIL`], then a thread's
//! `nanosleep` for the rest; tokio alone would add up to a millisecond to every think time,
//! which the analytical model would count as server time.
//!
//! Requests that arrived in the same read (an HTTP/2 client's burst of HEADERS) and think for
//! the same time share one deadline on the lab clock. They share one alarm too: one precise
//! sleep, after which every handler waiting on that deadline is woken in the same turn of the
//! server's loop, so their responses are ready together and can leave in one packed write, as
//! a production server's would. Separate sleeps would wake them microseconds apart, each in a
//! turn of its own. It owns the alarms; it does not decide when a think time starts.

use httplab_core::Clock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How much of a think time is left to a precise sleep after tokio's timer.
const PRECISE_TAIL: Duration = Duration::from_millis(2);

/// The alarms of one server, by deadline on the lab clock.
#[derive(Default)]
pub(crate) struct Alarms {
    pending: Mutex<HashMap<Duration, Arc<Alarm>>>,
}

#[derive(Default)]
struct Alarm {
    rung: AtomicBool,
    notify: Notify,
}

impl Alarms {
    /// Returns at `deadline` on `clock` (at once if it has passed), together with every other
    /// caller waiting for the same deadline.
    pub(crate) async fn until(&self, clock: Clock, deadline: Duration) {
        let left = deadline.saturating_sub(clock.now());
        if left.is_zero() {
            return;
        }
        if left > PRECISE_TAIL {
            tokio::time::sleep(left - PRECISE_TAIL).await;
        }
        let alarm = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match pending.get(&deadline) {
                Some(alarm) => alarm.clone(),
                None => {
                    let alarm = Arc::new(Alarm::default());
                    pending.insert(deadline, alarm.clone());
                    // The sleep belongs to no one handler, so a handler cancelled meanwhile
                    // (its request timed out) does not leave the others waiting.
                    tokio::spawn(ring(clock, deadline, alarm.clone()));
                    alarm
                }
            }
        };
        let notified = alarm.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !alarm.rung.load(Ordering::Acquire) {
            notified.await;
        }
        self.sweep();
    }

    /// Forgets alarms that have rung.
    fn sweep(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, a| !a.rung.load(Ordering::Acquire));
    }
}

/// Sleeps precisely to `deadline`, then wakes every waiter of `alarm` at once.
async fn ring(clock: Clock, deadline: Duration, alarm: Arc<Alarm>) {
    let left = deadline.saturating_sub(clock.now());
    if !left.is_zero() {
        let slept = tokio::task::spawn_blocking(move || std::thread::sleep(left)).await;
        if slept.is_err() {
            // The blocking pool is shutting down with the runtime: fall back to the timer.
            tokio::time::sleep(left).await;
        }
    }
    alarm.rung.store(true, Ordering::Release);
    alarm.notify.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_on_one_deadline_wake_in_the_same_turn() {
        let clock = Clock::start();
        let alarms = Arc::new(Alarms::default());
        let deadline = clock.now() + Duration::from_millis(5);
        let woke: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (alarms, woke) = (alarms.clone(), woke.clone());
            tasks.push(tokio::spawn(async move {
                alarms.until(clock, deadline).await;
                woke.lock().unwrap().push(clock.now());
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let woke = woke.lock().unwrap().clone();
        assert_eq!(woke.len(), 8);
        assert!(woke.iter().all(|&w| w >= deadline), "none woke early");
        let spread = *woke.iter().max().unwrap() - *woke.iter().min().unwrap();
        // All woken by one notify in one turn of a one-thread runtime: the spread is the
        // handlers' own microseconds, far below a separate sleep's wake-up each.
        assert!(spread < Duration::from_millis(1), "spread {spread:?}");
        alarms.sweep();
        assert!(alarms.pending.lock().unwrap().is_empty());
    }
}
