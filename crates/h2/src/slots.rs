//! Stream slots: HTTP/2's replacement for HTTP/1.1's connection slots.
//!
//! A server caps the streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
//! h2 enforces the cap itself, but silently: a request over the cap is queued *inside* h2 and
//! its HEADERS leave later, so the wait would show up as server time (`wait`) instead of
//! queueing (`blocked`). So the client keeps its own count of streams in flight, never more
//! than h2's current cap, and a request waits here — first come, first served — for a slot.
//! That wait is the request's `blocked` phase, exactly as waiting for a pooled connection is in
//! HTTP/1.1. This module owns only the counting; it does not know HTTP/2 frames.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::oneshot;

#[derive(Debug)]
struct State {
    /// Streams in flight (slots handed out and not yet returned).
    open: usize,
    /// The cap the server advertises, as last seen.
    limit: usize,
    /// Requests waiting for a slot, oldest first; a send hands the slot over.
    waiting: VecDeque<oneshot::Sender<()>>,
}

impl State {
    /// Updates the cap; a raised cap lets waiting requests go at once. A cap of 0 is treated
    /// as 1 so the workload still finishes.
    fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        self.grant();
    }

    /// Takes a slot if one is free and nobody is ahead.
    fn take_free(&mut self) -> bool {
        let free = self.waiting.is_empty() && self.open < self.limit;
        self.open += usize::from(free);
        free
    }

    /// Hands free slots to waiting requests, oldest first.
    fn grant(&mut self) {
        while self.open < self.limit {
            let Some(waiter) = self.waiting.pop_front() else {
                return;
            };
            // A waiter that gave up has dropped its receiver: skip it.
            if waiter.send(()).is_ok() {
                self.open += 1;
            }
        }
    }
}

/// The stream slots of one connection.
#[derive(Debug)]
pub(crate) struct StreamSlots {
    state: Mutex<State>,
}

/// One stream slot, returned when dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a StreamSlots,
}

impl StreamSlots {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(State {
                open: 0,
                limit: limit.max(1),
                waiting: VecDeque::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Updates the cap (the server's SETTINGS may change it at any time).
    #[cfg(test)]
    pub(crate) fn set_limit(&self, limit: usize) {
        self.state().set_limit(limit);
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.state().open
    }

    /// Updates the cap and takes a slot if one is free and nobody is ahead, under one lock:
    /// what nearly every request does.
    pub(crate) fn try_acquire(&self, limit: usize) -> Option<Slot<'_>> {
        let mut state = self.state();
        state.set_limit(limit);
        // Lazily: a `Slot` made and dropped would return a slot never taken.
        state.take_free().then(|| Slot { slots: self })
    }

    /// Waits for a slot: at once if one is free and nobody is ahead, else in turn.
    pub(crate) async fn acquire(&self) -> Slot<'_> {
        loop {
            let receiver = {
                let mut state = self.state();
                if state.take_free() {
                    return Slot { slots: self };
                }
                let (sender, receiver) = oneshot::channel();
                state.waiting.push_back(sender);
                receiver
            };
            let mut waiting = Waiting {
                receiver: Some(receiver),
                slots: self,
            };
            let granted = match waiting.receiver.as_mut() {
                Some(receiver) => receiver.await.is_ok(),
                None => false,
            };
            waiting.receiver = None;
            if granted {
                return Slot { slots: self };
            }
        }
    }

    fn release(&self) {
        let mut state = self.state();
        state.open = state.open.saturating_sub(1);
        state.grant();
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.release();
    }
}

/// A request in the queue; if it is dropped (the fetch cancelled) after being granted a slot
/// but before seeing it, the slot goes back.
struct Waiting<'a> {
    receiver: Option<oneshot::Receiver<()>>,
    slots: &'a StreamSlots,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.receiver.take() {
            receiver.close();
            if receiver.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn pending<F: std::future::Future>(f: F) -> bool {
        tokio::time::timeout(Duration::from_millis(20), f)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn waits_for_a_free_slot_in_order() {
        let slots = StreamSlots::new(2);
        let a = slots.acquire().await;
        let _b = slots.acquire().await;
        assert!(
            pending(slots.acquire()).await,
            "a third slot over a cap of 2"
        );
        assert_eq!(slots.in_flight(), 2);
        drop(a);
        let _c = slots.acquire().await;
        assert_eq!(slots.in_flight(), 2);
    }

    #[tokio::test]
    async fn a_raised_cap_lets_waiters_go_and_a_cancelled_waiter_returns_its_slot() {
        let slots = StreamSlots::new(1);
        let a = slots.acquire().await;
        // Cancelled while waiting: it must not hold a slot afterwards.
        assert!(pending(slots.acquire()).await);
        drop(a);
        assert_eq!(slots.in_flight(), 0);
        let _a = slots.acquire().await;
        slots.set_limit(3);
        let _b = slots.acquire().await;
        let _c = slots.acquire().await;
        assert_eq!(slots.in_flight(), 3);
        slots.set_limit(0);
        assert!(pending(slots.acquire()).await);
    }
}
