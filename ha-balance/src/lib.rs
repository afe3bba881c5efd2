//! # ha-balance — where each request goes
//!
//! ha-balance makes the decisions a client-side or proxy load balancer makes for every request,
//! as pure logic: it does **no I/O**, never reads the clock (time comes in as `now: Instant`)
//! and draws randomness only from the generator passed in, so a seeded generator replays the
//! same decisions.
//!
//! ## Picking
//! An [`EndpointSet`] holds the endpoints with their health, weight, drain state and in-flight
//! count; a [`Picker`] chooses among the available ones (healthy or degraded, not draining,
//! weight above 0); a [`Balancer`] puts the two together, addressed by endpoint id.
//!
//! | picker | choice | cost a pick |
//! |---|---|---|
//! | [`RoundRobin`] | each in turn, weights ignored | `O(1)` |
//! | [`SmoothWeightedRoundRobin`] | nginx's smooth weighted round robin (5, 1, 1 → `a a b a c a a`) | `O(n)` |
//! | [`Random`] | uniform | `O(1)` |
//! | [`WeightedRandom`] | proportional to weight | `O(log n)` |
//! | [`LeastConnections`] | fewest in flight per unit of weight | `O(n)` |
//! | [`P2cLeastLoaded`] | the less loaded of two random endpoints | `O(1)` |
//! | [`P2cPeakEwma`] | the lower peak-EWMA latency × (pending + 1) of two (Finagle, tower) | `O(1)` |
//! | [`ConsistentHash`] | by request key, on ha-shard's ring | `O(1)` expected |
//! | [`MaglevHash`] | by request key, on ha-shard's Maglev table | `O(1)` |
//!
//! Endpoints added or recovering later can ramp up their weight over a [`slow_start`] window, as
//! HAProxy's `slowstart`; a [`draining`] endpoint takes no new requests and is reported when its
//! in-flight requests have ended or its timeout (default 300 s) has passed.
//!
//! ## Sessions and regions
//! [`SessionAffinity`] keeps each session on its endpoint until the session expires or the
//! endpoint stops being available, with bounded memory. [`RegionRouter`] picks the nearest
//! healthy region by great-circle distance or by measured latency, failing over in order.
//!
//! ### Picking in a loop
//! ```
//! use std::time::{Duration, Instant};
//! use ha_balance::{Balancer, Endpoint, EndpointSet, P2cPeakEwma, RequestOutcome};
//! use ha_core::NodeId;
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! let endpoints = (0..4)
//!     .map(|i| Ok(Endpoint::new(NodeId::new(format!("api-{i}"))?)))
//!     .collect::<Result<Vec<_>, ha_core::Error>>()?;
//! let mut lb = Balancer::new(
//!     EndpointSet::new(endpoints, Default::default())?,
//!     P2cPeakEwma::new(Default::default())?,
//! );
//! let mut rng = StdRng::seed_from_u64(42);
//! let mut now = Instant::now();
//! let mut to_slow = 0;
//! for round in 0..400 {
//!     let id = lb.pick(now, &mut rng)?;
//!     lb.on_start(id.as_str(), now)?;
//!     // api-3 answers in 900 ms, the others in 20 ms.
//!     let latency = Duration::from_millis(if id.as_str() == "api-3" { 900 } else { 20 });
//!     lb.on_complete(id.as_str(), latency, RequestOutcome::Success, now + latency)?;
//!     to_slow += usize::from(id.as_str() == "api-3" && round >= 100);
//!     now += Duration::from_millis(5);
//! }
//! assert!(to_slow < 10, "{to_slow} of the last 300 requests went to the slow endpoint");
//!
//! // Take api-0 out gracefully.
//! lb.endpoints_mut().drain("api-0", now)?;
//! let drained = lb.poll_drained(now).ok_or("api-0 has nothing in flight")?;
//! assert_eq!(drained.id.as_str(), "api-0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Protecting callers and backends
//!
//! | concern | types |
//! |---|---|
//! | circuit breaking (resilience4j) | [`CircuitBreaker`], [`CircuitBreakerConfig`] |
//! | concurrency limits (bulkheads) | [`ConcurrencyLimiter`], [`ConcurrencyLimits`], [`AdaptiveLimit`] |
//! | active health checks | [`HealthSchedule`] |
//! | passive outlier detection (Envoy), panic threshold | [`OutlierDetector`], [`PanicThreshold`] |
//! | rate limits (GCRA) | [`RateLimiter`], [`KeyedRateLimiter`], [`RateLimitConfig`] |
//! | `tower` middleware (feature `tower`) | `tower::{RateLimitLayer, CircuitBreakerLayer, ConcurrencyLimitLayer}`, and the balancing `tower::Balance` |
//!
//! ### Guarding a call
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

mod adaptive_limit;
mod affinity;
mod balancer;
mod circuit_breaker;
mod concurrency_limit;
mod consistent_hash;
mod deadline;
pub mod draining;
mod endpoint;
mod endpoint_set;
mod error;
mod gcra;
mod hash_placement;
mod health_schedule;
mod keyed_limiter;
mod least_connections;
mod maglev_hash;
mod outlier;
mod p2c;
mod p2c_peak_ewma;
mod panic_threshold;
pub mod peak_ewma;
mod picker;
mod random;
mod region;
mod round_robin;
pub mod slow_start;
mod smooth_wrr;
#[cfg(test)]
mod test_support;
#[cfg(feature = "tower")]
mod tower_layers;

pub use affinity::{AffinityConfig, AffinityPick, RepickReason, SessionAffinity, Stickiness};
pub use balancer::Balancer;
pub use consistent_hash::ConsistentHash;
pub use endpoint::{Endpoint, RequestOutcome};
pub use endpoint_set::{EndpointSet, EndpointSetConfig};
pub use ha_core::{DrainEnd, Drained};
pub use least_connections::LeastConnections;
pub use maglev_hash::MaglevHash;
pub use p2c::P2cLeastLoaded;
pub use p2c_peak_ewma::P2cPeakEwma;
pub use peak_ewma::{PeakEwma, PeakEwmaConfig, Unmeasured};
pub use picker::Picker;
pub use random::{Random, WeightedRandom};
pub use region::{
    EARTH_RADIUS_KM, GeoPoint, Region, RegionChoice, RegionRouter, RegionRouterConfig,
    RegionStrategy,
};
pub use round_robin::RoundRobin;
pub use smooth_wrr::SmoothWeightedRoundRobin;

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
///
/// [`Balance`](crate::tower::Balance) is the balancing `Service` over one inner service per endpoint.
#[cfg(feature = "tower")]
pub mod tower {
    pub use crate::tower_layers::*;
}
pub use gcra::{RateDecision, RateLimitConfig, RateLimiter};
pub use health_schedule::HealthSchedule;
pub use keyed_limiter::{KeyedLimiterConfig, KeyedLimiterStats, KeyedRateLimiter, WhenFull};
pub use outlier::{EjectionReason, OutlierConfig, OutlierDetector, OutlierEvent, ResponseClass};
pub use panic_threshold::{PanicThreshold, Routable};
