//! Adaptive concurrency limits, after Netflix's concurrency-limits library: the limit follows
//! the latency and drops the backend shows, instead of being fixed.
//!
//! Two algorithms, as Netflix's `AIMDLimit` and `Gradient2Limit`:
//!
//! - **AIMD**: a drop (a refused or timed-out call, or one slower than `timeout`) multiplies the
//!   limit by `backoff_ratio`; a success while at least half the limit is in use adds one.
//! - **Gradient**: compares a long-term average latency with the latest one:
//!   `gradient = clamp(tolerance × long / short, 0.5, 1)`, `target = limit × gradient + queue`,
//!   with `queue = √limit`, and the limit moves `smoothing` of the way to the target. A drop
//!   counts as a latency far above the average. When the limit is used less than half, it does
//!   not grow (Netflix's app-limited guard).
//!
//! Feed every completed call to [`AdaptiveLimit::on_sample`] and pass the new limit to
//! [`ConcurrencyLimiter::set_limit`](crate::ConcurrencyLimiter::set_limit).
//! Where we differ: the long-term average is a sample-count EWMA with no warm-up, and drops in
//! gradient mode reduce like AIMD's backoff.

use std::time::Duration;

use crate::Result;
use crate::error::{non_zero, non_zero_duration, positive_ratio};

/// The algorithm of an [`AdaptiveLimit`] and its own settings.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum AdaptiveAlgorithm {
    /// Additive increase, multiplicative decrease.
    Aimd {
        /// A success slower than this counts as a drop. Default 5 s; not zero.
        timeout: Duration,
        /// The factor a drop multiplies the limit by, in `(0, 1]`. Default 0.9.
        backoff_ratio: f64,
    },
    /// Latency gradient.
    Gradient {
        /// How much slower than the long-term average a call may be before the limit shrinks,
        /// at least 1. Default 1.5 (Netflix's `rttTolerance`).
        tolerance: f64,
        /// Share of the way to the target the limit moves each sample, in `(0, 1]`. Default 0.2.
        smoothing: f64,
        /// Samples the long-term average spans (its EWMA weight is `2 / (n + 1)`). Default 600.
        long_window: u32,
    },
}

/// The settings of an [`AdaptiveLimit`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AdaptiveLimitConfig {
    /// The limit to start from. Default 20 (Netflix's).
    pub initial_limit: u32,
    /// The lowest limit. Default 1; not zero.
    pub min_limit: u32,
    /// The highest limit. Default 200.
    pub max_limit: u32,
    /// The algorithm. Default AIMD with a 5 s timeout and a 0.9 backoff.
    pub algorithm: AdaptiveAlgorithm,
}

impl Default for AdaptiveLimitConfig {
    fn default() -> Self {
        AdaptiveLimitConfig {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 200,
            algorithm: AdaptiveAlgorithm::Aimd {
                timeout: Duration::from_secs(5),
                backoff_ratio: 0.9,
            },
        }
    }
}

impl AdaptiveAlgorithm {
    /// Gradient mode with Netflix's defaults.
    #[must_use]
    pub fn gradient() -> AdaptiveAlgorithm {
        AdaptiveAlgorithm::Gradient {
            tolerance: 1.5,
            smoothing: 0.2,
            long_window: 600,
        }
    }
}

impl AdaptiveLimitConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero minimum, timeout or window;
    /// [`ha_core::Error::Inverted`] unless `min ≤ initial ≤ max`;
    /// [`ha_core::Error::OutOfRange`] / [`ha_core::Error::NotFinite`] for a ratio outside
    /// `(0, 1]` or a tolerance below 1 (all as [`Error::Core`](crate::Error::Core)).
    pub fn validate(&self) -> Result<()> {
        non_zero("min limit", self.min_limit.into())?;
        let ordered = |lower: &'static str, lo: u32, upper: &'static str, up: u32| {
            if lo > up {
                Err(ha_core::Error::Inverted {
                    lower,
                    lower_value: lo.into(),
                    upper,
                    upper_value: up.into(),
                })
            } else {
                Ok(())
            }
        };
        ordered(
            "min limit",
            self.min_limit,
            "initial limit",
            self.initial_limit,
        )?;
        ordered(
            "initial limit",
            self.initial_limit,
            "max limit",
            self.max_limit,
        )?;
        match self.algorithm {
            AdaptiveAlgorithm::Aimd {
                timeout,
                backoff_ratio,
            } => {
                non_zero_duration("aimd timeout", timeout)?;
                positive_ratio("aimd backoff ratio", backoff_ratio)?;
            }
            AdaptiveAlgorithm::Gradient {
                tolerance,
                smoothing,
                long_window,
            } => {
                if !tolerance.is_finite() || tolerance < 1.0 {
                    return Err(ha_core::Error::OutOfRange {
                        name: "gradient tolerance",
                        value: tolerance,
                        range: "[1, ∞)",
                    }
                    .into());
                }
                positive_ratio("gradient smoothing", smoothing)?;
                non_zero("gradient long window", long_window.into())?;
            }
        }
        Ok(())
    }
}

/// A concurrency limit that adapts to the backend.
///
/// # Semantics
///
/// Adaptive concurrency limits, after Netflix's concurrency-limits library: the limit follows
/// the latency and drops the backend shows, instead of being fixed.
///
/// Two algorithms, as Netflix's `AIMDLimit` and `Gradient2Limit`:
///
/// - **AIMD**: a drop (a refused or timed-out call, or one slower than `timeout`) multiplies the
///   limit by `backoff_ratio`; a success while at least half the limit is in use adds one.
/// - **Gradient**: compares a long-term average latency with the latest one:
///   `gradient = clamp(tolerance × long / short, 0.5, 1)`, `target = limit × gradient + queue`,
///   with `queue = √limit`, and the limit moves `smoothing` of the way to the target. A drop
///   counts as a latency far above the average. When the limit is used less than half, it does
///   not grow (Netflix's app-limited guard).
///
/// Feed every completed call to [`AdaptiveLimit::on_sample`] and pass the new limit to
/// [`ConcurrencyLimiter::set_limit`](crate::ConcurrencyLimiter::set_limit).
/// Where we differ: the long-term average is a sample-count EWMA with no warm-up, and drops in
/// gradient mode reduce like AIMD's backoff.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{AdaptiveLimit, ConcurrencyLimitConfig, ConcurrencyLimiter};
///
/// let mut adaptive = AdaptiveLimit::new(Default::default())?; // AIMD from 20
/// let mut bulkhead = ConcurrencyLimiter::new(ConcurrencyLimitConfig {
///     max_concurrent: adaptive.limit(),
///     ..Default::default()
/// })?;
/// let now = Instant::now();
/// // A call timed out: the limit backs off to 18, and the bulkhead follows.
/// let limit = adaptive.on_sample(Duration::from_secs(6), 15, false);
/// assert_eq!(limit, 18);
/// let _woken = bulkhead.set_limit(limit, now);
/// assert_eq!(bulkhead.limit(), 18);
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveLimit {
    config: AdaptiveLimitConfig,
    limit: f64,
    long_latency: Option<f64>,
}

impl AdaptiveLimit {
    /// A limit at `initial_limit`.
    ///
    /// # Errors
    /// As [`AdaptiveLimitConfig::validate`].
    pub fn new(config: AdaptiveLimitConfig) -> Result<AdaptiveLimit> {
        config.validate()?;
        Ok(AdaptiveLimit {
            config,
            limit: config.initial_limit.into(),
            long_latency: None,
        })
    }

    /// The current limit.
    #[must_use]
    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    /// Takes in one completed call: its `latency`, the calls under way when it started
    /// (`in_flight`, it included), and whether it was dropped (refused, timed out, overloaded).
    /// Returns the new limit.
    pub fn on_sample(&mut self, latency: Duration, in_flight: u32, dropped: bool) -> u32 {
        let (min, max) = (
            f64::from(self.config.min_limit),
            f64::from(self.config.max_limit),
        );
        let before = self.limit;
        match self.config.algorithm {
            AdaptiveAlgorithm::Aimd {
                timeout,
                backoff_ratio,
            } => {
                if dropped || latency > timeout {
                    self.limit = (self.limit * backoff_ratio).floor();
                } else if f64::from(in_flight) * 2.0 >= self.limit {
                    self.limit += 1.0;
                }
            }
            AdaptiveAlgorithm::Gradient {
                tolerance,
                smoothing,
                long_window,
            } => {
                let short = latency.as_secs_f64();
                let weight = 2.0 / (f64::from(long_window) + 1.0);
                let long = match self.long_latency {
                    None => short,
                    Some(avg) => avg + weight * (short - avg),
                };
                self.long_latency = Some(long);
                if dropped {
                    self.limit = (self.limit * 0.9).floor();
                } else if f64::from(in_flight) * 2.0 >= self.limit || short > long * tolerance {
                    let gradient = if short > 0.0 {
                        (tolerance * long / short).clamp(0.5, 1.0)
                    } else {
                        1.0
                    };
                    let queue = self.limit.sqrt();
                    let target = self.limit * gradient + queue;
                    self.limit = self.limit * (1.0 - smoothing) + target * smoothing;
                }
            }
        }
        self.limit = self.limit.clamp(min, max);
        if self.limit as u32 != before as u32 {
            tracing::debug!(
                from = before as u32,
                to = self.limit as u32,
                ?latency,
                in_flight,
                dropped,
                "adaptive concurrency limit changed"
            );
        }
        self.limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn bad_settings_are_rejected() {
        let base = AdaptiveLimitConfig::default();
        for config in [
            AdaptiveLimitConfig {
                min_limit: 0,
                ..base
            },
            AdaptiveLimitConfig {
                initial_limit: 300,
                ..base
            },
            AdaptiveLimitConfig {
                min_limit: 30,
                ..base
            },
            AdaptiveLimitConfig {
                algorithm: AdaptiveAlgorithm::Aimd {
                    timeout: MS,
                    backoff_ratio: 1.5,
                },
                ..base
            },
            AdaptiveLimitConfig {
                algorithm: AdaptiveAlgorithm::Gradient {
                    tolerance: 0.5,
                    smoothing: 0.2,
                    long_window: 10,
                },
                ..base
            },
            AdaptiveLimitConfig {
                algorithm: AdaptiveAlgorithm::Gradient {
                    tolerance: 2.0,
                    smoothing: 0.0,
                    long_window: 10,
                },
                ..base
            },
        ] {
            assert!(AdaptiveLimit::new(config).is_err(), "{config:?}");
        }
    }

    #[test]
    fn aimd_grows_by_one_when_busy_and_backs_off_on_drops() {
        let mut l = AdaptiveLimit::new(AdaptiveLimitConfig::default()).unwrap();
        assert_eq!(l.on_sample(MS, 15, false), 21);
        assert_eq!(l.on_sample(MS, 2, false), 21, "app-limited: no growth");
        assert_eq!(l.on_sample(MS, 15, true), 18);
    }

    #[test]
    fn gradient_shrinks_when_latency_climbs_and_grows_when_it_is_steady() {
        let mut l = AdaptiveLimit::new(AdaptiveLimitConfig {
            algorithm: AdaptiveAlgorithm::gradient(),
            ..AdaptiveLimitConfig::default()
        })
        .unwrap();
        for _ in 0..50 {
            l.on_sample(MS * 10, 40, false);
        }
        let grown = l.limit();
        assert!(grown > 20, "{grown}");
        for _ in 0..50 {
            l.on_sample(MS * 100, 40, false);
        }
        assert!(l.limit() < grown, "{} !< {grown}", l.limit());
    }

    proptest! {
        #[test]
        fn the_limit_stays_within_min_and_max(
            samples in proptest::collection::vec((0u64..10_000, 0u32..400, any::<bool>()), 1..200),
            gradient in any::<bool>(),
        ) {
            let algorithm = if gradient { AdaptiveAlgorithm::gradient() } else { AdaptiveLimitConfig::default().algorithm };
            let mut l = AdaptiveLimit::new(AdaptiveLimitConfig { min_limit: 5, max_limit: 50, algorithm, ..Default::default() }).unwrap();
            for (ms, in_flight, dropped) in samples {
                let limit = l.on_sample(MS * ms as u32, in_flight, dropped);
                prop_assert!((5..=50).contains(&limit));
            }
        }
    }
}
