//! # ha-balance — where each request goes
//!
//! This crate makes the decisions a client-side or proxy load balancer makes for every request.
//! Like every ha algorithm crate it does **no I/O**: time comes in as `now: Instant`, decisions
//! come out as values.
//!
//! Protecting callers and backends:
//!
//! | concern | types |
//! |---|---|
//! | circuit breaking (resilience4j) | [`CircuitBreaker`], [`CircuitBreakerConfig`] |
//! | concurrency limits (bulkheads) | [`ConcurrencyLimiter`], [`ConcurrencyLimits`], [`AdaptiveLimit`] |
//! | active health checks | [`HealthSchedule`] |
//! | passive outlier detection (Envoy), panic threshold | [`OutlierDetector`], [`PanicThreshold`] |
//! | rate limits (GCRA) | [`RateLimiter`], [`KeyedRateLimiter`], [`RateLimitConfig`] |
//! | `tower` middleware (feature `tower`) | `tower::{RateLimitLayer, CircuitBreakerLayer, ConcurrencyLimitLayer}` |
//!
//! ## Guarding a call
//!
//! A per-client rate limit, a concurrency limit and a circuit breaker in front of one backend,
//! with `now` advanced by hand:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_balance::{
//!     Admission, BreakerState, CallOutcome, CircuitBreaker, CircuitBreakerConfig, ConcurrencyLimitConfig,
//!     ConcurrencyLimiter, KeyedLimiterConfig, KeyedRateLimiter,
//! };
//!
//! let mut now = Instant::now();
//! let clients = KeyedRateLimiter::new(KeyedLimiterConfig::default(), now)?; // 1000/s each
//! let mut bulkhead = ConcurrencyLimiter::new(ConcurrencyLimitConfig::default())?; // 100 at once
//! let mut breaker = CircuitBreaker::new(CircuitBreakerConfig {
//!     minimum_calls: 10,
//!     ..CircuitBreakerConfig::default()
//! })?;
//! let mut served = 0;
//! for i in 0..40 {
//!     now += Duration::from_millis(5);
//!     if !clients.check(&"client-7", now).is_admitted() { continue; } // 429
//!     let Admission::Granted(slot) = bulkhead.try_acquire(now) else { continue }; // 503
//!     let Ok(permit) = breaker.try_acquire(now) else { bulkhead.release(slot, now)?; continue };
//!     let failed = i >= 10; // the backend starts failing
//!     let outcome = if failed { CallOutcome::Failure } else { CallOutcome::Success };
//!     breaker.record(permit, outcome, Duration::from_millis(3), now);
//!     bulkhead.release(slot, now)?;
//!     served += 1;
//! }
//! // 10 successes, then 10 failures: 50% of 20 calls opens the breaker, which refuses the rest.
//! assert_eq!(served, 20);
//! assert_eq!(breaker.state(), BreakerState::Open);
//! # Ok::<(), ha_balance::Error>(())
//! ```
//!
//! Still to come for the issue "ha-balance: where each request goes": pickers, slow start,
//! draining, session affinity and region routing.

mod adaptive_limit;
mod circuit_breaker;
mod concurrency_limit;
mod error;
mod gcra;
mod health_schedule;
mod keyed_limiter;
mod outlier;
mod panic_threshold;
#[cfg(feature = "tower")]
mod tower_layers;

pub use adaptive_limit::{AdaptiveAlgorithm, AdaptiveLimit, AdaptiveLimitConfig};
pub use circuit_breaker::{
    BreakerMetrics, BreakerPermit, BreakerRejection, BreakerState, BreakerTransition, CallOutcome,
    CircuitBreaker, CircuitBreakerConfig, SlidingWindowKind,
};
pub use concurrency_limit::{
    Admission, ConcurrencyLimitConfig, ConcurrencyLimiter, ConcurrencyLimits, ConcurrencyPermit,
    Grant, WaiterTicket,
};
pub use error::{Error, Result};

/// `tower` middleware for the rate limit, the circuit breaker and the concurrency limit (feature
/// `tower`).
#[cfg(feature = "tower")]
pub mod tower {
    pub use crate::tower_layers::*;
}
pub use gcra::{RateDecision, RateLimitConfig, RateLimiter};
pub use health_schedule::HealthSchedule;
pub use keyed_limiter::{KeyedLimiterConfig, KeyedLimiterStats, KeyedRateLimiter, WhenFull};
pub use outlier::{EjectionReason, OutlierConfig, OutlierDetector, OutlierEvent, ResponseClass};
pub use panic_threshold::{PanicThreshold, Routable};
