//! Where time comes from, for the few components that must read it themselves.
//!
//! Most of ha takes time as an argument (`now: Instant`). A component called at a high rate, where
//! passing time would burden every call (a cache checking TTLs), takes a [`Clock`] at construction
//! instead. [`SystemClock`] reads the operating system; [`ManualClock`] is moved by hand in tests and
//! simulations. This module holds the only clock read in the algorithm crates.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of monotonic time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant. Successive calls never go backwards.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// The operating system's monotonic clock ([`Instant::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to; clones share one time, across threads.
///
/// ```
/// use std::time::Duration;
/// use ha_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// let start = clock.now();
/// shared.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - start, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    origin: Instant,
    elapsed_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at an arbitrary origin (the system's current instant, read once).
    #[must_use]
    pub fn new() -> ManualClock {
        ManualClock::starting_at(SystemClock.now())
    }

    /// A clock standing at `origin`.
    #[must_use]
    pub fn starting_at(origin: Instant) -> ManualClock {
        ManualClock {
            origin,
            elapsed_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock, and every clone of it, forward by `by`.
    ///
    /// The clock saturates about 584 years after its origin rather than wrap or panic.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` only fails when the closure returns `None`, which this one never does.
        let _ = self
            .elapsed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                let next = current.saturating_add(by);
                if self
                    .origin
                    .checked_add(Duration::from_nanos(next))
                    .is_some()
                {
                    Some(next)
                } else {
                    Some(current)
                }
            });
    }

    /// How far the clock has moved since its origin.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        // `advance` only stores offsets that fit, so the fallback is never taken.
        self.origin
            .checked_add(self.elapsed())
            .unwrap_or(self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_across_threads() {
        let clock = ManualClock::new();
        let start = clock.now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = clock.clone();
                std::thread::spawn(move || c.advance(Duration::from_millis(10)))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(clock.now() - start, Duration::from_millis(40));
    }

    #[test]
    fn manual_clock_saturates_instead_of_overflowing() {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.now() >= clock.origin);
    }

    #[test]
    fn clocks_work_behind_arc_and_reference() {
        let clock = Arc::new(ManualClock::new());
        let dynamic: Arc<dyn Clock> = clock.clone();
        clock.advance(Duration::from_secs(1));
        assert_eq!(dynamic.now(), clock.now());
        fn read(clock: impl Clock) -> Instant {
            clock.now()
        }
        assert_eq!(read(&*clock), clock.now());
    }
}
