//! # ha-core — the shared vocabulary of ha
//!
//! Every other ha crate builds on the types and tools here: what a node is and how healthy it is,
//! where time comes from, streaming statistics with bounded memory, and the small decisions every
//! high-availability system makes — is this target healthy, is the fleet healthy, should this
//! alert fire, how much error budget is left.
//!
//! Like every ha algorithm crate it does **no I/O**: it opens no sockets, spawns no threads, never
//! sleeps and never reads the clock. Time comes in as an argument (`now: Instant`) or, for the rare
//! component that must read it itself, through an injected [`Clock`]. Decisions come out as values.
//!
//! | concern | types |
//! |---|---|
//! | members | [`NodeId`], [`Node`], [`Health`], [`Severity`] |
//! | time | [`Clock`], [`SystemClock`], [`ManualClock`] |
//! | statistics | [`Ewma`], [`SlidingWindow`], [`QuantileSketch`] |
//! | active health checks | [`HealthCheck`] |
//! | many components, one health | [`HealthAggregator`] |
//! | alerts with a hold time | [`AlertRule`], [`Alert`], [`AlertSet`] |
//! | SLO arithmetic | [`slo`] |
//!
//! Every configuration is validated once, at construction, and every input that can be wrong is
//! checked: bad settings and bad samples come back as an [`Error`] that names them, never a panic.
//!
//! ## The loop
//!
//! A target is checked every 30 s; its results drive its health, the fleet's health, and an error
//! rate alert, with `now` advanced by hand:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_core::{
//!     Alert, AlertKind, AlertRule, CheckOutcome, Component, Health, HealthAggregator,
//!     HealthCheck, HealthCheckConfig, SlidingWindow, SlidingWindowConfig,
//! };
//!
//! let mut check = HealthCheck::new(HealthCheckConfig::default())?;
//! let fleet = HealthAggregator::new(Default::default())?;
//! let mut errors = Alert::new(AlertRule::error_rate_critical())?; // > 1% for 5 min
//! let window = SlidingWindowConfig { window: Duration::from_secs(60), buckets: 12 };
//! let (mut checks, mut failures) = (SlidingWindow::new(window)?, SlidingWindow::new(window)?);
//!
//! let mut now = Instant::now();
//! let mut fired = None;
//! for round in 0..20 {
//!     // The target fails from round 8 on.
//!     let outcome = if round < 8 { CheckOutcome::Success } else { CheckOutcome::Failure };
//!     assert!(check.is_due(now));
//!     check.record(outcome, Duration::from_millis(40), now);
//!     checks.increment(now);
//!     if outcome == CheckOutcome::Failure {
//!         failures.increment(now);
//!     }
//!     let error_ratio = failures.sum(now) as f64 / checks.sum(now) as f64;
//!     if let Some(t) = errors.observe(error_ratio, now)? {
//!         if t.kind == AlertKind::Fired {
//!             fired = Some(round);
//!         }
//!     }
//!     now += Duration::from_secs(30);
//! }
//! assert_eq!(check.health(), Health::Unhealthy);
//! let whole = fleet.aggregate([Component::new(check.health()), Component::new(Health::Healthy)]);
//! assert_eq!(whole.health, Health::Unhealthy); // 50% unhealthy is over 30%
//! assert_eq!(fired, Some(18)); // pending from round 8, firing 5 minutes later
//! # Ok::<(), ha_core::Error>(())
//! ```

mod aggregation;
mod alert;
mod clock;
mod drain;
mod error;
mod health;
mod health_check;
mod node;
mod severity;
pub mod slo;
mod stats;
pub mod validate;

pub use aggregation::{AggregationConfig, Component, HealthAggregator, HealthSummary};
pub use alert::{
    Alert, AlertKind, AlertRule, AlertSet, AlertState, AlertTransition, Comparison, metric,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use drain::{DrainEnd, Drained};
pub use error::{Error, Result};
pub use health::Health;
pub use health_check::{
    CheckOutcome, CheckVerdict, HealthCheck, HealthCheckConfig, HealthTransition,
};
pub use node::{Node, NodeId};
pub use severity::Severity;
pub use slo::{BurnRateAlert, BurnRatePolicy, BurnRateRule, ErrorBudget, EventCounts};
pub use stats::{
    Ewma, QuantileSketch, QuantileSketchConfig, Quantiles, SlidingWindow, SlidingWindowConfig,
};
