//! # ha — the decision logic of scaling and high availability
//!
//! ha is a family of crates that make the decisions a scalable, highly available service needs —
//! where data lives, what to cache, which replica to trust, where a request goes, how much to run —
//! and leave the I/O to the application. This facade re-exports each member as a module, each
//! behind a default-on feature of the same name:
//!
//! | module | crate | decides |
//! |---|---|---|
//! | [`core`] | `ha-core` | nodes, health, clocks, streaming statistics, health checks, alerts, SLO math |
//! | [`shard`] | `ha-shard` | where data lives: hash rings, shard maps, replica placement, rebalancing |
//! | [`cache`] | `ha-cache` | what is kept close: a concurrent cache, tiers, edge sync |
//! | [`replication`] | `ha-replication` | keeping copies right: quorums, versions, lag, failover |
//! | [`balance`] | `ha-balance` | where each request goes: pickers, outliers, breakers, limits |
//! | [`scale`] | `ha-scale` | how much to run: autoscaling and capacity forecasting |
//!
//! The `serde` feature (on by default) adds serde derives to every config and report type.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha::core::{CheckOutcome, Health, HealthCheck, HealthCheckConfig};
//!
//! let mut check = HealthCheck::new(HealthCheckConfig::default())?;
//! let now = Instant::now();
//! check.record(CheckOutcome::Success, Duration::from_millis(12), now);
//! check.record(CheckOutcome::Success, Duration::from_millis(9), now + Duration::from_secs(30));
//! assert_eq!(check.health(), Health::Healthy);
//! # Ok::<(), ha::core::Error>(())
//! ```

#[cfg(feature = "balance")]
pub use ha_balance as balance;
#[cfg(feature = "cache")]
pub use ha_cache as cache;
#[cfg(feature = "core")]
pub use ha_core as core;
#[cfg(feature = "replication")]
pub use ha_replication as replication;
#[cfg(feature = "scale")]
pub use ha_scale as scale;
#[cfg(feature = "shard")]
pub use ha_shard as shard;

/// The README's examples, compiled and run as doctests so they never go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
