//! Replicas from a work queue or a latency goal.
//!
//! **Queue.** To work off a backlog of `B` items within a drain time `T` with each replica
//! handling `μ` items per second, while new items arrive at `λ` per second, the replicas
//! needed are `⌈(B / T + λ) / μ⌉`; with no arrivals this is `⌈B / (μ × T)⌉`, the backlog over
//! what one replica drains in the drain time (the KEDA / SQS "backlog per instance" rule).
//!
//! **Latency.** Latency grows with load per replica, so the count is scaled in proportion, as
//! the HPA scales a usage ratio: `⌈current × observed / target⌉`, unchanged within a tolerance
//! of the target.

use std::time::Duration;

use crate::{Result, Tolerance};

/// The settings of a queue-based target.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueTarget {
    /// Items one replica processes per second; positive.
    pub per_replica_throughput: f64,
    /// The time within which the backlog should be worked off; positive.
    pub drain_time: Duration,
    /// The fewest replicas. Default 1.
    pub min_replicas: u32,
    /// The most replicas; at least 1 and at least `min_replicas`. Default 100.
    pub max_replicas: u32,
}

impl Default for QueueTarget {
    fn default() -> Self {
        QueueTarget {
            per_replica_throughput: 10.0,
            drain_time: Duration::from_secs(60),
            min_replicas: 1,
            max_replicas: 100,
        }
    }
}

fn positive(name: &'static str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(ha_core::Error::NotFinite { name, value }.into());
    }
    if value <= 0.0 {
        return Err(ha_core::Error::OutOfRange {
            name,
            value,
            range: "(0, ∞)",
        }
        .into());
    }
    Ok(value)
}

/// The relative slack under which a count is taken as a whole number: `f64` division leaves
/// exact multiples a few ulps off (`2.1 / 0.3` is `7.000000000000001`), which `ceil` would
/// otherwise turn into one replica too many.
const WHOLE_SLACK: f64 = 1e-9;

/// `⌈x⌉` for a non-negative `x`, with values within [`WHOLE_SLACK`] (relative) of a whole
/// number taken as that number.
fn ceil_count(x: f64) -> f64 {
    let nearest = x.round();
    if (x - nearest).abs() <= WHOLE_SLACK * nearest.max(1.0) {
        nearest
    } else {
        x.ceil()
    }
}

fn max_not_zero(max: u32) -> Result<()> {
    if max == 0 {
        return Err(ha_core::Error::Zero {
            name: "max replicas",
        }
        .into());
    }
    Ok(())
}

fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(ha_core::Error::NotFinite { name, value }.into());
    }
    if value < 0.0 {
        return Err(ha_core::Error::OutOfRange {
            name,
            value,
            range: "[0, ∞)",
        }
        .into());
    }
    Ok(value)
}

impl QueueTarget {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] / [`ha_core::Error::OutOfRange`] for a throughput that is
    /// not a positive number, [`ha_core::Error::Zero`] for a zero drain time or zero max
    /// replicas, [`ha_core::Error::Inverted`] for min above max.
    pub fn validate(&self) -> Result<()> {
        positive("per-replica throughput", self.per_replica_throughput)?;
        if self.drain_time.is_zero() {
            return Err(ha_core::Error::Zero { name: "drain time" }.into());
        }
        max_not_zero(self.max_replicas)?;
        if self.min_replicas > self.max_replicas {
            return Err(ha_core::Error::Inverted {
                lower: "min replicas",
                lower_value: f64::from(self.min_replicas),
                upper: "max replicas",
                upper_value: f64::from(self.max_replicas),
            }
            .into());
        }
        Ok(())
    }

    /// The replicas that drain `backlog` items within the drain time while items arrive at
    /// `arrival_rate` per second: `⌈(backlog / drain + arrival) / throughput⌉`, clamped to
    /// `[min, max]`. A quotient within a relative 10⁻⁹ of a whole number counts as that
    /// number, so float error does not add a replica to an exact multiple.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_scale::QueueTarget;
    ///
    /// let target = QueueTarget { per_replica_throughput: 5.0, drain_time: Duration::from_secs(60), ..Default::default() };
    /// assert_eq!(target.replicas(1200.0, 0.0)?, 4); // 1200 / (5 × 60)
    /// assert_eq!(target.replicas(1200.0, 12.0)?, 7); // (20 + 12) / 5
    /// assert_eq!(target.replicas(0.0, 0.0)?, 1); // min replicas
    /// # Ok::<(), ha_scale::Error>(())
    /// ```
    ///
    /// # Errors
    /// The settings' errors, and [`ha_core::Error::NotFinite`] / [`ha_core::Error::OutOfRange`]
    /// for a negative or non-finite backlog or arrival rate.
    pub fn replicas(&self, backlog: f64, arrival_rate: f64) -> Result<u32> {
        self.validate()?;
        let backlog = non_negative("backlog", backlog)?;
        let arrival = non_negative("arrival rate", arrival_rate)?;
        let needed =
            (backlog / self.drain_time.as_secs_f64() + arrival) / self.per_replica_throughput;
        // `as` saturates; the clamp keeps the count within the settings.
        let replicas = (ceil_count(needed) as u32).clamp(self.min_replicas, self.max_replicas);
        tracing::debug!(backlog, arrival, needed, replicas, "queue target");
        Ok(replicas)
    }
}

/// The replicas that bring an observed latency to `target`: `⌈current × observed / target⌉`,
/// `current` when the ratio is within `tolerance`, clamped to `[min, max]`.
///
/// **From zero.** With `current == 0` the proportion is always 0, so it cannot say how many
/// replicas are needed. A non-zero `observed` latency at zero replicas means requests are
/// waiting (as a scale-from-zero activator reports them), so the answer is at least 1; a zero
/// `observed` latency means no demand, and the count stays at `min`.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{Tolerance, latency_target_replicas};
///
/// let ms = Duration::from_millis;
/// let t = Tolerance::default();
/// assert_eq!(latency_target_replicas(4, ms(1500), ms(1000), t, 1, 20)?, 6);
/// assert_eq!(latency_target_replicas(4, ms(1050), ms(1000), t, 1, 20)?, 4); // within 10%
/// assert_eq!(latency_target_replicas(0, ms(1500), ms(1000), t, 0, 20)?, 1); // from zero
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// [`ha_core::Error::Zero`] for a zero target or a zero `max`, [`ha_core::Error::Inverted`]
/// for min above max, and what [`Tolerance::validate`] rejects.
pub fn latency_target_replicas(
    current: u32,
    observed: Duration,
    target: Duration,
    tolerance: Tolerance,
    min: u32,
    max: u32,
) -> Result<u32> {
    if target.is_zero() {
        return Err(ha_core::Error::Zero {
            name: "latency target",
        }
        .into());
    }
    max_not_zero(max)?;
    if min > max {
        return Err(ha_core::Error::Inverted {
            lower: "min replicas",
            lower_value: f64::from(min),
            upper: "max replicas",
            upper_value: f64::from(max),
        }
        .into());
    }
    tolerance.validate()?;
    let ratio = observed.as_secs_f64() / target.as_secs_f64();
    let desired = if current == 0 {
        u32::from(!observed.is_zero())
    } else if tolerance.is_within(ratio) {
        current
    } else {
        ceil_count(f64::from(current) * ratio) as u32
    };
    let replicas = desired.clamp(min, max);
    tracing::debug!(current, ratio, desired, replicas, "latency target");
    Ok(replicas)
}
