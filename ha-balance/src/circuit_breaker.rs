//! A circuit breaker with resilience4j's semantics.
//!
//! Followed: resilience4j's `CircuitBreaker` — three states (closed, open, half-open); the outcomes
//! of calls in closed state aggregated in a count-based window (the last `N` calls) or a
//! time-based window (the last `N` seconds, one bucket a second); a failure-rate and a slow-call
//! rate threshold, both "equal to or greater than" and only evaluated once the window holds a
//! minimum number of calls (for a count-based window, at most the window's size); a wait in open
//! state after which the next call moves the breaker to half-open (resilience4j's default, without
//! automatic transition); a fixed number of probe calls in half-open, whose failure and slow-call
//! rates — evaluated once all of them are recorded — close or reopen the breaker; an optional
//! longest wait in half-open after which it reopens; an "ignored" outcome that counts for neither
//! rate and gives a half-open probe slot back.
//!
//! Where we differ: thresholds are ratios in `(0, 1]`, not percentages; time comes in as `now`;
//! a permit remembers the state it was issued in, and an outcome recorded with a permit issued
//! before the latest state change is ignored (it describes the backend as it was), so the probes
//! of a half-open episode are exactly the calls admitted in it. Exponential backoff of the open
//! wait is not offered.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ha_core::{SlidingWindow, SlidingWindowConfig};

use crate::Result;
use crate::error::{non_zero, non_zero_duration, positive_ratio};

/// The id the next breaker gets.
static NEXT_BREAKER: AtomicU64 = AtomicU64::new(1);

/// How the closed state aggregates the outcomes of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum SlidingWindowKind {
    /// The last `calls` calls (resilience4j's `COUNT_BASED`).
    CountBased {
        /// The window's size in calls; not zero.
        calls: u32,
    },
    /// The calls of the last `seconds` seconds, one bucket a second (resilience4j's
    /// `TIME_BASED`).
    TimeBased {
        /// The window's size in seconds; not zero, at most 100 000.
        seconds: u32,
    },
}

/// The settings of a [`CircuitBreaker`]. The defaults are resilience4j's.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CircuitBreakerConfig {
    /// The window of the closed state. Default count-based, 100 calls.
    pub sliding_window: SlidingWindowKind,
    /// Calls the window must hold before a rate is computed. Default 100; for a count-based
    /// window the smaller of this and the window's size is used, as resilience4j does.
    pub minimum_calls: u32,
    /// Failure rate at or above which the breaker opens, in `(0, 1]`. Default 0.5.
    pub failure_threshold_ratio: f64,
    /// Slow-call rate at or above which the breaker opens, in `(0, 1]`. Default 1.0.
    pub slow_call_threshold_ratio: f64,
    /// A call longer than this is slow. Default 60 s; not zero.
    pub slow_call_duration: Duration,
    /// How long the breaker stays open before it lets probes through. Default 60 s; not zero.
    pub wait_in_open: Duration,
    /// Probe calls let through in half-open state. Default 10; not zero.
    pub permitted_calls_in_half_open: u32,
    /// The longest the breaker stays half-open waiting for its probes before it reopens.
    /// Default `None`: it waits as long as the probes take (resilience4j's 0). Not zero.
    pub max_wait_in_half_open: Option<Duration>,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            sliding_window: SlidingWindowKind::CountBased { calls: 100 },
            minimum_calls: 100,
            failure_threshold_ratio: 0.5,
            slow_call_threshold_ratio: 1.0,
            slow_call_duration: Duration::from_secs(60),
            wait_in_open: Duration::from_secs(60),
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open: None,
        }
    }
}

/// The largest count-based window, bounding memory (one byte a call).
const MAX_COUNT_WINDOW: u32 = 1_000_000;

impl CircuitBreakerConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero window, minimum, duration or permitted-call count;
    /// [`ha_core::Error::OutOfRange`] or [`ha_core::Error::NotFinite`] for a threshold outside
    /// `(0, 1]`; [`ha_core::Error::TooLarge`] for a count window above a million calls or a time
    /// window above 100 000 seconds (all as [`Error::Core`](crate::Error::Core)).
    pub fn validate(&self) -> Result<()> {
        match self.sliding_window {
            SlidingWindowKind::CountBased { calls } => {
                non_zero("sliding window size", calls.into())?;
                if calls > MAX_COUNT_WINDOW {
                    return Err(ha_core::Error::TooLarge {
                        name: "sliding window size",
                        value: calls.into(),
                        max: MAX_COUNT_WINDOW.into(),
                    }
                    .into());
                }
            }
            SlidingWindowKind::TimeBased { seconds } => {
                non_zero("sliding window seconds", seconds.into())?;
                time_window_config(seconds).validate()?;
            }
        }
        non_zero("minimum number of calls", self.minimum_calls.into())?;
        positive_ratio("failure rate threshold", self.failure_threshold_ratio)?;
        positive_ratio("slow call rate threshold", self.slow_call_threshold_ratio)?;
        non_zero_duration("slow call duration", self.slow_call_duration)?;
        non_zero_duration("wait duration in open state", self.wait_in_open)?;
        non_zero(
            "permitted calls in half-open state",
            self.permitted_calls_in_half_open.into(),
        )?;
        if let Some(wait) = self.max_wait_in_half_open {
            non_zero_duration("max wait in half-open state", wait)?;
        }
        Ok(())
    }
}

fn time_window_config(seconds: u32) -> SlidingWindowConfig {
    SlidingWindowConfig {
        window: Duration::from_secs(seconds.into()),
        buckets: seconds,
    }
}

/// The state of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum BreakerState {
    /// Calls pass; their outcomes fill the window.
    Closed,
    /// Calls are refused until the wait ends.
    Open,
    /// A fixed number of probe calls pass; their outcomes close or reopen the breaker.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// How a call ended, as the caller judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CallOutcome {
    /// The call succeeded (it may still be slow).
    Success,
    /// The call failed in a way that speaks of the backend's health.
    Failure,
    /// The call ended in a way that says nothing of the backend (a client error, a cancelled
    /// request): counted nowhere; in half-open state its probe slot is given back.
    Ignored,
}

/// Leave to make one call through a [`CircuitBreaker`]; hand it back with
/// [`record`](CircuitBreaker::record). It is neither `Clone` nor `Copy`, so one permit records
/// one outcome.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be recorded, or half-open probe slots are never returned"]
pub struct BreakerPermit {
    breaker: u64,
    epoch: u64,
    state: BreakerState,
}

impl BreakerPermit {
    /// The state the breaker was in when it issued the permit.
    #[must_use]
    pub fn state(&self) -> BreakerState {
        self.state
    }
}

/// A call the breaker refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerRejection {
    /// The state that refused it: open, or half-open with every probe slot taken.
    pub state: BreakerState,
    /// When to try again: the end of the open wait, or (half-open) the longest wait in half-open,
    /// if one is set. `None` when it depends on probes under way.
    pub retry_at: Option<Instant>,
}

impl BreakerRejection {
    /// How long from `now` until [`retry_at`](Self::retry_at), if known.
    #[must_use]
    pub fn retry_after(&self, now: Instant) -> Option<Duration> {
        self.retry_at.map(|at| at.saturating_duration_since(now))
    }
}

/// A change of the breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerTransition {
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// When it changed.
    pub at: Instant,
}

/// What the breaker's window holds, for dashboards and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BreakerMetrics {
    /// The current state.
    pub state: BreakerState,
    /// Calls counted: in the closed window, or the probes recorded in half-open.
    pub calls: u64,
    /// Failed calls among them.
    pub failed_calls: u64,
    /// Slow calls among them (failed or not).
    pub slow_calls: u64,
    /// `failed_calls / calls`, once the minimum number of calls is reached.
    pub failure_rate: Option<f64>,
    /// `slow_calls / calls`, once the minimum number of calls is reached.
    pub slow_call_rate: Option<f64>,
    /// Calls refused since the breaker was built.
    pub not_permitted_calls: u64,
}

const FAILED: u8 = 1;
const SLOW: u8 = 2;

/// The closed state's window.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a breaker holds one window, so the variants' sizes never add up"
)]
enum Window {
    Count {
        size: usize,
        outcomes: VecDeque<u8>,
        failed: u64,
        slow: u64,
    },
    Time {
        calls: SlidingWindow,
        failed: SlidingWindow,
        slow: SlidingWindow,
    },
}

/// Running counts: calls, failed, slow.
type Counts = (u64, u64, u64);

impl Window {
    fn new(kind: SlidingWindowKind) -> Result<Window> {
        Ok(match kind {
            SlidingWindowKind::CountBased { calls } => Window::Count {
                size: calls as usize,
                outcomes: VecDeque::with_capacity((calls as usize).min(4096)),
                failed: 0,
                slow: 0,
            },
            SlidingWindowKind::TimeBased { seconds } => {
                let config = time_window_config(seconds);
                Window::Time {
                    calls: SlidingWindow::new(config)?,
                    failed: SlidingWindow::new(config)?,
                    slow: SlidingWindow::new(config)?,
                }
            }
        })
    }

    fn push(&mut self, flags: u8, now: Instant) {
        match self {
            Window::Count {
                size,
                outcomes,
                failed,
                slow,
            } => {
                if outcomes.len() == *size {
                    if let Some(old) = outcomes.pop_front() {
                        *failed -= u64::from(old & FAILED);
                        *slow -= u64::from((old & SLOW) >> 1);
                    }
                }
                outcomes.push_back(flags);
                *failed += u64::from(flags & FAILED);
                *slow += u64::from((flags & SLOW) >> 1);
            }
            Window::Time {
                calls,
                failed,
                slow,
            } => {
                // Adding to all three keeps their buckets aligned; an outcome too old for the
                // window is dropped by all three alike.
                calls.add(now, 1);
                failed.add(now, u64::from(flags & FAILED));
                slow.add(now, u64::from((flags & SLOW) >> 1));
            }
        }
    }

    fn counts(&self, now: Instant) -> Counts {
        match self {
            Window::Count {
                outcomes,
                failed,
                slow,
                ..
            } => (outcomes.len() as u64, *failed, *slow),
            Window::Time {
                calls,
                failed,
                slow,
            } => (calls.sum(now), failed.sum(now), slow.sum(now)),
        }
    }

    fn clear(&mut self) {
        match self {
            Window::Count {
                outcomes,
                failed,
                slow,
                ..
            } => {
                outcomes.clear();
                *failed = 0;
                *slow = 0;
            }
            Window::Time {
                calls,
                failed,
                slow,
            } => {
                calls.clear();
                failed.clear();
                slow.clear();
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        since: Instant,
        /// Probe permits out or recorded in this episode.
        issued: u32,
        recorded: u32,
        failed: u32,
        slow: u32,
    },
}

/// A circuit breaker for one backend (or one route), with resilience4j's semantics. Single-threaded (`&mut self`); wrap it in a mutex to share it.
///
/// # Semantics
///
/// A circuit breaker with resilience4j's semantics.
///
/// Followed: resilience4j's `CircuitBreaker` — three states (closed, open, half-open); the outcomes
/// of calls in closed state aggregated in a count-based window (the last `N` calls) or a
/// time-based window (the last `N` seconds, one bucket a second); a failure-rate and a slow-call
/// rate threshold, both "equal to or greater than" and only evaluated once the window holds a
/// minimum number of calls (for a count-based window, at most the window's size); a wait in open
/// state after which the next call moves the breaker to half-open (resilience4j's default, without
/// automatic transition); a fixed number of probe calls in half-open, whose failure and slow-call
/// rates — evaluated once all of them are recorded — close or reopen the breaker; an optional
/// longest wait in half-open after which it reopens; an "ignored" outcome that counts for neither
/// rate and gives a half-open probe slot back.
///
/// Where we differ: thresholds are ratios in `(0, 1]`, not percentages; time comes in as `now`;
/// a permit remembers the state it was issued in, and an outcome recorded with a permit issued
/// before the latest state change is ignored (it describes the backend as it was), so the probes
/// of a half-open episode are exactly the calls admitted in it. Exponential backoff of the open
/// wait is not offered.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{BreakerState, CallOutcome, CircuitBreaker, CircuitBreakerConfig, SlidingWindowKind};
///
/// let mut breaker = CircuitBreaker::new(CircuitBreakerConfig {
///     sliding_window: SlidingWindowKind::CountBased { calls: 10 },
///     minimum_calls: 4,
///     wait_in_open: Duration::from_secs(30),
///     permitted_calls_in_half_open: 2,
///     ..CircuitBreakerConfig::default()
/// })?;
/// let mut now = Instant::now();
/// for _ in 0..4 {
///     let permit = breaker.try_acquire(now).expect("closed");
///     breaker.record(permit, CallOutcome::Failure, Duration::from_millis(5), now);
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// let refused = breaker.try_acquire(now).unwrap_err();
/// assert_eq!(refused.retry_after(now), Some(Duration::from_secs(30)));
///
/// now += Duration::from_secs(30);
/// let (a, b) = (breaker.try_acquire(now).unwrap(), breaker.try_acquire(now).unwrap());
/// assert!(breaker.try_acquire(now).is_err(), "only two probes in half-open");
/// breaker.record(a, CallOutcome::Success, Duration::from_millis(5), now);
/// breaker.record(b, CallOutcome::Success, Duration::from_millis(5), now);
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    /// Tells this breaker's permits from another's.
    id: u64,
    config: CircuitBreakerConfig,
    minimum_calls: u64,
    inner: Inner,
    epoch: u64,
    window: Window,
    not_permitted: u64,
}

impl CircuitBreaker {
    /// A closed breaker.
    ///
    /// # Errors
    /// As [`CircuitBreakerConfig::validate`].
    pub fn new(config: CircuitBreakerConfig) -> Result<CircuitBreaker> {
        config.validate()?;
        let minimum_calls = match config.sliding_window {
            SlidingWindowKind::CountBased { calls } => config.minimum_calls.min(calls),
            SlidingWindowKind::TimeBased { .. } => config.minimum_calls,
        };
        Ok(CircuitBreaker {
            id: NEXT_BREAKER.fetch_add(1, Ordering::Relaxed),
            config,
            minimum_calls: minimum_calls.into(),
            inner: Inner::Closed,
            epoch: 0,
            window: Window::new(config.sliding_window)?,
            not_permitted: 0,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// The current state (an open breaker whose wait has ended still reads open until the next
    /// [`try_acquire`](Self::try_acquire) or [`handle_timeout`](Self::handle_timeout)).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        match self.inner {
            Inner::Closed => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks leave for one call at `now`: a permit, or a refusal saying when to retry. An open
    /// breaker whose wait has ended turns half-open first; a half-open breaker past its longest
    /// wait reopens first.
    pub fn try_acquire(&mut self, now: Instant) -> Result<BreakerPermit, BreakerRejection> {
        let _ = self.handle_timeout(now);
        match &mut self.inner {
            Inner::Closed => Ok(BreakerPermit {
                breaker: self.id,
                epoch: self.epoch,
                state: BreakerState::Closed,
            }),
            Inner::Open { until } => {
                let until = *until;
                self.not_permitted += 1;
                Err(BreakerRejection {
                    state: BreakerState::Open,
                    retry_at: Some(until),
                })
            }
            Inner::HalfOpen { since, issued, .. } => {
                if *issued < self.config.permitted_calls_in_half_open {
                    *issued += 1;
                    Ok(BreakerPermit {
                        breaker: self.id,
                        epoch: self.epoch,
                        state: BreakerState::HalfOpen,
                    })
                } else {
                    let since = *since;
                    self.not_permitted += 1;
                    Err(BreakerRejection {
                        state: BreakerState::HalfOpen,
                        retry_at: self
                            .config
                            .max_wait_in_half_open
                            .and_then(|w| since.checked_add(w)),
                    })
                }
            }
        }
    }

    /// Records how the call of `permit` ended, after `duration`, at `now`; returns the state
    /// change it caused. A permit issued before the latest state change, or by another breaker,
    /// is ignored.
    pub fn record(
        &mut self,
        permit: BreakerPermit,
        outcome: CallOutcome,
        duration: Duration,
        now: Instant,
    ) -> Option<BreakerTransition> {
        if permit.breaker != self.id {
            tracing::debug!("circuit breaker ignored a permit another breaker issued");
            return None;
        }
        if permit.epoch != self.epoch {
            tracing::debug!(
                permit_state = %permit.state,
                state = %self.state(),
                "circuit breaker ignored an outcome from before its last state change"
            );
            return None;
        }
        let slow = duration > self.config.slow_call_duration;
        let flags = match outcome {
            CallOutcome::Success => u8::from(slow) << 1,
            CallOutcome::Failure => FAILED | (u8::from(slow) << 1),
            CallOutcome::Ignored => {
                if let Inner::HalfOpen { issued, .. } = &mut self.inner {
                    *issued = issued.saturating_sub(1);
                }
                return None;
            }
        };
        match &mut self.inner {
            Inner::Closed => {
                self.window.push(flags, now);
                let counts = self.window.counts(now);
                if self.exceeded(counts) {
                    return Some(self.open(now, counts));
                }
                None
            }
            Inner::Open { .. } => None,
            Inner::HalfOpen {
                recorded,
                failed,
                slow,
                ..
            } => {
                *recorded += 1;
                *failed += u32::from(flags & FAILED);
                *slow += u32::from((flags & SLOW) >> 1);
                if *recorded < self.config.permitted_calls_in_half_open {
                    return None;
                }
                let counts = (u64::from(*recorded), u64::from(*failed), u64::from(*slow));
                if self.exceeded(counts) {
                    Some(self.open(now, counts))
                } else {
                    Some(self.transition(Inner::Closed, now, counts))
                }
            }
        }
    }

    /// Moves an open breaker whose wait has ended to half-open, and a half-open breaker past its
    /// longest wait back to open; returns the change, if any. Extra calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<BreakerTransition> {
        match self.inner {
            Inner::Open { until } if now >= until => {
                let next = Inner::HalfOpen {
                    since: now,
                    issued: 0,
                    recorded: 0,
                    failed: 0,
                    slow: 0,
                };
                Some(self.transition(next, now, (0, 0, 0)))
            }
            Inner::HalfOpen {
                since,
                recorded,
                failed,
                slow,
                ..
            } if self
                .config
                .max_wait_in_half_open
                .is_some_and(|w| since.checked_add(w).is_some_and(|end| now >= end)) =>
            {
                let counts = (u64::from(recorded), u64::from(failed), u64::from(slow));
                Some(self.open(now, counts))
            }
            _ => None,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) will next change something: the end of the
    /// open wait, or the end of the longest wait in half-open.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.inner {
            Inner::Closed => None,
            Inner::Open { until } => Some(until),
            Inner::HalfOpen { since, .. } => self
                .config
                .max_wait_in_half_open
                .and_then(|w| since.checked_add(w)),
        }
    }

    /// What the window holds at `now`.
    #[must_use]
    pub fn metrics(&self, now: Instant) -> BreakerMetrics {
        let (calls, failed, slow) = match self.inner {
            Inner::HalfOpen {
                recorded,
                failed,
                slow,
                ..
            } => (u64::from(recorded), u64::from(failed), u64::from(slow)),
            _ => self.window.counts(now),
        };
        let minimum = match self.inner {
            Inner::HalfOpen { .. } => u64::from(self.config.permitted_calls_in_half_open),
            _ => self.minimum_calls,
        };
        let rate = |n: u64| (calls >= minimum && calls > 0).then(|| n as f64 / calls as f64);
        BreakerMetrics {
            state: self.state(),
            calls,
            failed_calls: failed,
            slow_calls: slow,
            failure_rate: rate(failed),
            slow_call_rate: rate(slow),
            not_permitted_calls: self.not_permitted,
        }
    }

    /// Half-open probe permits currently out or recorded in this episode (0 outside half-open).
    #[must_use]
    pub fn half_open_permits_issued(&self) -> u32 {
        match self.inner {
            Inner::HalfOpen { issued, .. } => issued,
            _ => 0,
        }
    }

    /// Checks the internal bookkeeping, for tests and fuzzing.
    ///
    /// # Panics
    /// If it is inconsistent, which is a bug in ha-balance.
    pub fn check_invariants(&self) {
        if let Inner::HalfOpen {
            issued,
            recorded,
            failed,
            slow,
            ..
        } = self.inner
        {
            assert!(issued <= self.config.permitted_calls_in_half_open);
            assert!(recorded <= issued);
            assert!(failed <= recorded && slow <= recorded);
        }
        if let Window::Count {
            size,
            outcomes,
            failed,
            slow,
        } = &self.window
        {
            assert!(outcomes.len() <= *size);
            let f = outcomes.iter().filter(|&&o| o & FAILED != 0).count() as u64;
            let s = outcomes.iter().filter(|&&o| o & SLOW != 0).count() as u64;
            assert_eq!((f, s), (*failed, *slow));
        }
    }

    fn exceeded(&self, (calls, failed, slow): Counts) -> bool {
        let minimum = match self.inner {
            Inner::HalfOpen { .. } => u64::from(self.config.permitted_calls_in_half_open),
            _ => self.minimum_calls,
        };
        if calls < minimum || calls == 0 {
            return false;
        }
        let failure_rate = failed as f64 / calls as f64;
        let slow_rate = slow as f64 / calls as f64;
        failure_rate >= self.config.failure_threshold_ratio
            || slow_rate >= self.config.slow_call_threshold_ratio
    }

    fn open(&mut self, now: Instant, counts: Counts) -> BreakerTransition {
        let until = crate::deadline::deadline(now, self.config.wait_in_open);
        self.transition(Inner::Open { until }, now, counts)
    }

    fn transition(&mut self, next: Inner, now: Instant, counts: Counts) -> BreakerTransition {
        let from = self.state();
        self.inner = next;
        self.epoch += 1;
        let to = self.state();
        if to != BreakerState::Open {
            // Closed starts a fresh window; half-open counts its probes apart.
            self.window.clear();
        }
        let (calls, failed, slow) = counts;
        tracing::debug!(
            %from,
            %to,
            calls,
            failed,
            slow,
            failure_threshold = self.config.failure_threshold_ratio,
            slow_call_threshold = self.config.slow_call_threshold_ratio,
            "circuit breaker changed state"
        );
        BreakerTransition { from, to, at: now }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn breaker(config: CircuitBreakerConfig) -> CircuitBreaker {
        CircuitBreaker::new(config).unwrap()
    }

    #[test]
    fn another_breakers_permit_is_ignored() {
        let now = Instant::now();
        let (mut a, mut b) = (breaker(small()), breaker(small()));
        let foreign = a.try_acquire(now).unwrap();
        assert_eq!(
            b.record(foreign, CallOutcome::Failure, Duration::ZERO, now),
            None
        );
        assert_eq!(b.metrics(now).calls, 0);
    }

    fn small() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            sliding_window: SlidingWindowKind::CountBased { calls: 10 },
            minimum_calls: 5,
            wait_in_open: Duration::from_secs(10),
            permitted_calls_in_half_open: 3,
            slow_call_duration: Duration::from_millis(100),
            ..CircuitBreakerConfig::default()
        }
    }

    fn call(b: &mut CircuitBreaker, outcome: CallOutcome, d: Duration, now: Instant) -> bool {
        match b.try_acquire(now) {
            Ok(p) => {
                let _ = b.record(p, outcome, d, now);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn defaults_are_resilience4js() {
        let c = CircuitBreakerConfig::default();
        assert_eq!(
            c.sliding_window,
            SlidingWindowKind::CountBased { calls: 100 }
        );
        assert_eq!(c.minimum_calls, 100);
        assert_eq!(c.failure_threshold_ratio, 0.5);
        assert_eq!(c.slow_call_threshold_ratio, 1.0);
        assert_eq!(c.slow_call_duration, Duration::from_secs(60));
        assert_eq!(c.wait_in_open, Duration::from_secs(60));
        assert_eq!(c.permitted_calls_in_half_open, 10);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let bad = [
            CircuitBreakerConfig {
                failure_threshold_ratio: 0.0,
                ..Default::default()
            },
            CircuitBreakerConfig {
                failure_threshold_ratio: 1.5,
                ..Default::default()
            },
            CircuitBreakerConfig {
                slow_call_threshold_ratio: f64::NAN,
                ..Default::default()
            },
            CircuitBreakerConfig {
                sliding_window: SlidingWindowKind::CountBased { calls: 0 },
                ..Default::default()
            },
            CircuitBreakerConfig {
                sliding_window: SlidingWindowKind::TimeBased { seconds: 0 },
                ..Default::default()
            },
            CircuitBreakerConfig {
                minimum_calls: 0,
                ..Default::default()
            },
            CircuitBreakerConfig {
                wait_in_open: Duration::ZERO,
                ..Default::default()
            },
            CircuitBreakerConfig {
                permitted_calls_in_half_open: 0,
                ..Default::default()
            },
            CircuitBreakerConfig {
                max_wait_in_half_open: Some(Duration::ZERO),
                ..Default::default()
            },
            CircuitBreakerConfig {
                sliding_window: SlidingWindowKind::CountBased { calls: 2_000_000 },
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(CircuitBreaker::new(config).is_err(), "{config:?}");
        }
    }

    #[test]
    fn stays_closed_below_the_minimum_number_of_calls() {
        let mut b = breaker(small());
        let now = Instant::now();
        for _ in 0..4 {
            assert!(call(&mut b, CallOutcome::Failure, MS, now));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.metrics(now).failure_rate, None);
        assert!(call(&mut b, CallOutcome::Failure, MS, now));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn opens_at_exactly_the_failure_threshold() {
        let mut b = breaker(small());
        let now = Instant::now();
        for outcome in [
            CallOutcome::Success,
            CallOutcome::Success,
            CallOutcome::Success,
            CallOutcome::Failure,
            CallOutcome::Failure,
            CallOutcome::Success,
        ] {
            call(&mut b, outcome, MS, now);
        }
        // 2 of 6 failed: below 50%.
        assert_eq!(b.state(), BreakerState::Closed);
        call(&mut b, CallOutcome::Failure, MS, now);
        assert_eq!(b.state(), BreakerState::Closed, "3 of 7");
        call(&mut b, CallOutcome::Failure, MS, now);
        assert_eq!(b.state(), BreakerState::Open, "4 of 8 is 50%");
    }

    #[test]
    fn slow_successes_open_at_the_slow_call_threshold() {
        let mut b = breaker(CircuitBreakerConfig {
            slow_call_threshold_ratio: 0.6,
            ..small()
        });
        let now = Instant::now();
        for d in [200, 200, 10, 200, 10] {
            call(&mut b, CallOutcome::Success, MS * d, now);
        }
        assert_eq!(b.state(), BreakerState::Open, "3 slow of 5 is 60%");
        assert_eq!(b.metrics(now).state, BreakerState::Open);
    }

    #[test]
    fn a_count_window_forgets_the_oldest_call() {
        let mut b = breaker(CircuitBreakerConfig {
            minimum_calls: 10,
            ..small()
        });
        let now = Instant::now();
        for _ in 0..4 {
            call(&mut b, CallOutcome::Failure, MS, now);
        }
        for _ in 0..100 {
            call(&mut b, CallOutcome::Success, MS, now);
        }
        let m = b.metrics(now);
        assert_eq!((m.calls, m.failed_calls), (10, 0));
        b.check_invariants();
    }

    #[test]
    fn a_time_window_forgets_old_seconds() {
        let mut b = breaker(CircuitBreakerConfig {
            sliding_window: SlidingWindowKind::TimeBased { seconds: 10 },
            minimum_calls: 4,
            ..small()
        });
        let t = Instant::now();
        for _ in 0..3 {
            call(&mut b, CallOutcome::Failure, MS, t);
        }
        // Eleven seconds later those failures have left the window.
        let later = t + Duration::from_secs(11);
        call(&mut b, CallOutcome::Failure, MS, later);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.metrics(later).calls, 1);
        for _ in 0..3 {
            call(&mut b, CallOutcome::Failure, MS, later);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_probes_reopen_on_failure_and_close_on_success() {
        let mut b = breaker(small());
        let mut now = Instant::now();
        for _ in 0..5 {
            call(&mut b, CallOutcome::Failure, MS, now);
        }
        let refused = b.try_acquire(now + Duration::from_secs(9)).unwrap_err();
        assert_eq!(refused.retry_at, Some(now + Duration::from_secs(10)));
        now += Duration::from_secs(10);
        assert_eq!(b.poll_timeout(), Some(now));
        let permits: Vec<_> = (0..3).map(|_| b.try_acquire(now).unwrap()).collect();
        let full = b.try_acquire(now).unwrap_err();
        assert_eq!((full.state, full.retry_at), (BreakerState::HalfOpen, None));
        let outcomes = [
            CallOutcome::Failure,
            CallOutcome::Failure,
            CallOutcome::Success,
        ];
        let mut last = None;
        for (p, o) in permits.into_iter().zip(outcomes) {
            last = b.record(p, o, MS, now);
        }
        assert_eq!(
            last.map(|t| (t.from, t.to)),
            Some((BreakerState::HalfOpen, BreakerState::Open))
        );
        now += Duration::from_secs(10);
        for _ in 0..3 {
            assert!(call(&mut b, CallOutcome::Success, MS, now));
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.metrics(now).calls, 0, "closing starts a fresh window");
    }

    #[test]
    fn ignored_outcomes_give_a_probe_slot_back() {
        let mut b = breaker(small());
        let mut now = Instant::now();
        for _ in 0..5 {
            call(&mut b, CallOutcome::Failure, MS, now);
        }
        now += Duration::from_secs(10);
        let p = b.try_acquire(now).unwrap();
        let _ = b.record(p, CallOutcome::Ignored, MS, now);
        assert_eq!(b.half_open_permits_issued(), 0);
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn outcomes_from_before_a_state_change_are_ignored() {
        let mut b = breaker(small());
        let now = Instant::now();
        let stale = b.try_acquire(now).unwrap();
        for _ in 0..5 {
            call(&mut b, CallOutcome::Failure, MS, now);
        }
        let later = now + Duration::from_secs(10);
        let probe = b.try_acquire(later).unwrap();
        assert_eq!(b.record(stale, CallOutcome::Failure, MS, later), None);
        assert_eq!(b.metrics(later).calls, 0);
        let _ = b.record(probe, CallOutcome::Success, MS, later);
        assert_eq!(b.metrics(later).calls, 1);
    }

    #[test]
    fn half_open_reopens_after_its_longest_wait() {
        let mut b = breaker(CircuitBreakerConfig {
            max_wait_in_half_open: Some(Duration::from_secs(5)),
            ..small()
        });
        let mut now = Instant::now();
        for _ in 0..5 {
            call(&mut b, CallOutcome::Failure, MS, now);
        }
        now += Duration::from_secs(10);
        let _stuck = b.try_acquire(now).unwrap();
        assert_eq!(b.poll_timeout(), Some(now + Duration::from_secs(5)));
        let change = b.handle_timeout(now + Duration::from_secs(5)).unwrap();
        assert_eq!(
            (change.from, change.to),
            (BreakerState::HalfOpen, BreakerState::Open)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Acquire,
        Record(usize, u8, u16),
        Advance(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Acquire),
            3 => (0usize..16, 0u8..3, 0u16..300).prop_map(|(i, o, d)| Op::Record(i, o, d)),
            1 => (0u16..20_000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn half_open_never_lets_more_than_the_permitted_calls_through(
            ops in proptest::collection::vec(op(), 1..300),
            permitted in 1u32..5,
            time_based in any::<bool>(),
        ) {
            let sliding_window = if time_based {
                SlidingWindowKind::TimeBased { seconds: 5 }
            } else {
                SlidingWindowKind::CountBased { calls: 8 }
            };
            let mut b = breaker(CircuitBreakerConfig {
                sliding_window,
                minimum_calls: 3,
                permitted_calls_in_half_open: permitted,
                ..small()
            });
            let mut now = Instant::now();
            let mut out: Vec<BreakerPermit> = Vec::new();
            // Probes admitted minus ignored ones given back, in the half-open episode `episode`.
            let (mut episode, mut episode_admitted) = (u64::MAX, 0i64);
            for op in ops {
                match op {
                    Op::Acquire => {
                        if let Ok(p) = b.try_acquire(now) {
                            if p.state() == BreakerState::HalfOpen {
                                if p.epoch != episode {
                                    (episode, episode_admitted) = (p.epoch, 0);
                                }
                                episode_admitted += 1;
                            }
                            out.push(p);
                        }
                    }
                    Op::Record(i, o, d) => {
                        if !out.is_empty() {
                            let p = out.swap_remove(i % out.len());
                            let outcome = [CallOutcome::Success, CallOutcome::Failure, CallOutcome::Ignored][o as usize];
                            if p.epoch == episode && p.epoch == b.epoch && outcome == CallOutcome::Ignored {
                                episode_admitted -= 1;
                            }
                            let _ = b.record(p, outcome, MS * u32::from(d), now);
                        }
                    }
                    Op::Advance(ms) => now += MS * u32::from(ms),
                }
                b.check_invariants();
                prop_assert!(episode_admitted <= i64::from(permitted));
                prop_assert!(b.half_open_permits_issued() <= permitted);
            }
        }
    }
}
