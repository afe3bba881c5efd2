//! Expiry: the time an entry may live, and the queue of deadlines that lets the cache expire
//! entries during ordinary operations, without the user driving maintenance.
//!
//! Time is read through the cache's injected [`Clock`](ha_core::Clock) and kept as nanoseconds
//! since the cache was built. An entry expires at the earlier of its time-to-live deadline
//! (per-entry TTL, else the cache's default) and its last access plus the cache's time to idle.
//! The queue is a min-heap of `(deadline, slot, generation)`; an entry has at most one live heap
//! item (the one matching its `queued` deadline), the rest are skipped when popped. Time to idle
//! moves an entry's deadline on every read without touching the heap: when its old deadline pops
//! the entry is re-queued at its current one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ha_core::Clock;

/// A deadline that never comes.
pub(crate) const NEVER: u64 = u64::MAX;

/// Converts a duration to whole nanoseconds, saturating.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The cache's view of time: an injected clock and the instant the cache was built.
#[derive(Debug, Clone)]
pub(crate) struct Timer {
    clock: Arc<dyn Clock>,
    origin: Instant,
}

impl Timer {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Timer {
        let origin = clock.now();
        Timer { clock, origin }
    }

    /// Nanoseconds since the cache was built.
    pub(crate) fn now(&self) -> u64 {
        nanos(self.clock.now().saturating_duration_since(self.origin))
    }
}

/// Reads the clock at most once per operation, and only when an answer needs it.
#[derive(Debug)]
pub(crate) struct LazyNow<'a> {
    timer: &'a Timer,
    now: Option<u64>,
}

impl<'a> LazyNow<'a> {
    pub(crate) fn new(timer: &'a Timer) -> LazyNow<'a> {
        LazyNow { timer, now: None }
    }

    pub(crate) fn get(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| self.timer.now())
    }

    /// The time if it was already read.
    pub(crate) fn read(&self) -> Option<u64> {
        self.now
    }
}

/// One heap item: a deadline for the entry in `slot` while its generation is `generation`.
type Item = Reverse<(u64, u32, u32)>;

/// Deadlines of the entries that can expire, earliest first.
#[derive(Debug, Default)]
pub(crate) struct ExpiryQueue {
    heap: BinaryHeap<Item>,
}

impl ExpiryQueue {
    pub(crate) fn push(&mut self, deadline: u64, slot: u32, generation: u32) {
        if deadline != NEVER {
            self.heap.push(Reverse((deadline, slot, generation)));
        }
    }

    /// Pops the earliest item whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, u32, u32)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _, _))) if *deadline <= now => {
                self.heap.pop().map(|Reverse(item)| item)
            }
            _ => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }

    /// Keeps only the items `live` accepts (drops stale ones when the heap has grown).
    pub(crate) fn retain(&mut self, mut live: impl FnMut(u64, u32, u32) -> bool) {
        self.heap.retain(|Reverse((d, s, g))| live(*d, *s, *g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_only_due_deadlines_earliest_first() {
        let mut q = ExpiryQueue::default();
        q.push(30, 1, 0);
        q.push(10, 2, 0);
        q.push(NEVER, 3, 0);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(5), None);
        assert_eq!(q.pop_due(40), Some((10, 2, 0)));
        assert_eq!(q.pop_due(40), Some((30, 1, 0)));
        assert!(q.is_empty());
    }

    #[test]
    fn timer_counts_from_construction() {
        let clock = ha_core::ManualClock::new();
        let timer = Timer::new(Arc::new(clock.clone()));
        clock.advance(Duration::from_millis(3));
        assert_eq!(timer.now(), 3_000_000);
        let mut lazy = LazyNow::new(&timer);
        assert_eq!(lazy.read(), None);
        assert_eq!(lazy.get(), 3_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
