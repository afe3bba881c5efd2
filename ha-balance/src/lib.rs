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
//! | rate limits (GCRA) | [`RateLimiter`], [`KeyedRateLimiter`], [`RateLimitConfig`] |
//!
//! Still to come for the issue "ha-balance: where each request goes": pickers, slow start,
//! draining, session affinity and region routing.

mod circuit_breaker;
mod error;
mod gcra;
mod keyed_limiter;

pub use circuit_breaker::{
    BreakerMetrics, BreakerPermit, BreakerRejection, BreakerState, BreakerTransition, CallOutcome,
    CircuitBreaker, CircuitBreakerConfig, SlidingWindowKind,
};
pub use error::{Error, Result};
pub use gcra::{RateDecision, RateLimitConfig, RateLimiter};
pub use keyed_limiter::{KeyedLimiterConfig, KeyedLimiterStats, KeyedRateLimiter, WhenFull};
