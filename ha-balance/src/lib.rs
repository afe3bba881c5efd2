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
