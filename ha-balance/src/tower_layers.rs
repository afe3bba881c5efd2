//! `tower` middleware for the request guards: a rate limit, a circuit breaker and a concurrency
//! limit, each a [`Layer`](::tower::Layer) producing a [`Service`](::tower::Service).
//!
//! Time comes from an injected [`ha_core::Clock`] (`SystemClock` in production, `ManualClock` in
//! tests); the middleware never sleeps or spawns. A refusal does not wait: the call fails at once
//! with a [`GuardError`] (boxed as tower's `BoxError`), as tower's `load_shed` does, so the
//! caller can answer 429 / 503 with the retry-after it carries. The inner service's readiness is
//! passed through unchanged.
//!
//! [`Balance`] spreads requests over a set of inner services, one per endpoint, with any
//! [`Picker`](crate::Picker), feeding each call's latency and outcome back to it.

mod balance;
mod circuit_breaker;
mod concurrency_limit;
mod future;
mod rate_limit;

use std::time::Duration;

pub use balance::{Balance, BalanceError, BalanceFuture, NoKey, RequestKey};
pub use circuit_breaker::{BreakerGuard, CircuitBreakerLayer, CircuitBreakerService};
pub use concurrency_limit::{ConcurrencyLimitLayer, ConcurrencyLimitService, SlotGuard};
pub use future::{GuardFuture, Unguarded};
pub use rate_limit::{RateLimitLayer, RateLimitService};

/// Why a guard refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The rate limit refused it; it would pass `retry_after` from now.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long until it would pass.
        retry_after: Duration,
    },
    /// The circuit breaker is open (or half-open with every probe out).
    #[error("circuit breaker open; retry after {retry_after:?}")]
    CircuitOpen {
        /// How long until the breaker lets calls through, if known.
        retry_after: Option<Duration>,
    },
    /// Every concurrency slot is taken.
    #[error("concurrency limit reached")]
    Overloaded,
}
