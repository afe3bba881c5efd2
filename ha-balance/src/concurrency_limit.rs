//! Concurrency limits (bulkheads): at most `limit` calls under way at once, with an optional
//! bounded queue of waiters.
//!
//! Followed: resilience4j's semaphore `Bulkhead` (`maxConcurrentCalls`, `maxWaitDuration`) and
//! Envoy's per-cluster `max_requests` / `max_pending_requests`, in sans-IO form: the limiter
//! never blocks. A call that finds every slot taken is queued (when the queue has room) and gets
//! a [`WaiterTicket`]; when a slot frees, [`ConcurrencyLimiter::release`] hands it to the oldest
//! waiter still within its wait, returning the ticket and its permit for the caller to wake the
//! waiter with. Waiters past their wait come out of [`ConcurrencyLimiter::handle_timeout`]; the
//! caller fails them. [`ConcurrencyLimits`] keeps one limiter per endpoint or route.
//!
//! The limit can change at run time ([`ConcurrencyLimiter::set_limit`]), which is how an
//! [`AdaptiveLimit`](crate::AdaptiveLimit) steers it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{non_zero, non_zero_duration};
use crate::{Error, Result};

/// The settings of a [`ConcurrencyLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConcurrencyLimitConfig {
    /// Calls under way at once. Default 100; not zero.
    pub max_concurrent: u32,
    /// Calls that may wait for a slot. Default 0: no queue, a call finding no slot is refused
    /// (resilience4j's `maxWaitDuration` 0).
    pub max_queue: u32,
    /// The longest a queued call waits. Default 1 s; not zero.
    pub max_wait: Duration,
}

impl Default for ConcurrencyLimitConfig {
    fn default() -> Self {
        ConcurrencyLimitConfig {
            max_concurrent: 100,
            max_queue: 0,
            max_wait: Duration::from_secs(1),
        }
    }
}

impl ConcurrencyLimitConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`]) for a zero limit or wait.
    pub fn validate(&self) -> Result<()> {
        non_zero("max concurrent calls", self.max_concurrent.into())?;
        non_zero_duration("max wait", self.max_wait)?;
        Ok(())
    }
}

/// A queued call, to be woken when [`release`](ConcurrencyLimiter::release) or
/// [`set_limit`](ConcurrencyLimiter::set_limit) hands it a permit, or failed when
/// [`handle_timeout`](ConcurrencyLimiter::handle_timeout) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaiterTicket(u64);

impl WaiterTicket {
    /// The ticket's number, unique within its limiter.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for WaiterTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Leave for one call under a [`ConcurrencyLimiter`]; give it back with
/// [`release`](ConcurrencyLimiter::release) when the call ends. Neither `Clone` nor `Copy`.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit holds a slot until it is released"]
pub struct ConcurrencyPermit {
    limiter: u64,
}

/// The answer to [`try_acquire`](ConcurrencyLimiter::try_acquire).
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// A slot was free: call now.
    Granted(ConcurrencyPermit),
    /// Every slot is taken; the call waits in the queue until it is handed a permit or its
    /// wait ends.
    Queued(WaiterTicket),
    /// Every slot is taken and the queue is full (or there is none).
    Rejected,
}

/// A waiter handed a slot: wake it with its permit.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the waiter must be woken with its permit, or the slot leaks"]
pub struct Grant {
    /// The waiter.
    pub ticket: WaiterTicket,
    /// Its permit.
    pub permit: ConcurrencyPermit,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    ticket: WaiterTicket,
    deadline: Instant,
}

static NEXT_LIMITER: AtomicU64 = AtomicU64::new(1);

/// A bulkhead for one endpoint or route.
///
/// # Semantics
///
/// Concurrency limits (bulkheads): at most `limit` calls under way at once, with an optional
/// bounded queue of waiters.
///
/// Followed: resilience4j's semaphore `Bulkhead` (`maxConcurrentCalls`, `maxWaitDuration`) and
/// Envoy's per-cluster `max_requests` / `max_pending_requests`, in sans-IO form: the limiter
/// never blocks. A call that finds every slot taken is queued (when the queue has room) and gets
/// a [`WaiterTicket`]; when a slot frees, [`ConcurrencyLimiter::release`] hands it to the oldest
/// waiter still within its wait, returning the ticket and its permit for the caller to wake the
/// waiter with. Waiters past their wait come out of [`ConcurrencyLimiter::handle_timeout`]; the
/// caller fails them. [`ConcurrencyLimits`] keeps one limiter per endpoint or route.
///
/// The limit can change at run time ([`ConcurrencyLimiter::set_limit`]), which is how an
/// [`AdaptiveLimit`](crate::AdaptiveLimit) steers it.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{Admission, ConcurrencyLimitConfig, ConcurrencyLimiter};
///
/// let mut limiter = ConcurrencyLimiter::new(ConcurrencyLimitConfig {
///     max_concurrent: 1,
///     max_queue: 1,
///     max_wait: Duration::from_millis(500),
/// })?;
/// let now = Instant::now();
/// let Admission::Granted(first) = limiter.try_acquire(now) else { panic!() };
/// let Admission::Queued(ticket) = limiter.try_acquire(now) else { panic!() };
/// assert_eq!(limiter.try_acquire(now), Admission::Rejected); // queue full
///
/// // The first call ends: its slot goes to the waiter, whom the caller wakes.
/// let grant = limiter.release(first, now)?.expect("a waiter");
/// assert_eq!(grant.ticket, ticket);
/// assert_eq!(limiter.in_flight(), 1);
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug)]
pub struct ConcurrencyLimiter {
    config: ConcurrencyLimitConfig,
    id: u64,
    limit: u32,
    in_flight: u32,
    queue: VecDeque<Waiter>,
    expired: Vec<WaiterTicket>,
    next_ticket: u64,
}

impl ConcurrencyLimiter {
    /// An idle limiter.
    ///
    /// # Errors
    /// As [`ConcurrencyLimitConfig::validate`].
    pub fn new(config: ConcurrencyLimitConfig) -> Result<ConcurrencyLimiter> {
        config.validate()?;
        Ok(ConcurrencyLimiter::from_valid(config))
    }

    /// An idle limiter with settings already validated.
    fn from_valid(config: ConcurrencyLimitConfig) -> ConcurrencyLimiter {
        ConcurrencyLimiter {
            config,
            id: NEXT_LIMITER.fetch_add(1, Ordering::Relaxed),
            limit: config.max_concurrent,
            in_flight: 0,
            queue: VecDeque::new(),
            expired: Vec::new(),
            next_ticket: 0,
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ConcurrencyLimitConfig {
        &self.config
    }

    /// The current limit (the configured one until [`set_limit`](Self::set_limit)).
    #[must_use]
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Calls under way.
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Calls waiting.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Asks for a slot at `now`.
    pub fn try_acquire(&mut self, now: Instant) -> Admission {
        if self.in_flight < self.limit && self.queue.is_empty() {
            self.in_flight += 1;
            return Admission::Granted(self.permit());
        }
        if self.queue.len() < self.config.max_queue as usize {
            let ticket = WaiterTicket(self.next_ticket);
            self.next_ticket += 1;
            let deadline = crate::deadline::deadline(now, self.config.max_wait);
            self.queue.push_back(Waiter { ticket, deadline });
            tracing::debug!(%ticket, in_flight = self.in_flight, limit = self.limit, queued = self.queue.len(), "bulkhead queued a call");
            return Admission::Queued(ticket);
        }
        tracing::debug!(
            in_flight = self.in_flight,
            limit = self.limit,
            queued = self.queue.len(),
            "bulkhead rejected a call"
        );
        Admission::Rejected
    }

    /// Gives back a slot at `now`; the slot goes to the oldest waiter still within its wait,
    /// returned for the caller to wake (waiters found past their wait are kept for
    /// [`handle_timeout`](Self::handle_timeout)).
    ///
    /// # Errors
    /// [`Error::ForeignPermit`] for a permit another limiter issued.
    pub fn release(&mut self, permit: ConcurrencyPermit, now: Instant) -> Result<Option<Grant>> {
        if permit.limiter != self.id || self.in_flight == 0 {
            return Err(Error::ForeignPermit {
                component: "concurrency limiter",
            });
        }
        self.in_flight -= 1;
        Ok(self.grant_next(now))
    }

    /// Changes the limit (at least 1) at `now`; a higher limit hands slots to waiters at once.
    /// A lower one takes effect as calls end: none under way is cut off.
    pub fn set_limit(&mut self, limit: u32, now: Instant) -> Vec<Grant> {
        let limit = limit.max(1);
        if limit != self.limit {
            tracing::debug!(
                from = self.limit,
                to = limit,
                in_flight = self.in_flight,
                "bulkhead limit changed"
            );
        }
        self.limit = limit;
        let mut grants = Vec::new();
        while let Some(grant) = self.grant_next(now) {
            grants.push(grant);
        }
        grants
    }

    /// Removes a waiter that gave up.
    ///
    /// # Errors
    /// [`Error::UnknownTicket`] if it is not queued (already granted, expired or cancelled).
    pub fn cancel(&mut self, ticket: WaiterTicket) -> Result<()> {
        let position = self
            .queue
            .iter()
            .position(|w| w.ticket == ticket)
            .ok_or(Error::UnknownTicket(ticket.0))?;
        self.queue.remove(position);
        Ok(())
    }

    /// The waiters whose wait has ended at `now`, removed from the queue: fail them.
    #[must_use]
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<WaiterTicket> {
        let mut expired = std::mem::take(&mut self.expired);
        // Deadlines grow along the queue (one wait for all), so the expired are at its front.
        while let Some(w) = self.queue.front() {
            if w.deadline > now {
                break;
            }
            expired.push(w.ticket);
            self.queue.pop_front();
        }
        if !expired.is_empty() {
            tracing::debug!(expired = expired.len(), "bulkhead waiters timed out");
        }
        expired
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the earliest deadline of a
    /// waiter.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.front().map(|w| w.deadline)
    }

    /// Checks the internal bookkeeping, for tests and fuzzing.
    ///
    /// # Panics
    /// If it is inconsistent, which is a bug in ha-balance.
    pub fn check_invariants(&self) {
        assert!(self.queue.len() <= self.config.max_queue as usize);
        assert!(self.queue.is_empty() || self.in_flight >= self.limit);
        assert!(
            self.queue
                .iter()
                .zip(self.queue.iter().skip(1))
                .all(|(a, b)| a.deadline <= b.deadline)
        );
    }

    fn permit(&self) -> ConcurrencyPermit {
        ConcurrencyPermit { limiter: self.id }
    }

    fn grant_next(&mut self, now: Instant) -> Option<Grant> {
        if self.in_flight >= self.limit {
            return None;
        }
        while let Some(w) = self.queue.pop_front() {
            if w.deadline <= now {
                self.expired.push(w.ticket);
                continue;
            }
            self.in_flight += 1;
            tracing::debug!(ticket = %w.ticket, in_flight = self.in_flight, "bulkhead handed a slot to a waiter");
            return Some(Grant {
                ticket: w.ticket,
                permit: self.permit(),
            });
        }
        None
    }
}

/// One [`ConcurrencyLimiter`] per endpoint or route, made on first use from a default config
/// or a per-key override. Keys are kept in order, so iteration is deterministic.
///
/// ```
/// use std::time::Instant;
/// use ha_balance::{Admission, ConcurrencyLimitConfig, ConcurrencyLimits};
///
/// let mut limits = ConcurrencyLimits::new(ConcurrencyLimitConfig { max_concurrent: 2, ..Default::default() })?;
/// let now = Instant::now();
/// limits.set_override("/search", ConcurrencyLimitConfig { max_concurrent: 1, ..Default::default() }, now)?;
/// assert!(matches!(limits.try_acquire(&"/search", now), Admission::Granted(_)));
/// assert_eq!(limits.try_acquire(&"/search", now), Admission::Rejected);
/// assert!(matches!(limits.try_acquire(&"/home", now), Admission::Granted(_)));
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug)]
pub struct ConcurrencyLimits<K> {
    default: ConcurrencyLimitConfig,
    overrides: BTreeMap<K, ConcurrencyLimitConfig>,
    limiters: BTreeMap<K, ConcurrencyLimiter>,
}

impl<K: Ord + Clone> ConcurrencyLimits<K> {
    /// No limiters yet; each key gets `default` unless overridden.
    ///
    /// # Errors
    /// As [`ConcurrencyLimitConfig::validate`].
    pub fn new(default: ConcurrencyLimitConfig) -> Result<Self> {
        default.validate()?;
        Ok(ConcurrencyLimits {
            default,
            overrides: BTreeMap::new(),
            limiters: BTreeMap::new(),
        })
    }

    /// Gives `key` its own settings. An idle limiter for it is rebuilt now; a busy one takes
    /// the new `max_concurrent` at once — returning the waiters a higher limit lets in, for the
    /// caller to wake — and keeps its queue settings (`max_queue`, `max_wait`) for the calls
    /// already queued, taking the new ones once it is idle.
    ///
    /// # Errors
    /// As [`ConcurrencyLimitConfig::validate`].
    pub fn set_override(
        &mut self,
        key: K,
        config: ConcurrencyLimitConfig,
        now: Instant,
    ) -> Result<Vec<Grant>> {
        config.validate()?;
        let mut grants = Vec::new();
        if let Some(limiter) = self.limiters.get_mut(&key) {
            if limiter.in_flight() == 0 && limiter.queued() == 0 {
                *limiter = ConcurrencyLimiter::from_valid(config);
            } else {
                grants = limiter.set_limit(config.max_concurrent, now);
            }
        }
        self.overrides.insert(key, config);
        Ok(grants)
    }

    /// The limiter of `key`: made if new, and rebuilt with the key's settings if they changed
    /// while it was busy and it is idle now.
    pub fn limiter(&mut self, key: &K) -> &mut ConcurrencyLimiter {
        let config = self.overrides.get(key).copied().unwrap_or(self.default);
        let limiter = self
            .limiters
            .entry(key.clone())
            .or_insert_with(|| ConcurrencyLimiter::from_valid(config));
        if limiter.config != config && limiter.in_flight() == 0 && limiter.queued() == 0 {
            *limiter = ConcurrencyLimiter::from_valid(config);
        }
        limiter
    }

    /// [`ConcurrencyLimiter::try_acquire`] on `key`'s limiter.
    pub fn try_acquire(&mut self, key: &K, now: Instant) -> Admission {
        self.limiter(key).try_acquire(now)
    }

    /// [`ConcurrencyLimiter::release`] on `key`'s limiter.
    ///
    /// # Errors
    /// [`Error::ForeignPermit`] for a permit `key`'s limiter did not issue.
    pub fn release(
        &mut self,
        key: &K,
        permit: ConcurrencyPermit,
        now: Instant,
    ) -> Result<Option<Grant>> {
        match self.limiters.get_mut(key) {
            Some(limiter) => limiter.release(permit, now),
            None => Err(Error::ForeignPermit {
                component: "concurrency limits",
            }),
        }
    }

    /// Forgets idle limiters (nothing under way, nobody waiting); returns how many.
    pub fn retain_busy(&mut self) -> usize {
        let before = self.limiters.len();
        self.limiters
            .retain(|_, l| l.in_flight() > 0 || l.queued() > 0);
        before - self.limiters.len()
    }

    /// The keys with a limiter, in order, and their calls under way.
    pub fn in_flight(&self) -> impl Iterator<Item = (&K, u32)> {
        self.limiters.iter().map(|(k, l)| (k, l.in_flight()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn limiter(max_concurrent: u32, max_queue: u32) -> ConcurrencyLimiter {
        ConcurrencyLimiter::new(ConcurrencyLimitConfig {
            max_concurrent,
            max_queue,
            max_wait: MS * 100,
        })
        .unwrap()
    }

    #[test]
    fn raising_a_busy_keys_limit_grants_its_waiters_and_later_takes_the_new_queue_settings() {
        let config = |max_concurrent, max_queue| ConcurrencyLimitConfig {
            max_concurrent,
            max_queue,
            max_wait: MS * 100,
        };
        let mut limits = ConcurrencyLimits::new(config(1, 1)).unwrap();
        let t = Instant::now();
        let Admission::Granted(running) = limits.try_acquire(&"k", t) else {
            panic!("a free slot")
        };
        let Admission::Queued(waiting) = limits.try_acquire(&"k", t) else {
            panic!("a queue place")
        };
        let grants = limits.set_override("k", config(10, 5), t).unwrap();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].ticket, waiting);
        // The free slots are usable at once, not held behind a stranded queue.
        assert!(matches!(limits.try_acquire(&"k", t), Admission::Granted(_)));
        limits.limiter(&"k").check_invariants();
        limits.release(&"k", running, t).unwrap();
        assert_eq!(limits.limiter(&"k").limit(), 10);
    }

    #[test]
    fn bad_settings_are_rejected() {
        assert!(
            ConcurrencyLimiter::new(ConcurrencyLimitConfig {
                max_concurrent: 0,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            ConcurrencyLimiter::new(ConcurrencyLimitConfig {
                max_wait: Duration::ZERO,
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn without_a_queue_calls_past_the_limit_are_rejected() {
        let mut l = limiter(2, 0);
        let now = Instant::now();
        let a = l.try_acquire(now);
        let _b = l.try_acquire(now);
        assert_eq!(l.try_acquire(now), Admission::Rejected);
        let Admission::Granted(a) = a else { panic!() };
        assert_eq!(l.release(a, now).unwrap(), None);
        assert!(matches!(l.try_acquire(now), Admission::Granted(_)));
    }

    #[test]
    fn waiters_are_served_in_order_and_expire() {
        let mut l = limiter(1, 3);
        let t = Instant::now();
        let Admission::Granted(p) = l.try_acquire(t) else {
            panic!()
        };
        let Admission::Queued(w1) = l.try_acquire(t) else {
            panic!()
        };
        let Admission::Queued(w2) = l.try_acquire(t + MS * 50) else {
            panic!()
        };
        let Admission::Queued(w3) = l.try_acquire(t + MS * 60) else {
            panic!()
        };
        l.cancel(w3).unwrap();
        assert_eq!(l.cancel(w3), Err(Error::UnknownTicket(w3.get())));
        assert_eq!(l.poll_timeout(), Some(t + MS * 100));
        // At t + 120 ms w1 has expired; the freed slot goes to w2.
        let grant = l.release(p, t + MS * 120).unwrap().unwrap();
        assert_eq!(grant.ticket, w2);
        assert_eq!(l.handle_timeout(t + MS * 120), vec![w1]);
        l.check_invariants();
    }

    #[test]
    fn a_permit_from_another_limiter_is_refused() {
        let (mut a, mut b) = (limiter(1, 0), limiter(1, 0));
        let now = Instant::now();
        let Admission::Granted(p) = a.try_acquire(now) else {
            panic!()
        };
        assert!(matches!(
            b.release(p, now),
            Err(Error::ForeignPermit { .. })
        ));
    }

    #[test]
    fn raising_the_limit_wakes_waiters() {
        let mut l = limiter(1, 5);
        let now = Instant::now();
        let _p = l.try_acquire(now);
        let _ = (l.try_acquire(now), l.try_acquire(now));
        assert_eq!(l.set_limit(3, now).len(), 2);
        assert_eq!(l.in_flight(), 3);
    }

    #[test]
    fn per_key_limits_are_apart_and_idle_ones_are_forgotten() {
        let mut limits = ConcurrencyLimits::new(ConcurrencyLimitConfig {
            max_concurrent: 1,
            ..Default::default()
        })
        .unwrap();
        let now = Instant::now();
        let Admission::Granted(p) = limits.try_acquire(&"a", now) else {
            panic!()
        };
        assert_eq!(limits.try_acquire(&"a", now), Admission::Rejected);
        assert!(matches!(
            limits.try_acquire(&"b", now),
            Admission::Granted(_)
        ));
        assert!(
            limits.release(&"b", p, now).is_err(),
            "a's permit is not b's"
        );
        assert_eq!(limits.in_flight().count(), 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn in_flight_never_exceeds_the_limit_and_queue_never_exceeds_its_bound(
            ops in proptest::collection::vec((0u8..4, 0u16..200), 1..300),
            max_concurrent in 1u32..5,
            max_queue in 0u32..4,
        ) {
            let mut l = limiter(max_concurrent, max_queue);
            let mut now = Instant::now();
            let mut permits = Vec::new();
            for (op, arg) in ops {
                match op {
                    0 => if let Admission::Granted(p) = l.try_acquire(now) { permits.push(p) },
                    1 => if !permits.is_empty() {
                        let p = permits.swap_remove(arg as usize % permits.len());
                        if let Some(g) = l.release(p, now).unwrap() { permits.push(g.permit) }
                    },
                    2 => { let _ = l.handle_timeout(now); }
                    _ => now += MS * u32::from(arg),
                }
                prop_assert!(l.in_flight() <= max_concurrent);
                prop_assert_eq!(l.in_flight() as usize, permits.len());
                l.check_invariants();
            }
        }
    }
}
